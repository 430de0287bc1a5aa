/**
 * Unpacks one layer's tar stream into an empty directory in the form
 * overlayfs reads as a lower layer:
 *   - `.wh.NAME` whiteouts become 0/0 character devices named NAME;
 *   - `.wh..wh..opq` marks its directory with trusted.overlay.opaque=y;
 *   - ownership, modes (setuid/setgid/sticky), mtimes, hard links,
 *     symlinks, device nodes and `SCHILY.xattr.*` attributes are kept.
 *
 * Security: the directory starts empty and only this unpacker writes to it,
 * so an in-memory map of what each path is stands in for lstat. An entry
 * whose path has a `..` component, passes through a non-directory (such as
 * a symlink planted earlier in the layer), or hard-links to anything but a
 * file already unpacked here is refused, and the whole layer fails. Files
 * are opened with O_NOFOLLOW|O_EXCL; nothing ever follows a symlink.
 */

import { constants } from 'node:fs';
import { chmod, link, lutimes, mkdir, open, rm, symlink, utimes } from 'node:fs/promises';
import path from 'node:path';
import { RuntimeError } from '../errors.js';
import { type NewFile, S_IFBLK, S_IFCHR, S_IFIFO } from '../native/index.js';
import type { TarEntry } from './tar/reader.js';

export interface UnpackOps {
  mknod(path: string, mode: number, major: number, minor: number): Promise<void>;
  lsetxattr(path: string, name: string, value: Buffer): Promise<void>;
  lchown(path: string, uid: number, gid: number): Promise<void>;
  /**
   * Creates small files, each with its content, owner, mode and mtime, in
   * order (the native module does a whole batch in one thread-pool job).
   * Without it, files are written and their attributes set call by call.
   */
  writeFiles?(files: readonly NewFile[]): Promise<void>;
}

/** Files up to this size are read whole and created in batches when the ops can. */
const SMALL_FILE = 256 << 10;
/** A batch goes out at this many files or bytes, or before any entry that is not a new small file. */
const BATCH_FILES = 64;
const BATCH_BYTES = 1 << 20;

export interface UnpackResult {
  /** Bytes of file content written (hard links counted once). */
  bytes: number;
  /** Inodes created. */
  inodes: number;
}

type Kind = 'dir' | 'file' | 'symlink' | 'other';

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE = '.wh..wh..opq';
const OPAQUE_XATTR = 'trusted.overlay.opaque';

export class UnsafeLayerError extends RuntimeError {
  constructor(message: string) {
    super('failed-precondition', `unsafe layer content: ${message}`);
  }
}

/** PATH_MAX: a longer path could not be opened by the kernel, and bounds the work per entry. */
const MAX_PATH_BYTES = 4096;

/** Splits an entry name into safe components; throws on `..` and on paths past PATH_MAX. */
export function cleanEntryPath(name: string): string[] {
  if (Buffer.byteLength(name) > MAX_PATH_BYTES)
    throw new UnsafeLayerError(`entry name of ${Buffer.byteLength(name)} bytes is longer than PATH_MAX (${MAX_PATH_BYTES})`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) throw new UnsafeLayerError(`entry "${name}" has a ".." component`);
  return parts;
}

/** The parent of a layer-relative path ("" is the layer root). */
function parentOf(rel: string): string {
  const slash = rel.lastIndexOf('/');
  return slash < 0 ? '' : rel.slice(0, slash);
}

export class LayerUnpacker {
  /**
   * What each path unpacked so far is. Invariant: every ancestor of a known
   * path is a known directory, so a known parent needs no walk to the root.
   */
  private readonly kinds = new Map<string, Kind>([['', 'dir']]);
  /**
   * The known children of each directory, so that replacing or whiting out
   * a path visits only what is beneath it: each path is forgotten at most
   * once per time it was added, and unpacking stays linear in the entries
   * whatever the tar repeats.
   */
  private readonly children = new Map<string, Set<string>>();
  private readonly dirAttrs = new Map<string, TarEntry>();
  /** Index entries looked at by the parent walk and by replacements: the work tests count instead of time. */
  visited = 0;
  private readonly result: UnpackResult = { bytes: 0, inodes: 0 };
  /**
   * Small files read but not yet created. Only new small files join a
   * batch; any other entry sends it first, so links, replacements,
   * whiteouts and attributes always find the files before them on disk.
   */
  private batch: NewFile[] = [];
  private batchBytes = 0;

