import { release } from 'node:os';
import path from 'node:path';
import { MNT_DETACH, MS_BIND, MS_PRIVATE, MS_REC, type NativeOps } from '../native/index.js';
import { detachAllUnder } from './detach.js';
import { makeDirs } from '../util/fs.js';

/**
 * Recursive read-only mounts. runc 1.1 cannot apply them itself, so berth
 * prepares the tree on the host: a private recursive bind of the source
 * under the container's bundle, made read-only mount by mount with
 * mount_setattr(AT_RECURSIVE); the container then bind-mounts that tree,
 * whose submounts stay read-only. Needs Linux 5.12 or later.
 */
export function rroSupported(kernelRelease = release()): boolean {
  const [major, minor] = kernelRelease.split('.').map((n) => Number.parseInt(n, 10));
  return (major ?? 0) > 5 || ((major ?? 0) === 5 && (minor ?? 0) >= 12);
}

export function rroDir(bundle: string): string {
  return path.join(bundle, 'rro');
}

/** Prepares one source; returns the path to bind into the container. */
export async function prepareRecursiveReadOnly(native: NativeOps, bundle: string, source: string, index: number): Promise<string> {
  const target = path.join(rroDir(bundle), String(index));
  await makeDirs(target, 0o700);
  await native.mount(source, target, '', MS_BIND | MS_REC);
  try {
    // Private first: nothing done to this copy may propagate back to the host.
    await native.mount('', target, '', MS_PRIVATE | MS_REC);
    await native.readOnlyRecursive(target);
  } catch (err) {
    await native.umount2(target, MNT_DETACH).catch(() => undefined);
    throw err;
  }
  return target;
}

/** Detaches every prepared tree of a container (before its bundle is removed). */
export async function releaseRecursiveReadOnly(native: NativeOps, bundle: string): Promise<void> {
  await detachAllUnder(native, rroDir(bundle));
}
