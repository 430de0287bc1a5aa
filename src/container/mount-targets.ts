import { lchown, open, stat } from 'node:fs/promises';
import path from 'node:path';
import { errnoCode } from '../errors.js';
import type { Mount } from '../oci/spec-types.js';
import { resolveInRoot } from '../util/path-in-root.js';
import { makeDirs } from '../util/fs.js';

/**
 * For containers in a user namespace. Without idmapped mounts the image's
 * files keep host ownership, so the container's root (an unprivileged host
 * uid) could not create mount points such as /proc or /etc/hostname.
 * berth creates every mount point beforehand, as host root (directories
 * for directory mounts, empty files for file binds), and gives the root
 * directory to the container's root.
 */
export async function prepareMountTargets(rootfs: string, upper: string, mounts: Mount[], rootUid: number, rootGid: number): Promise<void> {
  for (const m of mounts) {
    const target = await resolveInRoot(rootfs, m.destination);
    if (await exists(target)) continue;
    let isFile = false;
    if (m.type === 'bind' && m.source) isFile = (await stat(m.source).catch(() => undefined))?.isFile() ?? false;
    if (isFile) {
      await makeDirs(path.dirname(target), 0o755);
      await (await open(target, 'a', 0o644)).close();
    } else {
      await makeDirs(target, 0o755);
    }
  }
  // overlayfs takes the root directory's owner from the upper layer.
  await lchown(upper, rootUid, rootGid);
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
}
