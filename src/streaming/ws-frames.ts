import type { WebSocket } from 'ws';

/**
 * The Kubernetes WebSocket channel framing shared by exec, attach and
 * port forwarding: binary messages are [channel][payload]; the base64
 * protocols send text messages of the channel digit and base64 payload.
 */
export function wsSender(ws: WebSocket, base64: boolean): (channel: number, data: Buffer) => void {
  return (channel, data) => {
    if (ws.readyState !== ws.OPEN) return;
    if (base64) ws.send(`${channel}${data.toString('base64')}`);
    else ws.send(Buffer.concat([Buffer.from([channel]), data]));
  };
}

/** Channel and payload of a message, or undefined for an empty one. */
export function decodeWsMessage(raw: Buffer | string, isBinary: boolean, base64: boolean): { channel: number; data: Buffer } | undefined {
  if (base64 && !isBinary) {
    const text = raw.toString();
    return { channel: Number(text[0]), data: Buffer.from(text.slice(1), 'base64') };
  }
  const buf = Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
  if (buf.length === 0) return undefined;
  return { channel: buf[0]!, data: buf.subarray(1) };
}
