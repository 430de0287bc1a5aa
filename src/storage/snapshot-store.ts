/**
 * Unpacked layers, one directory per chain ID (the OCI identity of a layer
 * together with everything beneath it), in the snapshotter vocabulary of
 * containerd: a snapshot has a key (its chain ID) and a parent.
 *
 *   snapshots/<chain-hex>/fs         the layer's files, overlayfs lower-dir form
 *   snapshots/<chain-hex>/meta.json  written before the directory is renamed in
 *   snapshots/.ingest-*              layers being unpacked; removed at start-up
 *   l/<first 16 hex of chain>        short symlink to a snapshot's fs, so that
 *                                    overlayfs mount data naming 100+ lower
 *                                    layers fits in one page
 *
 * A snapshot directory exists under its final name only once its content
 * was verified against both the blob digest and the diff ID.
 */

import { createHash, randomBytes } from 'node:crypto';
import { open, readFile, readdir, readlink, rename, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { RuntimeError, errnoCode, internal, failedPrecondition } from '../errors.js';
import type { Logger } from '../log.js';
import { ensureDir, makeDirs, syncDir, writeJsonAtomic } from '../util/fs.js';
import { DEFAULT_ZSTD_MAX_WINDOW, decompressLayer } from './decompress.js';
import { TarFormatError, readTar } from './tar/reader.js';
import { streamHash } from '../util/stream-hash.js';
import { LayerUnpacker, type UnpackOps } from './unpack.js';
import { locate } from '../util/space-errors.js';

/** Bytes gathered from the network before they go on down the unpack pipeline. */
const PASS_ON_BYTES = 256 << 10;

export interface SnapshotMeta {
  chainId: string;
  diffId: string;
  parent?: string;
  /** Digest of the compressed blob it was unpacked from. */
  blobDigest: string;
  bytes: number;
  inodes: number;
  createdAt: string;
}

const META_VERSION = 1;

/** How a layer is stored: a tar archive (an image's, the default), or one plain file of an artifact. */
export interface LayerForm {
  /** Store the blob as this one file instead of unpacking it. */
  file?: string;
  /** The layer has no diff ID of its own (an artifact): its blob digest, already verified, stands for it. */
  diffIdIsBlobDigest?: boolean;
}

async function* passThrough(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  yield* chunks;
}

export interface LayerSource {
  /** The compressed blob as it arrives from the registry. */
  stream: AsyncIterable<Buffer>;
  /** The size the manifest declares: the stream is refused as soon as it passes it. */
  size: number;
  /** Called with the number of compressed bytes as they arrive. */
  onBytes: (n: number) => void;
}

export class SnapshotStore {
  private readonly dir: string;
  private readonly linkDir: string;
  private readonly snapshots = new Map<string, SnapshotMeta>();
  /** Layer directories being deleted in the background. */
  private readonly deletions = new Set<Promise<void>>();

  constructor(
    private readonly root: string,
    private readonly ops: UnpackOps,
    private readonly log: Logger,
    /** The largest zstd window a layer may declare (image.zstd_max_window). */
    private readonly zstdMaxWindow = DEFAULT_ZSTD_MAX_WINDOW,
  ) {
    this.dir = path.join(root, 'snapshots');
    this.linkDir = path.join(root, 'l');
  }

  /** The short name of a snapshot's lower directory, relative to the storage root. */
  linkOf(chainId: string): string {
    return `l/${chainId.split(':')[1]!.slice(0, 16)}`;
  }

  /** The directory relative lower-layer links resolve against. */
  get storageRoot(): string {
    return this.root;
  }

  private async ensureLink(chainId: string): Promise<void> {
    const link = path.join(this.root, this.linkOf(chainId));
    const target = `../snapshots/${chainId.split(':')[1]!}/fs`;
    try {
      if ((await readlink(link)) === target) return;
      await rm(link, { force: true });
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
    }
    await symlink(target, link);
  }

  async restore(): Promise<void> {
    await ensureDir(this.dir, 0o700);
    await ensureDir(this.linkDir, 0o700);
    for (const name of await readdir(this.dir)) {
      const full = path.join(this.dir, name);
      if (name.startsWith('.ingest-')) {
        await rm(full, { recursive: true, force: true });
        continue;
      }
      try {
        const meta = JSON.parse(await readFile(path.join(full, 'meta.json'), 'utf8')) as SnapshotMeta & { version: number };
        if (meta.version !== META_VERSION) throw new Error(`unknown metadata version ${meta.version}`);
        this.snapshots.set(meta.chainId, meta);
        await this.ensureLink(meta.chainId);
      } catch (err) {
        this.log.warn({ snapshot: name, err }, 'removing unreadable snapshot');
        await rm(full, { recursive: true, force: true });
      }
    }
  }

  has(chainId: string): boolean {
    return this.snapshots.has(chainId);
  }

  get(chainId: string): SnapshotMeta | undefined {
    return this.snapshots.get(chainId);
  }

  list(): SnapshotMeta[] {
    return [...this.snapshots.values()];
  }

  /** Directory holding the layer's files, for overlayfs lowerdir. */
  fsPath(chainId: string): string {
    return path.join(this.dir, chainId.split(':')[1]!, 'fs');
  }

  /**
   * Streams one compressed layer through hashing, decompression and the
   * tar unpacker into a new snapshot. Nothing is kept unless both digests
   * match.
   */
  async unpack(
    meta: Omit<SnapshotMeta, 'bytes' | 'inodes' | 'createdAt'>,
    source: LayerSource,
    signal: AbortSignal,
    form: LayerForm = {},
  ): Promise<SnapshotMeta> {
    const existing = this.snapshots.get(meta.chainId);
    if (existing) return existing;
    const zstdMaxWindow = this.zstdMaxWindow;
    const tmp = path.join(this.dir, `.ingest-${randomBytes(8).toString('hex')}`);
    const fsDir = path.join(tmp, 'fs');
    await makeDirs(fsDir, 0o755);
    try {
      const blobAlg = meta.blobDigest.split(':')[0]!;
      const blobHash = streamHash(blobAlg);
      const diffHash = streamHash(meta.diffId.split(':')[0]!);
      const unpacker = new LayerUnpacker(fsDir, this.ops);
      let fileBytes = 0;
      const consume = form.file
        ? // One plain file (an artifact layer): written as it streams, never decompressed.
          async (chunks: AsyncIterable<Buffer>) => {
            const handle = await open(path.join(fsDir, form.file!), 'wx', 0o644);
            try {
              for await (const chunk of chunks) {
                signal.throwIfAborted();
                await handle.write(chunk);
                fileBytes += chunk.length;
              }
            } finally {
              await handle.close();
            }
          }
        : async (chunks: AsyncIterable<Buffer>) => {
            for await (const { entry, body } of readTar(chunks)) {
              signal.throwIfAborted();
              await unpacker.apply(entry, body);
            }
          };
      await pipeline(
        source.stream,
        async function* hashBlob(chunks: AsyncIterable<Buffer>) {
          let received = 0;
          // Network chunks are 16-64 KiB; every stage after this one (gunzip,
          // the diff digest, the tar reader) pays per chunk on the event loop.
          let gathered: Buffer[] = [];
          let gatheredBytes = 0;
          const takeGathered = () => {
            const out = gathered.length === 1 ? gathered[0]! : Buffer.concat(gathered, gatheredBytes);
            gathered = [];
            gatheredBytes = 0;
            return out;
          };
          for await (const chunk of chunks) {
            received += chunk.length;
            if (received > source.size)
              throw new RuntimeError(
                'failed-precondition',
                `layer ${meta.blobDigest}: the registry sent more than the ${source.size} bytes the manifest declares`,
              );
            const backlog = blobHash.update(chunk);
            if (backlog) await backlog;
            source.onBytes(chunk.length);
            gathered.push(chunk);
            gatheredBytes += chunk.length;
            if (gatheredBytes >= PASS_ON_BYTES) yield takeGathered();
          }
          if (gatheredBytes > 0) yield takeGathered();
        },
        form.file ? passThrough : (chunks: AsyncIterable<Buffer>) => decompressLayer(chunks, { zstdMaxWindow, what: `layer ${meta.blobDigest}` }),
        async function* hashDiff(chunks: AsyncIterable<Buffer>) {
          for await (const chunk of chunks) {
            const backlog = diffHash.update(chunk);
            if (backlog) await backlog;
            yield chunk;
          }
        },
        consume,
        { signal },
      );
      const blobDigest = `${blobAlg}:${await blobHash.digest()}`;
      if (blobDigest !== meta.blobDigest) throw internal(`layer ${meta.blobDigest}: downloaded content hashes to ${blobDigest}`);
      const diffId = `${meta.diffId.split(':')[0]}:${await diffHash.digest()}`;
      if (diffId !== meta.diffId && !form.diffIdIsBlobDigest)
        throw internal(`layer ${meta.blobDigest}: uncompressed content hashes to ${diffId}, but the image config says ${meta.diffId}`);
      const usage = form.file ? { bytes: fileBytes, inodes: 1 } : await unpacker.finish();
      const full: SnapshotMeta = { ...meta, bytes: usage.bytes, inodes: usage.inodes, createdAt: new Date().toISOString() };
      await writeJsonAtomic(path.join(tmp, 'meta.json'), META_VERSION, full);
      const final = path.join(this.dir, meta.chainId.split(':')[1]!);
      try {
        await rename(tmp, final);
      } catch (err) {
        // Another pull finished the same snapshot first: keep that one.
        if (errnoCode(err) !== 'ENOTEMPTY' && errnoCode(err) !== 'EEXIST') throw err;
        await rm(tmp, { recursive: true, force: true });
      }
      await syncDir(this.dir);
      await this.ensureLink(full.chainId);
      this.snapshots.set(full.chainId, full);
      return full;
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      if (err instanceof TarFormatError) throw failedPrecondition(`layer ${meta.blobDigest} is not a valid tar archive: ${err.message}`);
      if ((err as { code?: string }).code === 'Z_DATA_ERROR' || (err as { code?: string }).code === 'Z_BUF_ERROR') {
        throw failedPrecondition(`layer ${meta.blobDigest} is not valid gzip: ${(err as Error).message}`);
      }
      // A write of the layer's files failed: name where, so a full disk is told by its filesystem.
      throw locate(err, fsDir);
    }
  }

  async delete(chainId: string): Promise<void> {
    const hex = chainId.split(':')[1]!;
    const final = path.join(this.dir, hex);
    // Rename first so a crash mid-removal leaves an ingest directory that
    // start-up cleans, not a half-deleted snapshot that looks whole. Once
    // renamed the snapshot is gone for everyone: the files themselves are
    // deleted in the background (RemoveImage need not wait for thousands
    // of unlinks).
    const doomed = path.join(this.dir, `.ingest-rm-${hex}-${randomBytes(4).toString('hex')}`);
    let renamed = true;
    try {
      await rename(final, doomed);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
      renamed = false;
    }
    this.snapshots.delete(chainId);
    await rm(path.join(this.root, this.linkOf(chainId)), { force: true });
    if (!renamed) return;
    const deletion = rm(doomed, { recursive: true, force: true })
      .catch((err: unknown) => this.log.warn({ err, dir: doomed }, 'deleting a removed layer failed; start-up will retry'))
      .finally(() => this.deletions.delete(deletion));
    this.deletions.add(deletion);
  }

  /** Resolves once every layer deletion in the background has finished (shutdown, tests). */
  async settled(): Promise<void> {
    while (this.deletions.size > 0) await Promise.all([...this.deletions]);
  }

  usage(): { bytes: number; inodes: number } {
    let bytes = 0;
    let inodes = 0;
    for (const s of this.snapshots.values()) {
      bytes += s.bytes;
      inodes += s.inodes;
    }
    return { bytes, inodes };
  }
}

/** chainID(L0) = diffID(L0); chainID(Ln) = sha256(chainID(Ln-1) + " " + diffID(Ln)). */
export function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const diffId of diffIds) {
    const prev = out[out.length - 1];
    out.push(prev === undefined ? diffId : `sha256:${createHash('sha256').update(`${prev} ${diffId}`).digest('hex')}`);
  }
  return out;
}