  constructor(
    private readonly root: string,
    private readonly ops: UnpackOps,
  ) {}

  private full(rel: string): string {
    return rel === '' ? this.root : path.join(this.root, rel);
  }

  private setKind(rel: string, kind: Kind): void {
    if (!this.kinds.has(rel)) {
      const parent = parentOf(rel);
      const siblings = this.children.get(parent);
      if (siblings) siblings.add(rel);
      else this.children.set(parent, new Set([rel]));
    }
    this.kinds.set(rel, kind);
  }

  /** Drops `rel` and everything known beneath it from the index. */
  private forget(rel: string): void {
    this.children.get(parentOf(rel))?.delete(rel);
    const stack = [rel];
    for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
      this.visited++;
      this.kinds.delete(next);
      this.dirAttrs.delete(next);
      const below = this.children.get(next);
      if (below) {
        this.children.delete(next);
        for (const child of below) stack.push(child);
      }
    }
  }

  /**
   * Makes sure every parent of `parts` is a real directory unpacked here.
   * Walks up from the parent only as far as the nearest known path (the
   * invariant vouches for the rest), so the work is one lookup per entry
   * plus one per directory created.
   */
  private async ensureParents(parts: string[], name: string): Promise<void> {
    let depth = parts.length - 1;
    let rel = parts.slice(0, depth).join('/');
    const missing: string[] = [];
    for (;;) {
      this.visited++;
      const kind = this.kinds.get(rel);
      if (kind === 'dir') break;
      if (kind !== undefined) {
        throw new UnsafeLayerError(`entry "${name}" goes through "${rel}", which is a ${kind === 'symlink' ? 'symbolic link' : 'non-directory'}`);
      }
      missing.push(rel);
      depth--;
      rel = depth === 0 ? '' : rel.slice(0, rel.length - parts[depth]!.length - 1);
    }
    for (let i = missing.length - 1; i >= 0; i--) {
      await mkdir(this.full(missing[i]!), { mode: 0o755 });
      this.setKind(missing[i]!, 'dir');
      this.result.inodes++;
    }
  }

  /** Removes what an earlier entry put at `rel` (tar semantics: the last entry wins). */
  private async replace(rel: string): Promise<void> {
    if (!this.kinds.has(rel)) return;
    await rm(this.full(rel), { recursive: true, force: true });
    this.forget(rel);
  }

  async apply(entry: TarEntry, body: AsyncIterable<Buffer>): Promise<void> {
    const parts = cleanEntryPath(entry.name);
    const base = parts[parts.length - 1] ?? '';
    if (base.startsWith(WHITEOUT_PREFIX)) {
      await this.sendBatch();
      await this.whiteout(parts, entry.name);
      return;
    }
    const rel = parts.join('/');
    if (rel === '') {
      // The layer root itself: only its attributes matter.
      if (entry.type === 'directory') this.dirAttrs.set('', entry);
      return;
    }
    if (this.ops.writeFiles && entry.type === 'file' && entry.size <= SMALL_FILE && entry.xattrs.size === 0 && !this.kinds.has(rel)) {
      await this.ensureParents(parts, entry.name);
      await this.addToBatch(rel, entry, body);
      return;
    }
    await this.sendBatch();
    await this.ensureParents(parts, entry.name);
    const full = this.full(rel);
    const existing = this.kinds.get(rel);
    if (!(existing === 'dir' && entry.type === 'directory')) await this.replace(rel);
    switch (entry.type) {
      case 'directory':
        if (existing !== 'dir') {
          await mkdir(full, { mode: 0o755 });
          this.setKind(rel, 'dir');
          this.result.inodes++;
        }
        this.dirAttrs.set(rel, entry);
        return;
      case 'file':
        await this.writeFile(full, body);
        this.setKind(rel, 'file');
        this.result.bytes += entry.size;
        break;
      case 'symlink':
        await symlink(entry.linkname, full);
        this.setKind(rel, 'symlink');
        break;
      case 'hardlink': {
        const target = cleanEntryPath(entry.linkname).join('/');
        const kind = this.kinds.get(target);
        if (kind === undefined || kind === 'dir') {
          throw new UnsafeLayerError(`hard link "${entry.name}" points to "${entry.linkname}", which is not a file unpacked earlier in this layer`);
        }
        await link(this.full(target), full);
        this.setKind(rel, kind);
        return; // shares the target's inode and attributes
      }
      case 'char':
      case 'block':
      case 'fifo': {
        const typeBits = entry.type === 'char' ? S_IFCHR : entry.type === 'block' ? S_IFBLK : S_IFIFO;
        await this.ops.mknod(full, typeBits | (entry.mode & 0o777), entry.devmajor, entry.devminor);
        this.setKind(rel, 'other');
        break;
      }
    }
    this.result.inodes++;
    await this.setAttributes(full, entry);
  }

  private async addToBatch(rel: string, entry: TarEntry, body: AsyncIterable<Buffer>): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(chunk);
    const data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    this.batch.push({ path: this.full(rel), data, uid: entry.uid, gid: entry.gid, mode: entry.mode, mtime: entry.mtime });
    this.batchBytes += data.length;
    this.setKind(rel, 'file');
    this.result.bytes += entry.size;
    this.result.inodes++;
    if (this.batch.length >= BATCH_FILES || this.batchBytes >= BATCH_BYTES) await this.sendBatch();
  }

  private async sendBatch(): Promise<void> {
    if (this.batch.length === 0) return;
    const files = this.batch;
    this.batch = [];
    this.batchBytes = 0;
    await this.ops.writeFiles!(files);
  }

  private async writeFile(full: string, body: AsyncIterable<Buffer>): Promise<void> {
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
    const fh = await open(full, flags, 0o600);
    try {
      for await (const chunk of body) await fh.write(chunk);
    } finally {
      await fh.close();
    }
  }

  private async setAttributes(full: string, entry: TarEntry): Promise<void> {
    await this.ops.lchown(full, entry.uid, entry.gid);
    const isLink = entry.type === 'symlink';
    // chmod after chown: chown clears setuid and setgid bits.
    if (!isLink) await chmod(full, entry.mode);
    await this.setXattrs(full, entry);
    const t = entry.mtime;
    if (isLink) await lutimes(full, t, t);
    else await utimes(full, t, t);
  }

  private async setXattrs(full: string, entry: TarEntry): Promise<void> {
    for (const [name, value] of entry.xattrs) {
      // overlayfs' own attributes (redirect, metacopy, opaque) could point
      // outside the layer; only whiteout translation may set them.
      if (name.startsWith('trusted.overlay.')) continue;
      await this.ops.lsetxattr(full, name, value);
    }
  }

  private async whiteout(parts: string[], name: string): Promise<void> {
    const base = parts[parts.length - 1]!;
    const parentParts = parts.slice(0, -1);
    await this.ensureParents([...parentParts, base], name);
    const parentRel = parentParts.join('/');
    if (base === OPAQUE) {
      if (parentRel !== '' && !this.kinds.has(parentRel)) {
        await mkdir(this.full(parentRel), { mode: 0o755 });
        this.setKind(parentRel, 'dir');
      }
      await this.ops.lsetxattr(this.full(parentRel), OPAQUE_XATTR, Buffer.from('y'));
      return;
    }
    if (base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) return; // other aufs metadata: meaningless here
    const target = base.slice(WHITEOUT_PREFIX.length);
    if (target === '' || target === '.' || target === '..') throw new UnsafeLayerError(`invalid whiteout "${name}"`);
    const rel = [...parentParts, target].join('/');
    await this.replace(rel);
    await this.ops.mknod(this.full(rel), S_IFCHR, 0, 0);
    this.setKind(rel, 'other');
    this.result.inodes++;
  }

  /** Applies directory modes and times last, deepest first, so writes inside them were possible. */
  async finish(): Promise<UnpackResult> {
    await this.sendBatch();
    const depthOf = (rel: string) => (rel === '' ? 0 : rel.split('/').length);
    const dirs = [...this.dirAttrs.entries()].map(([rel, entry]) => ({ rel, entry, depth: depthOf(rel) })).sort((a, b) => b.depth - a.depth);
    for (const { rel, entry } of dirs) await this.setAttributes(this.full(rel), entry);
    return this.result;
  }
}
