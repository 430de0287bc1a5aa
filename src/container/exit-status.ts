import { constants } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { msToNs } from '../util/time.js';
import type { ContainerMeta, ContainerStatus } from './container.js';

const MAX_MESSAGE = 4096;

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
 * time of the exit file (when the process ended), whether the memory
 * cgroup killed it, and the termination message the container wrote.
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
  const message = meta.terminationMessageHostPath ? await readMessage(meta.terminationMessageHostPath) : '';
  return { state: 'CONTAINER_EXITED', exitCode, finishedAt, reason, message };
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

/**
 * The first 4 KiB of the termination message (the kubelet keeps no more).
 * The container writes that file: it is opened without following links or
 * blocking, and read only if it is still a regular file.
 */
async function readMessage(file: string): Promise<string> {
  try {
    const fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
    try {
      if (!(await fh.stat()).isFile()) return '';
      const buf = Buffer.alloc(MAX_MESSAGE);
      const { bytesRead } = await fh.read(buf, 0, MAX_MESSAGE, 0);
      return buf.subarray(0, bytesRead).toString('utf8');
    } finally {
      await fh.close();
    }
  } catch {
    return '';
  }
}
