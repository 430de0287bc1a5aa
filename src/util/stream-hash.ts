/**
 * A digest over a stream of chunks, computed on the thread pool by the
 * native module (see native/berth_hash.c) so that the event loop keeps
 * parsing while the bytes are hashed; node:crypto where the module lacks
 * it. Chunks are hashed in order; `update` hands back a promise only when
 * too many are waiting, and a producer that awaits it keeps memory bounded.
 *
 * Chunks are gathered into batches of BATCH bytes before they go to the
 * thread pool: each trip costs a promise, a job and a wake-up on the event
 * loop, and a pull hashing 16-128 KiB network and gunzip chunks spent more
 * of its main-thread time on those trips than on anything else but file
 * creation. A copy of a batch is cheaper than the trips it saves.
 */

import { createHash } from 'node:crypto';
import { hashOps } from '../native/index.js';

export interface StreamHash {
  update(chunk: Buffer): Promise<void> | undefined;
  /** The hex digest, once every chunk is in. */
  digest(): Promise<string>;
}

const BATCH = 512 << 10;
/** Batches in flight before `update` asks the producer to wait: at most about 2 MiB held per digest. */
const BACKLOG = 4;

export function streamHash(algorithm: string): StreamHash {
  const ops = hashOps();
  if (!ops) {
    const hash = createHash(algorithm);
    return { update: (chunk) => void hash.update(chunk), digest: async () => hash.digest('hex') };
  }
  const handle = ops.hashCreate(algorithm);
  let tail: Promise<void> = Promise.resolve();
  let waiting = 0;
  let gathered: Buffer[] = [];
  let gatheredBytes = 0;
  const send = () => {
    if (gathered.length === 0) return;
    const batch = gathered.length === 1 ? gathered[0]! : Buffer.concat(gathered, gatheredBytes);
    gathered = [];
    gatheredBytes = 0;
    waiting++;
    tail = tail
      .then(() => ops.hashUpdate(handle, batch))
      .finally(() => {
        waiting--;
      });
  };
  return {
    update(chunk) {
      gathered.push(chunk);
      gatheredBytes += chunk.length;
      if (gatheredBytes < BATCH) return undefined;
      send();
      return waiting > BACKLOG ? tail : undefined;
    },
    async digest() {
      send();
      await tail;
      return ops.hashDigest(handle);
    },
  };
}
