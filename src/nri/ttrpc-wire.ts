/**
 * ttrpc's wire format (containerd/ttrpc), as NRI speaks it on each stream
 * of its mux: a 10-byte header (data length and stream id as big-endian
 * uint32, message type, flags), then the data, at most 4 MiB. A request's
 * data is a `ttrpc.Request` (service, method, payload, timeout in
 * nanoseconds, metadata), a response's a `ttrpc.Response` (a
 * google.rpc.Status and the payload). Encoded by hand: five fields do not
 * need a schema compiler, and decoding checks each field's wire type.
 */

import protobuf from 'protobufjs';

export const TTRPC_HEADER_LEN = 10;
export const TTRPC_MAX_DATA = 4 << 20;

export const MessageType = { Request: 1, Response: 2, Data: 3 } as const;

/** gRPC status codes ttrpc carries. */
export const Code = {
  OK: 0,
  Canceled: 1,
  Unknown: 2,
  InvalidArgument: 3,
  DeadlineExceeded: 4,
  FailedPrecondition: 9,
  ResourceExhausted: 8,
  Unimplemented: 12,
  Internal: 13,
  Unavailable: 14,
} as const;

export interface TtrpcFrame {
  streamId: number;
  type: number;
  flags: number;
  data: Buffer;
}

export interface TtrpcRequest {
  service: string;
  method: string;
  payload: Uint8Array;
  timeoutNano: bigint;
  metadata: { key: string; value: string }[];
}

export interface TtrpcStatus {
  code: number;
  message: string;
}

export interface TtrpcResponse {
  status?: TtrpcStatus;
  payload: Uint8Array;
}

/** A ttrpc call that failed with a status. */
export class TtrpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'TtrpcError';
  }
}

export function encodeFrame(frame: TtrpcFrame): Buffer {
  if (frame.data.length > TTRPC_MAX_DATA)
    throw new TtrpcError(Code.ResourceExhausted, `ttrpc message of ${frame.data.length} bytes (at most ${TTRPC_MAX_DATA})`);
  const header = Buffer.allocUnsafe(TTRPC_HEADER_LEN);
  header.writeUInt32BE(frame.data.length, 0);
  header.writeUInt32BE(frame.streamId, 4);
  header.writeUInt8(frame.type, 8);
  header.writeUInt8(frame.flags, 9);
  return Buffer.concat([header, frame.data]);
}

/**
 * Cuts frames out of a stream's bytes as they arrive. A frame that
 * declares more than ttrpc allows is a protocol error: the peer is broken
 * or hostile, and the caller closes the connection.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private length = 0;

  /** The frames now complete, and how many bytes they used. */
  push(chunk: Buffer): { frames: TtrpcFrame[]; used: number } {
    this.chunks.push(chunk);
    this.length += chunk.length;
    const frames: TtrpcFrame[] = [];
    let used = 0;
    while (this.length >= TTRPC_HEADER_LEN) {
      if (this.chunks[0]!.length < TTRPC_HEADER_LEN) this.chunks = [Buffer.concat(this.chunks)];
      const dataLength = this.chunks[0]!.readUInt32BE(0);
      if (dataLength > TTRPC_MAX_DATA) throw new TtrpcError(Code.ResourceExhausted, `ttrpc frame declares ${dataLength} bytes (at most ${TTRPC_MAX_DATA})`);
      const total = TTRPC_HEADER_LEN + dataLength;
      // Joined only once the whole frame is here: a large message arriving
      // in many chunks is copied once, not once per chunk.
      if (this.length < total) break;
      const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
      frames.push({ streamId: all.readUInt32BE(4), type: all.readUInt8(8), flags: all.readUInt8(9), data: Buffer.from(all.subarray(TTRPC_HEADER_LEN, total)) });
      this.chunks = all.length === total ? [] : [all.subarray(total)];
      this.length -= total;
      used += total;
    }
    return { frames, used };
  }
}

const WIRE_VARINT = 0;
const WIRE_BYTES = 2;

