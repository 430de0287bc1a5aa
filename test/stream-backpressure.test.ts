import type { AddressInfo } from 'node:net';
import { Duplex, PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { SOCKET_WRITE_BOUND, SpdyConnection, type SpdyStream } from '../src/streaming/spdy/connection.js';
import { socketPair } from './support/socket-pair.js';
import { WS_BUFFER_BOUND, decodeWsMessage, wsInboundGate, wsSender } from '../src/streaming/ws-frames.js';

/**
 * The bounded writers of the streaming transports. SPDY over an in-memory pipe that
 * keeps a socket's backpressure: bytes written to one end are handed to
 * the other only as fast as it reads, and a peer can stop reading
 * altogether; WebSocket over loopback with ws on both ends. A writer must
 * wait while the socket holds its bound, and a stream or sink nobody reads
 * must pause the socket instead of buffering without end.
 */
interface Pipe {
  client: Duplex;
  server: Duplex;
  /** The client stops taking what the server writes. */
  stall(): void;
  release(): void;
}

function pipe(): Pipe {
  let held = false;
  const heldWrites: (() => void)[] = [];
  const waiting: { toServer?: () => void; toClient?: () => void } = {};
  const client: Duplex = new Duplex({
    read() {
      const w = waiting.toClient;
      waiting.toClient = undefined;
      w?.();
    },
    write(chunk: Buffer, _enc, cb) {
      if (server.push(chunk)) cb();
      else waiting.toServer = () => cb();
    },
  });
  const server: Duplex = new Duplex({
    read() {
      const w = waiting.toServer;
      waiting.toServer = undefined;
      w?.();
    },
    write(chunk: Buffer, _enc, cb) {
      const deliver = () => {
        if (client.push(chunk)) cb();
        else waiting.toClient = () => cb();
      };
      if (held) heldWrites.push(deliver);
      else deliver();
    },
  });
  return {
    client,
    server,
    stall: () => {
      held = true;
    },
    release: () => {
      held = false;
      for (const d of heldWrites.splice(0)) d();
    },
  };
}

async function connected(): Promise<{ p: Pipe; clientStream: SpdyStream; serverStream: SpdyStream }> {
  const p = pipe();
  const server = new SpdyConnection(p.server, 'server');
  const client = new SpdyConnection(p.client, 'client');
  const accepted = new Promise<SpdyStream>((resolve) => server.once('stream', resolve));
  const clientStream = await client.openStream({ streamtype: 'stdout' });
  return { p, clientStream, serverStream: await accepted };
}

const settle = (ms = 150) => new Promise((r) => setTimeout(r, ms));
const CHUNK = Buffer.alloc(64 << 10, 0x7a);

/** Writes CHUNK `total` times, each after the last one's callback; counts the callbacks. */
function writer(stream: SpdyStream, total: number, onDone?: () => void): { done: () => number; finished: Promise<void> } {
  let done = 0;
  const finished = (async () => {
    while (done < total) {
      await new Promise<void>((resolve) => stream.write(CHUNK, () => resolve()));
      done++;
      onDone?.();
    }
  })();
  return { done: () => done, finished };
}

describe('SPDY backpressure', () => {
  it('holds a writer while its client does not read, within the socket bound, and lets it on when the client reads', async () => {
    const { p, clientStream, serverStream } = await connected();
    p.stall();
    let peak = 0;
    const w = writer(serverStream, 64, () => {
      peak = Math.max(peak, p.server.writableLength);
    });
    const whileStalled = await stalledAt(w.done); // no progress while nobody reads
    expect(whileStalled).toBeLessThan(8); // 256 KiB of 64 KiB writes, and one more
    expect(p.server.writableLength).toBeLessThan(SOCKET_WRITE_BOUND + 2 * CHUNK.length);
    expect(peak).toBeLessThan(SOCKET_WRITE_BOUND);

    let received = 0;
    clientStream.on('data', (d: Buffer) => {
      received += d.length;
    });
    p.release();
    await w.finished;
    await settle(50);
    expect(received).toBe(64 * CHUNK.length);
  });

  it('pauses the socket while a stream is not read, so its sender waits instead of the stream buffering', async () => {
    const { clientStream, serverStream } = await connected();
    const w = writer(clientStream, 256);
    const whileUnread = await stalledAt(w.done);
    expect(whileUnread).toBeLessThan(16);
    // One socket read past the stream's own buffer at most.
    expect(serverStream.readableLength).toBeLessThan(1 << 20);

    let received = 0;
    serverStream.on('data', (d: Buffer) => {
      received += d.length;
    });
    await w.finished;
    await settle(50);
    expect(received).toBe(256 * CHUNK.length);
  });
});

describe('a peer that goes away while reading is paused', () => {
  it('closes the SPDY connection, though the paused socket never shows the peer FIN', async () => {
    const [clientSocket, serverSocket] = await socketPair();
    const server = new SpdyConnection(serverSocket, 'server');
    const client = new SpdyConnection(clientSocket, 'client');
    const accepted = new Promise<SpdyStream>((resolve) => server.once('stream', resolve));
    const clientStream = await client.openStream({ streamtype: 'stdin' });
    await accepted; // never read: the server stops reading the socket
    const w = writer(clientStream, 4096);
    await stalledAt(w.done);
    const closed = new Promise<void>((resolve) => server.once('close', () => resolve()));
    clientSocket.destroy();
    await closed; // within a few probes of PAUSED_PROBE_MS; the test's timeout is the bound
  });

  it('closes the WebSocket', async () => {
    const { server, client, close } = await wsPair();
    const sink = new PassThrough({ highWaterMark: 64 << 10 });
    const gate = wsInboundGate(server);
    server.on('message', (raw: Buffer) => gate(sink, sink.write(raw)));
    let sent = 0;
    void (async () => {
      for (;;) {
        await new Promise<void>((resolve, reject) => client.send(CHUNK, (err) => (err ? reject(err) : resolve())));
        sent++;
      }
    })().catch(() => undefined);
    await stalledAt(() => sent);
    const closed = new Promise<void>((resolve) => server.once('close', () => resolve()));
    client.terminate();
    await closed;
    await close();
  });
});

/** A WebSocket server on loopback and a client connected to it. */
async function wsPair(): Promise<{ server: WebSocket; client: WebSocket; close(): Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const accepted = new Promise<WebSocket>((resolve) => wss.once('connection', resolve));
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
  await new Promise<void>((resolve, reject) => {
    client.once('open', () => resolve());
    client.once('error', reject);
  });
  const server = await accepted;
  return {
    server,
    client,
    close: async () => {
      client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

describe('WebSocket backpressure', () => {
  it('holds a writer while its client does not read, within the buffered bound, and lets it on when the client reads', async () => {
    const { server, client, close } = await wsPair();
    client.pause();
    const send = wsSender(server, false);
    const total = 1024; // 64 MiB: more than the kernel's socket buffers take
    let done = 0;
    let peak = 0;
    const finished = (async () => {
      while (done < total) {
        await new Promise<void>((resolve) => send(1, CHUNK, resolve));
        peak = Math.max(peak, server.bufferedAmount);
        done++;
      }
    })();
    const whileStalled = await stalledAt(() => done);
    expect(whileStalled).toBeLessThan(total);
    expect(peak).toBeLessThan(WS_BUFFER_BOUND + 2 * CHUNK.length);

    let received = 0;
    client.on('message', () => {
      received++;
    });
    client.resume();
    await finished;
    await waitUntil(() => received === total);
    await close();
  });

  it('pauses the socket while a sink is full, so the client waits instead of berth buffering what it sends', async () => {
    const { server, client, close } = await wsPair();
    const sink = new PassThrough({ highWaterMark: 64 << 10 });
    const gate = wsInboundGate(server);
    server.on('message', (raw: Buffer, isBinary: boolean) => {
      const m = decodeWsMessage(raw, isBinary, false);
      if (m) gate(sink, sink.write(m.data));
    });
    const total = 1024;
    let sent = 0;
    const message = Buffer.concat([Buffer.from([0]), CHUNK]);
    const finished = (async () => {
      while (sent < total) {
        await new Promise<void>((resolve, reject) => client.send(message, (err) => (err ? reject(err) : resolve())));
        sent++;
      }
    })();
    const whileFull = await stalledAt(() => sent);
    expect(whileFull).toBeLessThan(total);
    expect(sink.writableLength).toBeLessThan(4 << 20);

    let received = 0;
    sink.on('data', (d: Buffer) => {
      received += d.length;
    });
    await finished;
    await waitUntil(() => received === total * CHUNK.length);
    await close();
  });
});

/** The count once it has stopped moving for 300 ms (it must, within 10 s). */
async function stalledAt(count: () => number): Promise<number> {
  for (let i = 0; i < 33; i++) {
    const before = count();
    await settle(300);
    if (count() === before) return before;
  }
  throw new Error(`still moving at ${count()}`);
}

async function waitUntil(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await settle(25);
  expect(cond()).toBe(true);
}
