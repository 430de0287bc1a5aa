import { describe, expect, it } from 'vitest';
import { eachLimit } from '../src/util/each-limit.js';

describe('eachLimit', () => {
  it('runs every item, never more than the limit at once', async () => {
    let running = 0;
    let most = 0;
    const seen: number[] = [];
    await eachLimit([1, 2, 3, 4, 5, 6, 7], 3, async (n, i) => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 5));
      seen[i] = n * 10;
      running--;
    });
    expect(most).toBe(3);
    expect(seen).toEqual([10, 20, 30, 40, 50, 60, 70]);
  });

  it('throws the first failure after the calls already started have settled', async () => {
    const settled: number[] = [];
    const run = eachLimit([1, 2, 3, 4], 2, async (n) => {
      await new Promise((r) => setTimeout(r, n === 1 ? 1 : 20));
      settled.push(n);
      if (n === 1) throw new Error('one failed');
    });
    await expect(run).rejects.toThrow('one failed');
    expect(settled).toEqual([1, 2]);
  });

  it('does nothing for no items', async () => {
    await expect(eachLimit([], 4, async () => undefined)).resolves.toBeUndefined();
  });
});
