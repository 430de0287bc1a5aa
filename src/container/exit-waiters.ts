/** Calls waiting for a container's exit to be recorded (stop, remove). */
export class ExitWaiters {
  private readonly waiters = new Map<string, (() => void)[]>();

  /** Resolves true when `notify(id)` comes, false after `ms` or once `until` settles. */
  wait(id: string, ms: number, until?: Promise<unknown>): Promise<boolean> {
    return new Promise((resolve) => {
      let settled = false;
      const finish = (exited: boolean) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (!exited) {
          const list = (this.waiters.get(id) ?? []).filter((w) => w !== done);
          if (list.length > 0) this.waiters.set(id, list);
          else this.waiters.delete(id);
        }
        resolve(exited);
      };
      const done = () => finish(true);
      const timer = setTimeout(() => finish(false), Math.min(ms, 2 ** 31 - 1));
      void until?.then(
        () => finish(false),
        () => finish(false),
      );
      this.waiters.set(id, [...(this.waiters.get(id) ?? []), done]);
    });
  }

  notify(id: string): void {
    const waiters = this.waiters.get(id) ?? [];
    this.waiters.delete(id);
    for (const w of waiters) w();
  }
}
