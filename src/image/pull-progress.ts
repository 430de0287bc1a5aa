import { RuntimeError } from '../errors.js';
import type { Logger } from '../log.js';
import { formatDuration } from '../config/duration.js';

/**
 * Watches one pull: logs bytes done and total every few seconds, and
 * aborts the pull when no byte has arrived for `timeoutMs`.
 */
export class PullProgress {
  private done = 0;
  private total = 0;
  private lastProgress = Date.now();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly image: string,
    private readonly log: Logger,
    private readonly timeoutMs: number,
    private readonly abort: (reason: RuntimeError) => void,
    intervalMs = 5000,
  ) {
    const tick = Math.min(intervalMs, timeoutMs > 0 ? Math.max(100, timeoutMs / 4) : intervalMs);
    this.timer = setInterval(() => this.check(), tick);
    this.timer.unref();
  }

  addTotal(bytes: number): void {
    this.total += bytes;
  }

  add(bytes: number): void {
    this.done += bytes;
    this.lastProgress = Date.now();
  }

  /** Any sign of life (a manifest answered) counts as progress too. */
  touch(): void {
    this.lastProgress = Date.now();
  }

  private lastLogged = 0;

  private check(): void {
    const now = Date.now();
    if (now - this.lastLogged >= 5000 && this.total > 0) {
      this.lastLogged = now;
      this.log.info({ image: this.image, bytesDone: this.done, bytesTotal: this.total }, `pulling ${this.image}: ${this.done} of ${this.total} bytes`);
    }
    if (this.timeoutMs > 0 && now - this.lastProgress > this.timeoutMs) {
      this.stop();
      this.abort(
        new RuntimeError(
          'deadline-exceeded',
          `pulling ${this.image}: no progress for ${formatDuration(this.timeoutMs)} (pull_progress_timeout), ${this.done} of ${this.total} bytes received`,
        ),
      );
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
