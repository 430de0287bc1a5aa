import { describe, expect, it } from 'vitest';
import { KeyedGate } from '../src/util/keyed-gate.js';
import { latch } from './support/lifecycle-fakes.js';

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('the shared/exclusive gate', () => {
  it('lets shared holders in together, and an exclusive one alone after them', async () => {
    const gate = new KeyedGate();
    const order: string[] = [];
    const a = latch();
    const b = latch();
    const r1 = gate.shared('pod', async () => {
      order.push('r1 in');
      await a.promise;
      order.push('r1 out');
    });
    const r2 = gate.shared('pod', async () => {
      order.push('r2 in');
      await b.promise;
      order.push('r2 out');
    });
    const w = gate.exclusive('pod', async () => {
      order.push('w');
    });
    await tick();
    expect(order).toEqual(['r1 in', 'r2 in']);
    a.release();
    await tick();
    expect(order).toEqual(['r1 in', 'r2 in', 'r1 out']); // the writer waits for both
    b.release();
    await Promise.all([r1, r2, w]);
    expect(order).toEqual(['r1 in', 'r2 in', 'r1 out', 'r2 out', 'w']);
    expect(gate.busy('pod')).toBe(false);
  });

  it('lets a waiting exclusive holder go before shared ones that came after it', async () => {
    const gate = new KeyedGate();
    const order: string[] = [];
    const first = latch();
    const r1 = gate.shared('pod', () => first.promise.then(() => order.push('r1')));
    const w = gate.exclusive('pod', async () => order.push('w'));
    const r2 = gate.shared('pod', async () => order.push('r2'));
    await tick();
    expect(order).toEqual([]);
    first.release();
    await Promise.all([r1, w, r2]);
    expect(order).toEqual(['r1', 'w', 'r2']);
  });

  it('releases the gate when the holder throws, and keeps keys apart', async () => {
    const gate = new KeyedGate();
    await expect(gate.exclusive('a', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    const hold = latch();
    const held = gate.exclusive('a', () => hold.promise);
    await expect(gate.exclusive('b', async () => 'other key')).resolves.toBe('other key');
    hold.release();
    await held;
    expect(gate.busy('a')).toBe(false);
  });
});
