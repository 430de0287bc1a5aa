/**
 * Persistent records of sandboxes or containers: one directory per object
 * holding `meta.json` (written once at create: what the object is) and
 * `status.json` (rewritten on every change: what state it is in). Both
 * carry a version and are written atomically. Status updates persist first
 * and change memory after, so what List and Status answer from memory is
 * always on disk too.
 */

import { readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { notFound } from '../errors.js';
import type { Logger } from '../log.js';
import { makeDirs, writeJsonAtomic } from '../util/fs.js';
import { eachLimit } from '../util/each-limit.js';
import { KeyedMutex } from '../util/keyed-mutex.js';

const VERSION = 1;
/** Records read at once at start-up. */
const LOAD_CONCURRENCY = 16;

export interface StoredRecord<M, S> {
  meta: M;
  status: S;
}

export class RecordStore<M extends { id: string }, S> {
  private readonly records = new Map<string, StoredRecord<M, S>>();
  /** Bumped on every change to the records in memory: answers built from them can be kept until it moves. */
  generation = 0;
  /** Serialises status updates per object, so none is lost to a concurrent one. */
  private readonly writes = new KeyedMutex();

  constructor(
    readonly dir: string,
    private readonly kind: string,
    private readonly log: Logger,
  ) {}

  dirOf(id: string): string {
    return path.join(this.dir, id);
  }

  /** Loads every readable record; unreadable ones are logged and returned for clean-up. */
  async load(): Promise<{ loaded: StoredRecord<M, S>[]; broken: string[] }> {
    await makeDirs(this.dir, 0o700);
    const ids = await readdir(this.dir);
    // Read several at a time (a node with hundreds of containers restarts
    // on these reads), kept in directory order.
    const read: (StoredRecord<M, S> | undefined)[] = new Array(ids.length);
    await eachLimit(ids, LOAD_CONCURRENCY, async (id, i) => {
      try {
        const [meta, status] = await Promise.all([
          readVersioned<M>(path.join(this.dir, id, 'meta.json')),
          readVersioned<S>(path.join(this.dir, id, 'status.json')),
        ]);
        read[i] = { meta, status };
      } catch (err) {
        this.log.error({ [this.kind]: id, err }, `cannot load ${this.kind} record`);
      }
    });
    const loaded: StoredRecord<M, S>[] = [];
    const broken: string[] = [];
    for (const [i, id] of ids.entries()) {
      const record = read[i];
      if (!record) {
        broken.push(id);
        continue;
      }
      this.records.set(record.meta.id, record);
      this.generation++;
      loaded.push(record);
    }
    return { loaded, broken };
  }

  async create(meta: M, status: S): Promise<StoredRecord<M, S>> {
    const dir = this.dirOf(meta.id);
    await makeDirs(dir, 0o700);
    // Both or neither matter to load(): a record missing either is broken and cleaned up.
    await Promise.all([writeJsonAtomic(path.join(dir, 'meta.json'), VERSION, meta), writeJsonAtomic(path.join(dir, 'status.json'), VERSION, status as object)]);
    const record = { meta, status };
    this.records.set(meta.id, record);
    this.generation++;
    return record;
  }

  /** Applies `change` to the status: on disk first, then in memory. */
  async update(id: string, change: (status: S) => S): Promise<S> {
    return this.writes.run(id, async () => {
      const record = this.records.get(id);
      if (!record) throw notFound(`${this.kind} ${id} not found (removed meanwhile)`);
      const next = change(record.status);
      await writeJsonAtomic(path.join(this.dirOf(id), 'status.json'), VERSION, next as object);
      record.status = next;
      this.generation++;
      return next;
    });
  }

  /** Resolves once the status writes already queued for `id` are on disk; writes nothing itself. */
  settled(id: string): Promise<void> {
    return this.writes.run(id, async () => undefined);
  }

  /** Drops the record from memory only: the caller has moved its directory away. */
  forget(id: string): void {
    this.records.delete(id);
    this.generation++;
  }

  async remove(id: string): Promise<void> {
    await rm(this.dirOf(id), { recursive: true, force: true });
    this.records.delete(id);
    this.generation++;
  }

  get(id: string): StoredRecord<M, S> | undefined {
    return this.records.get(id);
  }

  list(): StoredRecord<M, S>[] {
    return [...this.records.values()];
  }

  /** Resolves a full id or a unique prefix of one. */
  resolve(idOrPrefix: string): StoredRecord<M, S> | undefined {
    const exact = this.records.get(idOrPrefix);
    if (exact || idOrPrefix.length === 0) return exact;
    let found: StoredRecord<M, S> | undefined;
    for (const [id, record] of this.records) {
      if (!id.startsWith(idOrPrefix)) continue;
      if (found) return undefined; // ambiguous
      found = record;
    }
    return found;
  }
}

async function readVersioned<T>(file: string): Promise<T> {
  const raw = JSON.parse(await readFile(file, 'utf8')) as { version?: number } & T;
  if (raw.version !== VERSION) throw new Error(`${file}: unknown version ${String(raw.version)}`);
  const { version: _v, ...rest } = raw;
  return rest as T;
}
