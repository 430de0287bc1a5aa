/**
 * Reads a file that a request or an image names, as untrusted input:
 * - only a regular file is opened: a FIFO would block a thread-pool thread
 *   in open(2) forever (four of them starve every file operation of the
 *   daemon), a character device such as /dev/zero never ends, and a block
 *   device is a host disk;
 * - the type is checked before the open (lstat, so nothing is followed)
 *   and again on the open descriptor (O_NOFOLLOW | O_NONBLOCK, same inode),
 *   so a file swapped in between is refused too and the open cannot block;
 * - at most `maxBytes` are read; a longer file is refused, not truncated;
 * - errors name the path and the reason, never the file's content.
 */

import { constants } from 'node:fs';
import { type FileHandle, lstat, open } from 'node:fs/promises';
import { RuntimeError, errnoCode } from '../errors.js';
import { resolveInRoot } from './path-in-root.js';

export interface BoundedReadOptions {
  maxBytes: number;
  /** What the file is, for messages: "seccomp profile", "the image's". */
  what: string;
}

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY;

/** Error kind for files named by the caller (the default) or found in an image. */
type Blame = 'invalid-argument' | 'failed-precondition';

export async function readRegularFile(file: string, opts: BoundedReadOptions & { blame?: Blame; shownAs?: string }): Promise<Buffer> {
  const blame = opts.blame ?? 'invalid-argument';
  const refuse = (reason: string) => new RuntimeError(blame, `${opts.what} ${opts.shownAs ?? file}: ${reason}`);
  const before = await lstat(file);
  if (!before.isFile()) throw refuse(`not a regular file (${fileKind(before)})`);
  if (before.size > opts.maxBytes) throw refuse(`larger than ${opts.maxBytes} bytes`);
  let fh: FileHandle;
  try {
    fh = await open(file, OPEN_FLAGS);
  } catch (err) {
    if (errnoCode(err) === 'ELOOP') throw refuse('replaced by a symbolic link while being read');
    throw err;
  }
  try {
    const now = await fh.stat();
    if (!now.isFile() || now.ino !== before.ino || now.dev !== before.dev) throw refuse('replaced while being read');
    // One byte more than allowed tells a file that grew past the cap.
    const buf = Buffer.allocUnsafe(Math.min(opts.maxBytes, now.size) + 1);
    let total = 0;
    while (total < buf.length) {
      const { bytesRead } = await fh.read(buf, total, buf.length - total, total);
      if (bytesRead === 0) break;
      total += bytesRead;
    }
    if (total > opts.maxBytes) throw refuse(`larger than ${opts.maxBytes} bytes`);
    return buf.subarray(0, total);
  } finally {
    await fh.close();
  }
}

/**
 * A file inside a container's root filesystem, resolved the way the
 * container sees it (links cannot lead out of the root), then read as
 * above. Undefined when it does not exist; blame is on the image.
 */
export async function readFileInRoot(root: string, inside: string, opts: BoundedReadOptions): Promise<Buffer | undefined> {
  const file = await resolveInRoot(root, inside);
  try {
    return await readRegularFile(file, { ...opts, blame: 'failed-precondition', shownAs: inside });
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}

function fileKind(s: {
  isDirectory(): boolean;
  isFIFO(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isSocket(): boolean;
  isSymbolicLink(): boolean;
}): string {
  if (s.isDirectory()) return 'a directory';
  if (s.isFIFO()) return 'a FIFO';
  if (s.isCharacterDevice()) return 'a character device';
  if (s.isBlockDevice()) return 'a block device';
  if (s.isSocket()) return 'a socket';
  if (s.isSymbolicLink()) return 'a symbolic link';
  return 'not a file';
}
