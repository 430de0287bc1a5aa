/**
 * Runs `fn` on every item, at most `limit` at a time, and resolves when all
 * have settled: start-up's file reads and checks, one per record, overlap
 * on the thread pool instead of waiting for each other. The first failure
 * is thrown once every started call has settled.
 */
export async function eachLimit<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: { err: unknown } | undefined;
  const worker = async () => {
    while (next < items.length && !failed) {
      const i = next++;
      try {
        await fn(items[i]!, i);
      } catch (err) {
        failed ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(0, Math.min(limit, items.length)) }, worker));
  if (failed) throw failed.err;
}
