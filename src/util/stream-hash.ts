/**
 * A digest over a stream of chunks, computed on the thread pool by the
 * native module (see native/berth_hash.c) so that the event loop keeps
 * parsing while the bytes are hashed; node:crypto where the module lacks
 * it. Chunks are hashed in order; `update` hands back a promise only when
 * too many are waiting, and a producer that awaits it keeps memory bounded.
 */

import { createHash } from 'node:crypto';
import { hashOps } from '../native/index.js';

export interface StreamHash {
  update(chunk: Buffer): Promise<void> | undefined;
  /** The hex digest, once every chunk is in. */
  digest(): Promise<string>;
}

const BACKLOG = 8;

export function streamHash(algorithm: string): StreamHash {
  const ops = hashOps();
  if (!ops) {
    const hash = createHash(algorithm);
    return { update: (chunk) => void hash.update(chunk), digest: async () => hash.digest('hex') };
  }
  const handle = ops.hashCreate(algorithm);
  let tail: Promise<void> = Promise.resolve();
  let waiting = 0;
  return {
    update(chunk) {
      waiting++;
      tail = tail
        .then(() => ops.hashUpdate(handle, chunk))
        .finally(() => {
          waiting--;
        });
      return waiting > BACKLOG ? tail : undefined;
    },
    async digest() {
      await tail;
      return ops.hashDigest(handle);
    },
  };
}
