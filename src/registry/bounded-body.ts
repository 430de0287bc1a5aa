import type { Readable } from 'node:stream';
import { RuntimeError, failedPrecondition } from '../errors.js';
import { isDigest } from '../image/reference.js';

/**
 * Limits on what berth reads from a registry. A registry is untrusted: it
 * may send an endless body without Content-Length, so each limit is
 * enforced while the body streams, never after buffering it.
 */
export const LIMITS = {
  /** containerd's limit for manifests and indexes. */
  manifest: 4 << 20,
  /** Image configurations (a few KiB usually; large histories stay far below). */
  config: 8 << 20,
  /** Token server answers: a JSON object with a JWT. */
  token: 1 << 20,
  /** An error body is only quoted in a message. */
  errorBody: 16 << 10,
} as const;

export class BodyTooLargeError extends RuntimeError {
  constructor(what: string, limit: number) {
    super('failed-precondition', `${what} is larger than ${limit} bytes`);
  }
}

/**
 * Reads a body whole, refusing it (and dropping the connection) as soon as
 * it passes `limit` bytes.
 */
export async function readBounded(body: Readable & AsyncIterable<unknown>, limit: number, what: string): Promise<Buffer> {
  quietOnDestroy(body);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    const b = chunk as Buffer;
    total += b.length;
    if (total > limit) {
      discardBody(body);
      throw new BodyTooLargeError(what, limit);
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks, total);
}

/** The first `limit` bytes of a body, for messages; the rest is dropped unread. */
export async function readPrefix(body: Readable & AsyncIterable<unknown>, limit: number): Promise<Buffer> {
  quietOnDestroy(body);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    const b = chunk as Buffer;
    chunks.push(b.subarray(0, limit - total));
    total += Math.min(b.length, limit - total);
    if (total >= limit) break;
  }
  discardBody(body);
  return Buffer.concat(chunks, total);
}

/**
 * Drops a response body unread. undici's body emits an 'error' when it is
 * destroyed: without a listener that error would end the daemon.
 */
export function discardBody(body: Readable): void {
  quietOnDestroy(body);
  body.destroy();
}

/**
 * Leaving a `for await` early destroys the body too: the error undici then
 * emits needs a listener. Errors while reading still reach the loop.
 */
function quietOnDestroy(body: Readable): void {
  if (body.listenerCount('error') === 0) body.on('error', () => undefined);
}

/** Only sha256, sha384 and sha512 digests with hex of the right length are ever used (also as file names). */
export function checkDigest(value: unknown, what: string): string {
  if (typeof value !== 'string' || !isDigest(value)) {
    throw failedPrecondition(`${what}: digest ${JSON.stringify(value)?.slice(0, 140)} is not sha256, sha384 or sha512 with its full hex`);
  }
  return value;
}

/** A descriptor's size: a non-negative safe integer. */
export function checkSize(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw failedPrecondition(`${what}: size ${JSON.stringify(value)?.slice(0, 40)} is not a non-negative integer`);
  }
  return value;
}
