import http from 'node:http';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import WebSocket from 'ws';
import { SpdyConnection, type SpdyStream } from '../../src/streaming/spdy/connection.js';

/**
 * Test clients for berth's streaming server, speaking what kubectl and
 * crictl speak: SPDY/3.1 (client-go's executor: error, stdin, stdout,
 * stderr, resize streams) and WebSocket v5 channels.
 */
export interface ExecResult {
  stdout: string;
  stderr: string;
  /** The error-stream payload (a v4 Status as JSON, or '' for success). */
  status: string;
}

export interface SessionOptions {
  stdin?: Buffer | 'keep-open';
  stdout?: boolean;
  stderr?: boolean;
  tty?: boolean;
  resize?: { width: number; height: number };
  protocol?: string[];
}

/** Performs the HTTP upgrade; resolves with the socket and the response status and headers. */
export function upgrade(
  url: string,
  headers: Record<string, string | string[]>,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; socket?: Duplex; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { Connection: 'Upgrade', ...headers } });
    req.on('upgrade', (res, socket, head) => {
      if (head.length > 0) socket.unshift(head);
      resolve({ status: res.statusCode ?? 0, headers: res.headers, socket, body: '' });
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

export async function spdyExec(url: string, opts: SessionOptions = {}): Promise<ExecResult> {
  const res = await upgrade(url, {
    Upgrade: 'SPDY/3.1',
    'X-Stream-Protocol-Version': opts.protocol ?? ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'channel.k8s.io'],
  });
  if (res.status !== 101 || !res.socket) throw new Error(`upgrade failed: ${res.status} ${res.body}`);
  const conn = new SpdyConnection(res.socket, 'client');
  const collect = (s: SpdyStream | undefined) =>
    new Promise<string>((resolve) => {
      if (!s) return resolve('');
      const parts: Buffer[] = [];
      s.on('data', (d: Buffer) => parts.push(d));
      s.on('end', () => resolve(Buffer.concat(parts).toString()));
      s.on('close', () => resolve(Buffer.concat(parts).toString()));
    });
  const error = await conn.openStream({ streamtype: 'error' });
  error.end();
  const errorText = collect(error);
  const stdin = opts.stdin !== undefined ? await conn.openStream({ streamtype: 'stdin' }) : undefined;
  const stdout = opts.stdout !== false ? await conn.openStream({ streamtype: 'stdout' }) : undefined;
  const stderr = opts.stderr !== false && !opts.tty ? await conn.openStream({ streamtype: 'stderr' }) : undefined;
  const outText = collect(stdout);
  const errOut = collect(stderr);
  if (opts.tty) {
    const resize = await conn.openStream({ streamtype: 'resize' });
    resize.write(`${JSON.stringify({ Width: opts.resize?.width ?? 80, Height: opts.resize?.height ?? 24 })}\n`);
  }
  if (stdin && Buffer.isBuffer(opts.stdin)) stdin.end(opts.stdin);
  const [status, out, err] = await Promise.all([errorText, outText, errOut]);
  conn.close();
  return { stdout: out, stderr: err, status };
}

/**
 * An exec or attach session over SPDY (v4 channels) left open: the error
 * stream, closed at once, stdin when asked, stdout and stderr; with the
 * socket, for tests that stop reading it or drop it.
 */
export async function spdyChannels(url: string, withStdin = false): Promise<{ conn: SpdyConnection; socket: Duplex; stdin?: SpdyStream; stdout: SpdyStream }> {
  const res = await upgrade(url, { Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': 'v4.channel.k8s.io' });
  if (res.status !== 101 || !res.socket) throw new Error(`upgrade failed: ${res.status} ${res.body}`);
  const conn = new SpdyConnection(res.socket, 'client');
  (await conn.openStream({ streamtype: 'error' })).end();
  const stdin = withStdin ? await conn.openStream({ streamtype: 'stdin' }) : undefined;
  const stdout = await conn.openStream({ streamtype: 'stdout' });
  await conn.openStream({ streamtype: 'stderr' });
  return { conn, socket: res.socket, stdin, stdout };
}

/** A SPDY session left open: for disconnect tests. */
export async function spdyOpen(url: string): Promise<SpdyConnection> {
  return (await spdyChannels(url)).conn;
}

export function wsExec(url: string, opts: SessionOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws'), opts.protocol ?? ['v5.channel.k8s.io']);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let status = '';
    ws.on('open', () => {
      if (opts.tty)
        ws.send(Buffer.concat([Buffer.from([4]), Buffer.from(JSON.stringify({ Width: opts.resize?.width ?? 80, Height: opts.resize?.height ?? 24 }))]));
      if (Buffer.isBuffer(opts.stdin)) {
        ws.send(Buffer.concat([Buffer.from([0]), opts.stdin]));
        ws.send(Buffer.from([255, 0]));
      }
    });
    ws.on('message', (data: Buffer) => {
      if (data.length === 0) return;
      if (data[0] === 1) out.push(data.subarray(1));
      else if (data[0] === 2) err.push(data.subarray(1));
      else if (data[0] === 3) status += data.subarray(1).toString();
    });
    ws.on('close', () => resolve({ stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), status }));
    ws.on('error', reject);
  });
}

/** One forwarded connection over SPDY: sends `request`, returns what came back. */
export async function spdyPortForward(url: string, port: number, request: string): Promise<{ data: string; error: string }> {
  const res = await upgrade(url, { Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': 'portforward.k8s.io' });
  if (res.status !== 101 || !res.socket) throw new Error(`upgrade failed: ${res.status} ${res.body}`);
  const conn = new SpdyConnection(res.socket, 'client');
  const error = await conn.openStream({ streamtype: 'error', port: String(port), requestid: '0' });
  error.end();
  const data = await conn.openStream({ streamtype: 'data', port: String(port), requestid: '0' });
  const read = (s: SpdyStream) =>
    new Promise<string>((resolve) => {
      const parts: Buffer[] = [];
      s.on('data', (d: Buffer) => parts.push(d));
      s.on('end', () => resolve(Buffer.concat(parts).toString()));
      s.on('close', () => resolve(Buffer.concat(parts).toString()));
    });
  const errorText = read(error);
  const dataText = read(data);
  data.write(request);
  const [d, e] = await Promise.all([dataText, errorText]);
  conn.close();
  return { data: d, error: e };
}

export { connect };
