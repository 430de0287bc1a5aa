/**
 * SPDY/3.1 frames as Kubernetes' streaming clients (moby/spdystream) use
 * them. All integers are big-endian; every frame has an 8-byte header:
 *   control: 1 | version(15) = 3 | type(16) | flags(8) | length(24)
 *   data:    0 | stream id(31)    | flags(8) | length(24)
 */
export const FrameType = {
  SYN_STREAM: 1,
  SYN_REPLY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  HEADERS: 8,
  WINDOW_UPDATE: 9,
} as const;

export const FLAG_FIN = 0x01;

export const RstStatus = { PROTOCOL_ERROR: 1, INVALID_STREAM: 2, REFUSED_STREAM: 3, CANCEL: 5, INTERNAL_ERROR: 6 } as const;

/**
 * Kubernetes' control frames carry a handful of short headers: a larger
 * one is refused before it is buffered, and a header block may not
 * inflate past MAX_HEADER_BLOCK (zlib turns 1 KiB into 1 MiB of zeros).
 */
export const MAX_CONTROL_LENGTH = 64 << 10;
export const MAX_HEADER_BLOCK = 64 << 10;
export const MAX_HEADER_COUNT = 64;

/**
 * Clients copy stdin and forwarded bytes in 32 KiB writes; a data frame
 * far larger would have berth buffer it whole before any reader sees it.
 */
export const MAX_DATA_LENGTH = 1 << 20;

export class SpdyProtocolError extends Error {}

export type Frame = { kind: 'data'; streamId: number; flags: number; payload: Buffer } | { kind: 'control'; type: number; flags: number; payload: Buffer };

/** Splits complete frames off the front of `buf`; returns them and the rest. */
export function readFrames(buf: Buffer): { frames: Frame[]; rest: Buffer } {
  const frames: Frame[] = [];
  let off = 0;
  while (buf.length - off >= 8) {
    const length = buf.readUInt32BE(off + 4) & 0xffffff;
    const control = (buf[off]! & 0x80) !== 0;
    if (control && length > MAX_CONTROL_LENGTH) throw new SpdyProtocolError(`control frame of ${length} bytes (at most ${MAX_CONTROL_LENGTH})`);
    if (!control && length > MAX_DATA_LENGTH) throw new SpdyProtocolError(`data frame of ${length} bytes (at most ${MAX_DATA_LENGTH})`);
    if (buf.length - off < 8 + length) break;
    const flags = buf[off + 4]!;
    const payload = buf.subarray(off + 8, off + 8 + length);
    if (!control) {
      frames.push({ kind: 'data', streamId: buf.readUInt32BE(off) & 0x7fffffff, flags, payload });
    } else {
      const version = buf.readUInt16BE(off) & 0x7fff;
      if (version !== 3) throw new SpdyProtocolError(`unsupported SPDY version ${version}`);
      frames.push({ kind: 'control', type: buf.readUInt16BE(off + 2), flags, payload });
    }
    off += 8 + length;
  }
  return { frames, rest: buf.subarray(off) };
}

export function controlFrame(type: number, flags: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt16BE(0x8003, 0);
  head.writeUInt16BE(type, 2);
  head.writeUInt32BE((((flags & 0xff) << 24) | payload.length) >>> 0, 4);
  return Buffer.concat([head, payload]);
}

export function dataFrame(streamId: number, flags: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(streamId & 0x7fffffff, 0);
  head.writeUInt32BE((((flags & 0xff) << 24) | payload.length) >>> 0, 4);
  return Buffer.concat([head, payload]);
}

export function u32(...values: number[]): Buffer {
  const b = Buffer.alloc(4 * values.length);
  for (const [i, v] of values.entries()) b.writeUInt32BE(v >>> 0, 4 * i);
  return b;
}

/** Header block layout before compression: count, then (name, value) pairs, 32-bit lengths. */
export function encodeHeaderBlock(headers: Record<string, string>): Buffer {
  const parts: Buffer[] = [u32(Object.keys(headers).length)];
  for (const [name, value] of Object.entries(headers)) {
    const n = Buffer.from(name.toLowerCase());
    const v = Buffer.from(value);
    parts.push(u32(n.length), n, u32(v.length), v);
  }
  return Buffer.concat(parts);
}

/**
 * Several values of one name are joined with NUL on the wire; the first is
 * kept. Every length must fit in the block; the result has no prototype,
 * so a header named `__proto__` is a header like any other.
 */
export function decodeHeaderBlock(block: Buffer): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  if (block.length < 4) return out;
  const count = block.readUInt32BE(0);
  if (count > MAX_HEADER_COUNT) throw new SpdyProtocolError(`${count} headers in one block (at most ${MAX_HEADER_COUNT})`);
  let off = 4;
  const field = (): string => {
    if (off + 4 > block.length) throw new SpdyProtocolError('truncated SPDY header block');
    const length = block.readUInt32BE(off);
    if (length > block.length - off - 4) throw new SpdyProtocolError('truncated SPDY header block');
    const text = block.subarray(off + 4, off + 4 + length).toString('utf8');
    off += 4 + length;
    return text;
  };
  for (let i = 0; i < count; i++) {
    const name = field();
    out[name.toLowerCase()] = field().split('\0')[0]!;
  }
  return out;
}
