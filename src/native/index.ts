/**
 * The system calls Node lacks, implemented in native/berth_native.c. Each
 * returns a promise and runs on libuv's thread pool. Errors carry the errno
 * name in `code`, like node:fs errors.
 */

import { createRequire } from 'node:module';
import { installPath } from '../install-paths.js';

export interface NativeOps {
  /** mknod(2); `mode` includes the file type bits (S_IFCHR, S_IFBLK, S_IFIFO). */
  mknod(path: string, mode: number, major: number, minor: number): Promise<void>;
  lsetxattr(path: string, name: string, value: Buffer): Promise<void>;
  /**
   * New files (O_EXCL, not following symlinks), each with its content,
   * owner, mode and mtime, in order, in one trip to the thread pool; stops
   * at the first failure and names its path.
   */
  writeFiles(files: readonly NewFile[]): Promise<void>;
  /** malloc_trim(0): returns the C heap's free pages to the kernel. */
  trimMemory(): Promise<void>;
  /** Tells V8 the process is under moderate memory pressure: an incremental mark-compact starts. */
  memoryPressure(): void;
  /** The attribute's value, or null when the file has no such attribute. */
  lgetxattr(path: string, name: string): Promise<Buffer | null>;
  /** Names of the extended attributes of a file (not following symlinks). */
  llistxattr(path: string): Promise<string[]>;
  /**
   * mount(2). Relative paths inside `data` resolve against `cwd` (used for
   * overlayfs lower directories, whose list must fit one page).
   */
  mount(source: string, target: string, fstype: string, flags: number, data?: string, cwd?: string): Promise<void>;
  umount2(target: string, flags: number): Promise<void>;
  /** A TCP connection to `address:port` made inside the network namespace pinned at `nsPath`; returns the fd. */
  connectInNetns(nsPath: string, address: string, port: number): Promise<number>;
  /** mount_setattr(2) with AT_RECURSIVE: the mount at `path` and every mount below it become read-only. */
  readOnlyRecursive(path: string): Promise<void>;
  /** An idmapped clone of `source` (open_tree, mount_setattr MOUNT_ATTR_IDMAP, move_mount) at `target`, mapped as the user namespace pinned at `usernsPath`. */
  idmapMount(source: string, target: string, usernsPath: string): Promise<void>;
}

/** A file for writeFiles: `data` is read in place and must not change until the promise settles. */
export interface NewFile {
  path: string;
  data: Buffer;
  uid: number;
  gid: number;
  mode: number;
  mtime: number;
}

export const MS_REC = 0x4000;
export const MS_PRIVATE = 0x40000;
export const MS_RDONLY = 0x1;
export const MS_NOSUID = 0x2;
export const MS_NODEV = 0x4;
export const MS_NOEXEC = 0x8;
export const MS_BIND = 0x1000;
export const MNT_DETACH = 0x2;

export const S_IFIFO = 0o010000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;

interface RawModule {
  mknod(path: string, mode: number, major: number, minor: number): Promise<void>;
  lsetxattr(path: string, name: string, value: Buffer): Promise<void>;
  writeFiles(paths: string[], data: Buffer[], meta: Float64Array): Promise<void>;
  trimMemory(): Promise<void>;
  memoryPressure(): void;
  lgetxattr(path: string, name: string): Promise<Buffer | null>;
  llistxattr(path: string): Promise<Buffer>;
  mount(source: string, target: string, fstype: string, flags: number, data: string | null, cwd: string | null): Promise<void>;
  umount2(target: string, flags: number): Promise<void>;
  connectInNetns(nsPath: string, address: string, port: number): Promise<number>;
  readOnlyRecursive(path: string): Promise<void>;
  idmapMount(source: string, target: string, usernsPath: string): Promise<void>;
}

/** posix_spawn with exits watched through pidfds (see native/berth_spawn.c). */
export interface SpawnOps {
  spawnProcess(file: string, args: string[], env: string[], cwd: string | null, fds: number[], setsid: boolean): number;
  socketPair(): [number, number];
  closeFd(fd: number): void;
  watchExit(pid: number, ref: boolean, callback: (code: number | null, signal: number | null) => void): void;
}

