/**
 * Port forwarding over SPDY: for every local connection the client opens
 * an error stream and a data stream with the same `requestid` and a
 * `port`. berth connects to that port on localhost inside the pod's
 * network namespace (127.0.0.1, then ::1) and copies both ways; a failure
 * is reported as text on the error stream.
 */

import { Socket, connect } from 'node:net';
import type { NativeOps } from '../native/index.js';
import type { SpdyConnection, SpdyStream } from './spdy/connection.js';
import { STREAM_CREATION_TIMEOUT_MS } from './spdy-channels.js';

export type Dialer = (port: number) => Promise<Socket>;

/** Dials inside a pinned network namespace, or on the host for host-network pods. */
export function podDialer(native: NativeOps, netns: string | undefined): Dialer {
  return async (port) => {
    let lastError: unknown;
    for (const address of ['127.0.0.1', '::1']) {
      try {
        if (!netns) return await dialHost(address, port);
        const fd = await native.connectInNetns(netns, address, port);
        return new Socket({ fd, readable: true, writable: true });
      } catch (err) {
        lastError = err;
      }
    }
    throw lastError;
  };
}

function dialHost(address: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: address, port });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

export function servePortForward(conn: SpdyConnection, dial: Dialer, podId: string): void {
  const pairs = new Map<string, { error?: SpdyStream; data?: SpdyStream; timer: NodeJS.Timeout }>();
  conn.on('stream', (s) => {
    const type = s.headers.streamtype;
    const port = Number(s.headers.port);
    if ((type !== 'error' && type !== 'data') || !Number.isInteger(port) || port <= 0 || port > 65535) {
      s.rst();
      return;
    }
    // Older clients send no requestid: pair the data stream with the error stream before it.
    const key = s.headers.requestid ?? String(type === 'error' ? s.id : s.id - 2);
    let pair = pairs.get(key);
    if (!pair) {
      pair = { timer: setTimeout(() => abandon(key), STREAM_CREATION_TIMEOUT_MS) };
      pairs.set(key, pair);
    }
    pair[type] = s;
    if (pair.error && pair.data) {
      clearTimeout(pair.timer);
      pairs.delete(key);
      void forward(pair.error, pair.data, port, dial, podId);
    }
  });
  const abandon = (key: string) => {
    const pair = pairs.get(key);
    pairs.delete(key);
    pair?.error?.rst();
    pair?.data?.rst();
  };
  conn.on('close', () => {
    for (const p of pairs.values()) clearTimeout(p.timer);
  });
}

async function forward(error: SpdyStream, data: SpdyStream, port: number, dial: Dialer, podId: string): Promise<void> {
  error.resume(); // the client only half-closes it
  let socket: Socket;
  try {
    socket = await dial(port);
  } catch (err) {
    error.end(`failed to connect to localhost:${port} inside pod ${podId}: ${(err as Error).message}`);
    data.rst();
    return;
  }
  socket.on('error', (err) => {
    if (!error.writableEnded) error.end(`connection to port ${port} failed: ${err.message}`);
    data.rst();
  });
  data.pipe(socket);
  socket.pipe(data);
  data.on('rst', () => socket.destroy());
  socket.on('close', () => {
    if (!error.writableEnded) error.end();
  });
}
