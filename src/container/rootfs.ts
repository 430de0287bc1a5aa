/**
 * A container's root filesystem: an overlay of the image's layers
 * (read-only, shared) and the container's own upper and work directories.
 * Lower directories are short relative links (`l/<id>`) resolved against
 * the storage root, so images with hundreds of layers fit overlayfs's
 * one-page limit on mount data.
 */

import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { errnoCode } from '../errors.js';
import { MNT_DETACH, type NativeOps } from '../native/index.js';

export interface RootfsPaths {
  mountpoint: string;
  upper: string;
  work: string;
}

export function rootfsPaths(bundle: string, persistDir: string): RootfsPaths {
  return { mountpoint: path.join(bundle, 'rootfs'), upper: path.join(persistDir, 'fs', 'upper'), work: path.join(persistDir, 'fs', 'work') };
}

export async function mountRootfs(native: NativeOps, paths: RootfsPaths, lowerDirs: string[], storageRoot: string): Promise<void> {
  await mkdir(paths.upper, { recursive: true, mode: 0o755 });
  await mkdir(paths.work, { recursive: true, mode: 0o700 });
  await mkdir(paths.mountpoint, { recursive: true, mode: 0o755 });
  let lowers = lowerDirs;
  if (lowers.length === 0) {
    // An image without layers still needs one lower directory.
    const empty = path.join(path.dirname(paths.upper), 'empty');
    await mkdir(empty, { recursive: true });
    lowers = [empty];
  }
  const data = `lowerdir=${lowers.join(':')},upperdir=${paths.upper},workdir=${paths.work}`;
  await native.mount('overlay', paths.mountpoint, 'overlay', 0, data, storageRoot);
}

export async function unmountRootfs(native: NativeOps, paths: RootfsPaths): Promise<void> {
  try {
    await native.umount2(paths.mountpoint, MNT_DETACH);
  } catch (err) {
    const code = errnoCode(err);
    if (code !== 'EINVAL' && code !== 'ENOENT') throw err;
  }
}

export async function removeRootfs(native: NativeOps, paths: RootfsPaths): Promise<void> {
  await unmountRootfs(native, paths);
  await rm(path.dirname(paths.upper), { recursive: true, force: true });
}
