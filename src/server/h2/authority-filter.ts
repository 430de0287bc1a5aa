import { Duplex } from 'node:stream';
import { encodeLiterals, type HeaderList, HpackDecoder } from './hpack.js';

/**
 * The bytes of one client connection on berth's CRI socket, on their way to
 * gRPC's HTTP/2 server, with each request's `:authority` made one that
 * Node's HTTP/2 parser accepts.
 *
 * Why: the kubelet before 1.23 (grpc-go of its time) names a unix socket's
 * path as the authority, `/run/berth/berth.sock`. A `/` is not allowed in
 * an authority, and nghttp2, under Node's http2, resets every such stream
 * with PROTOCOL_ERROR before gRPC sees it; Go servers (containerd, CRI-O)
 * do not check. A connection whose first request has a valid authority is
 * passed through untouched from then on. Otherwise every header block is
 * decoded (following the client's HPACK table), its authority replaced by
 * `localhost`, and re-encoded as plain literals, so the server's table
 * stays empty and nothing else changes. All other frames pass as they are,
 * streamed, never buffered whole; a header block is bounded.
 */
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const FRAME_HEADER = 9;
const HEADERS = 0x1;
const CONTINUATION = 0x9;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;
/** The server's default SETTINGS_MAX_FRAME_SIZE: re-encoded blocks are cut to it. */
const MAX_FRAME = 16_384;
/** One header block, compressed, across its HEADERS and CONTINUATION frames. */
const MAX_BLOCK = 256 << 10;
/** RFC 3986 authority characters: unreserved, sub-delims, ':', '@', '[', ']', '%'. */
const VALID_AUTHORITY = /^[A-Za-z0-9\-._~!$&'()*+,;=:@[\]%]*$/;

type Mode = 'undecided' | 'pass' | 'rewrite';

interface PendingBlock {
  streamId: number;
  flags: number;
  priority?: Buffer;
  fragments: Buffer[];
  bytes: number;
}

export class AuthorityFilter {
  private mode: Mode = 'undecided';
  private buffered = Buffer.alloc(0);
  private prefaceLeft = PREFACE.length;
  /** Payload bytes of a passing (not header) frame still to forward. */
  private passing = 0;
  private block: PendingBlock | undefined;
  private readonly decoder = new HpackDecoder();

  /** Feeds bytes from the client; returns what to hand the server, in order. */
  feed(chunk: Buffer): Buffer[] {
    if (this.mode === 'pass' && this.passing === 0 && this.buffered.length === 0) return [chunk];
    const out: Buffer[] = [];
    let data = this.buffered.length > 0 ? Buffer.concat([this.buffered, chunk]) : chunk;
    this.buffered = Buffer.alloc(0);
    while (data.length > 0) {
      if (this.prefaceLeft > 0) {
        const n = Math.min(this.prefaceLeft, data.length);
        if (!data.subarray(0, n).equals(PREFACE.subarray(PREFACE.length - this.prefaceLeft, PREFACE.length - this.prefaceLeft + n))) {
          throw new Error('not an HTTP/2 connection preface');
        }
        out.push(data.subarray(0, n));
        this.prefaceLeft -= n;
        data = data.subarray(n);
        continue;
      }
      if (this.passing > 0) {
        const n = Math.min(this.passing, data.length);
        out.push(data.subarray(0, n));
        this.passing -= n;
        data = data.subarray(n);
        continue;
      }
      if (this.mode === 'pass') {
        out.push(data);
        break;
      }
      if (data.length < FRAME_HEADER) {
        this.buffered = Buffer.from(data);
        break;
      }
      const length = data.readUIntBE(0, 3);
      const type = data[3]!;
      if (type !== HEADERS && type !== CONTINUATION) {
        out.push(data.subarray(0, FRAME_HEADER));
        this.passing = length;
        data = data.subarray(FRAME_HEADER);
        continue;
      }
      if (length > MAX_BLOCK) throw new Error(`header frame of ${length} bytes`);
      if (data.length < FRAME_HEADER + length) {
        this.buffered = Buffer.from(data);
        break;
      }
      const frame = data.subarray(0, FRAME_HEADER + length);
      data = data.subarray(FRAME_HEADER + length);
      out.push(...this.headerFrame(frame, type));
    }
    if (this.buffered.length > MAX_BLOCK + FRAME_HEADER) throw new Error('header frame too large');
    return out;
  }

  private headerFrame(frame: Buffer, type: number): Buffer[] {
    const flags = frame[4]!;
    const streamId = frame.readUInt32BE(5) & 0x7fffffff;
    let payload = frame.subarray(FRAME_HEADER);
    if (type === HEADERS) {
      if (this.block) throw new Error('HEADERS while another header block is open');
      let priority: Buffer | undefined;
      if (flags & PADDED) {
        const pad = payload[0] ?? 0;
        if (pad >= payload.length) throw new Error('padding longer than the frame');
        payload = payload.subarray(1, payload.length - pad);
      }
      if (flags & PRIORITY) {
        priority = Buffer.from(payload.subarray(0, 5));
        payload = payload.subarray(5);
      }
      this.block = { streamId, flags, fragments: [], bytes: 0, ...(priority ? { priority } : {}) };
    } else if (!this.block || this.block.streamId !== streamId) {
      throw new Error('CONTINUATION without its HEADERS');
    }
    const block = this.block;
    block.fragments.push(Buffer.from(payload));
    block.bytes += payload.length;
    if (block.bytes > MAX_BLOCK) throw new Error('header block too large');
    if ((flags & END_HEADERS) === 0) return [];
    this.block = undefined;
    const compressed = Buffer.concat(block.fragments);
    const headers = this.decoder.decode(compressed);
    const authority = headers.find(([n]) => n === ':authority');
    if (this.mode === 'undecided') this.mode = authority && !VALID_AUTHORITY.test(authority[1]) ? 'rewrite' : 'pass';
    if (this.mode === 'pass') return headersFrames(block.streamId, block.flags & END_STREAM, block.priority, compressed);
    const fixed: HeaderList = headers.map(([n, v]) => (n === ':authority' && !VALID_AUTHORITY.test(v) ? [n, 'localhost'] : [n, v]));
    return headersFrames(block.streamId, block.flags & END_STREAM, block.priority, encodeLiterals(fixed));
  }
}

/** A header block as one HEADERS frame and as many CONTINUATION frames as the frame size needs. */
function headersFrames(streamId: number, endStream: number, priority: Buffer | undefined, block: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  const firstRoom = MAX_FRAME - (priority ? 5 : 0);
  let offset = 0;
  let first = true;
  do {
    const room = first ? firstRoom : MAX_FRAME;
    const part = block.subarray(offset, offset + room);
    offset += part.length;
    const last = offset >= block.length;
    const type = first ? HEADERS : CONTINUATION;
    const flags = (first ? endStream | (priority ? PRIORITY : 0) : 0) | (last ? END_HEADERS : 0);
    const header = Buffer.alloc(FRAME_HEADER);
    const payloadLength = part.length + (first && priority ? 5 : 0);
    header.writeUIntBE(payloadLength, 0, 3);
    header[3] = type;
    header[4] = flags;
    header.writeUInt32BE(streamId, 5);
    frames.push(header);
    if (first && priority) frames.push(priority);
    frames.push(part);
    first = false;
  } while (offset < block.length);
  return frames;
}

/**
 * The client's socket as gRPC's server should see it: reads go through an
 * AuthorityFilter, writes go straight to the socket, with backpressure both
 * ways (a full reader pauses the socket; a write completes when the socket
 * took it).
 */
export class FilteredConnection extends Duplex {
  private readonly authority = new AuthorityFilter();

  constructor(private readonly socket: Duplex) {
    super({ allowHalfOpen: false });
    socket.on('data', (chunk: Buffer) => {
      let parts: Buffer[];
      try {
        parts = this.authority.feed(chunk);
      } catch (err) {
        this.destroy(err as Error);
        return;
      }
      let more = true;
      for (const part of parts) more = this.push(part) && more;
      if (!more) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => this.destroy());
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.socket.write(chunk, callback);
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.socket.end(callback);
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.socket.destroy(err ?? undefined);
    callback(err);
  }
}
