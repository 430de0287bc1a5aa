import { describe, expect, it } from 'vitest';
import { ExitWaiters } from '../src/container/exit-waiters.js';
import { KillDeadline } from '../src/container/kill-deadline.js';

describe('stop deadlines', () => {
  it('are brought forward by a shorter grace period, never pushed back', async () => {
    const started = Date.now();
    const d = new KillDeadline(started + 3_600_000);
    d.bringForward(started + 7_200_000);
    expect(d.remainingMs()).toBeGreaterThan(3_500_000);
    d.bringForward(started + 50);
    await d.reached;
    expect(Date.now() - started).toBeLessThan(1000);
    expect(d.remainingMs()).toBe(0);
  });

  it('wait out grace periods longer than a timer can hold', () => {
    const d = new KillDeadline(Date.now() + 40 * 24 * 3_600_000);
    expect(d.remainingMs()).toBeGreaterThan(2 ** 31);
    d.cancel();
  });

  it('release a waiter for an exit when they are reached, and forget it', async () => {
    const waiters = new ExitWaiters();
    const d = new KillDeadline(Date.now() + 20);
    expect(await waiters.wait('c1', 3_600_000, d.reached)).toBe(false);
    const later = new KillDeadline(Date.now() + 3_600_000);
    const exited = waiters.wait('c1', 3_600_000, later.reached);
    waiters.notify('c1');
    expect(await exited).toBe(true);
    later.cancel();
    expect((waiters as unknown as { waiters: Map<string, unknown> }).waiters.size).toBe(0);
  });
});
