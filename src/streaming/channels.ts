/**
 * The channels of one remote-command session (exec or attach), whatever
 * the wire protocol: SPDY streams or WebSocket channels.
 */

import type { Readable, Writable } from 'node:stream';

export interface TerminalSize {
  width: number;
  height: number;
}

export interface Channels {
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  /** Terminal sizes as the client sends them. */
  onResize(handler: (size: TerminalSize) => void): void;
  /** Reports the outcome on the error channel and closes the session. */
  finish(outcome: Outcome): Promise<void>;
  /** Called when the client goes away before the end. */
  onClientGone(handler: () => void): void;
}

export type Outcome = { kind: 'success' } | { kind: 'exit'; code: number } | { kind: 'error'; message: string };

/** The error-channel payload for the negotiated protocol (v4 and later: a metav1 Status). */
export function statusPayload(protocol: string, outcome: Outcome): Buffer | undefined {
  const v4 = /^v[45]\./.test(protocol);
  if (!v4) {
    if (outcome.kind === 'success') return undefined;
    return Buffer.from(outcome.kind === 'exit' ? `command terminated with non-zero exit code: exit status ${outcome.code}` : outcome.message);
  }
  if (outcome.kind === 'success' || (outcome.kind === 'exit' && outcome.code === 0)) return Buffer.from(JSON.stringify({ metadata: {}, status: 'Success' }));
  if (outcome.kind === 'exit') {
    return Buffer.from(
      JSON.stringify({
        metadata: {},
        status: 'Failure',
        message: `command terminated with non-zero exit code: exit status ${outcome.code}`,
        reason: 'NonZeroExitCode',
        details: { causes: [{ reason: 'ExitCode', message: String(outcome.code) }] },
      }),
    );
  }
  return Buffer.from(
    JSON.stringify({ metadata: {}, status: 'Failure', message: `Internal error occurred: ${outcome.message}`, reason: 'InternalError', code: 500 }),
  );
}

/** Resize messages are JSON objects, one per line: {"Width":80,"Height":24}. */
export function parseResizes(onSize: (s: TerminalSize) => void): (chunk: Buffer) => void {
  let pending = '';
  return (chunk) => {
    pending += chunk.toString('utf8');
    for (let nl = pending.search(/[\n}]/); nl >= 0; nl = pending.search(/[\n}]/)) {
      const end = pending[nl] === '}' ? nl + 1 : nl;
      const text = pending.slice(0, end).trim();
      pending = pending.slice(end + (pending[nl] === '\n' ? 1 : 0));
      if (!text) continue;
      try {
        const s = JSON.parse(text) as { Width?: number; Height?: number };
        if (typeof s.Width === 'number' && typeof s.Height === 'number') onSize({ width: s.Width, height: s.Height });
      } catch {
        // ignore a malformed resize
      }
    }
  };
}
