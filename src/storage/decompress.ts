import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { RuntimeError, errnoCode, isRuntimeError, messageOf } from '../errors.js';
import { type ZstdOps, zstdOps } from '../native/index.js';

/**
 * Decompresses a layer stream, choosing the codec by the content's magic
 * bytes (registries are not always truthful about media types): gzip, zstd
 * or plain tar.
 */
export interface DecompressLimits {
  /** The largest zstd window a frame may declare, in bytes (a power of two; larger ones are refused). */
  zstdMaxWindow: number;
  /** Names the layer in errors. */
  what: string;
}

export const DEFAULT_ZSTD_MAX_WINDOW = 64 << 20;

export async function* decompressLayer(
  source: AsyncIterable<Buffer>,
  limits: DecompressLimits = { zstdMaxWindow: DEFAULT_ZSTD_MAX_WINDOW, what: 'layer' },
): AsyncGenerator<Buffer> {
  const it = source[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  while (head.length < 4) {
    const next = await it.next();
    if (next.done) break;
    head = Buffer.concat([head, next.value]);
  }
  if (head.length === 0) return;
  async function* all(): AsyncGenerator<Buffer> {
    try {
      yield head;
      for (;;) {
        const next = await it.next();
        if (next.done) return;
        yield next.value;
      }
    } finally {
      // Stopped early (a refused layer): the source (a registry body) is released too.
      await it.return?.();
    }
  }
  if (head[0] === 0x1f && head[1] === 0x8b) {
    yield* gunzip(all(), limits);
    return;
  }
  if (head.readUInt32LE(0) === 0xfd2fb528) {
    yield* zstd(all(), limits);
    return;
  }
  yield* all();
}

/**
 * gzip through zlib, streaming: one output chunk at a time, taken when the
 * consumer asks. Bytes that are not gzip are the image's fault and say so;
 * an error of the source (the registry's connection) is passed on as it is.
 */
async function* gunzip(source: AsyncIterable<Buffer>, limits: DecompressLimits): AsyncGenerator<Buffer> {
  const input = Readable.from(source, { objectMode: false });
  // Large output chunks: each one is a callback on the event loop.
  const inflate = createGunzip({ chunkSize: 128 << 10 });
  let sourceError: unknown;
  input.on('error', (err) => {
    sourceError = err;
    inflate.destroy(err);
  });
  input.pipe(inflate);
  try {
    for await (const chunk of inflate) yield chunk as Buffer;
  } catch (err) {
    if (err === sourceError || isRuntimeError(err)) throw err;
    throw new RuntimeError('failed-precondition', `${limits.what} is not valid gzip: ${messageOf(err)}`, { cause: err });
  } finally {
    input.destroy();
    inflate.destroy();
  }
}

/** Output of one native decode call: small enough that no slice is a burden, large enough to be few. */
const ZSTD_SLICE = 256 << 10;
/** Give the event loop a turn after this much output, whatever the consumers do with it. */
const YIELD_EVERY = 4 << 20;

/**
 * zstd through the native decoder: each call decodes at most one slice on
 * the thread pool, and the next is asked for only once the consumer took
 * the last, so memory stays one slice per layer however far the data
 * expands, and the event loop never decodes.
 */
async function* zstd(source: AsyncIterable<Buffer>, limits: DecompressLimits): AsyncGenerator<Buffer> {
  const ops: ZstdOps | undefined = zstdOps();
  if (!ops) throw new RuntimeError('failed-precondition', `${limits.what} is zstd-compressed, and berth's native module (its zstd decoder) is not loaded`);
  const windowLogMax = Math.max(10, Math.ceil(Math.log2(limits.zstdMaxWindow)));
  const decoder = ops.zstdCreate(windowLogMax);
  let frameDone = false;
  let sinceYield = 0;
  const slices = async function* (input: Buffer): AsyncGenerator<Buffer> {
    let offset = 0;
    for (;;) {
      let r: Awaited<ReturnType<ZstdOps['zstdDecode']>>;
      try {
        r = await ops.zstdDecode(decoder, offset === 0 ? input : input.subarray(offset), ZSTD_SLICE);
      } catch (err) {
        throw zstdError(err, limits);
      }
      offset += r.consumed;
      frameDone = r.frameDone;
      if (r.output.length > 0) {
        yield r.output;
        sinceYield += r.output.length;
        if (sinceYield >= YIELD_EVERY) {
          sinceYield = 0;
          await nextTurn();
        }
      }
      // Done with this input once it is used up and the decoder held nothing back.
      if (offset >= input.length && r.output.length < ZSTD_SLICE) return;
    }
  };
  for await (const chunk of source) yield* slices(chunk);
  yield* slices(Buffer.alloc(0));
  if (!frameDone) throw new RuntimeError('failed-precondition', `${limits.what} is not valid zstd: the data ends inside a frame`);
}

function zstdError(err: unknown, limits: DecompressLimits): RuntimeError {
  if (errnoCode(err) === 'ZSTD_WINDOW_TOO_LARGE') {
    return new RuntimeError(
      'failed-precondition',
      `${limits.what} declares a zstd window larger than the ${limits.zstdMaxWindow} bytes berth decodes with (image.zstd_max_window)`,
      { cause: err },
    );
  }
  return new RuntimeError('failed-precondition', `${limits.what} is not valid zstd: ${(err as Error).message}`, { cause: err });
}
