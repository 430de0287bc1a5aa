import { readFile } from 'node:fs/promises';
import { processStartTime } from './process-info.js';

/**
 * The process an exec runs, as runc's pid file names it, pinned by its
 * start time as soon as the file appears. Killing it later (a timeout, a
 * client that went away) signals that process or nothing: read only when
 * the kill comes, the pid could by then name another process (pids are
 * reused within minutes on a busy node), a container's init included.
 */
export class ExecProcess {
  private pinned: { pid: number; startTime: string } | undefined;
  private readonly pinning: Promise<void>;
  private stopped = false;

  constructor(
    private readonly pidFile: string,
    private readonly readPidFile: (file: string) => Promise<string> = (f) => readFile(f, 'utf8'),
    private readonly startTimeOf: (pid: number) => Promise<string | undefined> = processStartTime,
    private readonly pollMs = 10,
    private readonly tries = 500,
  ) {
    this.pinning = this.pin();
  }

  /**
   * Signals the process if it is still the one runc started; false when
   * there was none to signal (runc has not written the pid file, or the
   * process has ended).
   */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<boolean> {
    this.stopped = true;
    await this.pinning;
    // Not pinned yet: the file is new if it is there at all, and so is what it names.
    if (!this.pinned) await this.pinOnce();
    const p = this.pinned;
    if (!p || (await this.startTimeOf(p.pid)) !== p.startTime) return false;
    try {
      process.kill(p.pid, signal);
      return true;
    } catch {
      return false; // gone meanwhile
    }
  }

  /** The exec is over: stop looking for the pid file. */
  done(): void {
    this.stopped = true;
  }

  private async pin(): Promise<void> {
    for (let i = 0; i < this.tries && !this.stopped; i++) {
      if (await this.pinOnce()) return;
      await new Promise((r) => setTimeout(r, this.pollMs));
    }
  }

  /** Reads the pid file once; true when it named a pid (pinned, or already ended). */
  private async pinOnce(): Promise<boolean> {
    const pid = Number.parseInt(await this.readPidFile(this.pidFile).catch(() => ''), 10);
    if (!(pid > 0)) return false;
    const startTime = await this.startTimeOf(pid);
    // No start time: the process has already ended, nothing to kill.
    if (startTime) this.pinned = { pid, startTime };
    return true;
  }
}
