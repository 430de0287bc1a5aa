/**
 * Detaching the mounts berth staged in a directory of a container's
 * bundle (recursive read-only trees, image volumes, idmapped copies,
 * idmapped layers): each entry is detached (MNT_DETACH; one already gone or
 * never mounted is fine), then the directory goes.
 */

import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { errnoCode } from '../errors.js';
import { MNT_DETACH, type NativeOps } from '../native/index.js';

export async function detachAllUnder(native: NativeOps, dir: string, keep: (name: string) => boolean = () => false): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw err;
  }
  for (const n of names) {
    if (keep(n)) continue;
    await native.umount2(path.join(dir, n), MNT_DETACH).catch((err: unknown) => {
      if (errnoCode(err) !== 'EINVAL' && errnoCode(err) !== 'ENOENT') throw err;
    });
  }
  await rm(dir, { recursive: true, force: true });
}
