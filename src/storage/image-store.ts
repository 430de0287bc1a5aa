/**
 * Image records: what berth knows of each pulled image, one versioned JSON
 * file per image id (`images/<hex>.json`), written atomically, with the
 * name indexes (tags, digests) kept in memory for List and Status.
 */

import { readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.js';
import { ensureDir, writeJsonAtomic } from '../util/fs.js';

export interface ImageLayer {
  digest: string;
  size: number;
  mediaType: string;
  diffId: string;
  chainId: string;
  /** An artifact layer that is one plain file, stored under this name (not a tar archive). */
  file?: string;
}

export interface ImageRecord {
  /** The config digest, which is the image id. */
  id: string;
  repoTags: string[];
  repoDigests: string[];
  manifestDigest: string;
  /** Set when the image was pulled through an index or manifest list. */
  indexDigest?: string;
  layers: ImageLayer[];
  /** Bytes of manifest, config and compressed layers. */
  size: number;
  /** `User` from the image config, kept here so List needs no disk read. */
  user: string;
  pulledAt: string;
  /** An OCI artifact: mountable as an image volume, not runnable. */
  artifact?: boolean;
}

const RECORD_VERSION = 1;

export class ImageStore {
  private readonly dir: string;
  private readonly byId = new Map<string, ImageRecord>();
  private readonly byName = new Map<string, string>();

  constructor(
    root: string,
    private readonly log: Logger,
  ) {
    this.dir = path.join(root, 'images');
  }

  async restore(): Promise<void> {
    await ensureDir(this.dir, 0o700);
    for (const name of await readdir(this.dir)) {
      const full = path.join(this.dir, name);
      if (!name.endsWith('.json')) {
        await rm(full, { force: true }); // interrupted atomic write
        continue;
      }
      try {
        const raw = JSON.parse(await readFile(full, 'utf8')) as ImageRecord & { version: number };
        if (raw.version !== RECORD_VERSION) throw new Error(`unknown record version ${raw.version}`);
        const { version: _v, ...record } = raw;
        this.index(record);
      } catch (err) {
        this.log.error({ file: full, err }, 'skipping unreadable image record');
      }
    }
  }

  private index(record: ImageRecord): void {
    this.byId.set(record.id, record);
    for (const n of [...record.repoTags, ...record.repoDigests]) this.byName.set(n, record.id);
  }

  private fileOf(id: string): string {
    return path.join(this.dir, `${id.split(':')[1]}.json`);
  }

  private async persist(record: ImageRecord): Promise<void> {
    await writeJsonAtomic(this.fileOf(record.id), RECORD_VERSION, record);
  }

  list(): ImageRecord[] {
    return [...this.byId.values()];
  }

  get(id: string): ImageRecord | undefined {
    return this.byId.get(id);
  }

  /** The image a normalised tag (`repo:tag`) or digest name (`repo@digest`) points to. */
  byNameLookup(name: string): ImageRecord | undefined {
    const id = this.byName.get(name);
    return id === undefined ? undefined : this.byId.get(id);
  }

  /** Ids starting with `prefix` (hex, without algorithm). */
  byIdPrefix(prefix: string): ImageRecord[] {
    return this.list().filter((r) => r.id.split(':')[1]!.startsWith(prefix));
  }

  /**
   * Adds or updates an image and points `names` at it. A tag that pointed
   * at another image moves: it is removed from that image first.
   */
  async save(record: Omit<ImageRecord, 'repoTags' | 'repoDigests'>, tags: string[], digests: string[]): Promise<ImageRecord> {
    for (const name of [...tags, ...digests]) {
      const ownerId = this.byName.get(name);
      if (ownerId !== undefined && ownerId !== record.id) {
        const owner = this.byId.get(ownerId)!;
        const updated = { ...owner, repoTags: owner.repoTags.filter((t) => t !== name), repoDigests: owner.repoDigests.filter((d) => d !== name) };
        await this.persist(updated);
        this.byId.set(updated.id, updated);
        this.byName.delete(name);
      }
    }
    const existing = this.byId.get(record.id);
    const merged: ImageRecord = {
      ...record,
      repoTags: [...new Set([...(existing?.repoTags ?? []), ...tags])],
      repoDigests: [...new Set([...(existing?.repoDigests ?? []), ...digests])],
    };
    await this.persist(merged);
    this.index(merged);
    return merged;
  }

  async remove(id: string): Promise<ImageRecord | undefined> {
    const record = this.byId.get(id);
    if (!record) return undefined;
    await rm(this.fileOf(id), { force: true });
    this.byId.delete(id);
    for (const n of [...record.repoTags, ...record.repoDigests]) if (this.byName.get(n) === id) this.byName.delete(n);
    return record;
  }
}