/** Digests on the thread pool (see native/berth_hash.c). */
export interface HashOps {
  hashCreate(algorithm: string): object;
  hashUpdate(handle: object, chunk: Buffer): Promise<void>;
  hashDigest(handle: object): string;
}

/** zstd decoding on the thread pool in bounded slices with a bounded window (see native/berth_zstd.c). */
export interface ZstdOps {
  zstdCreate(windowLogMax: number): object;
  zstdDecode(handle: object, input: Buffer, capacity: number): Promise<{ output: Buffer; consumed: number; frameDone: boolean }>;
}

let zstdLoaded: ZstdOps | null | undefined;

/** The native zstd decoder, or undefined when the module cannot be loaded. */
export function zstdOps(): ZstdOps | undefined {
  if (zstdLoaded === undefined) {
    try {
      zstdLoaded = loadRaw();
    } catch {
      zstdLoaded = null;
    }
  }
  return zstdLoaded ?? undefined;
}

let loaded: NativeOps | undefined;
let spawner: SpawnOps | null | undefined;

type Raw = RawModule & SpawnOps & HashOps & NotifyOps & ZstdOps & { pidfdSupported(): boolean };

/** One datagram to a unix socket, as sd_notify(3) sends it (see native/berth_notify.c). */
export interface NotifyOps {
  sdNotify(socketPath: string, message: string): void;
}

/** The notifier, or undefined when the native module cannot be loaded. */
export function notifyOps(): NotifyOps | undefined {
  try {
    return loadRaw();
  } catch {
    return undefined;
  }
}

function loadRaw(): Raw {
  const require = createRequire(import.meta.url);
  return require(installPath('native', 'build', 'Release', 'berth_native.node')) as Raw;
}

let hasher: HashOps | null | undefined;

/** The native digests, or undefined when the module cannot be loaded (node:crypto is used then). */
export function hashOps(): HashOps | undefined {
  if (hasher === undefined) {
    try {
      hasher = loadRaw();
    } catch {
      hasher = null;
    }
  }
  return hasher ?? undefined;
}

/** The native spawner, or undefined where pidfds are missing (Node's spawn is used then). */
export function spawnOps(): SpawnOps | undefined {
  if (spawner === undefined) {
    try {
      const raw = loadRaw();
      spawner = raw.pidfdSupported() ? raw : null;
    } catch {
      spawner = null;
    }
  }
  return spawner ?? undefined;
}

/** Path of the berth-pinns helper built beside the module. */
export function pinnsPath(): string {
  return installPath('native', 'build', 'Release', 'berth-pinns');
}

/** Path of the berth-stream helper (attach and terminal pumps). */
export function streamHelperPath(): string {
  return installPath('native', 'build', 'Release', 'berth-stream');
}

export function nativeOps(): NativeOps {
  if (loaded) return loaded;
  const raw = loadRaw();
  loaded = {
    mknod: (p, mode, major, minor) => raw.mknod(p, mode, major, minor),
    lsetxattr: (p, name, value) => raw.lsetxattr(p, name, value),
    writeFiles: (files) => {
      const meta = new Float64Array(files.length * 4);
      for (const [i, f] of files.entries()) meta.set([f.uid, f.gid, f.mode, f.mtime], i * 4);
      return raw.writeFiles(
        files.map((f) => f.path),
        files.map((f) => f.data),
        meta,
      );
    },
    trimMemory: () => raw.trimMemory(),
    memoryPressure: () => raw.memoryPressure(),
    lgetxattr: (p, name) => raw.lgetxattr(p, name),
    llistxattr: async (p) => (await raw.llistxattr(p)).toString('latin1').split('\0').filter(Boolean),
    mount: (source, target, fstype, flags, data, cwd) => raw.mount(source, target, fstype, flags, data ?? null, cwd ?? null),
    umount2: (target, flags) => raw.umount2(target, flags),
    connectInNetns: (nsPath, address, port) => raw.connectInNetns(nsPath, address, port),
    readOnlyRecursive: (p) => raw.readOnlyRecursive(p),
    idmapMount: (source, target, userns) => raw.idmapMount(source, target, userns),
  };
  return loaded;
}
