import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FIRST_FRAME_MAX, MAX_FRAME_PAYLOAD, Mux, PLUGIN_SERVICE_CONN, RUNTIME_SERVICE_CONN } from '../src/nri/mux.js';
import { Code, FrameReader, MessageType, TtrpcError, decodeRequest, decodeResponse, encodeFrame, encodeRequest } from '../src/nri/ttrpc-wire.js';
import { TtrpcClient, TtrpcServer } from '../src/nri/ttrpc.js';
import { socketPairsPerTest } from './support/socket-pair.js';

/** The frames a raw peer received: [connection id, payload length]. */
function frameHeaders(bytes: Buffer): [number, number][] {
  const out: [number, number][] = [];
  for (let at = 0; at + 8 <= bytes.length; ) {
    const length = bytes.readUInt32BE(at + 4);
    out.push([bytes.readUInt32BE(at), length]);
    at += 8 + length;
  }
  return out;
}

const frame = (id: number, payload: Buffer) => {
  const h = Buffer.alloc(8);
  h.writeUInt32BE(id, 0);
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
};

const received = (socket: Socket, bytes: number) =>
  new Promise<Buffer>((resolve) => {
    const chunks: Buffer[] = [];
    let n = 0;
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      n += d.length;
      if (n >= bytes) resolve(Buffer.concat(chunks));
    });
  });

describe("NRI's connection multiplexing", () => {
  const pair = socketPairsPerTest(afterEach);

  it('cuts a message as Go does: the first 4096 bytes in one frame, the rest in one more', async () => {
    const [a, b] = await pair();
    const mux = new Mux(a);
    const conn = mux.open(PLUGIN_SERVICE_CONN);
    const wire = received(b, 3 * 8 + 100 + 10_000);
    conn.send(Buffer.alloc(100, 1));
    conn.send(Buffer.alloc(10_000, 2));
    expect(frameHeaders(await wire)).toEqual([
      [1, 100],
      [1, FIRST_FRAME_MAX],
      [1, 10_000 - FIRST_FRAME_MAX],
    ]);
  });

  it('hands each stream its bytes, whatever the chunking, and drops frames of streams nobody opened', async () => {
    const [a, b] = await pair();
    const mux = new Mux(a);
    const got: Record<number, Buffer[]> = { 1: [], 2: [] };
    mux.open(1).on('data', (d) => got[1]!.push(d));
    mux.open(2).on('data', (d) => got[2]!.push(d));
    const bytes = Buffer.concat([frame(1, Buffer.from('one')), frame(7, Buffer.from('nobody')), frame(2, Buffer.from('two')), frame(1, Buffer.from('!'))]);
    // One byte at a time: headers and payloads split anywhere.
    for (const byte of bytes) b.write(Buffer.from([byte]));
    await new Promise((r) => setTimeout(r, 200));
    expect(Buffer.concat(got[1]!).toString()).toBe('one!');
    expect(Buffer.concat(got[2]!).toString()).toBe('two');
  });

  it('closes the trunk on a frame larger than NRI allows', async () => {
    const [a, b] = await pair();
    const mux = new Mux(a);
    mux.open(1);
    const closed = new Promise<Error | undefined>((resolve) => mux.once('close', resolve));
    const h = Buffer.alloc(8);
    h.writeUInt32BE(1, 0);
    h.writeUInt32BE(MAX_FRAME_PAYLOAD + 1, 4);
    b.write(h);
    expect((await closed)?.message).toMatch(/NRI frame of 4194315 bytes/);
  });

  it('closes the trunk when a stream holds more unread bytes than two of the largest messages', async () => {
    const [a, b] = await pair();
    const mux = new Mux(a);
    mux.open(1); // nobody reads it
    const closed = new Promise<Error | undefined>((resolve) => mux.once('close', resolve));
    const big = frame(1, Buffer.alloc(MAX_FRAME_PAYLOAD));
    for (let i = 0; i < 3; i++) b.write(big);
    expect((await closed)?.message).toMatch(/were not read/);
  });
});

