import { rm } from 'node:fs/promises';
import { errnoCode } from '../errors.js';
import { MNT_DETACH, MS_NODEV, MS_NOEXEC, MS_NOSUID, type NativeOps } from '../native/index.js';
import { makeDirs } from '../util/fs.js';

/** The pod's /dev/shm: a size-limited tmpfs that all its containers bind-mount. */
export async function mountShm(native: NativeOps, dir: string, sizeBytes: number): Promise<void> {
  await makeDirs(dir, 0o1777);
  await native.mount('shm', dir, 'tmpfs', MS_NOSUID | MS_NODEV | MS_NOEXEC, `mode=1777,size=${sizeBytes}`);
}

export async function unmountShm(native: NativeOps, dir: string): Promise<void> {
  try {
    await native.umount2(dir, MNT_DETACH);
  } catch (err) {
    const code = errnoCode(err);
    if (code !== 'EINVAL' && code !== 'ENOENT') throw err;
  }
  await rm(dir, { recursive: true, force: true });
}
