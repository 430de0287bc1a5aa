/**
 * Port forwarding over WebSocket channels (the reference CRI server's
 * protocol): for the i-th requested port, channel 2i carries data and
 * 2i+1 errors; the first message on each channel is the port number as
 * two bytes, little-endian. base64 protocols send text messages instead.
 */

import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { decodeWsMessage, wsInboundGate, wsSender } from './ws-frames.js';
import type { Dialer } from './portforward.js';

export const WS_PORTFORWARD_CHANNEL_PROTOCOLS = ['v4.channel.k8s.io', 'v4.base64.channel.k8s.io', 'channel.k8s.io', 'base64.channel.k8s.io'];

export function serveWsPortForward(ws: WebSocket, ports: number[], dial: Dialer): void {
  const base64 = ws.protocol.includes('base64');
  const send = wsSender(ws, base64);
  const sockets = new Map<number, Socket>();
  const pending = new Map<number, Buffer[]>();
  const gate = wsInboundGate(ws);
  ports.forEach((port, i) => {
    const portBytes = Buffer.alloc(2);
    portBytes.writeUInt16LE(port);
    send(2 * i, portBytes);
    send(2 * i + 1, portBytes);
    pending.set(i, []);
    dial(port).then(
      (socket) => {
        sockets.set(i, socket);
        for (const chunk of pending.get(i) ?? []) gate(socket, socket.write(chunk));
        pending.delete(i);
        // The pod's socket is read only as fast as the client takes it.
        socket.on('data', (d: Buffer) => {
          let waiting = true;
          send(2 * i, d, () => {
            waiting = false;
            socket.resume();
          });
          if (waiting) socket.pause();
        });
        socket.on('error', (err) => send(2 * i + 1, Buffer.from(`connection to port ${port} failed: ${err.message}`)));
        socket.on('close', () => {
          if (ws.readyState === ws.OPEN) ws.close(1000);
        });
      },
      (err: Error) => {
        send(2 * i + 1, Buffer.from(`failed to connect to localhost:${port}: ${err.message}`));
        ws.close(1000);
      },
    );
  });
  ws.on('message', (raw: Buffer | string, isBinary: boolean) => {
    const message = decodeWsMessage(raw, isBinary, base64);
    if (!message) return;
    const { channel, data } = message;
    if (channel % 2 !== 0) return; // error channels only flow to the client
    const i = channel / 2;
    const socket = sockets.get(i);
    if (socket) gate(socket, socket.write(data));
    else pending.get(i)?.push(Buffer.from(data));
  });
  ws.on('close', () => {
    for (const s of sockets.values()) s.destroy();
  });
}
