import { EventEmitter } from 'node:events';

import { Duplex } from 'node:stream';
import zlib from 'node:zlib';
import { SPDY3_DICTIONARY } from './dictionary.js';
import {
  FLAG_FIN,
  FrameType,
  type Frame,
  MAX_HEADER_BLOCK,
  RstStatus,
  SpdyProtocolError,
  controlFrame,
  dataFrame,
  decodeHeaderBlock,
  encodeHeaderBlock,
  readFrames,
  u32,
} from './frames.js';

/**
 * Streams one connection may hold open at once. Exec and attach use up
 * to five; each forwarded connection of a port forward uses two.
 */
export const MAX_STREAMS = 128;

/**
 * Bytes the connection lets pile up in the socket before a stream's
 * writer waits for 'drain': a client that stops reading holds this much
 * of berth, shared by all its streams, plus each stream's own small
 * writable buffer.
 */
export const SOCKET_WRITE_BOUND = 256 << 10;

/** How often a connection whose reading is paused pings its peer to learn whether it is still there. */
export const PAUSED_PROBE_MS = 1000;

/** The fixed part of each control frame berth reads: a shorter one is a protocol error. */
const CONTROL_PAYLOAD_MIN: Partial<Record<number, number>> = {
  [FrameType.SYN_STREAM]: 10,
  [FrameType.SYN_REPLY]: 4,
  [FrameType.RST_STREAM]: 8,
  [FrameType.PING]: 4,
  [FrameType.HEADERS]: 4,
};

/**
 * One SPDY/3.1 connection over an upgraded socket, server or client side.
 * Kubernetes' peers do no flow control (they neither send nor honour
 * WINDOW_UPDATE), so neither does this. Inbound, the socket is paused
 * while any stream's reader has more buffered than it wants, so a client
 * cannot make berth hold more than one read's worth per stream. Outbound,
 * a stream's write completes only once the socket holds less than
 * SOCKET_WRITE_BOUND, so a peer that does not read throttles the writer
 * (the container's pipe) instead of growing berth. Header blocks are
 * compressed with
 * one zlib stream per direction for the whole connection; inflation is
 * asynchronous, so frames are handled strictly in order through a queue.
 */
export class SpdyStream extends Duplex {
  readonly headers: Record<string, string>;
  reset = false;
  private finSent = false;

  constructor(
    private readonly conn: SpdyConnection,
    readonly id: number,
    headers: Record<string, string>,
  ) {
    super({ allowHalfOpen: true });
    this.headers = headers;
    // Peers reset streams while tearing down; that must never crash berth.
    this.on('error', () => undefined);
  }

  override _read(): void {
    this.conn.resumeReading(this);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.reset || this.conn.closed) {
      cb();
      return;
    }
    for (let off = 0; off < chunk.length; off += 32 * 1024) this.conn.sendData(this.id, chunk.subarray(off, off + 32 * 1024), false);
    this.conn.whenWritable(() => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (!this.reset && !this.finSent && !this.conn.closed) {
      this.finSent = true;
      this.conn.sendData(this.id, Buffer.alloc(0), true);
    }
    cb();
  }

  /** Resets the stream (RST_STREAM CANCEL by default). */
  rst(status: number = RstStatus.CANCEL): void {
    if (this.reset) return;
    this.reset = true;
    this.conn.sendControl(FrameType.RST_STREAM, 0, u32(this.id, status));
    this.push(null);
  }
}

export interface SpdyConnectionEvents {
  stream: [SpdyStream];
  close: [];
}

export class SpdyConnection extends EventEmitter<SpdyConnectionEvents> {
  closed = false;
  private buffer: Buffer = Buffer.alloc(0);
  private readonly streams = new Map<number, SpdyStream>();
  private readonly inflate = zlib.createInflate({ dictionary: SPDY3_DICTIONARY });
  private readonly deflate = zlib.createDeflate({ dictionary: SPDY3_DICTIONARY });
  private queue: Promise<void> = Promise.resolve();
  private compressQueue: Promise<void> = Promise.resolve();
  private nextStreamId: number;
  private readonly pendingReplies = new Map<number, () => void>();
  private lastGoodStream = 0;
  /** Streams whose readers are full: the socket stays paused while any is. */
  private readonly blocked = new Set<SpdyStream>();
  /** Writers waiting for the socket to drain. */
  private drainWaiters: (() => void)[] = [];
  /** Pings the peer while reading is paused; see pauseReading. */
  private probe: NodeJS.Timeout | undefined;
  /** This side's next PING id: odd for a client, even for a server. */
  private nextPingId: number;

