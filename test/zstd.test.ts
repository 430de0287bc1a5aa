import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { decompressLayer } from '../src/storage/decompress.js';
import { readTar } from '../src/storage/tar/reader.js';
import { createTar } from './support/tar-writer.js';

/**
 * zstd layers through the native decoder: what the zstd tool writes comes
 * back byte for byte; a frame that declares a window past the bound is
 * refused naming the layer; a bomb comes out one bounded slice at a time.
 */
const MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

async function zstdCli(data: Buffer, level = 3): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = execFile('zstd', [`-${level}`, '-c', '-q'], { encoding: 'buffer', maxBuffer: 64 << 20 }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    );
    child.stdin!.end(data);
  });
}

/** A frame header (no single segment, no checksum) declaring 2^windowLog bytes of window. */
const frameHeader = (windowLog: number) => Buffer.concat([MAGIC, Buffer.from([0x00, (windowLog - 10) << 3])]);
/** One block header: last flag, type (0 raw, 1 RLE), size. */
const blockHeader = (last: boolean, type: number, size: number) => {
  const v = (last ? 1 : 0) | (type << 1) | (size << 3);
  return Buffer.from([v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff]);
};

async function* once(b: Buffer): AsyncGenerator<Buffer> {
  yield b;
}

async function collect(source: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of source) parts.push(c);
  return Buffer.concat(parts);
}

describe('zstd layers', () => {
  it('decode what zstd writes, at any level, in any chunking', async () => {
    const tar = createTar(Array.from({ length: 50 }, (_, i) => ({ name: `f${i}`, content: `file ${i} `.repeat(2000) })));
    for (const level of [1, 19]) {
      const compressed = await zstdCli(tar, level);
      expect((await collect(decompressLayer(once(compressed)))).equals(tar)).toBe(true);
      async function* small(): AsyncGenerator<Buffer> {
        for (let i = 0; i < compressed.length; i += 333) yield compressed.subarray(i, i + 333);
      }
      expect((await collect(decompressLayer(small()))).equals(tar)).toBe(true);
    }
  });

  it('refuses a frame declaring a window past the bound, naming the layer and the key', async () => {
    const bomb = Buffer.concat([frameHeader(31), blockHeader(true, 0, 4), Buffer.from('abcd')]);
    await expect(collect(decompressLayer(once(bomb), { zstdMaxWindow: 64 << 20, what: 'layer sha256:abc' }))).rejects.toMatchObject({
      kind: 'failed-precondition',
      message: expect.stringMatching(/^layer sha256:abc declares a zstd window larger than the 67108864 bytes .*image\.zstd_max_window/),
    });
    // The same frame under a larger bound decodes.
    const small = Buffer.concat([frameHeader(20), blockHeader(true, 0, 4), Buffer.from('abcd')]);
    expect((await collect(decompressLayer(once(small)))).toString()).toBe('abcd');
  });

  it('expands a bomb of RLE blocks one bounded slice at a time', async () => {
    const blocks = Array.from({ length: 10_000 }, (_, i) => Buffer.concat([blockHeader(i === 9_999, 1, 128 << 10), Buffer.from([0])]));
    const bomb = Buffer.concat([frameHeader(17), ...blocks]);
    let slices = 0;
    let largest = 0;
    for await (const chunk of decompressLayer(once(bomb))) {
      largest = Math.max(largest, chunk.length);
      if (++slices === 200) break; // 50 MiB out of 1.25 GiB: enough to see the bound
    }
    expect(slices).toBe(200);
    expect(largest).toBeLessThanOrEqual(256 << 10);
  });

  it('refuses data that ends inside a frame, and bytes that are no frame', async () => {
    const full = await zstdCli(Buffer.from('x'.repeat(100_000)));
    await expect(collect(decompressLayer(once(full.subarray(0, full.length - 8))))).rejects.toMatchObject({
      kind: 'failed-precondition',
      message: /ends inside a frame/,
    });
    await expect(collect(decompressLayer(once(Buffer.concat([full, Buffer.from('garbage!')]))))).rejects.toMatchObject({ kind: 'failed-precondition' });
  });

  it('stops reading a tar that goes on far past its end-of-archive blocks', async () => {
    const tar = Buffer.concat([createTar([{ name: 'a', content: 'a' }]), Buffer.alloc(2 << 20)]);
    const read = async () => {
      for await (const { body } of readTar(once(tar))) for await (const _ of body) void _;
    };
    await expect(read()).rejects.toThrow(/past the end of its tar archive/);
    const padded = Buffer.concat([createTar([{ name: 'a', content: 'a' }]), Buffer.alloc(10240)]);
    await expect(
      (async () => {
        for await (const { body } of readTar(once(padded))) for await (const _ of body) void _;
      })(),
    ).resolves.toBeUndefined();
  });
});
