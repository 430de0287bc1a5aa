import type { Writable } from 'node:stream';
import type { WebSocket } from 'ws';

/**
 * Bytes a WebSocket may hold unsent (`bufferedAmount`) before a writer
 * waits: past this, a peer that does not read throttles whoever writes.
 */
export const WS_BUFFER_BOUND = 256 << 10;

export type WsSend = (channel: number, data: Buffer, done?: () => void) => void;

/**
 * The Kubernetes WebSocket channel framing shared by exec, attach and
 * port forwarding: binary messages are [channel][payload]; the base64
 * protocols send text messages of the channel digit and base64 payload.
 * `done` runs once the socket can take more: at once while little is
 * buffered, else when this message has reached the kernel (or the socket
 * is gone), which is the WebSocket's drain.
 */
export function wsSender(ws: WebSocket, base64: boolean): WsSend {
  return (channel, data, done) => {
    if (ws.readyState !== ws.OPEN) {
      done?.();
      return;
    }
    const message = base64 ? `${channel}${data.toString('base64')}` : Buffer.concat([Buffer.from([channel]), data]);
    if (!done) {
      ws.send(message);
      return;
    }
    if (ws.bufferedAmount < WS_BUFFER_BOUND) {
      ws.send(message);
      done();
      return;
    }
    ws.send(message, () => done());
  };
}

/**
 * Channel and payload of a message, or undefined for an empty one (or, in
 * the base64 protocols, one that does not start with a channel digit).
 */
export function decodeWsMessage(raw: Buffer | string, isBinary: boolean, base64: boolean): { channel: number; data: Buffer } | undefined {
  if (base64 && !isBinary) {
    const text = raw.toString();
    const channel = text.charCodeAt(0) - 48;
    if (!(channel >= 0 && channel <= 9)) return undefined;
    return { channel, data: Buffer.from(text.slice(1), 'base64') };
  }
  const buf = Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
  if (buf.length === 0) return undefined;
  return { channel: buf[0]!, data: buf.subarray(1) };
}

/** How often a WebSocket whose reading is paused pings its peer to learn whether it is still there. */
export const WS_PAUSED_PROBE_MS = 1000;

/**
 * Pauses the WebSocket's reading while any of its sinks is full, so a
 * sink that does not read (a container ignoring stdin, a forwarded port)
 * makes the client wait instead of berth buffer what it sends. A paused
 * socket never shows that its peer went away, so meanwhile it is pinged:
 * to a peer that is gone the write fails and the WebSocket closes, which
 * ends the session.
 */
export function wsInboundGate(ws: WebSocket): (sink: Writable, wroteAll: boolean) => void {
  const full = new Set<Writable>();
  let probe: NodeJS.Timeout | undefined;
  const stopProbe = () => {
    clearInterval(probe);
    probe = undefined;
  };
  ws.once('close', stopProbe);
  return (sink, wroteAll) => {
    if (wroteAll || full.has(sink)) return;
    full.add(sink);
    ws.pause();
    probe ??= setInterval(() => {
      if (ws.readyState === ws.OPEN && ws.bufferedAmount < WS_BUFFER_BOUND) ws.ping();
    }, WS_PAUSED_PROBE_MS);
    probe.unref();
    const release = () => {
      sink.off('drain', release);
      sink.off('close', release);
      full.delete(sink);
      if (full.size > 0) return;
      stopProbe();
      if (ws.readyState === ws.OPEN) ws.resume();
    };
    sink.on('drain', release);
    sink.on('close', release);
  };
}