  constructor(
    private readonly socket: Duplex & { setNoDelay?: (v: boolean) => unknown },
    private readonly role: 'server' | 'client',
  ) {
    super();
    this.nextStreamId = role === 'client' ? 1 : 2;
    this.nextPingId = role === 'client' ? 1 : 2;
    socket.setNoDelay?.(true);
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('close', () => this.onClose());
    socket.on('drain', () => this.releaseWriters());
    socket.on('error', () => this.onClose());
  }

  private onData(d: Buffer): void {
    this.buffer = this.buffer.length === 0 ? d : Buffer.concat([this.buffer, d]);
    let frames: Frame[];
    try {
      ({ frames, rest: this.buffer } = readFrames(this.buffer));
    } catch {
      this.close();
      return;
    }
    for (const f of frames) {
      const copy: Frame = { ...f, payload: Buffer.from(f.payload) };
      this.queue = this.queue.then(() => this.onFrame(copy)).catch(() => this.close());
    }
  }

  private async onFrame(f: Frame): Promise<void> {
    if (f.kind === 'data') {
      const s = this.streams.get(f.streamId);
      if (!s || s.reset) return;
      if (f.payload.length > 0 && !s.push(f.payload)) this.pauseReading(s);
      if (f.flags & FLAG_FIN) s.push(null);
      return;
    }
    const p = f.payload;
    const least = CONTROL_PAYLOAD_MIN[f.type];
    if (least !== undefined && p.length < least) throw new SpdyProtocolError(`control frame ${f.type} of ${p.length} bytes (at least ${least})`);
    switch (f.type) {
      case FrameType.SYN_STREAM: {
        const id = p.readUInt32BE(0) & 0x7fffffff;
        const headers = decodeHeaderBlock(await this.inflateBlock(p.subarray(10)));
        if (this.streams.size >= MAX_STREAMS || this.streams.has(id)) {
          this.sendControl(FrameType.RST_STREAM, 0, u32(id, this.streams.has(id) ? RstStatus.PROTOCOL_ERROR : RstStatus.REFUSED_STREAM));
          return;
        }
        this.lastGoodStream = id;
        const stream = this.track(id, headers);
        // Accept at once, so the client may create its next stream.
        await this.sendHeaders(FrameType.SYN_REPLY, 0, u32(id), {});
        this.emit('stream', stream);
        if (f.flags & FLAG_FIN) stream.push(null);
        return;
      }
      case FrameType.SYN_REPLY: {
        const id = p.readUInt32BE(0) & 0x7fffffff;
        await this.inflateBlock(p.subarray(4));
        this.pendingReplies.get(id)?.();
        this.pendingReplies.delete(id);
        return;
      }
      case FrameType.RST_STREAM: {
        const s = this.streams.get(p.readUInt32BE(0) & 0x7fffffff);
        if (s && !s.reset) {
          s.reset = true;
          s.push(null);
          s.emit('rst');
        }
        return;
      }
      case FrameType.PING: {
        // Echo pings the peer started: odd ids come from clients, even from servers.
        // A peer that pings without reading the answers gets none: they would pile up.
        const id = p.readUInt32BE(0);
        if ((id % 2 === 1) === (this.role === 'server') && this.socket.writableLength < SOCKET_WRITE_BOUND) this.sendControl(FrameType.PING, 0, p);
        return;
      }
      case FrameType.HEADERS:
        await this.inflateBlock(p.subarray(4)); // keeps the zlib context in step
        return;
      case FrameType.GOAWAY:
        this.close();
        return;
      default:
        return; // SETTINGS, WINDOW_UPDATE: no flow control with these peers
    }
  }

  private track(id: number, headers: Record<string, string>): SpdyStream {
    const stream = new SpdyStream(this, id, headers);
    this.streams.set(id, stream);
    stream.on('close', () => {
      this.streams.delete(id);
      this.resumeReading(stream);
    });
    return stream;
  }

