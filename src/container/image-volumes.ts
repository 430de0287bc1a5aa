/**
 * Image volumes (KEP-4639, CRI `Mount.image` and `Mount.image_sub_path`):
 * a pod mounts an image the kubelet pulled beforehand, read-only, as a
 * volume. berth mounts the image's layers as a read-only overlay (no upper
 * directory, no exec, no setuid, no devices) under the container's bundle,
 * `<bundle>/image-volumes/<n>`, and the container bind-mounts it, or the
 * directory or file `image_sub_path` names inside it, with the same
 * options. As for recursive read-only mounts, the host's copy is detached
 * once the runtime has created the container: the container's mount
 * namespace keeps the overlay, and nothing stays mounted on the host after
 * the container stops. The image's layers are counted as in use (and the
 * image reported pinned, and not removable) while the container exists.
 */

import { stat } from 'node:fs/promises';
import path from 'node:path';
import { errnoCode, invalidArgument, notFound } from '../errors.js';
import { MNT_DETACH, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, type NativeOps } from '../native/index.js';
import { resolveInRoot } from '../util/path-in-root.js';
import { detachAllUnder } from './detach.js';
import { overlayOptions } from './rootfs.js';
import { makeDirs } from '../util/fs.js';

/** What a container records of each image volume, to keep its image and layers in use. */
export interface ImageVolume {
  containerPath: string;
  imageId: string;
  chainIds: string[];
}

/** The image side a volume needs: its record's id and layers, as overlay lower directories. */
export interface VolumeImage {
  record: { id: string; layers: { chainId: string }[] };
  lowerDirs: string[];
  storageRoot: string;
}

/** The options of every image volume, on the overlay and on the container's bind. */
export const IMAGE_VOLUME_OPTIONS = ['ro', 'noexec', 'nosuid', 'nodev'];

export function imageVolumesDir(bundle: string): string {
  return path.join(bundle, 'image-volumes');
}

/** `image_sub_path` as the KEP allows it: relative, without `..`, `""` for the whole image. */
export function checkSubPath(subPath: string, containerPath: string): string {
  if (!subPath) return '';
  if (subPath.includes('\0')) throw invalidArgument(`image volume ${containerPath}: image_sub_path contains a NUL byte`);
  if (path.isAbsolute(subPath)) throw invalidArgument(`image volume ${containerPath}: image_sub_path "${subPath}" must be relative`);
  if (subPath.split('/').includes('..')) throw invalidArgument(`image volume ${containerPath}: image_sub_path "${subPath}" must not contain ".."`);
  return path.normalize(subPath);
}

/**
 * Mounts the image read-only at `<bundle>/image-volumes/<index>` and
 * returns the host path to bind into the container: the mount, or the
 * sub-path inside it (resolved inside the image: a symbolic link cannot
 * lead out of it). Throws NOT_FOUND when the sub-path does not exist.
 */
export async function mountImageVolume(
  native: NativeOps,
  bundle: string,
  index: number,
  image: VolumeImage,
  subPath: string,
  containerPath: string,
): Promise<string> {
  const target = path.join(imageVolumesDir(bundle), String(index));
  await makeDirs(target, 0o755);
  // A read-only overlay needs two lower directories at least: an empty one
  // completes an image of one layer (or none).
  const empty = ['empty', 'empty2'].map((n) => path.join(imageVolumesDir(bundle), n));
  for (const dir of empty) await makeDirs(dir, 0o755);
  const lowers = image.lowerDirs.length > 0 ? [...image.lowerDirs, empty[0]!] : empty;
  await native.mount('overlay', target, 'overlay', MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, overlayOptions(lowers), image.storageRoot);
  if (!subPath) return target;
  try {
    const inside = await resolveInRoot(target, subPath);
    await stat(inside);
    return inside;
  } catch (err) {
    await native.umount2(target, MNT_DETACH).catch(() => undefined);
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR')
      throw notFound(`image volume ${containerPath}: image_sub_path "${subPath}" does not exist in image ${image.record.id}`);
    throw err;
  }
}

/** Detaches the host's copies of a container's image volumes (after create, or before its bundle goes). */
export async function releaseImageVolumes(native: NativeOps, bundle: string): Promise<void> {
  await detachAllUnder(native, imageVolumesDir(bundle), (n) => n.startsWith('empty'));
}
