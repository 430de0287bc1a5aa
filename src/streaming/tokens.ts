/**
 * Single-use, short-lived tokens for streaming URLs. The Exec, Attach and
 * PortForward RPCs store their validated request here; the first HTTP
 * request carrying the token takes it, and nobody can use it again.
 */

import { randomBytes } from 'node:crypto';
import { RuntimeError, resourceExhausted } from '../errors.js';

export type StreamRequest =
  | { kind: 'exec'; containerId: string; cmd: string[]; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }
  | { kind: 'attach'; containerId: string; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }
  | { kind: 'portforward'; podSandboxId: string; ports: number[] };

export const TOKEN_TTL_MS = 60_000;
export const MAX_TOKENS = 1000;
/** Unused tokens for one container or pod: one busy target cannot use up the store for the others. */
export const MAX_TOKENS_PER_TARGET = 64;

const targetOf = (r: StreamRequest) => (r.kind === 'portforward' ? `pod:${r.podSandboxId}` : `container:${r.containerId}`);

export class TokenStore {
  private readonly tokens = new Map<string, { request: StreamRequest; expires: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  put(request: StreamRequest): string {
    this.sweep();
    if (this.tokens.size >= MAX_TOKENS) throw resourceExhausted(`too many streaming requests waiting (${MAX_TOKENS})`);
    const target = targetOf(request);
    let forTarget = 0;
    for (const e of this.tokens.values()) if (targetOf(e.request) === target) forTarget++;
    if (forTarget >= MAX_TOKENS_PER_TARGET) {
      throw new RuntimeError(
        'resource-exhausted',
        `too many streaming requests waiting for ${target.replace(':', ' ')} (${MAX_TOKENS_PER_TARGET}); they expire after ${TOKEN_TTL_MS / 1000}s`,
      );
    }
    const token = randomBytes(24).toString('base64url');
    this.tokens.set(token, { request, expires: this.now() + TOKEN_TTL_MS });
    return token;
  }

  /** The request for a token, once; undefined when unknown, used or expired. */
  take(token: string): StreamRequest | undefined {
    const entry = this.tokens.get(token);
    if (!entry) return undefined;
    this.tokens.delete(token);
    return entry.expires > this.now() ? entry.request : undefined;
  }

  private sweep(): void {
    const now = this.now();
    for (const [t, e] of this.tokens) if (e.expires <= now) this.tokens.delete(t);
  }
}