  /** Client side: opens a stream and resolves once the server accepted it. */
  async openStream(headers: Record<string, string>): Promise<SpdyStream> {
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    const stream = this.track(id, headers);
    const accepted = new Promise<void>((resolve) => this.pendingReplies.set(id, resolve));
    await this.sendHeaders(FrameType.SYN_STREAM, 0, Buffer.concat([u32(id, 0), Buffer.from([0, 0])]), headers);
    await accepted;
    return stream;
  }

  private inflateBlock(block: Buffer): Promise<Buffer> {
    return syncFlush(this.inflate, block, MAX_HEADER_BLOCK);
  }

  /**
   * A stream's reader is full: stop reading the socket. A paused socket
   * never shows that its peer went away (the FIN waits behind the unread
   * data), so meanwhile a PING goes out now and then: to a peer that is
   * gone, the write fails and the connection closes, which ends the
   * session (an exec's process is killed) instead of holding it for as
   * long as the container ignores its stdin.
   */
  private pauseReading(stream: SpdyStream): void {
    this.blocked.add(stream);
    this.socket.pause();
    this.probe ??= setInterval(() => {
      if (!this.closed && this.socket.writableLength < SOCKET_WRITE_BOUND) this.sendControl(FrameType.PING, 0, u32(this.nextPingId));
      this.nextPingId = (this.nextPingId + 2) % 0x80000000;
    }, PAUSED_PROBE_MS);
    this.probe.unref();
  }

  /** A stream's reader wants more: take in the socket's data again, unless another stream is still full. */
  resumeReading(stream: SpdyStream): void {
    this.blocked.delete(stream);
    if (this.blocked.size > 0) return;
    clearInterval(this.probe);
    this.probe = undefined;
    if (!this.closed) this.socket.resume();
  }

  /** Runs `done` once the socket holds less than SOCKET_WRITE_BOUND (or is gone). */
  whenWritable(done: () => void): void {
    if (this.closed || this.socket.destroyed || this.socket.writableLength < SOCKET_WRITE_BOUND) done();
    else this.drainWaiters.push(done);
  }

  private releaseWriters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  private deflateBlock(block: Buffer): Promise<Buffer> {
    const result = this.compressQueue.then(() => syncFlush(this.deflate, block));
    this.compressQueue = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  private async sendHeaders(type: number, flags: number, prefix: Buffer, headers: Record<string, string>): Promise<void> {
    const block = await this.deflateBlock(encodeHeaderBlock(headers));
    this.write(controlFrame(type, flags, Buffer.concat([prefix, block])));
  }

  sendControl(type: number, flags: number, payload: Buffer): void {
    this.write(controlFrame(type, flags, payload));
  }

  sendData(id: number, payload: Buffer, fin: boolean): void {
    this.write(dataFrame(id, fin ? FLAG_FIN : 0, payload));
  }

  private write(frame: Buffer): void {
    if (!this.closed && !this.socket.destroyed) this.socket.write(frame);
  }

  /** GOAWAY, then close the socket once written. */
  close(): void {
    if (this.closed) return;
    if (!this.socket.destroyed) this.socket.write(controlFrame(FrameType.GOAWAY, 0, u32(this.lastGoodStream, 0)));
    this.closed = true;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
    this.onClose();
  }

  private onClose(): void {
    this.closed = true;
    for (const s of this.streams.values()) {
      if (!s.reset) s.push(null);
    }
    this.streams.clear();
    this.blocked.clear();
    clearInterval(this.probe);
    this.probe = undefined;
    // Writers waiting on a dead socket: their writes now drop, and what they buffered is freed.
    this.releaseWriters();
    this.inflate.close();
    this.deflate.close();
    this.emit('close');
    this.removeAllListeners('close');
  }
}

/**
 * Pushes one header block through a connection-long zlib stream and
 * collects what a SYNC_FLUSH yields: each block is self-delimiting while
 * the compression context carries on.
 */
function syncFlush(stream: zlib.Inflate | zlib.Deflate, block: Buffer, limit = Infinity): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size <= limit) {
        out.push(c);
        return;
      }
      // A header bomb: stop inflating at once; the connection is closed.
      stream.off('data', onData);
      stream.destroy();
      reject(new SpdyProtocolError(`header block inflates past ${limit} bytes`));
    };
    stream.on('data', onData);
    stream.once('error', reject);
    stream.write(block);
    stream.flush(zlib.constants.Z_SYNC_FLUSH, () => {
      stream.off('data', onData);
      stream.off('error', reject);
      resolve(Buffer.concat(out));
    });
  });
}
