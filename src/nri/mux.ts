/**
 * NRI's connection multiplexing (containerd/nri pkg/net/multiplex): one
 * unix socket per plugin (the trunk) carries several byte streams, each
 * in frames of an 8-byte header, the stream's id and the payload length
 * (both uint32, big-endian), then the payload. Id 1 carries the plugin's
 * ttrpc service (berth is its client), id 2 the runtime's (berth serves
 * it). Nothing on the wire opens or closes a stream: both sides open the
 * ids they know, and frames for any other id are dropped.
 *
 * A plugin is untrusted input: frames past the size NRI allows, more
 * unread bytes than one largest message per stream, or a peer that stops
 * reading until berth's writes pile up, close the trunk; the plugin is
 * then disconnected, never the daemon slowed.
 */

import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';

export const PLUGIN_SERVICE_CONN = 1;
export const RUNTIME_SERVICE_CONN = 2;

const HEADER_LEN = 8;
/** NRI's largest frame payload: a ttrpc header and its largest message. */
export const MAX_FRAME_PAYLOAD = 10 + (4 << 20);
/**
 * The Go side reads each frame whole into the 4096-byte buffer of its
 * ttrpc reader: a frame that starts a message must fit in it, as Go's own
 * writer (a 4096-byte buffer) makes them.
 */
export const FIRST_FRAME_MAX = 4096;
/** Unread bytes one stream may hold: two of the largest messages. */
const MAX_BUFFERED_PER_CONN = 2 * MAX_FRAME_PAYLOAD;
/** Bytes waiting for the peer to read before it counts as hung. */
const MAX_UNSENT = 4 * MAX_FRAME_PAYLOAD;

export interface MuxConnEvents {
  data: [Buffer];
  close: [];
}

/** One stream of the trunk: whole messages out, bytes in. */
export class MuxConn extends EventEmitter<MuxConnEvents> {
  closed = false;
  constructor(
    readonly id: number,
    private readonly trunk: Mux,
  ) {
    super();
  }

  /**
   * Sends one whole message (a ttrpc frame): its first 4096 bytes in one
   * frame, the rest in frames as large as NRI allows.
   */
  send(message: Buffer): boolean {
    return this.trunk.sendMessage(this.id, message);
  }

  /** The reader took `bytes` of what it was given: they no longer count against the stream's bound. */
  consumed(bytes: number): void {
    this.trunk.consumed(this.id, bytes);
  }

  close(): void {
    this.trunk.close(undefined);
  }
}

export class Mux extends EventEmitter<{ close: [Error | undefined] }> {
  private readonly conns = new Map<number, MuxConn>();
  private readonly buffered = new Map<number, number>();
  private pending: Buffer[] = [];
  private pendingLength = 0;
  private closed = false;

  constructor(private readonly socket: Duplex) {
    super();
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (err: Error) => this.close(err));
    socket.on('close', () => this.close(undefined));
    socket.on('end', () => this.close(undefined));
  }

  /** A stream of this trunk; frames for it are kept from now on. */
  open(id: number): MuxConn {
    if (!Number.isInteger(id) || id <= 0 || id > 0xffffffff) throw new RangeError(`mux connection id ${id} is not a positive uint32`);
    const existing = this.conns.get(id);
    if (existing) return existing;
    const conn = new MuxConn(id, this);
    this.conns.set(id, conn);
    this.buffered.set(id, 0);
    return conn;
  }

  /** The reader of a stream took `bytes` of what it was given. */
  consumed(id: number, bytes: number): void {
    this.buffered.set(id, Math.max(0, (this.buffered.get(id) ?? 0) - bytes));
  }

  sendMessage(id: number, message: Buffer): boolean {
    if (this.closed) return false;
    const first = message.subarray(0, FIRST_FRAME_MAX);
    const parts = [first];
    for (let at = first.length; at < message.length; at += MAX_FRAME_PAYLOAD) parts.push(message.subarray(at, at + MAX_FRAME_PAYLOAD));
    for (const part of parts) {
      const header = Buffer.allocUnsafe(HEADER_LEN);
      header.writeUInt32BE(id, 0);
      header.writeUInt32BE(part.length, 4);
      this.socket.write(Buffer.concat([header, part]));
    }
    if (this.socket.writableLength > MAX_UNSENT) {
      this.close(new Error(`the NRI plugin stopped reading: ${this.socket.writableLength} bytes unsent`));
      return false;
    }
    return true;
  }

  close(err: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.pending = [];
    this.socket.destroy();
    for (const conn of this.conns.values()) {
      conn.closed = true;
      conn.emit('close');
    }
    this.emit('close', err);
  }

  private receive(chunk: Buffer): void {
    if (this.closed) return;
    this.pending.push(chunk);
    this.pendingLength += chunk.length;
    for (;;) {
      if (this.pendingLength < HEADER_LEN) return;
      const head = this.peek(HEADER_LEN);
      const id = head.readUInt32BE(0);
      const length = head.readUInt32BE(4);
      if (length > MAX_FRAME_PAYLOAD) {
        this.close(new Error(`NRI frame of ${length} bytes on connection ${id} (at most ${MAX_FRAME_PAYLOAD})`));
        return;
      }
      if (this.pendingLength < HEADER_LEN + length) return;
      this.take(HEADER_LEN);
      const payload = this.take(length);
      const conn = this.conns.get(id);
      if (!conn || payload.length === 0) continue;
      const held = (this.buffered.get(id) ?? 0) + payload.length;
      if (held > MAX_BUFFERED_PER_CONN) {
        this.close(new Error(`the NRI plugin sent ${held} bytes on connection ${id} that were not read`));
        return;
      }
      this.buffered.set(id, held);
      conn.emit('data', payload);
      if (this.closed) return;
    }
  }

  /** The first `n` pending bytes, without taking them. */
  private peek(n: number): Buffer {
    if (this.pending[0]!.length >= n) return this.pending[0]!.subarray(0, n);
    this.pending = [Buffer.concat(this.pending)];
    return this.pending[0]!.subarray(0, n);
  }

  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    if (this.pending[0]!.length < n) this.pending = [Buffer.concat(this.pending)];
    const head = this.pending[0]!;
    const out = Buffer.from(head.subarray(0, n));
    if (head.length === n) this.pending.shift();
    else this.pending[0] = head.subarray(n);
    this.pendingLength -= n;
    return out;
  }
}
