import { canceled } from '../errors.js';

/**
 * Runs one operation per key no matter how many callers ask for it at
 * once. Every caller can cancel its own wait; the operation itself is
 * aborted only when the last waiting caller has gone.
 */
export class SharedOperations<T> {
  private readonly inflight = new Map<string, { promise: Promise<T>; controller: AbortController; waiters: number }>();

  /**
   * With `waitForSettle`, a caller that aborts is answered only once the
   * operation has finished its own clean-up (when it was the last caller),
   * so it never sees a half-undone state.
   */
  run(key: string, signal: AbortSignal, fn: (signal: AbortSignal) => Promise<T>, options: { waitForSettle?: boolean } = {}): Promise<T> {
    signal.throwIfAborted();
    let entry = this.inflight.get(key);
    if (!entry) {
      const controller = new AbortController();
      const created = { controller, waiters: 0, promise: Promise.resolve() as Promise<T> };
      created.promise = (async () => {
        try {
          return await fn(controller.signal);
        } finally {
          this.inflight.delete(key);
        }
      })();
      // Rejections are observed by every waiter; keep Node from reporting one
      // that no waiter is left to see.
      created.promise.catch(() => undefined);
      this.inflight.set(key, created);
      entry = created;
    }
    const current = entry;
    current.waiters++;
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const onAbort = () => {
        if (settled) return;
        settled = true;
        current.waiters--;
        const last = current.waiters === 0;
        if (last) current.controller.abort(canceled('pull cancelled: every client waiting for it went away'));
        const reason = signal.reason instanceof Error ? signal.reason : canceled('cancelled');
        if (last && options.waitForSettle)
          current.promise.then(
            () => reject(reason),
            () => reject(reason),
          );
        else reject(reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      current.promise.then(
        (value) => {
          if (settled) return;
          settled = true;
          signal.removeEventListener('abort', onAbort);
          resolve(value);
        },
        (err: unknown) => {
          if (settled) return;
          settled = true;
          signal.removeEventListener('abort', onAbort);
          reject(err);
        },
      );
    });
  }

  get size(): number {
    return this.inflight.size;
  }
}
