import { chmod, utimes, writeFile } from 'node:fs/promises';
import type { NewFile } from '../../src/native/index.js';
import type { UnpackOps } from '../../src/storage/unpack.js';

/**
 * Unpack operations that need no root: device nodes become marker files,
 * ownership and extended attributes are recorded instead of applied.
 */
export class RecordingOps implements UnpackOps {
  readonly nodes = new Map<string, { mode: number; major: number; minor: number }>();
  readonly xattrs = new Map<string, Map<string, Buffer>>();
  readonly owners = new Map<string, { uid: number; gid: number }>();

  mknod = async (p: string, mode: number, major: number, minor: number) => {
    await writeFile(p, '', { flag: 'wx' });
    this.nodes.set(p, { mode, major, minor });
  };

  lsetxattr = async (p: string, name: string, value: Buffer) => {
    const m = this.xattrs.get(p) ?? new Map<string, Buffer>();
    m.set(name, value);
    this.xattrs.set(p, m);
  };

  lchown = async (p: string, uid: number, gid: number) => {
    this.owners.set(p, { uid, gid });
  };
}

/** The same, with small files created in batches, as the native module does it. */
export class OneCallRecordingOps extends RecordingOps {
  readonly oneCallFiles: string[] = [];
  /** How many files each batch held. */
  readonly batches: number[] = [];

  writeFiles = async (files: readonly NewFile[]) => {
    this.batches.push(files.length);
    for (const { path: p, data, uid, gid, mode, mtime } of files) {
      await writeFile(p, data, { flag: 'wx', mode: 0o600 });
      this.owners.set(p, { uid, gid });
      await chmod(p, mode);
      await utimes(p, mtime, mtime);
      this.oneCallFiles.push(p);
    }
  };
}
