import { lstat, readlink } from 'node:fs/promises';
import path from 'node:path';
import { errnoCode, invalidArgument } from '../errors.js';

/**
 * Resolves `unsafe` as a path inside `root` the way the container will
 * see it: symlinks are followed, but an absolute target or `..` is taken
 * relative to the container root, never the host's. Used to read the
 * image's /etc/passwd or create a working directory without a planted
 * symlink reaching the host. Components that do not exist are kept as is.
 */
export async function resolveInRoot(root: string, unsafe: string): Promise<string> {
  const pending = unsafe.split('/').filter((p) => p !== '' && p !== '.');
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const candidate = path.join(root, ...resolved, part);
    let isLink = false;
    try {
      isLink = (await lstat(candidate)).isSymbolicLink();
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT' && errnoCode(err) !== 'ENOTDIR') throw err;
    }
    if (!isLink) {
      resolved.push(part);
      continue;
    }
    if (++links > 255) throw invalidArgument(`too many symbolic links resolving ${unsafe} in the container`);
    const target = await readlink(candidate);
    if (target.startsWith('/')) resolved.length = 0;
    pending.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'));
  }
  return path.join(root, ...resolved);
}
