import { Duplex } from 'node:stream';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_STREAMS, SpdyConnection } from '../../src/streaming/spdy/connection.js';
import { SPDY3_DICTIONARY } from '../../src/streaming/spdy/dictionary.js';
import {
  FrameType,
  MAX_CONTROL_LENGTH,
  MAX_DATA_LENGTH,
  SpdyProtocolError,
  controlFrame,
  dataFrame,
  decodeHeaderBlock,
  encodeHeaderBlock,
  readFrames,
  u32,
} from '../../src/streaming/spdy/frames.js';
import { decodeWsMessage } from '../../src/streaming/ws-frames.js';

/**
 * SPDY frames and header blocks, and WebSocket channel messages, come
 * from whoever reaches the streaming port with a token: the kubelet, or a
 * client behind the API server. Whatever the bytes, the parsers either
 * give their result or throw SpdyProtocolError, never hand out more than
 * came in, and a connection fed garbage closes itself without an error
 * escaping and without holding more streams than it allows.
 */
function protocolOnly(run: () => void): void {
  try {
    run();
  } catch (err) {
    if (!(err instanceof SpdyProtocolError)) throw err;
  }
}

const headerName = fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/);
const headerValue = fc.string({ maxLength: 40 }).filter((v) => !v.includes('\0'));
const headers = fc.dictionary(headerName, headerValue, { maxKeys: 8 });

const frame = fc.oneof(
  fc.record({
    kind: fc.constant('data' as const),
    id: fc.integer({ min: 1, max: 0x7fffffff }),
    flags: fc.integer({ min: 0, max: 255 }),
    payload: fc.uint8Array({ maxLength: 300 }),
  }),
  fc.record({
    kind: fc.constant('control' as const),
    type: fc.integer({ min: 1, max: 12 }),
    flags: fc.integer({ min: 0, max: 255 }),
    payload: fc.uint8Array({ maxLength: 300 }),
  }),
);
type ArbitraryFrame = typeof frame extends fc.Arbitrary<infer T> ? T : never;
const encode = (f: ArbitraryFrame) =>
  f.kind === 'data' ? dataFrame(f.id, f.flags, Buffer.from(f.payload)) : controlFrame(f.type, f.flags, Buffer.from(f.payload));

describe('SPDY frames', () => {
  it('splits any bytes into frames within the limits plus a rest, or refuses them', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
        const input = Buffer.from(bytes);
        protocolOnly(() => {
          const { frames, rest } = readFrames(input);
          const used = frames.reduce((n, f) => n + 8 + f.payload.length, 0);
          expect(used + rest.length).toBe(input.length);
          for (const f of frames) expect(f.payload.length).toBeLessThanOrEqual(f.kind === 'data' ? MAX_DATA_LENGTH : MAX_CONTROL_LENGTH);
        });
      }),
      { numRuns: 500 },
    );
  });

  it('reads the same frames whatever the socket splits them into', () => {
    fc.assert(
      fc.property(
        fc.array(frame, { minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }),
        (frames, cuts) => {
          const wire = Buffer.concat(frames.map(encode));
          const whole = readFrames(wire);
          expect(whole.rest.length).toBe(0);
          expect(whole.frames).toHaveLength(frames.length);
          const pieces: Buffer[] = [];
          let buffer: Buffer = Buffer.alloc(0);
          for (let off = 0, i = 0; off < wire.length; i++) {
            const next = Math.min(wire.length, off + cuts[i % cuts.length]!);
            buffer = Buffer.concat([buffer, wire.subarray(off, next)]);
            const { frames: got, rest } = readFrames(buffer);
            for (const f of got) pieces.push(Buffer.from(f.payload));
            buffer = rest;
            off = next;
          }
          expect(buffer.length).toBe(0);
          expect(pieces).toEqual(whole.frames.map((f) => Buffer.from(f.payload)));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('decodes any header block to headers or refuses it, and gives back what was encoded', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        protocolOnly(() => {
          const out = decodeHeaderBlock(Buffer.from(bytes));
          const size = Object.entries(out).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
          expect(size).toBeLessThanOrEqual(bytes.length);
        });
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(headers, (h) => {
        expect({ ...decodeHeaderBlock(encodeHeaderBlock(h)) }).toEqual(h);
      }),
    );
  });

  it('closes a server connection fed frames that make no sense, with no error escaping and at most MAX_STREAMS streams', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(frame, fc.record({ kind: fc.constant('syn' as const), id: fc.integer({ min: 1, max: 400 }), headers, garble: fc.boolean() })), {
          minLength: 1,
          maxLength: 40,
        }),
        async (script) => {
          const { socket, written } = fakeSocket();
          const conn = new SpdyConnection(socket, 'server');
          let streams = 0;
          conn.on('stream', () => streams++);
          const deflate = zlib.createDeflate({ dictionary: SPDY3_DICTIONARY });
          for (const step of script) {
            if (step.kind !== 'syn') {
              socket.push(encode(step));
              continue;
            }
            let block = await flushed(deflate, encodeHeaderBlock(step.headers));
            if (step.garble) block = Buffer.from(block.map((b, i) => (i % 3 === 0 ? b ^ 0x5a : b)));
            socket.push(controlFrame(FrameType.SYN_STREAM, 0, Buffer.concat([u32(step.id, 0), Buffer.from([0, 0]), block])));
          }
          await new Promise((r) => setTimeout(r, 5));
          expect(streams).toBeLessThanOrEqual(MAX_STREAMS);
          // Whatever it answered were whole frames of its own.
          const answer = Buffer.concat(written);
          expect(readFrames(answer).rest.length).toBe(0);
          conn.close();
          socket.destroy();
          deflate.close();
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('WebSocket channel messages', () => {
  it('gives a channel and a payload no larger than the message, or nothing', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
          fc.string({ maxLength: 300 }),
        ),
        fc.boolean(),
        fc.boolean(),
        (raw, isBinary, base64) => {
          const message = decodeWsMessage(raw, isBinary, base64);
          if (!message) return;
          expect(Number.isInteger(message.channel) && message.channel >= 0 && message.channel <= 255).toBe(true);
          expect(message.data.length).toBeLessThanOrEqual(Buffer.byteLength(raw));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('carries a base64 message to its channel byte for byte', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 9 }), fc.uint8Array({ maxLength: 200 }), (channel, data) => {
        const message = decodeWsMessage(`${channel}${Buffer.from(data).toString('base64')}`, false, true);
        expect(message).toEqual({ channel, data: Buffer.from(data) });
      }),
    );
  });
});

/** A socket whose inbound bytes the test pushes and whose outbound bytes it collects. */
function fakeSocket(): { socket: Duplex; written: Buffer[] } {
  const written: Buffer[] = [];
  const socket = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      written.push(chunk);
      cb();
    },
  });
  return { socket, written };
}

function flushed(deflate: zlib.Deflate, block: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    const onData = (c: Buffer) => out.push(c);
    deflate.on('data', onData);
    deflate.write(block);
    deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => {
      deflate.off('data', onData);
      resolve(Buffer.concat(out));
    });
  });
}