export function encodeRequest(req: TtrpcRequest): Buffer {
  const w = protobuf.Writer.create();
  w.uint32((1 << 3) | WIRE_BYTES).string(req.service);
  w.uint32((2 << 3) | WIRE_BYTES).string(req.method);
  w.uint32((3 << 3) | WIRE_BYTES).bytes(req.payload);
  if (req.timeoutNano > 0n) w.uint32((4 << 3) | WIRE_VARINT).int64(req.timeoutNano.toString());
  for (const kv of req.metadata) {
    w.uint32((5 << 3) | WIRE_BYTES).fork();
    w.uint32((1 << 3) | WIRE_BYTES).string(kv.key);
    w.uint32((2 << 3) | WIRE_BYTES).string(kv.value);
    w.ldelim();
  }
  return Buffer.from(w.finish());
}

export function encodeResponse(res: TtrpcResponse): Buffer {
  const w = protobuf.Writer.create();
  if (res.status) {
    w.uint32((1 << 3) | WIRE_BYTES).fork();
    if (res.status.code !== 0) w.uint32((1 << 3) | WIRE_VARINT).int32(res.status.code);
    if (res.status.message) w.uint32((2 << 3) | WIRE_BYTES).string(res.status.message);
    w.ldelim();
  }
  if (res.payload.length > 0) w.uint32((2 << 3) | WIRE_BYTES).bytes(res.payload);
  return Buffer.from(w.finish());
}

/** Reads the fields of one message, refusing a field whose wire type is not the one expected. */
function fields(data: Uint8Array, expect: Record<number, number>, each: (field: number, r: protobuf.Reader) => void): void {
  const r = protobuf.Reader.create(data);
  while (r.pos < r.len) {
    const tag = r.uint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field in expect) {
      if (expect[field] !== wire) throw new TtrpcError(Code.InvalidArgument, `field ${field} has wire type ${wire}, not ${expect[field]}`);
      each(field, r);
    } else {
      r.skipType(wire);
    }
  }
}

export function decodeRequest(data: Uint8Array): TtrpcRequest {
  const req: TtrpcRequest = { service: '', method: '', payload: new Uint8Array(), timeoutNano: 0n, metadata: [] };
  wrapDecode(() =>
    fields(data, { 1: WIRE_BYTES, 2: WIRE_BYTES, 3: WIRE_BYTES, 4: WIRE_VARINT, 5: WIRE_BYTES }, (field, r) => {
      if (field === 1) req.service = r.string();
      else if (field === 2) req.method = r.string();
      else if (field === 3) req.payload = r.bytes();
      else if (field === 4) req.timeoutNano = BigInt(r.int64().toString());
      else {
        const kv = { key: '', value: '' };
        fields(r.bytes(), { 1: WIRE_BYTES, 2: WIRE_BYTES }, (f, rr) => {
          if (f === 1) kv.key = rr.string();
          else kv.value = rr.string();
        });
        if (req.metadata.length < 64) req.metadata.push(kv);
      }
    }),
  );
  return req;
}

export function decodeResponse(data: Uint8Array): TtrpcResponse {
  const res: TtrpcResponse = { payload: new Uint8Array() };
  wrapDecode(() =>
    fields(data, { 1: WIRE_BYTES, 2: WIRE_BYTES }, (field, r) => {
      if (field === 2) {
        res.payload = r.bytes();
        return;
      }
      const status: TtrpcStatus = { code: 0, message: '' };
      fields(r.bytes(), { 1: WIRE_VARINT, 2: WIRE_BYTES }, (f, rr) => {
        if (f === 1) status.code = rr.int32();
        else status.message = rr.string();
      });
      res.status = status;
    }),
  );
  return res;
}

/** protobufjs throws RangeError and plain Errors on truncated input: one kind for callers. */
function wrapDecode(decode: () => void): void {
  try {
    decode();
  } catch (err) {
    if (err instanceof TtrpcError) throw err;
    throw new TtrpcError(Code.InvalidArgument, `malformed ttrpc message: ${(err as Error).message}`);
  }
}
