import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isRuntimeError } from '../../src/errors.js';
import { decompressLayer } from '../../src/storage/decompress.js';

/**
 * gzip framing from an image's layer: a stream with bytes overwritten, cut
 * or followed by garbage ends or is refused with the project's
 * failed-precondition naming the layer, never another exception, and no
 * output chunk passes zlib's chunk bound, however the input was split.
 */
const SAMPLE = gzipSync(Buffer.from('berth gzip sample '.repeat(20_000)));

async function* pieces(b: Buffer, cuts: number[]): AsyncGenerator<Buffer> {
  let off = 0;
  for (let i = 0; off < b.length; i++) {
    const next = Math.min(b.length, off + 1 + (cuts[i % cuts.length]! % 4096));
    yield b.subarray(off, next);
    off = next;
  }
}

describe('gzip framing under hostile bytes', () => {
  it('ends or refuses a stream with bytes overwritten, cut or extended', async () => {
    const mutated = fc
      .record({
        edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 12 }),
        cut: fc.nat(),
        tail: fc.uint8Array({ maxLength: 64 }),
        cuts: fc.array(fc.nat(), { minLength: 1, maxLength: 8 }),
      })
      .map(({ edits, cut, tail, cuts }) => {
        const b = Buffer.from(SAMPLE);
        for (const [at, v] of edits) b[2 + (at % (b.length - 2))] = v; // keep the magic: it routes the bytes to gzip
        return { bytes: Buffer.concat([b.subarray(0, 2 + (cut % (b.length - 1))), tail]), cuts };
      });
    await fc.assert(
      fc.asyncProperty(mutated, async ({ bytes, cuts }) => {
        let total = 0;
        try {
          for await (const chunk of decompressLayer(pieces(bytes, cuts), { zstdMaxWindow: 1 << 20, what: 'layer sha256:x' })) {
            expect(chunk.length).toBeLessThanOrEqual(128 << 10);
            total += chunk.length;
          }
          expect(total).toBeLessThanOrEqual(360_000);
        } catch (err) {
          expect(isRuntimeError(err) && err.kind === 'failed-precondition', String(err)).toBe(true);
          expect((err as Error).message).toMatch(/^layer sha256:x is not valid gzip: /);
        }
      }),
      { numRuns: 300, seed: 7 },
    );
  });

  it('passes an error of the source on as it is', async () => {
    const failure = new Error('connection reset');
    async function* broken(): AsyncGenerator<Buffer> {
      yield SAMPLE.subarray(0, 100);
      throw failure;
    }
    const seen = await (async () => {
      for await (const _ of decompressLayer(broken())) {
        // Drained.
      }
    })().catch((e: unknown) => e);
    expect(seen).toBe(failure);
  });

  it('gives back what was compressed, whatever the split', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 5000 }), fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), async (data, cuts) => {
        const out: Buffer[] = [];
        for await (const chunk of decompressLayer(pieces(gzipSync(data), cuts))) out.push(chunk);
        expect(Buffer.concat(out).equals(Buffer.from(data))).toBe(true);
      }),
      { numRuns: 100, seed: 8 },
    );
  });
});
