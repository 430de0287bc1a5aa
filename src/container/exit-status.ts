import { stat } from 'node:fs/promises';
import path from 'node:path';
import { msToNs } from '../util/time.js';
import type { ContainerMeta, ContainerStatus } from './container.js';

/** What an exit sets in a container's status. */
export interface ExitFields {
  state: 'CONTAINER_EXITED';
  exitCode: number;
  finishedAt: string;
  reason: string;
  message: string;
}

/**
 * The EXITED part of a status from what conmon left: the exit code, the
 * time of the exit file (when the process ended), and whether the memory
 * cgroup killed it. The message stays empty: the kubelet reads the
 * termination-message file itself, through the mount the status lists, and
 * appends it to the runtime's message ("OK" became "OK: OK" in node
 * conformance while berth also read it), as containerd and CRI-O leave it.
 */
export async function exitFields(meta: ContainerMeta, exitCode: number): Promise<ExitFields> {
  let finishedAt: string;
  try {
    finishedAt = msToNs((await stat(path.join(meta.persistDir, 'exit'))).mtimeMs);
  } catch {
    finishedAt = msToNs(Date.now());
  }
  // conmon also reports an OOM kill of a child; only a killed main process counts.
  const oomKilled = exitCode === 137 && ((await exists(path.join(meta.bundle, 'oom'))) || (await exists(path.join(meta.persistDir, 'oom'))));
  const reason = oomKilled ? 'OOMKilled' : exitCode === 0 ? 'Completed' : 'Error';
  return { state: 'CONTAINER_EXITED', exitCode, finishedAt, reason, message: '' };
}

/**
 * Applies an exit to the status as it is when written, not as it was when
 * the exit was read: StartContainer may have recorded the start meanwhile.
 */
export function withExit(current: ContainerStatus, exit: ExitFields): ContainerStatus {
  // File times come from a coarse clock: never report an end before the start.
  const finishedAt = current.startedAt && BigInt(exit.finishedAt) < BigInt(current.startedAt) ? current.startedAt : exit.finishedAt;
  return { ...current, ...exit, finishedAt, pid: undefined };
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}
