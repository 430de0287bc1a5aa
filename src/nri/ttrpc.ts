/**
 * ttrpc's unary calls over one stream of NRI's mux: berth calls the
 * plugin's service on stream 1 and serves the runtime service on stream 2.
 * Clients number their calls 1, 3, 5...; a server refuses even or reused
 * ids, as ttrpc does. Every call has a deadline (ttrpc has no cancel
 * message: a late answer is dropped), calls and requests in flight are
 * bounded, and a stream that breaks the protocol closes its connection.
 */

import type { MuxConn } from './mux.js';
import {
  Code,
  FrameReader,
  MessageType,
  TtrpcError,
  type TtrpcFrame,
  decodeRequest,
  decodeResponse,
  encodeFrame,
  encodeRequest,
  encodeResponse,
} from './ttrpc-wire.js';

/** Calls one side may have in flight at once; more is a misbehaving peer or a runaway caller. */
const MAX_IN_FLIGHT = 64;

/** Frames in, with a protocol error closing the stream's connection. */
function readFrames(conn: MuxConn, onFrame: (frame: TtrpcFrame) => void): void {
  const reader = new FrameReader();
  conn.on('data', (chunk) => {
    let frames: TtrpcFrame[];
    try {
      ({ frames } = reader.push(chunk));
    } catch {
      conn.close();
      return;
    }
    conn.consumed(chunk.length);
    for (const frame of frames) onFrame(frame);
  });
}

interface PendingCall {
  resolve(payload: Uint8Array): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class TtrpcClient {
  private nextId = 1;
  private readonly pending = new Map<number, PendingCall>();

  constructor(private readonly conn: MuxConn) {
    readFrames(conn, (frame) => this.answer(frame));
    conn.on('close', () => {
      for (const [id, call] of this.pending) {
        clearTimeout(call.timer);
        this.pending.delete(id);
        call.reject(new TtrpcError(Code.Unavailable, 'the NRI connection closed'));
      }
    });
  }

  /** One unary call; rejects with a TtrpcError (DeadlineExceeded past `timeoutMs`). */
  call(service: string, method: string, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    if (this.conn.closed) return Promise.reject(new TtrpcError(Code.Unavailable, 'the NRI connection is closed'));
    if (this.pending.size >= MAX_IN_FLIGHT) return Promise.reject(new TtrpcError(Code.ResourceExhausted, `${MAX_IN_FLIGHT} NRI calls already in flight`));
    const streamId = this.nextId;
    this.nextId += 2;
    const data = encodeRequest({ service, method, payload, timeoutNano: BigInt(Math.round(timeoutMs * 1e6)), metadata: [] });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(streamId);
        reject(new TtrpcError(Code.DeadlineExceeded, `${service}/${method} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(streamId, { resolve, reject, timer });
      try {
        this.conn.send(encodeFrame({ streamId, type: MessageType.Request, flags: 0, data }));
      } catch (err) {
        clearTimeout(timer);
        this.pending.delete(streamId);
        reject(err as Error);
      }
    });
  }

  private answer(frame: TtrpcFrame): void {
    if (frame.type !== MessageType.Response) return;
    const call = this.pending.get(frame.streamId);
    if (!call) return; // answered after its deadline, or never asked
    this.pending.delete(frame.streamId);
    clearTimeout(call.timer);
    try {
      const res = decodeResponse(frame.data);
      if (res.status && res.status.code !== Code.OK) call.reject(new TtrpcError(res.status.code, res.status.message));
      else call.resolve(res.payload);
    } catch (err) {
      call.reject(err as Error);
    }
  }
}

/** A method's handler: the request's payload in, the reply's out; a TtrpcError sets the status. */
export type TtrpcHandler = (payload: Uint8Array, deadlineMs: number | undefined) => Promise<Uint8Array>;

export class TtrpcServer {
  private lastId = 0;
  private inFlight = 0;

  constructor(
    private readonly conn: MuxConn,
    /** service name → method name → handler */
    private readonly services: Record<string, Record<string, TtrpcHandler>>,
  ) {
    readFrames(conn, (frame) => void this.serve(frame));
  }

  private async serve(frame: TtrpcFrame): Promise<void> {
    if (frame.type !== MessageType.Request) return;
    const reply = (status: { code: number; message: string } | undefined, payload: Uint8Array = new Uint8Array()) => {
      if (this.conn.closed) return;
      this.conn.send(encodeFrame({ streamId: frame.streamId, type: MessageType.Response, flags: 0, data: encodeResponse({ status, payload }) }));
    };
    if (frame.streamId % 2 === 0 || frame.streamId <= this.lastId) {
      reply({ code: Code.InvalidArgument, message: `stream id ${frame.streamId} must be odd and greater than ${this.lastId}` });
      return;
    }
    this.lastId = frame.streamId;
    if (this.inFlight >= MAX_IN_FLIGHT) {
      reply({ code: Code.ResourceExhausted, message: `${MAX_IN_FLIGHT} requests already in flight` });
      return;
    }
    let service: Record<string, TtrpcHandler> | undefined;
    let handler: TtrpcHandler | undefined;
    let payload: Uint8Array;
    let timeoutNano: bigint;
    try {
      const req = decodeRequest(frame.data);
      service = Object.hasOwn(this.services, req.service) ? this.services[req.service] : undefined;
      handler = service && Object.hasOwn(service, req.method) ? service[req.method] : undefined;
      if (!service) throw new TtrpcError(Code.Unimplemented, `service ${req.service}`);
      if (!handler) throw new TtrpcError(Code.Unimplemented, `method ${req.method}`);
      payload = req.payload;
      timeoutNano = req.timeoutNano;
    } catch (err) {
      reply(statusOf(err));
      return;
    }
    this.inFlight++;
    try {
      reply({ code: Code.OK, message: '' }, await handler(payload, timeoutNano > 0n ? Number(timeoutNano / 1_000_000n) : undefined));
    } catch (err) {
      reply(statusOf(err));
    } finally {
      this.inFlight--;
    }
  }
}

function statusOf(err: unknown): { code: number; message: string } {
  if (err instanceof TtrpcError) return { code: err.code, message: err.message };
  return { code: Code.Unknown, message: err instanceof Error ? err.message : String(err) };
}
