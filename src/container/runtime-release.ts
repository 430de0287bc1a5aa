/**
 * Releasing what only a live container needs: the runtime's container
 * (its state and cgroups) and the root filesystem mount. It starts as soon
 * as the exit is recorded, as containerd deletes its task on exit, so that
 * RemoveContainer rarely has anything left to wait for. Each container's
 * release runs once; a failed one is tried again by the next caller.
 */

import { RuntimeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { NativeOps } from '../native/index.js';
import type { OciRuntime } from '../oci/runtime.js';
import type { ContainerMeta } from './container.js';
import { rootfsPaths, unmountRootfs } from './rootfs.js';
import { releaseHostCopies } from './host-copies.js';

export class RuntimeRelease {
  private readonly releases = new Map<string, Promise<void>>();

  constructor(
    private readonly runtimeFor: (handler: string) => OciRuntime,
    private readonly native: NativeOps,
    private readonly log: Logger,
  ) {}

  /** Releases the container's runtime side; idempotent. */
  release(meta: ContainerMeta): Promise<void> {
    let release = this.releases.get(meta.id);
    if (!release) {
      release = this.run(meta);
      this.releases.set(meta.id, release);
      release.catch(() => this.releases.delete(meta.id));
    }
    return release;
  }

  /** The container is gone for good: forget its release. */
  forget(id: string): void {
    this.releases.delete(id);
  }

  private async run(meta: ContainerMeta): Promise<void> {
    await this.runtimeFor(meta.runtimeHandler)
      .delete(meta.id, true)
      .catch((err: unknown) => {
        // A runtime that is no longer installed must not make its
        // containers impossible to remove: berth's part is released anyway.
        if (!(err instanceof RuntimeError && err.kind === 'failed-precondition')) throw err;
        this.log.warn({ containerId: meta.id, err: err.message }, "the runtime cannot delete the container; releasing berth's side only");
      });
    await unmountRootfs(this.native, rootfsPaths(meta.bundle, meta.persistDir));
    await releaseHostCopies(this.native, meta.bundle);
  }
}
