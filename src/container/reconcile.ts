import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { readExitFile } from '../conmon/exit-watcher.js';
import { type Logger, logFailure } from '../log.js';
import type { NativeOps } from '../native/index.js';
import type { OciRuntime } from '../oci/runtime.js';
import type { RecordStore, StoredRecord } from '../state/record-store.js';
import { removeIfExists } from '../util/fs.js';
import { nowNs } from '../util/time.js';
import type { ContainerMeta, ContainerStatus } from './container.js';
import { conmonAlive, isSameProcess, processStartTime } from './process-info.js';
import { rootfsPaths, unmountRootfs } from './rootfs.js';
import { releaseHostCopies } from './host-copies.js';
import { createFailed } from './transitions.js';
import type { NameRegistry } from '../state/name-registry.js';

export interface ReconcileDeps {
  store: RecordStore<ContainerMeta, ContainerStatus>;
  native: NativeOps;
  log: Logger;
  runtimeFor(handler: string): OciRuntime;
  /** Every configured runtime: a container whose record is unreadable may be in any of their roots. */
  runtimes(): OciRuntime[];
  handleExit(id: string, exitCode: number): Promise<void>;
  /** Removes the conmon cgroup of a container berth lost the record of (its parent is unknown then). */
  forgetConmonCgroup?(id: string): Promise<void>;
}

/**
 * Brings a record in line with reality when no exit event can be
 * expected (at start-up, or when a stop saw no exit): the exit file if
 * conmon wrote one, else whether the process still lives (same pid and
 * start time), else the runtime's state.
 */
export async function reconcile(deps: ReconcileDeps, record: StoredRecord<ContainerMeta, ContainerStatus>): Promise<void> {
  const { meta, status } = record;
  if (status.state === 'CONTAINER_EXITED') return;
  const runtime = deps.runtimeFor(meta.runtimeHandler);
  if (status.state === 'CONTAINER_CREATED' && !status.pid) {
    // berth stopped while the runtime was creating it: keep what the
    // runtime finished, if its conmon lived on to watch it.
    const state = await runtime
      .state(meta.id)
      .catch(logFailure(deps.log, 'debug', 'runtime state of a half-created container failed', { containerId: meta.id }));
    if (state?.status === 'created' && state.pid > 0 && (await conmonAlive(path.join(meta.bundle, 'conmon-pidfile')))) {
      const pidStartTime = await processStartTime(state.pid);
      await deps.store.update(meta.id, (s) => ({ ...s, pid: state.pid, pidStartTime }));
      return;
    }
    await runtime.delete(meta.id, true).catch(logFailure(deps.log, 'debug', 'runc delete of a half-created container failed', { containerId: meta.id }));
    await deps.store.update(meta.id, (s) => createFailed(s, 'berth stopped while the runtime was creating the container'));
    return;
  }
  const code = await readExitFile(path.join(meta.persistDir, 'exit'));
  if (code !== undefined) {
    await deps.handleExit(meta.id, code);
    return;
  }
  if (await isSameProcess(status.pid, status.pidStartTime)) return;
  const state = await runtime
    .state(meta.id)
    .catch(logFailure(deps.log, 'info', 'runtime state failed: taking the container as gone', { containerId: meta.id }));
  if (state && (state.status === 'running' || state.status === 'created' || state.status === 'paused')) return;
  await deps.store.update(meta.id, (s) => ({
    ...s,
    state: 'CONTAINER_EXITED',
    exitCode: 255,
    finishedAt: nowNs(),
    reason: 'Error',
    message: 'the container exited while berth could not watch it; its exit code is unknown',
  }));
}

/** Restored records reconciled side by side, and how long start-up waits for them. */
/** Reconciliations at once: most are a file read and a /proc read; a few spawn the runtime. */
const RESTORE_CONCURRENCY = 16;
const RESTORE_WAIT_MS = 10_000;

type Record = StoredRecord<ContainerMeta, ContainerStatus>;

/**
 * Reconciles restored records a few at a time, each under its container's
 * lock. Start-up waits for them up to RESTORE_WAIT_MS in all: a container
 * whose runtime hangs finishes in the background (calls on it wait for its
 * lock) instead of keeping the whole node's runtime UNAVAILABLE.
 */
export async function reconcileRestored(
  deps: ReconcileDeps,
  records: Record[],
  underLock: (id: string, fn: () => Promise<void>) => Promise<void>,
  waitMs = RESTORE_WAIT_MS,
  reconciled?: (id: string) => void,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < records.length) {
      const record = records[next++]!;
      await underLock(record.meta.id, () => reconcile(deps, record)).then(
        () => reconciled?.(record.meta.id),
        (err: unknown) => deps.log.warn({ err, containerId: record.meta.id }, 'reconciling a restored container failed'),
      );
    }
  };
  const all = Promise.all(Array.from({ length: Math.min(RESTORE_CONCURRENCY, records.length) }, worker));
  let timer: NodeJS.Timeout | undefined;
  const inTime = await Promise.race([all.then(() => true), new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), waitMs)))]);
  clearTimeout(timer);
  if (!inTime) {
    deps.log.warn(
      { waitedMs: waitMs, left: records.length - next },
      'restoring containers takes long (a hung runtime?): serving calls while the rest finishes',
    );
    void all.then(() => deps.log.info('every restored container reconciled'));
  }
}

