/** Calls waiting for a container's exit to be recorded (stop, remove). */
export class ExitWaiters {
  private readonly waiters = new Map<string, (() => void)[]>();

  /** Resolves true when `notify(id)` comes, false after `ms`. */
  wait(id: string, ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        const list = this.waiters.get(id) ?? [];
        this.waiters.set(id, list.filter((w) => w !== done));
        resolve(false);
      }, ms);
      this.waiters.set(id, [...(this.waiters.get(id) ?? []), done]);
    });
  }

  notify(id: string): void {
    const waiters = this.waiters.get(id) ?? [];
    this.waiters.delete(id);
    for (const w of waiters) w();
  }
}
