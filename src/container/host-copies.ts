/**
 * Mounts berth prepares on the host for runc to bind into a container
 * (recursive read-only trees, image volumes) are needed only until the
 * runtime has created it: its mount namespace then holds its own. They are
 * detached after create, and again wherever a container's bundle is about
 * to go (a failed create, a release, an orphan found at start-up).
 */

import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { errnoCode } from '../errors.js';
import { MNT_DETACH, type NativeOps } from '../native/index.js';
import { releaseImageVolumes } from './image-volumes.js';
import { releaseRecursiveReadOnly } from './rro.js';

/** `<bundle>/idmap-volumes/<n>`: idmapped copies of volumes, for pods with a user namespace. */
export function idmapVolumesDir(bundle: string): string {
  return path.join(bundle, 'idmap-volumes');
}

export async function releaseHostCopies(native: NativeOps, bundle: string): Promise<void> {
  await releaseRecursiveReadOnly(native, bundle);
  await releaseImageVolumes(native, bundle);
  await detachAll(native, idmapVolumesDir(bundle));
}

/** Detaches every mount directly below `dir`, then removes it. */
async function detachAll(native: NativeOps, dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw err;
  }
  for (const n of names) {
    await native.umount2(path.join(dir, n), MNT_DETACH).catch((err: unknown) => {
      if (errnoCode(err) !== 'EINVAL' && errnoCode(err) !== 'ENOENT') throw err;
    });
  }
  await rm(dir, { recursive: true, force: true });
}