/** Bundles without a record (berth died mid-create or mid-remove): unmount and delete. */
export async function removeOrphanBundles(deps: ReconcileDeps, dir: string): Promise<void> {
  for (const id of await readdir(dir).catch(() => [] as string[])) {
    if (deps.store.get(id)) continue;
    deps.log.warn({ containerId: id }, 'removing a container bundle without a record');
    await deleteFromRuntimes(deps, id);
    await deps.forgetConmonCgroup?.(id);
    await unmountRootfs(deps.native, rootfsPaths(path.join(dir, id), deps.store.dirOf(id)));
    await releaseHostCopies(deps.native, path.join(dir, id));
    await removeIfExists(path.join(dir, id));
  }
}

/**
 * Containers a runtime holds in its root with neither record nor bundle
 * (berth lost both, or a record was removed while its container lived
 * on): killed and deleted. Only roots under the runroot are berth's own;
 * one configured elsewhere may be shared (podman's /run/runc).
 */
export async function removeUntrackedRuntimeContainers(deps: Pick<ReconcileDeps, 'runtimes' | 'log' | 'store'>, runroot: string): Promise<void> {
  const roots = new Set<string>();
  for (const runtime of deps.runtimes()) {
    const root = runtime.handler.root;
    const inside = path.relative(runroot, root);
    if (roots.has(root) || inside.startsWith('..') || path.isAbsolute(inside)) continue;
    roots.add(root);
    for (const id of await readdir(root).catch(() => [] as string[])) {
      if (id.startsWith('.') || deps.store.get(id)) continue;
      await deleteFromRuntimes({ runtimes: () => [runtime], log: deps.log }, id);
    }
  }
}

export interface RestoreDeps extends ReconcileDeps {
  names: NameRegistry;
  /** `<runroot>/containers`: one bundle per container. */
  bundlesDir: string;
  hasPod(id: string): boolean;
  underLock: (id: string, fn: () => Promise<void>) => Promise<void>;
  waitMs?: number;
  /** Told of each container once it is reconciled (its conmon is then watched). */
  reconciled?: (id: string) => void;
}

/**
 * Kills and deletes container `id` in every runtime's root (`delete
 * --force` SIGKILLs what still runs). Used where no record says which
 * runtime ran it: without this a running container would go on untracked,
 * holding its cgroup, its mounts and whatever it serves.
 */
export async function deleteFromRuntimes(deps: Pick<ReconcileDeps, 'runtimes' | 'log'>, id: string): Promise<void> {
  const seen = new Set<string>();
  for (const runtime of deps.runtimes()) {
    if (seen.has(runtime.handler.root)) continue;
    seen.add(runtime.handler.root);
    const state = await runtime.state(id).catch(() => undefined);
    if (!state) continue;
    deps.log.warn(
      { containerId: id, runtime: runtime.handler.name, status: state.status },
      'the runtime still has a container berth has no record of: killing and deleting it',
    );
    await runtime.delete(id, true).catch(logFailure(deps.log, 'warn', 'deleting a container without a record failed', { containerId: id }));
  }
}

/**
 * Start-up's part for containers: records that cannot be read are removed
 * with their bundles once the runtime has killed and deleted their
 * containers, bundles without a record too, names are taken again,
 * and every record is reconciled with what conmon and the runtime say.
 */
export async function restoreRecords(deps: RestoreDeps): Promise<void> {
  const { loaded, broken } = await deps.store.load();
  for (const id of broken) {
    // Nobody can say what the container is any more: it is ended first,
    // so that its files do not go while it still runs on them.
    await deleteFromRuntimes(deps, id);
    await deps.forgetConmonCgroup?.(id);
    await unmountRootfs(deps.native, rootfsPaths(path.join(deps.bundlesDir, id), deps.store.dirOf(id)));
    await removeIfExists(deps.store.dirOf(id));
    await removeIfExists(path.join(deps.bundlesDir, id));
  }
  await removeOrphanBundles(deps, deps.bundlesDir);
  await removeUntrackedRuntimeContainers(deps, path.dirname(deps.bundlesDir));
  for (const record of loaded) {
    deps.names.restore(record.meta.name, record.meta.id, record.meta.requestKey);
    if (!deps.hasPod(record.meta.sandboxId)) deps.log.warn({ containerId: record.meta.id }, 'container of a missing sandbox');
  }
  await reconcileRestored(deps, loaded, deps.underLock, deps.waitMs, deps.reconciled);
}
