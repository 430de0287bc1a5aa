/**
 * The streaming server behind Exec, Attach and PortForward: plain HTTP(S)
 * whose requests upgrade to SPDY/3.1 (what the kubelet and crictl use by
 * default) or WebSocket (crictl --transport websocket).
 */

import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { WebSocketServer } from 'ws';
import type { ContainerService } from '../container/container-service.js';
import { messageOf } from '../errors.js';
import type { Logger } from '../log.js';
import type { NativeOps } from '../native/index.js';
import type { SandboxService } from '../sandbox/sandbox-service.js';
import { runAttach } from './attach-session.js';
import type { Channels } from './channels.js';
import { runExec } from './exec-session.js';
import { podDialer, servePortForward } from './portforward.js';
import { SpdyConnection } from './spdy/connection.js';
import { spdyChannels } from './spdy-channels.js';
import { type StreamRequest, TokenStore } from './tokens.js';
import { WS_EXEC_PROTOCOLS, wsChannels } from './ws-channels.js';
import { WS_PORTFORWARD_CHANNEL_PROTOCOLS, serveWsPortForward } from './ws-portforward.js';

export const SPDY_EXEC_PROTOCOLS = ['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];
export const PORTFORWARD_PROTOCOL = 'portforward.k8s.io';
const WS_PORTFORWARD_PROTOCOL = 'SPDY/3.1+portforward.k8s.io';
export const WS_MAX_MESSAGE = 1 << 20;

export interface StreamingOptions {
  address: string;
  port: number;
  tlsCert: string;
  tlsKey: string;
  idleTimeoutMs: number;
  containers: ContainerService;
  sandboxes: SandboxService;
  native: NativeOps;
  helper: string;
  log: Logger;
}

export class StreamingServer {
  readonly tokens = new TokenStore();
  private server: http.Server | undefined;
  /** The WebSocket side, loaded with the first WebSocket session (the kubelet's default is SPDY). */
  private ws?: Promise<{ server: WebSocketServer; toStream: typeof import('ws').createWebSocketStream }>;
  private url = '';

  constructor(private readonly opts: StreamingOptions) {}

  private webSockets() {
    this.ws ??= import('ws').then(({ WebSocketServer, createWebSocketStream }) => {
      // A message carries one chunk of a stream (kubectl sends 32 KiB): larger ones are refused (close 1009).
      const server = new WebSocketServer({ noServer: true, maxPayload: WS_MAX_MESSAGE, handleProtocols: (offered) => this.pickWsProtocol(offered) });
      server.on('headers', (headers, req) => {
        if (tunnelRequests.has(req)) headers.push(`Sec-WebSocket-Protocol: ${WS_PORTFORWARD_PROTOCOL}`);
      });
      return { server, toStream: createWebSocketStream };
    });
    return this.ws;
  }

  get baseUrl(): string {
    return this.url;
  }

  async start(): Promise<void> {
    const tls = Boolean(this.opts.tlsCert && this.opts.tlsKey);
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => this.onRequest(req, res);
    this.server = tls
      ? https.createServer({ cert: await readFile(this.opts.tlsCert), key: await readFile(this.opts.tlsKey) }, handler)
      : http.createServer(handler);
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => undefined);
      this.onUpgrade(req, socket, head).catch((err: unknown) => {
        this.opts.log.warn({ err: messageOf(err) }, 'streaming session failed');
        socket.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.opts.port, this.opts.address, () => resolve());
    });
    const addr = this.server.address() as AddressInfo;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    this.url = `${tls ? 'https' : 'http'}://${host}:${addr.port}`;
    this.opts.log.info({ url: this.url }, 'streaming server listening');
  }

  async stop(): Promise<void> {
    if (this.ws) (await this.ws).server.close();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server?.closeAllConnections();
  }

  /** A plain request: the token must exist, but only an upgrade can use it. */
  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const route = parseRoute(req.url ?? '');
    if (!route || !this.tokens.take(route.token)) {
      res.writeHead(404).end('unknown or expired streaming token\n');
      return;
    }
    res.writeHead(400).end('streaming requests must upgrade to SPDY/3.1 or WebSocket\n');
  }

  private async onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const route = parseRoute(req.url ?? '');
    const request = route ? this.tokens.take(route.token) : undefined;
    if (!route || !request || request.kind !== route.kind) {
      reject(socket, 404, 'unknown or expired streaming token');
      return;
    }
    (socket as Duplex & { setTimeout?: (ms: number, cb: () => void) => void }).setTimeout?.(this.opts.idleTimeoutMs, () => socket.destroy());
    const upgrade = String(req.headers.upgrade ?? '').toLowerCase();
    if (upgrade === 'websocket') {
      // crictl's SPDY-over-WebSocket subprotocol has a "/", which the ws
      // package refuses as a header token: take it out and answer it by hand.
      const offered = String(req.headers['sec-websocket-protocol'] ?? '')
        .split(',')
        .map((p) => p.trim());
      const tunnel = request.kind === 'portforward' && offered.includes(WS_PORTFORWARD_PROTOCOL);
      if (tunnel) {
        delete req.headers['sec-websocket-protocol'];
        tunnelRequests.add(req);
      }
      const { server, toStream } = await this.webSockets();
      server.handleUpgrade(req, socket, head, (ws) => {
        void this.serveWebSocket(ws, request, tunnel, toStream).catch((err: unknown) =>
          this.opts.log.warn({ err: messageOf(err) }, 'streaming session failed'),
        );
      });
      return;
    }
    if (
      !upgrade.includes('spdy/3.1') ||
      !String(req.headers.connection ?? '')
        .toLowerCase()
        .includes('upgrade')
    ) {
      reject(socket, 400, 'unable to upgrade: missing upgrade headers in request');
      return;
    }
    const offered = String(req.headers['x-stream-protocol-version'] ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean);
    const supported = request.kind === 'portforward' ? [PORTFORWARD_PROTOCOL] : SPDY_EXEC_PROTOCOLS;
    const protocol = offered.find((p) => supported.includes(p));
    if (!protocol) {
      reject(
        socket,
        400,
        `unable to upgrade: unable to negotiate protocol: client supports [${offered.join(' ')}], server accepts [${supported.join(' ')}]`,
        supported.map((p) => `X-Accepted-Stream-Protocol-Versions: ${p}`),
      );
      return;
    }
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${protocol}\r\n\r\n`);
    if (head.length > 0) socket.unshift(head);
    const conn = new SpdyConnection(socket, 'server');
    if (request.kind === 'portforward') {
      this.servePortForward(conn, request.podSandboxId);
      return;
    }
    const channels = await spdyChannels(conn, protocol, request);
    await this.runSession(request, channels);
  }

  private pickWsProtocol(offered: Set<string>): string | false {
    for (const p of offered) if (WS_EXEC_PROTOCOLS.includes(p) || p === WS_PORTFORWARD_PROTOCOL) return p;
    return false;
  }

  private async serveWebSocket(
    ws: import('ws').WebSocket,
    request: StreamRequest,
    tunnel: boolean,
    toStream: typeof import('ws').createWebSocketStream,
  ): Promise<void> {
    ws.on('error', () => undefined);
    if (request.kind === 'portforward') {
      if (tunnel) {
        // crictl tunnels SPDY frames inside binary WebSocket messages.
        this.servePortForward(new SpdyConnection(toStream(ws), 'server'), request.podSandboxId);
        return;
      }
      const pod = this.opts.sandboxes.get(request.podSandboxId);
      if (pod?.status.state !== 'SANDBOX_READY' || (ws.protocol && !WS_PORTFORWARD_CHANNEL_PROTOCOLS.includes(ws.protocol))) {
        ws.close(1002, 'pod not ready or unsupported port-forward protocol');
        return;
      }
      serveWsPortForward(ws, request.ports, podDialer(this.opts.native, pod.meta.namespaces.network));
      return;
    }
    if (!WS_EXEC_PROTOCOLS.includes(ws.protocol)) {
      ws.close(1002, `unsupported protocol; supported: ${WS_EXEC_PROTOCOLS.join(', ')}`);
      return;
    }
    await this.runSession(request, wsChannels(ws, ws.protocol, request));
  }

  private servePortForward(conn: SpdyConnection, podSandboxId: string): void {
    const pod = this.opts.sandboxes.get(podSandboxId);
    if (pod?.status.state !== 'SANDBOX_READY') {
      conn.close();
      return;
    }
    servePortForward(conn, podDialer(this.opts.native, pod.meta.namespaces.network), pod.meta.id);
  }

  private async runSession(request: Exclude<StreamRequest, { kind: 'portforward' }>, channels: Channels): Promise<void> {
    const record = this.opts.containers.get(request.containerId);
    if (record?.status.state !== 'CONTAINER_RUNNING') {
      await channels.finish({ kind: 'error', message: `container ${request.containerId} is not running` });
      return;
    }
    if (request.kind === 'exec') {
      await runExec({ containers: this.opts.containers, record, cmd: request.cmd, tty: request.tty, channels, helper: this.opts.helper, log: this.opts.log });
    } else {
      await runAttach({ record, socketDir: this.opts.containers.socketDir, channels, helper: this.opts.helper });
    }
  }
}

/** Upgrade requests for SPDY tunnelled in WebSocket (port forwarding). */
const tunnelRequests = new WeakSet<http.IncomingMessage>();

function parseRoute(url: string): { kind: StreamRequest['kind']; token: string } | undefined {
  const m = /^\/(exec|attach|portforward)\/([A-Za-z0-9_-]+)(?:[/?].*)?$/.exec(url);
  return m ? { kind: m[1] as StreamRequest['kind'], token: m[2]! } : undefined;
}

function reject(socket: Duplex, code: number, message: string, extra: string[] = []): void {
  const reason = http.STATUS_CODES[code] ?? 'Error';
  const body = `${message}\n`;
  socket.end(
    `HTTP/1.1 ${code} ${reason}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra.map((h) => `${h}\r\n`).join('')}Connection: close\r\n\r\n${body}`,
  );
}
