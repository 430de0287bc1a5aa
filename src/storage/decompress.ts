import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Decompress as ZstdDecompress } from 'fzstd';

/**
 * Decompresses a layer stream, choosing the codec by the content's magic
 * bytes (registries are not always truthful about media types): gzip, zstd
 * or plain tar.
 */
export async function* decompressLayer(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const it = source[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  while (head.length < 4) {
    const next = await it.next();
    if (next.done) break;
    head = Buffer.concat([head, next.value]);
  }
  if (head.length === 0) return;
  async function* all(): AsyncGenerator<Buffer> {
    yield head;
    for (;;) {
      const next = await it.next();
      if (next.done) return;
      yield next.value;
    }
  }
  if (head[0] === 0x1f && head[1] === 0x8b) {
    const input = Readable.from(all(), { objectMode: false });
    // Large output chunks: each one is a callback on the event loop.
    const gunzip = createGunzip({ chunkSize: 128 << 10 });
    input.on('error', (err) => gunzip.destroy(err));
    input.pipe(gunzip);
    for await (const chunk of gunzip) yield chunk as Buffer;
    return;
  }
  if (head.readUInt32LE(0) === 0xfd2fb528) {
    yield* zstd(all());
    return;
  }
  yield* all();
}

async function* zstd(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const out: Buffer[] = [];
  const decoder = new ZstdDecompress((data) => {
    out.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  });
  for await (const chunk of source) {
    decoder.push(chunk);
    while (out.length > 0) yield out.shift()!;
  }
  decoder.push(new Uint8Array(0), true);
  while (out.length > 0) yield out.shift()!;
}
