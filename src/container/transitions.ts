/**
 * The status changes of a container's life cycle, as pure functions of
 * the status they apply to (see the state diagram in container.ts). Each
 * is applied inside RecordStore.update, to the status as it stands when
 * written, so that concurrent changes (an exit recorded while a start
 * answers) merge instead of overwriting each other. The exit itself is in
 * exit-status.ts, as it reads what conmon left on disk.
 */

import { failedPrecondition } from '../errors.js';
import { nowNs } from '../util/time.js';
import type { ContainerState, ContainerStatus } from './container.js';

/** The reason of a container the runtime failed to create (StartContainer reports it). */
export const CREATE_FAILED = 'CreateContainerError';
/** The reason of a container whose `runc start` failed. */
export const START_FAILED = 'ContainerCannotRun';

/** The runtime could not create the container (conmon or `runc create` failed). */
export function createFailed(s: ContainerStatus, message: string): ContainerStatus {
  return { ...s, state: 'CONTAINER_EXITED', exitCode: 128, finishedAt: nowNs(), reason: CREATE_FAILED, message };
}

/** `runc start` failed: the process never ran. */
export function startFailed(s: ContainerStatus, message: string): ContainerStatus {
  return { ...s, state: 'CONTAINER_EXITED', exitCode: 128, finishedAt: nowNs(), reason: START_FAILED, message };
}

/** The process runs since `startedAt`; an exit recorded meanwhile stays, with the start time added. */
export function started(s: ContainerStatus, startedAt: string): ContainerStatus {
  return s.state === 'CONTAINER_EXITED' ? { ...s, startedAt } : { ...s, state: 'CONTAINER_RUNNING', startedAt };
}

/** StartContainer's preconditions: created, and created successfully. */
export function checkStartable(id: string, s: ContainerStatus): void {
  if (s.reason === CREATE_FAILED) throw failedPrecondition(`container ${id} could not be created: ${s.message ?? ''}`);
  if (s.state !== 'CONTAINER_CREATED') throw failedPrecondition(`container ${id} is ${stateWord(s.state)}, not created`);
}

export function stateWord(state: ContainerState): string {
  return state.replace('CONTAINER_', '').toLowerCase();
}
