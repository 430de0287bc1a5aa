import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isRuntimeError } from '../../src/errors.js';
import { decompressLayer } from '../../src/storage/decompress.js';

/**
 * zstd framing from an image's layer, through the native decoder: a frame
 * with bytes overwritten or cut ends or is refused with the project's
 * failed-precondition, never another exception, and the output of one
 * slice never passes its bound.
 */
const SAMPLE = execFileSync('zstd', ['-3', '-c', '-q'], { input: Buffer.from('berth zstd sample '.repeat(4000)) });

async function* once(b: Buffer): AsyncGenerator<Buffer> {
  yield b;
}

describe('zstd framing under hostile bytes', () => {
  it('ends or refuses a frame with bytes overwritten or cut', async () => {
    const mutated = fc.tuple(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 12 }), fc.nat()).map(([edits, cut]) => {
      const b = Buffer.from(SAMPLE);
      for (const [at, v] of edits) b[4 + (at % (b.length - 4))] = v; // keep the magic: it routes the bytes to zstd
      return b.subarray(0, 4 + (cut % (b.length - 3)));
    });
    await fc.assert(
      fc.asyncProperty(mutated, async (b) => {
        let slices = 0;
        try {
          for await (const chunk of decompressLayer(once(b))) {
            expect(chunk.length).toBeLessThanOrEqual(256 << 10);
            if (++slices > 64) break; // a bomb is the bound's business, seen in test/zstd.test.ts
          }
        } catch (err) {
          expect(isRuntimeError(err) && err.kind === 'failed-precondition', String(err)).toBe(true);
        }
      }),
      { numRuns: 300, seed: 5 },
    );
  });
});
