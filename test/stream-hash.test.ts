import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashOps } from '../src/native/index.js';
import { streamHash } from '../src/util/stream-hash.js';

describe('stream digests on the thread pool', () => {
  it('are the native ones here', () => {
    expect(hashOps()).toBeDefined();
  });

  it.each(['sha256', 'sha512'])('match node:crypto for %s over many chunks, the producer waiting when told to', async (alg) => {
    const chunks = Array.from({ length: 200 }, (_, i) => randomBytes(1 + ((i * 7919) % 70_000)));
    const h = streamHash(alg);
    let waits = 0;
    for (const c of chunks) {
      const backlog = h.update(c);
      if (backlog) {
        waits++;
        await backlog;
      }
    }
    const expected = createHash(alg);
    for (const c of chunks) expected.update(c);
    expect(await h.digest()).toBe(expected.digest('hex'));
    expect(waits).toBeGreaterThan(0);
  });

  it('hashes chunks smaller than a batch, and a batch followed by a remainder', async () => {
    for (const sizes of [
      [10, 20, 30],
      [600 << 10, 5],
      [1, 512 << 10, 3, 700 << 10],
    ]) {
      const chunks = sizes.map((n) => randomBytes(n));
      const h = streamHash('sha256');
      for (const c of chunks) await h.update(c);
      const expected = createHash('sha256');
      for (const c of chunks) expected.update(c);
      expect(await h.digest()).toBe(expected.digest('hex'));
    }
  });

  it('hashes nothing to the digest of the empty string, and refuses an unknown algorithm', async () => {
    expect(await streamHash('sha256').digest()).toBe(createHash('sha256').digest('hex'));
    expect(() => streamHash('sha3-999')).toThrow();
  });
});
