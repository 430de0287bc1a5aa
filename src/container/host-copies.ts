/**
 * Mounts berth prepares on the host for runc to bind into a container
 * (recursive read-only trees, image volumes) are needed only until the
 * runtime has created it: its mount namespace then holds its own. They are
 * detached after create, and again wherever a container's bundle is about
 * to go (a failed create, a release, an orphan found at start-up).
 */

import path from 'node:path';
import type { NativeOps } from '../native/index.js';
import { releaseImageVolumes } from './image-volumes.js';
import { releaseRecursiveReadOnly } from './rro.js';
import { detachAllUnder } from './detach.js';

/** `<bundle>/idmap-volumes/<n>`: idmapped copies of volumes, for pods with a user namespace. */
export function idmapVolumesDir(bundle: string): string {
  return path.join(bundle, 'idmap-volumes');
}

export async function releaseHostCopies(native: NativeOps, bundle: string): Promise<void> {
  await releaseRecursiveReadOnly(native, bundle);
  await releaseImageVolumes(native, bundle);
  await detachAllUnder(native, idmapVolumesDir(bundle));
}
