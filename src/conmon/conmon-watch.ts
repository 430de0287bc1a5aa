/**
 * Noticing that a container's conmon has died. conmon writes the exit
 * files, so a conmon killed (kill -9, the OOM killer) leaves its container
 * running with nobody to report its end: berth would say RUNNING for ever.
 *
 * conmon daemonizes (it forks and its first process exits), so it is not
 * berth's child and Node cannot wait for it. A pidfd can be polled for the
 * exit of any process: the native module's watchExit polls one on the
 * event loop (its waitid then fails with ECHILD, which it reports as
 * (null, null): for a process that is not ours only the exit itself is
 * known, and that is all that matters here). Without pidfds, one timer
 * checks every watched pid with kill(pid, 0) once a second: a system call
 * per container, no file read.
 */

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { errnoCode } from '../errors.js';
import { type SpawnOps, spawnOps } from '../native/index.js';

/** conmon `pid` has exited (or the pid no longer names a conmon). */
export type MonitorGone = (pid: number) => void;

export interface MonitorWatcher {
  /**
   * Calls `onGone` once, when the conmon whose pid file is in `bundle`
   * exits (at once when it already has). Returns what stops the watch, or
   * undefined when the bundle names no conmon (no pid file): nothing to watch.
   */
  watch(bundle: string, onGone: MonitorGone): Promise<(() => void) | undefined>;
}

const POLL_MS = 1000;
/** conmon's first process writes the pid file as it forks; give it a moment. */
const PIDFILE_TRIES = 5;
const PIDFILE_RETRY_MS = 50;

export class ConmonWatcher implements MonitorWatcher {
  private readonly polled = new Map<number, Set<() => void>>();
  private timer: NodeJS.Timeout | undefined;

  /** `ops`: the native pidfd watch; null to poll (no pidfds on this kernel). */
  constructor(private readonly ops: Pick<SpawnOps, 'watchExit'> | null = spawnOps() ?? null) {}

  async watch(bundle: string, onGone: MonitorGone): Promise<(() => void) | undefined> {
    const pid = await readConmonPid(path.join(bundle, 'conmon-pidfile'));
    if (pid === undefined) return undefined;
    let live = true;
    const gone = () => {
      if (!live) return;
      live = false;
      onGone(pid);
    };
    // Watch first, then check the pid is still a conmon: a pid reused
    // between the two would otherwise be watched instead.
    const unwatch = this.watchPid(pid, gone);
    if (!(await isConmon(pid))) gone();
    return () => {
      live = false;
      unwatch();
    };
  }

  private watchPid(pid: number, gone: () => void): () => void {
    if (this.ops) {
      try {
        this.ops.watchExit(pid, false, () => gone());
        return () => undefined; // a late callback finds the watch stopped
      } catch {
        // pidfd_open failed: ESRCH (already gone) or out of descriptors; the poll below tells which.
        if (!alive(pid)) {
          gone();
          return () => undefined;
        }
      }
    }
    const set = this.polled.get(pid) ?? new Set();
    set.add(gone);
    this.polled.set(pid, set);
    this.timer ??= setInterval(() => this.poll(), POLL_MS).unref();
    return () => {
      set.delete(gone);
      if (set.size === 0) this.polled.delete(pid);
    };
  }

  private poll(): void {
    for (const [pid, callbacks] of this.polled) {
      if (alive(pid)) continue;
      this.polled.delete(pid);
      for (const cb of callbacks) cb();
    }
    if (this.polled.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) !== 'ESRCH';
  }
}

async function readConmonPid(file: string): Promise<number | undefined> {
  for (let i = 0; i < PIDFILE_TRIES; i++) {
    const pid = Number.parseInt(await readFile(file, 'utf8').catch(() => ''), 10);
    if (pid > 0) return pid;
    await new Promise((resolve) => setTimeout(resolve, PIDFILE_RETRY_MS));
  }
  return undefined;
}

async function isConmon(pid: number): Promise<boolean> {
  const comm = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '');
  return comm.trim() === 'conmon';
}
