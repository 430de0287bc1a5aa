import { createHash, randomBytes } from 'node:crypto';
import { open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { errnoCode, internal } from '../errors.js';
import { ensureDir, syncDir } from '../util/fs.js';
import { locate } from '../util/space-errors.js';

/**
 * Content-addressed store for the small blobs of an image: manifests,
 * indexes and configs, at `blobs/<algorithm>/<hex>`. A blob is written to
 * `ingest/`, fsynced, verified against its digest and only then renamed
 * into place, so a blob that exists is whole. Layers are not kept here:
 * they are unpacked into snapshots as they stream in.
 */
export class ContentStore {
  private readonly blobsDir: string;
  private readonly ingestDir: string;
  private totalBytes = 0;
  private readonly sizes = new Map<string, number>();

  constructor(root: string) {
    this.blobsDir = path.join(root, 'blobs');
    this.ingestDir = path.join(root, 'ingest');
  }

  /** Creates the directories, clears interrupted writes and indexes sizes. */
  async restore(): Promise<void> {
    await ensureDir(this.blobsDir, 0o700);
    await rm(this.ingestDir, { recursive: true, force: true });
    await ensureDir(this.ingestDir, 0o700);
    for (const algorithm of await readdir(this.blobsDir)) {
      for (const hex of await readdir(path.join(this.blobsDir, algorithm))) {
        const st = await stat(path.join(this.blobsDir, algorithm, hex));
        this.sizes.set(`${algorithm}:${hex}`, st.size);
        this.totalBytes += st.size;
      }
    }
  }

  pathOf(digest: string): string {
    const [algorithm, hex] = digest.split(':');
    if (!algorithm || !hex || !/^[a-z0-9]+$/.test(algorithm) || !/^[a-f0-9]+$/.test(hex)) throw internal(`invalid digest "${digest}"`);
    return path.join(this.blobsDir, algorithm, hex);
  }

  has(digest: string): boolean {
    return this.sizes.has(digest);
  }

  async put(digest: string, data: Buffer): Promise<void> {
    if (this.has(digest)) return;
    const algorithm = digest.split(':')[0]!;
    const actual = `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
    if (actual !== digest) throw internal(`content digest mismatch: expected ${digest}, got ${actual}`);
    const tmp = path.join(this.ingestDir, randomBytes(8).toString('hex'));
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } catch (err) {
      await fh.close();
      await rm(tmp, { force: true });
      throw locate(err, tmp);
    }
    await fh.close();
    const target = this.pathOf(digest);
    await ensureDir(path.dirname(target), 0o700);
    await rename(tmp, target);
    await syncDir(path.dirname(target));
    this.sizes.set(digest, data.length);
    this.totalBytes += data.length;
  }

  async get(digest: string): Promise<Buffer> {
    try {
      return await readFile(this.pathOf(digest));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') throw internal(`blob ${digest} is missing from the content store`);
      throw err;
    }
  }

  async delete(digest: string): Promise<void> {
    await rm(this.pathOf(digest), { force: true });
    const size = this.sizes.get(digest);
    if (size !== undefined) {
      this.totalBytes -= size;
      this.sizes.delete(digest);
    }
  }

  digests(): string[] {
    return [...this.sizes.keys()];
  }

  usage(): { bytes: number; inodes: number } {
    return { bytes: this.totalBytes, inodes: this.sizes.size };
  }
}
