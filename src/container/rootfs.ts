/**
 * A container's root filesystem: an overlay of the image's layers
 * (read-only, shared) and the container's own upper and work directories.
 * Lower directories are short relative links (`l/<id>`) resolved against
 * the storage root, so images with hundreds of layers fit overlayfs's
 * one-page limit on mount data.
 */

import { lchown, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { errnoCode, failedPrecondition } from '../errors.js';
import { MNT_DETACH, type NativeOps } from '../native/index.js';
import { detachAllUnder } from './detach.js';
import { makeDirs } from '../util/fs.js';

export interface RootfsPaths {
  mountpoint: string;
  upper: string;
  work: string;
}

export function rootfsPaths(bundle: string, persistDir: string): RootfsPaths {
  return { mountpoint: path.join(bundle, 'rootfs'), upper: path.join(persistDir, 'fs', 'upper'), work: path.join(persistDir, 'fs', 'work') };
}

/** A user namespace to map the image's layers into (a pod's, pinned), and where to stage the idmapped layers. */
export interface LayerIdmap {
  usernsPath: string;
  /** `<bundle>/idmap`: one idmapped mount per layer while the overlay is made. */
  stageDir: string;
  /** The host ids of the namespace's root: the root directory (the upper layer's) is theirs. */
  rootUid: number;
  rootGid: number;
}

/**
 * Mounts the overlay. With `idmap`, each lower layer is first an idmapped
 * mount (the pod's user namespace mapping), so the container sees the
 * image's files owned by their owners inside it, with no chown; overlayfs
 * keeps private clones of its layers, so the staged mounts are detached
 * right after. Files the container writes land in the upper layer with the
 * mapped (host) ids. Returns whether the layers were idmapped: where the
 * kernel or filesystem cannot, the caller falls back to plain layers.
 */
export async function mountRootfs(native: NativeOps, paths: RootfsPaths, lowerDirs: string[], storageRoot: string, idmap?: LayerIdmap): Promise<boolean> {
  await makeDirs(paths.upper, 0o755);
  await makeDirs(paths.work, 0o700);
  await makeDirs(paths.mountpoint, 0o755);
  let lowers = lowerDirs;
  if (lowers.length === 0) {
    // An image without layers still needs one lower directory.
    const empty = path.join(path.dirname(paths.upper), 'empty');
    await makeDirs(empty);
    lowers = [empty];
  }
  const overlayData = (lower: string[]) => overlayOptions(lower, paths.upper, paths.work);
  // Before the mount: overlayfs takes the root inode's owner from the upper
  // directory when it mounts, and permission checks use that.
  if (idmap) await lchown(paths.upper, idmap.rootUid, idmap.rootGid);
  if (idmap) {
    try {
      await makeDirs(idmap.stageDir, 0o700);
      for (const [i, lower] of lowers.entries()) {
        const target = path.join(idmap.stageDir, String(i));
        await mkdir(target);
        await native.idmapMount(path.resolve(storageRoot, lower), target, idmap.usernsPath);
      }
      // Short relative names against the staging directory: the list must fit one page.
      await native.mount('overlay', paths.mountpoint, 'overlay', 0, overlayData(lowers.map((_, i) => String(i))), idmap.stageDir);
      return true;
    } catch (err) {
      if (!IDMAP_UNSUPPORTED.has(errnoCode(err) ?? '')) throw err;
      await mountPlain(native, paths, overlayData(lowers), storageRoot);
      return false;
    } finally {
      await detachAllUnder(native, idmap.stageDir);
    }
  }
  await mountPlain(native, paths, overlayData(lowers), storageRoot);
  return false;
}

/** overlayfs' own limit on lower layers (OVL_MAX_STACK). */
export const MAX_OVERLAY_LAYERS = 500;
/**
 * mount(2) copies one page of mount data and silently drops the rest: the
 * overlay would come up without its bottom layers (the base image), so
 * options that do not fit, their NUL included, are refused instead.
 */
export const MOUNT_DATA_LIMIT = 4096;

/** The overlay's mount options, when they fit the page mount(2) copies; otherwise FAILED_PRECONDITION naming the count and the limit. */
export function overlayOptions(lowers: readonly string[], upper?: string, work?: string): string {
  if (lowers.length > MAX_OVERLAY_LAYERS) {
    throw failedPrecondition(`the image has ${lowers.length} layers; overlayfs stacks at most ${MAX_OVERLAY_LAYERS}`);
  }
  const data = `lowerdir=${lowers.join(':')}${upper && work ? `,upperdir=${upper},workdir=${work}` : ''}`;
  const bytes = Buffer.byteLength(data) + 1;
  if (bytes <= MOUNT_DATA_LIMIT) return data;
  const perLayer = (Buffer.byteLength(lowers.join(':')) + 1) / lowers.length;
  const fit = Math.floor((MOUNT_DATA_LIMIT - (bytes - Buffer.byteLength(lowers.join(':')))) / perLayer);
  throw failedPrecondition(
    `the image has ${lowers.length} layers; their overlay mount options take ${bytes} bytes, more than the ${MOUNT_DATA_LIMIT} mount(2) accepts (${fit} layers fit here)`,
  );
}

/** Errors that mean "no idmapped layers here" (old kernel, a filesystem without idmap support), not "broken". */
const IDMAP_UNSUPPORTED = new Set(['EINVAL', 'ENOSYS', 'EOPNOTSUPP', 'EPERM']);

async function mountPlain(native: NativeOps, paths: RootfsPaths, data: string, storageRoot: string): Promise<void> {
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
