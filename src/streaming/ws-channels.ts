/**
 * Remote-command channels over WebSocket (the Kubernetes channel
 * protocols): every message is [channel][payload] (0 stdin, 1 stdout,
 * 2 stderr, 3 error, 4 resize), or for the base64 protocols a text message
 * of the channel digit and base64 payload. v5 adds [255, channel] to
 * half-close a channel (the client's end of stdin).
 */

import { PassThrough, Writable } from 'node:stream';
import type { WebSocket } from 'ws';
import { decodeWsMessage, wsInboundGate, wsSender } from './ws-frames.js';
import { type Channels, type Outcome, type TerminalSize, parseResizes, statusPayload } from './channels.js';

export const WS_EXEC_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v4.base64.channel.k8s.io', 'base64.channel.k8s.io', 'channel.k8s.io'];

export function wsChannels(ws: WebSocket, protocol: string, want: { stdin: boolean; stdout: boolean; stderr: boolean; tty: boolean }): Channels {
  const base64 = protocol.includes('base64');
  const send = wsSender(ws, base64);
  const out = (channel: number) =>
    new Writable({
      // Completes once the WebSocket can take more: the container's pipe waits for a slow client.
      write(chunk: Buffer, _enc, cb) {
        send(channel, chunk, () => cb());
      },
    });
  const stdin = want.stdin ? new PassThrough() : undefined;
  const gate = wsInboundGate(ws);
  const resizes: ((s: TerminalSize) => void)[] = [];
  // The first size may arrive before anyone listens: keep the latest.
  let lastSize: TerminalSize | undefined;
  const resizeParser = parseResizes((s) => {
    lastSize = s;
    for (const h of resizes) h(s);
  });
  ws.on('message', (raw: Buffer | string, isBinary: boolean) => {
    const message = decodeWsMessage(raw, isBinary, base64);
    if (!message) return;
    const { channel, data } = message;
    if (channel === 255) {
      if (data[0] === 0) stdin?.end();
      return;
    }
    if (channel === 0 && stdin) gate(stdin, stdin.write(data));
    else if (channel === 4) resizeParser(data);
  });
  let finished = false;
  const gone: (() => void)[] = [];
  ws.on('close', () => {
    stdin?.end();
    if (!finished) for (const h of gone) h();
  });
  if (!protocol.startsWith('v5.')) send(want.stdout ? 1 : want.stderr ? 2 : 3, Buffer.alloc(0)); // "ready" for older clients
  return {
    stdin,
    stdout: want.stdout ? out(1) : undefined,
    stderr: want.stderr && !want.tty ? out(2) : undefined,
    onResize: (h) => {
      resizes.push(h);
      if (lastSize) h(lastSize);
    },
    onClientGone: (h) => gone.push(h),
    async finish(outcome: Outcome) {
      if (finished) return;
      finished = true;
      const payload = statusPayload(protocol, outcome);
      if (payload) send(3, payload);
      ws.close(1000);
    },
  };
}
