import { mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExitWatcher } from '../src/conmon/exit-watcher.js';
import { silentLogger } from '../src/log.js';
import { NameRegistry } from '../src/state/name-registry.js';
import { RecordStore } from '../src/state/record-store.js';
import { CleanupStack } from '../src/util/cleanup.js';

describe('record store', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-records-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips versioned records and serialises concurrent updates', async () => {
    const store = new RecordStore<{ id: string; name: string }, { n: number }>(dir, 'thing', silentLogger());
    await store.create({ id: 'a1', name: 'first' }, { n: 0 });
    await Promise.all(Array.from({ length: 20 }, () => store.update('a1', (s) => ({ n: s.n + 1 }))));
    expect(JSON.parse(await readFile(path.join(dir, 'a1', 'status.json'), 'utf8'))).toEqual({ version: 1, n: 20 });
    const again = new RecordStore<{ id: string; name: string }, { n: number }>(dir, 'thing', silentLogger());
    const { loaded } = await again.load();
    expect(loaded).toEqual([{ meta: { id: 'a1', name: 'first' }, status: { n: 20 } }]);
    expect(again.resolve('a')?.meta.id).toBe('a1');
  });

  it('moves its generation with every change, and not on reads', async () => {
    const store = new RecordStore<{ id: string }, { n: number }>(dir, 'thing', silentLogger());
    const seen = [store.generation];
    await store.create({ id: 'g1' }, { n: 0 });
    seen.push(store.generation);
    store.get('g1');
    store.list();
    seen.push(store.generation);
    await store.update('g1', (s) => ({ n: s.n + 1 }));
    seen.push(store.generation);
    store.forget('g1');
    seen.push(store.generation);
    expect(seen).toEqual([0, 1, 1, 2, 3]);
  });

  it('refuses records of an unknown version and reports them', async () => {
    const store = new RecordStore<{ id: string }, object>(dir, 'thing', silentLogger());
    await store.create({ id: 'b2' }, {});
    await writeFile(path.join(dir, 'b2', 'meta.json'), JSON.stringify({ version: 99, id: 'b2' }));
    const again = new RecordStore<{ id: string }, object>(dir, 'thing', silentLogger());
    expect(await again.load()).toEqual({ loaded: [], broken: ['b2'] });
  });
});

describe('name registry', () => {
  it('gives an identical retry the first result and refuses a different request', async () => {
    const names = new NameRegistry();
    let calls = 0;
    let release!: (id: string) => void;
    const slow = () => {
      calls++;
      return new Promise<string>((r) => (release = r));
    };
    const first = names.reserve('k8s_a', 'key1', slow);
    const retry = names.reserve('k8s_a', 'key1', slow);
    await expect(names.reserve('k8s_a', 'key2', slow)).rejects.toMatchObject({ kind: 'already-exists' });
    release('id-1');
    expect(await first).toBe('id-1');
    expect(await retry).toBe('id-1');
    expect(calls).toBe(1);
  });

  it('frees the name when the create fails', async () => {
    const names = new NameRegistry();
    await expect(
      names.reserve('k8s_b', 'k', async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await names.reserve('k8s_b', 'other', async () => 'id-2')).toBe('id-2');
  });
});

describe('cleanup stack', () => {
  it('undoes in reverse order and keeps going past a failing step', async () => {
    const order: string[] = [];
    const stack = new CleanupStack(silentLogger());
    stack.push('a', async () => void order.push('a'));
    stack.push('b', async () => {
      order.push('b');
      throw new Error('b failed');
    });
    stack.push('c', async () => void order.push('c'));
    expect(await stack.unwind()).toBe(false);
    expect(order).toEqual(['c', 'b', 'a']);
  });
});

describe('exit watcher', () => {
  it('reports exits written the way conmon writes them, and those already present', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'berth-exits-'));
    await writeFile(path.join(dir, 'before'), '3');
    const seen: [string, number][] = [];
    const watcher = new ExitWatcher(dir, (id, code) => void seen.push([id, code]), silentLogger());
    await watcher.start();
    await writeFile(path.join(dir, 'after.XYZ123'), '137');
    await rename(path.join(dir, 'after.XYZ123'), path.join(dir, 'after'));
    for (let i = 0; i < 50 && seen.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    watcher.stop();
    expect(seen).toEqual([
      ['before', 3],
      ['after', 137],
    ]);
    await rm(dir, { recursive: true, force: true });
  });
});

describe('record store writes settled', () => {
  it('waits for the writes queued before it, and writes nothing itself', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'berth-settled-'));
    try {
      const store = new RecordStore<{ id: string }, { n: number }>(dir, 'thing', silentLogger());
      await store.create({ id: 'a' }, { n: 0 });
      const file = path.join(store.dirOf('a'), 'status.json');
      const writes = [1, 2, 3].map((n) => store.update('a', () => ({ n })));
      await store.settled('a');
      expect(store.get('a')!.status.n).toBe(3);
      const mtime = (await stat(file)).mtimeMs;
      await store.settled('a');
      expect((await stat(file)).mtimeMs).toBe(mtime);
      await Promise.all(writes);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
