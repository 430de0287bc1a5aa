import type { RuntimeConfig } from '../config/schema.js';
import type { Monitor } from '../conmon/conmon.js';
import { messageOf } from '../errors.js';
import { type Logger, logFailure } from '../log.js';
import type { NativeOps } from '../native/index.js';
import type { OciRuntime } from '../oci/runtime.js';
import type { RecordStore } from '../state/record-store.js';
import type { ContainerMeta, ContainerStatus } from './container.js';
import { placeConmon } from '../conmon/conmon-cgroup.js';
import { processStartTime } from './process-info.js';
import { createFailed } from './transitions.js';
import { releaseHostCopies } from './host-copies.js';
import { span } from '../tracing/tracing.js';

export interface LaunchDeps {
  monitor: Monitor;
  native: NativeOps;
  runtime: RuntimeConfig;
  store: RecordStore<ContainerMeta, ContainerStatus>;
  exitsDir: string;
  socketDir: string;
  observer?: { spawned(program: string, action: string, seconds: number): void };
  /** Reports the container's exit when the runtime could not create it. */
  failed(meta: ContainerMeta): void;
}

/**
 * Starts conmon, which runs `<runtime> create`, and records the
 * container's pid. A failure leaves the container exited with reason
 * CreateContainerError, which StartContainer reports.
 */
export async function launchContainer(deps: LaunchDeps, meta: ContainerMeta, runtime: OciRuntime, log: Logger): Promise<void> {
  const spawnStarted = performance.now();
  let created: { pid: number; pidStartTime: string | undefined } | undefined;
  let failure: unknown;
  const placement = meta.conmonCgroup ? { cgroup: meta.conmonCgroup } : meta.conmonScope;
  try {
    const { pid } = await span('conmon.create', { 'k8s.container.id': meta.id }, () =>
      deps.monitor.create({
        id: meta.id,
        name: meta.name,
        bundle: meta.bundle,
        exitDir: deps.exitsDir,
        persistDir: meta.persistDir,
        logPath: meta.logPath,
        socketDir: deps.socketDir,
        runtime,
        tty: meta.tty,
        stdin: meta.stdin,
        stdinOnce: meta.stdinOnce,
        logSizeMax: deps.runtime.log_size_max,
        timeoutMs: deps.runtime.container_create_timeout,
        beforeStart: placement
          ? (pid) => placeConmon(placement, pid, meta.id).catch((err: unknown) => log.warn({ err, placement }, "conmon stays in berth's cgroup"))
          : undefined,
      }),
    );
    deps.observer?.spawned('conmon', 'create', (performance.now() - spawnStarted) / 1000);
    // The container now has its own copies of the read-only trees; the host's
    // copies would keep their mount points busy (rmdir says EBUSY) for nothing.
    await releaseHostCopies(deps.native, meta.bundle);
    created = { pid, pidStartTime: await processStartTime(pid) };
  } catch (err) {
    failure = err;
  }
  if (created) {
    const { pid, pidStartTime } = created;
    await deps.store.update(meta.id, (s) => ({ ...s, pid, pidStartTime }));
    return;
  }
  log.warn({ err: failure }, 'the runtime could not create the container');
  await runtime.delete(meta.id, true).catch(logFailure(log, 'debug', 'runc delete after the failed create failed (nothing to delete?)'));
  await deps.store
    .update(meta.id, (s) => createFailed(s, messageOf(failure)))
    .catch(logFailure(log, 'warn', 'recording the failed create failed (removed meanwhile?)'));
  deps.failed(meta);
}
