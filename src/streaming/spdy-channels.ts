import { deadlineExceeded, canceled } from '../errors.js';
import { type Channels, type Outcome, type TerminalSize, parseResizes, statusPayload } from './channels.js';
import type { SpdyConnection, SpdyStream } from './spdy/connection.js';

/** How long a client has to open every stream it announced. */
export const STREAM_CREATION_TIMEOUT_MS = 30_000;

/**
 * Collects the streams of a remote-command session: the client opens
 * error, stdin, stdout, stderr and resize streams (named by `streamtype`)
 * as the CRI request asked for, and the session starts once all are in.
 */
export function spdyChannels(
  conn: SpdyConnection,
  protocol: string,
  want: { stdin: boolean; stdout: boolean; stderr: boolean; tty: boolean },
): Promise<Channels> {
  const resize = want.tty && protocol !== 'channel.k8s.io' && protocol !== 'v2.channel.k8s.io';
  const expected = 1 + Number(want.stdin) + Number(want.stdout) + Number(want.stderr && !want.tty) + Number(resize);
  return new Promise((resolve, reject) => {
    const streams = new Map<string, SpdyStream>();
    const timer = setTimeout(() => {
      conn.close();
      reject(deadlineExceeded('timed out waiting for the client to create streams'));
    }, STREAM_CREATION_TIMEOUT_MS);
    const onStream = (s: SpdyStream) => {
      const type = s.headers.streamtype ?? '';
      if (!['error', 'stdin', 'stdout', 'stderr', 'resize'].includes(type) || streams.has(type)) {
        s.rst();
        return;
      }
      streams.set(type, s);
      if (streams.size < expected) return;
      clearTimeout(timer);
      conn.off('stream', onStream);
      resolve(build(conn, protocol, streams));
    };
    conn.on('stream', onStream);
    conn.on('close', () => {
      clearTimeout(timer);
      reject(canceled('the client closed the connection before creating its streams'));
    });
  });
}

function build(conn: SpdyConnection, protocol: string, streams: Map<string, SpdyStream>): Channels {
  const error = streams.get('error')!;
  let finished = false;
  const goneHandlers: (() => void)[] = [];
  conn.on('close', () => {
    if (!finished) for (const h of goneHandlers) h();
  });
  return {
    stdin: streams.get('stdin'),
    stdout: streams.get('stdout'),
    stderr: streams.get('stderr'),
    onResize(handler: (s: TerminalSize) => void) {
      streams.get('resize')?.on('data', parseResizes(handler));
    },
    onClientGone(handler) {
      goneHandlers.push(handler);
    },
    async finish(outcome: Outcome) {
      if (finished) return;
      finished = true;
      for (const s of [streams.get('stdout'), streams.get('stderr')]) s?.end();
      const payload = statusPayload(protocol, outcome);
      if (payload) error.write(payload);
      error.end();
      // Give the frames a moment on the wire before GOAWAY and close.
      await new Promise((r) => setTimeout(r, 20));
      conn.close();
    },
  };
}
