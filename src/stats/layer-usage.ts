import { lstat } from 'node:fs/promises';
import { walkTree } from '../util/walk.js';

/**
 * Bytes and inodes of a container's writable layer. A walk of the upper
 * directory costs time proportional to its contents, so results are
 * cached and refreshed at most every `maxAgeMs`; callers get the cached
 * figure while a refresh runs.
 */
export class LayerUsageCache {
  private readonly cache = new Map<string, { at: number; bytes: number; inodes: number; refreshing?: Promise<void> }>();

  constructor(private readonly maxAgeMs = 10_000) {}

  async get(id: string, dir: string): Promise<{ bytes: number; inodes: number }> {
    const now = Date.now();
    const entry = this.cache.get(id);
    if (entry && now - entry.at < this.maxAgeMs) return entry;
    if (entry) {
      entry.refreshing ??= walk(dir).then(
        (u) => {
          this.cache.set(id, { at: Date.now(), ...u });
        },
        () => undefined,
      );
      return entry;
    }
    const usage = await walk(dir).catch(() => ({ bytes: 0, inodes: 0 }));
    this.cache.set(id, { at: now, ...usage });
    return usage;
  }

  forget(id: string): void {
    this.cache.delete(id);
  }
}

async function walk(dir: string): Promise<{ bytes: number; inodes: number }> {
  let bytes = 0;
  let inodes = 0;
  const seen = new Set<string>();
  await walkTree(dir, async (p) => {
    const st = await lstat(p).catch(() => undefined);
    if (!st) return false;
    const key = `${st.dev}:${st.ino}`;
    if (seen.has(key)) return false; // hard links count once
    seen.add(key);
    inodes++;
    bytes += st.blocks * 512;
    return true;
  });
  return { bytes, inodes };
}
