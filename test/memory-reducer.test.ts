import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryReducer } from '../src/host/memory-reducer.js';

describe('the memory reducer', () => {
  afterEach(() => {
    vi.useRealTimers();
  });
  const fakeOps = () => {
    const calls: string[] = [];
    return { calls, ops: { memoryPressure: () => void calls.push('pressure'), trimMemory: async () => void calls.push('trim') } };
  };

  it('gives memory back after every so many events, even when they never stop', async () => {
    vi.useFakeTimers();
    const { calls, ops } = fakeOps();
    const reducer = new MemoryReducer(ops, 3, 10_000);
    for (let i = 0; i < 7; i++) reducer.note();
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toEqual(['pressure', 'trim', 'pressure', 'trim']);
    reducer.close();
  });

  it('gives memory back once things are quiet, and only once', async () => {
    vi.useFakeTimers();
    const { calls, ops } = fakeOps();
    const reducer = new MemoryReducer(ops, 100, 10_000);
    reducer.note();
    await vi.advanceTimersByTimeAsync(9_000);
    reducer.note();
    await vi.advanceTimersByTimeAsync(9_000);
    expect(calls).toEqual([]);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(calls).toEqual(['pressure', 'trim']);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toEqual(['pressure', 'trim']);
  });
});
