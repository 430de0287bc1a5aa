/**
 * When a stop escalates to SIGKILL. The kubelet may shorten a pod's grace
 * period while a stop is pending (`kubectl delete --grace-period=0
 * --force` after a normal delete): every later StopContainer,
 * StopPodSandbox or RemoveContainer brings the deadline forward, never
 * back, and the stop in progress escalates at the earliest one.
 */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class KillDeadline {
  private timer: NodeJS.Timeout | undefined;
  private fire!: () => void;
  /** Resolves when the deadline is reached (at its latest, earliest value). */
  readonly reached: Promise<void>;

  constructor(
    private at: number,
    private readonly now: () => number = Date.now,
  ) {
    this.reached = new Promise((resolve) => {
      this.fire = resolve;
    });
    this.schedule();
  }

  /** Milliseconds left, 0 once reached. */
  remainingMs(): number {
    return Math.max(0, this.at - this.now());
  }

  /** Moves the deadline to `at` if that is earlier. */
  bringForward(at: number): void {
    if (at >= this.at) return;
    this.at = at;
    this.schedule();
  }

  /** No stop waits on it any more: drop the timer. */
  cancel(): void {
    clearTimeout(this.timer);
  }

  private schedule(): void {
    clearTimeout(this.timer);
    const ms = this.remainingMs();
    if (ms === 0) this.fire();
    // Timers past 2^31 ms fire at once: long grace periods are waited out in steps.
    else this.timer = setTimeout(() => this.schedule(), Math.min(ms, MAX_TIMER_MS));
  }
}
