import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isRuntimeError } from '../../src/errors.js';
import { TarFormatError } from '../../src/storage/tar/byte-reader.js';
import { readTar } from '../../src/storage/tar/reader.js';
import { createTar } from '../support/tar-writer.js';

/**
 * The tar reader takes a layer's bytes, which anyone who can push an image
 * writes. Whatever they are, reading them either ends or throws the
 * reader's own TarFormatError (or a project RuntimeError), and the bytes
 * handed out stay within what came in: no hang, no TypeError or RangeError,
 * no body larger than its input.
 */
async function readAll(bytes: Buffer): Promise<number> {
  async function* chunks(): AsyncGenerator<Buffer> {
    for (let i = 0; i < bytes.length; i += 500) yield bytes.subarray(i, i + 500);
  }
  let out = 0;
  for await (const { body } of readTar(chunks())) for await (const c of body) out += c.length;
  return out;
}

async function deliberate(bytes: Buffer): Promise<void> {
  try {
    const out = await readAll(bytes);
    expect(out).toBeLessThanOrEqual(bytes.length);
  } catch (err) {
    if (!(err instanceof TarFormatError) && !isRuntimeError(err)) throw err;
  }
}

const validTar = fc
  .array(
    fc.record({
      name: fc.stringMatching(/^[a-z]{1,12}(\/[a-z]{1,12}){0,3}$/),
      content: fc.string({ maxLength: 600 }),
      mode: fc.constantFrom(0o644, 0o755, 0o4755),
    }),
    { minLength: 1, maxLength: 6 },
  )
  .map((entries) => createTar(entries));

describe('the tar reader under hostile bytes', () => {
  it('ends or refuses arbitrary bytes, never crashes or hangs', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), async (b) => deliberate(Buffer.from(b))),
      { numRuns: 300, seed: 7 },
    );
  });

  it('ends or refuses a valid archive with bytes overwritten, truncated or headers given pax records', async () => {
    const mutated = fc.tuple(validTar, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 16 }), fc.nat()).map(([tar, edits, cut]) => {
      const b = Buffer.from(tar);
      for (const [at, v] of edits) b[at % b.length] = v;
      return b.subarray(0, cut % (b.length + 1));
    });
    await fc.assert(
      fc.asyncProperty(mutated, async (b) => deliberate(b)),
      { numRuns: 300, seed: 11 },
    );
  });

  it('refuses pax records with hostile values by the reader’s own error', async () => {
    const paxValue = fc.oneof(fc.constantFrom('NaN', '-1', '1e400', '0x10', '99999999999999999999', '', ' 5', '__proto__'), fc.string({ maxLength: 40 }));
    const key = fc.constantFrom('size', 'uid', 'gid', 'mtime', 'path', 'linkpath', 'SCHILY.xattr.user.x', '__proto__');
    await fc.assert(
      fc.asyncProperty(key, paxValue, async (k, v) => {
        const tar = createTar([{ name: 'f', content: 'abc', pax: { [k]: v } }]);
        await deliberate(tar);
      }),
      { numRuns: 200, seed: 13 },
    );
  });
});
