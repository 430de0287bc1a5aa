/**
 * A container whose conmon died without writing an exit file. Nobody can
 * report its end any more, its logs and attach are gone with conmon, and
 * its stdout is a broken pipe: berth ends it through the OCI runtime and
 * records it EXITED with code 255 and reason Error, as CRI-O reports a
 * container whose exit file never came (internal/oci/runtime_oci.go,
 * UpdateContainerStatus). The kubelet then restarts it by its policy.
 */

import { type Logger, logFailure } from '../log.js';
import type { OciRuntime } from '../oci/runtime.js';
import { nowNs } from '../util/time.js';
import type { ContainerMeta } from './container.js';
import type { ExitFields } from './exit-status.js';

/** How long the runtime gets to see the killed container stopped, and how often it is asked. */
const STOPPED_WAIT_MS = 5_000;
const STATE_POLL_MS = 100;

export const MONITOR_GONE_EXIT_CODE = 255;

export interface MonitorGoneDeps {
  runtime: OciRuntime;
  log: Logger;
  stoppedWaitMs?: number;
}

/**
 * SIGKILLs what is left of the container (its whole cgroup when it shares
 * a PID namespace, else its init, with which the rest ends) and waits until
 * the runtime sees it stopped. Returns the exit to record.
 */
export async function endWithoutMonitor(deps: MonitorGoneDeps, meta: ContainerMeta, conmonPid: number): Promise<ExitFields> {
  const { runtime, log } = deps;
  const all = meta.sharedPidNamespace ?? true;
  await runtime.kill(meta.id, 'SIGKILL', all).catch(logFailure(log, 'warn', 'SIGKILL of a container without conmon failed', { containerId: meta.id }));
  const until = Date.now() + (deps.stoppedWaitMs ?? STOPPED_WAIT_MS);
  let killedInit = !all;
  for (;;) {
    const state = await runtime.state(meta.id).catch(() => undefined);
    if (!state || state.status === 'stopped') break;
    if (Date.now() >= until) {
      log.warn({ containerId: meta.id, status: state.status }, 'a container without conmon still runs after SIGKILL; recording it exited anyway');
      break;
    }
    if (!killedInit) {
      // What `kill --all` did not reach, killing the init still ends.
      killedInit = true;
      await runtime.kill(meta.id, 'SIGKILL', false).catch(() => false);
    }
    await new Promise((resolve) => setTimeout(resolve, STATE_POLL_MS));
  }
  return {
    state: 'CONTAINER_EXITED',
    exitCode: MONITOR_GONE_EXIT_CODE,
    finishedAt: nowNs(),
    reason: 'Error',
    message: `conmon (pid ${conmonPid}), the container's monitor, exited without recording the container's exit; berth killed the container, its own exit code is unknown`,
  };
}