describe('ttrpc over the mux', () => {
  const pair = socketPairsPerTest(afterEach);
  const ends = async (handlers: Record<string, Record<string, (p: Uint8Array) => Promise<Uint8Array>>>) => {
    const [a, b] = await pair();
    const runtime = new Mux(a);
    const plugin = new Mux(b);
    // The plugin serves on 1, berth calls it; berth serves on 2.
    new TtrpcServer(plugin.open(PLUGIN_SERVICE_CONN), handlers);
    runtime.open(RUNTIME_SERVICE_CONN);
    return { client: new TtrpcClient(runtime.open(PLUGIN_SERVICE_CONN)), runtime, plugin };
  };

  it('calls a method and gets its reply, large payloads included', async () => {
    const { client } = await ends({ 'test.Echo': { Echo: async (p) => Buffer.concat([Buffer.from('echo:'), p]) } });
    expect(Buffer.from(await client.call('test.Echo', 'Echo', Buffer.from('hi'), 1000)).toString()).toBe('echo:hi');
    const large = Buffer.alloc(3 << 20, 7);
    expect((await client.call('test.Echo', 'Echo', large, 5000)).length).toBe(large.length + 5);
  });

  it('answers unknown services and methods with Unimplemented, a handler error with its status', async () => {
    const { client } = await ends({
      'test.Echo': {
        Fail: async () => {
          throw new TtrpcError(Code.InvalidArgument, 'no such pod');
        },
        Crash: async () => {
          throw new Error('boom');
        },
      },
    });
    await expect(client.call('test.Other', 'X', new Uint8Array(), 1000)).rejects.toMatchObject({ code: Code.Unimplemented, message: 'service test.Other' });
    await expect(client.call('test.Echo', 'Nope', new Uint8Array(), 1000)).rejects.toMatchObject({ code: Code.Unimplemented, message: 'method Nope' });
    await expect(client.call('test.Echo', 'Fail', new Uint8Array(), 1000)).rejects.toMatchObject({ code: Code.InvalidArgument, message: 'no such pod' });
    await expect(client.call('test.Echo', 'Crash', new Uint8Array(), 1000)).rejects.toMatchObject({ code: Code.Unknown, message: 'boom' });
  });

  it('gives up on a plugin that does not answer in time, and drops its late answer', async () => {
    let release: () => void = () => undefined;
    const { client } = await ends({
      'test.Echo': {
        Slow: () =>
          new Promise((resolve) => {
            release = () => resolve(Buffer.from('late'));
          }),
        Echo: async (p) => p,
      },
    });
    await expect(client.call('test.Echo', 'Slow', new Uint8Array(), 100)).rejects.toMatchObject({ code: Code.DeadlineExceeded });
    release();
    // The connection still works, and the late answer did not become this call's.
    expect(Buffer.from(await client.call('test.Echo', 'Echo', Buffer.from('now'), 1000)).toString()).toBe('now');
  });

  it('fails the calls in flight when the plugin goes away', async () => {
    const { client, plugin } = await ends({ 'test.Echo': { Hang: () => new Promise(() => undefined) } });
    const call = client.call('test.Echo', 'Hang', new Uint8Array(), 10_000);
    setTimeout(() => plugin.close(undefined), 50);
    await expect(call).rejects.toMatchObject({ code: Code.Unavailable });
  });
});

describe('a ttrpc peer that breaks the rules', () => {
  const pair = socketPairsPerTest(afterEach);
  it('gets InvalidArgument for an even or reused stream id and for a request that does not decode', async () => {
    const [a, b] = await pair();
    const server = new Mux(a);
    new TtrpcServer(server.open(PLUGIN_SERVICE_CONN), { 'test.Echo': { Echo: async (p) => p } });
    const raw = new Mux(b);
    const conn = raw.open(PLUGIN_SERVICE_CONN);
    const answers: { streamId: number; status?: { code: number; message: string } }[] = [];
    const reader = new FrameReader();
    conn.on('data', (d) => {
      for (const f of reader.push(d).frames) answers.push({ streamId: f.streamId, status: decodeResponse(f.data).status });
    });
    const request = encodeRequest({ service: 'test.Echo', method: 'Echo', payload: Buffer.from('x'), timeoutNano: 0n, metadata: [] });
    conn.send(encodeFrame({ streamId: 2, type: MessageType.Request, flags: 0, data: request }));
    conn.send(encodeFrame({ streamId: 5, type: MessageType.Request, flags: 0, data: request }));
    conn.send(encodeFrame({ streamId: 3, type: MessageType.Request, flags: 0, data: request }));
    conn.send(encodeFrame({ streamId: 7, type: MessageType.Request, flags: 0, data: Buffer.from([0x0a, 0xff]) }));
    await new Promise((r) => setTimeout(r, 200));
    // The handled call answers after the refusals: compared by stream.
    expect(Object.fromEntries(answers.map((x) => [x.streamId, x.status?.code ?? 0]))).toEqual({
      2: Code.InvalidArgument,
      5: Code.OK,
      3: Code.InvalidArgument,
      7: Code.InvalidArgument,
    });
  });

  it('never throws anything but a TtrpcError from the frame reader and decoders, however the bytes come', () => {
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let i = 0; i < 2000; i++) {
      const bytes = Buffer.from(Array.from({ length: rand(64) }, () => rand(256)));
      const reader = new FrameReader();
      try {
        for (let at = 0; at < bytes.length; ) {
          const step = 1 + rand(8);
          for (const f of reader.push(bytes.subarray(at, at + step)).frames) {
            for (const decode of [decodeRequest, decodeResponse]) {
              try {
                decode(f.data);
              } catch (err) {
                expect(err).toBeInstanceOf(TtrpcError);
              }
            }
          }
          at += step;
        }
      } catch (err) {
        expect(err).toBeInstanceOf(TtrpcError);
      }
    }
  });
});
