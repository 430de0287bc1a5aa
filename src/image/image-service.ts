import path from 'node:path';
import { errorKind, failedPrecondition, invalidArgument, internal, notFound } from '../errors.js';
import type { Logger } from '../log.js';
import { type AuthConfigLike, credentialsFrom } from '../registry/auth.js';
import { RegistryTransport } from '../registry/client.js';
import { ContentStore } from '../storage/content-store.js';
import { type ImageRecord, ImageStore } from '../storage/image-store.js';
import { mountpointOf } from '../storage/mountpoint.js';
import { SnapshotStore } from '../storage/snapshot-store.js';
import type { UnpackOps } from '../storage/unpack.js';
import { parseImageConfig } from './documents.js';
import type { ImageConfigFile } from './media-types.js';
import { type PullCredentials, Puller } from './puller.js';
import { type ImageReference, digestedName, parseImageId, parseReference, repositoryName, taggedName } from './reference.js';
import { RegistriesConfFile, aliasTarget } from './registries-conf.js';
import { Mutex } from '../util/mutex.js';
import { AuthFile } from './auth-file.js';
import { SignaturePolicy } from '../signature/enforcer.js';

/** Compressed bytes a pull must have fetched before memory is handed back after it. */
const RELEASE_AFTER_BYTES = 16 * 1024 * 1024;

export interface ImageServiceOptions {
  /** `<root>/storage`. */
  storageRoot: string;
  registriesConf: string;
  /** containers-auth.json for pulls that bring no credentials ("" for none). */
  globalAuthFile?: string;
  /** containers-policy.json checked on every pull, and the registries.d directory saying where signatures are. */
  signaturePolicy?: string;
  registriesD?: string;
  pauseImage: string;
  pullProgressTimeoutMs: number;
  maxConcurrentDownloads: number;
  /** The largest zstd window a layer may declare, in bytes. */
  zstdMaxWindow?: number;
  /** Privileged file operations for unpacking (real ones need root). */
  unpackOps: UnpackOps;
  /** Gives memory back to the kernel (see host/memory-reducer.ts); called after a pull that fetched a lot. */
  releaseMemory?: () => Promise<void>;
  /** How much a pull must fetch (compressed layer bytes) before memory is given back; 16 MiB unless set. */
  releaseMemoryAfterBytes?: number;
  log: Logger;
}

export interface FsUsage {
  mountpoint: string;
  bytes: number;
  inodes: number;
}

/**
 * The image side of berth: pulling, naming, listing and removing images,
 * over the content store, the snapshot store and the image records.
 */
export class ImageService {
  private readonly content: ContentStore;
  private readonly snapshots: SnapshotStore;
  private readonly images: ImageStore;
  private readonly transport: RegistryTransport;
  private readonly registries: RegistriesConfFile;
  private readonly puller: Puller;
  private pauseName: string | undefined;
  private mountpoint = '/';
  /** Chain IDs that containers use: their layers outlive RemoveImage. */
  private layersInUse: () => Set<string> = () => new Set();
  private volumeUsers: () => Map<string, string[]> = () => new Map();
  private readonly configs = new Map<string, ImageConfigFile>();
  private authFile: AuthFile;
  private signaturePolicy: SignaturePolicy | undefined;
  private readonly storeLock = new Mutex();

  constructor(private readonly opts: ImageServiceOptions) {
    const root = opts.storageRoot;
    this.content = new ContentStore(root);
    this.snapshots = new SnapshotStore(root, opts.unpackOps, opts.log, opts.zstdMaxWindow);
    this.images = new ImageStore(root, opts.log);
    this.transport = new RegistryTransport({ connectMs: 30_000, bodyMs: opts.pullProgressTimeoutMs });
    this.registries = new RegistriesConfFile(opts.registriesConf);
    this.authFile = new AuthFile(opts.globalAuthFile ?? '', opts.log);
    this.setSignaturePolicy(opts.signaturePolicy ?? '', opts.registriesD ?? '');
    this.puller = new Puller({
      transport: this.transport,
      content: this.content,
      snapshots: this.snapshots,
      images: this.images,
      log: opts.log,
      progressTimeoutMs: opts.pullProgressTimeoutMs,
      maxConcurrentDownloads: opts.maxConcurrentDownloads,
      storeLock: this.storeLock,
      policy: () => this.signaturePolicy,
      afterTransfer: (bytes) => {
        // Decompression and unpacking leave tens of MiB free but resident.
        // A small or no-op pull leaves little, and the collection it would
        // start costs the calls right after it more than it saves.
        if (bytes >= (opts.releaseMemoryAfterBytes ?? RELEASE_AFTER_BYTES)) void this.opts.releaseMemory?.().catch(() => undefined);
      },
    });
    this.setPauseImage(opts.pauseImage);
  }

  /** The image reported as pinned (a reload may change it). */
  setPauseImage(image: string): void {
    try {
      this.pauseName = taggedName(parseReference(image));
    } catch {
      this.pauseName = undefined;
    }
  }

  /** Start-up: clear interrupted writes, load records, drop what no image references. */
  async restore(): Promise<void> {
    await this.content.restore();
    await this.snapshots.restore();
    await this.images.restore();
    await this.collectGarbage();
    this.mountpoint = await mountpointOf(path.resolve(this.opts.storageRoot));
  }

  /** The signature policy file and registries.d directory ("" policy: no checks, for tests that pull without one). */
  setSignaturePolicy(policyFile: string, registriesD: string): void {
    this.signaturePolicy = policyFile ? new SignaturePolicy(policyFile, registriesD, this.opts.log) : undefined;
  }

  /** A reload's new global auth file ("" for none). */
  setGlobalAuthFile(file: string): void {
    this.authFile = new AuthFile(file, this.opts.log);
  }

  pull(image: string, auth: AuthConfigLike | null | undefined, signal: AbortSignal, log?: Logger): Promise<ImageRecord> {
    return this.pullAny(image, auth, signal, log ?? this.opts.log);
  }

  private async pullAny(image: string, auth: AuthConfigLike | null | undefined, signal: AbortSignal, log: Logger): Promise<ImageRecord> {
    const candidates = await this.pullCandidates(image);
    // The request's credentials, else the node's auth file for whichever registry is contacted.
    const creds: PullCredentials = credentialsFrom(auth) ?? ((repository) => this.authFile.credentialsFor(repository));
    const conf = await this.registries.load();
    let lastError: unknown;
    for (const ref of candidates) {
      try {
        return await this.puller.pull(ref, conf, creds, signal, log);
      } catch (err) {
        lastError = err;
        if (errorKind(err) !== 'not-found' || ref === candidates[candidates.length - 1]) throw err;
      }
    }
    throw lastError;
  }

  /**
   * Fully qualified references to try for what the user wrote. A name
   * with a registry is used as is; a short name goes through the aliases
   * of registries.conf, then its unqualified-search-registries, and
   * otherwise means docker.io as Kubernetes users expect.
   */
  private async pullCandidates(image: string): Promise<ImageReference[]> {
    const parsed = parseReference(image);
    if (!parsed.shortName) return [parsed];
    const conf = await this.registries.load();
    const bare = image.trim().replace(/@.*$/, '');
    const tagAt = bare.lastIndexOf(':');
    const name = tagAt > bare.lastIndexOf('/') ? bare.slice(0, tagAt) : bare;
    const suffix = `${parsed.tag !== undefined && !parsed.digest ? `:${parsed.tag}` : ''}${parsed.digest ? `@${parsed.digest}` : ''}`;
    const alias = aliasTarget(conf, name);
    if (alias !== undefined) return [parseReference(`${alias}${suffix}`)];
    if (conf.unqualifiedSearchRegistries.length > 0) {
      return conf.unqualifiedSearchRegistries.map((registry) => parseReference(`${registry}/${name}${suffix}`));
    }
    return [parsed];
  }

  /**
   * The image a user's string names: an id (full, `sha256:`-prefixed or a
   * unique hex prefix of at least 6 characters), a tag or a digest name.
   */
  resolve(text: string): ImageRecord | undefined {
    const trimmed = text.trim();
    if (trimmed === '') throw invalidArgument('image reference is empty');
    const id = parseImageId(trimmed);
    if (id !== undefined) {
      const found = this.images.get(id);
      if (found) return found;
    }
    let ref: ImageReference | undefined;
    let parseError: unknown;
    try {
      ref = parseReference(trimmed);
    } catch (err) {
      parseError = err;
    }
    if (ref) {
      const name = ref.digest ? `${repositoryName(ref)}@${ref.digest}` : taggedName(ref)!;
      const found = this.images.byNameLookup(name) ?? (ref.digest ? this.byContentDigest(repositoryName(ref), ref.digest) : undefined);
      if (found) return found;
    }
    const hex = trimmed.startsWith('sha256:') ? trimmed.slice(7) : trimmed;
    if (/^[a-f0-9]{6,64}$/.test(hex)) {
      const matches = this.images.byIdPrefix(hex);
      if (matches.length === 1) return matches[0];
      if (matches.length > 1) throw invalidArgument(`image id prefix "${hex}" is ambiguous: ${matches.length} images match`);
      return undefined;
    }
    if (parseError) throw parseError;
    return undefined;
  }

  list(): ImageRecord[] {
    return this.images.list();
  }

  /** The image configuration; an artifact's config blob is the tool's own, not one: empty. */
  async config(record: ImageRecord): Promise<ImageConfigFile> {
    if (record.artifact) return {};
    let config = this.configs.get(record.id);
    if (!config) {
      config = parseImageConfig(await this.content.get(record.id), `image config ${record.id}`);
      this.configs.set(record.id, config);
    }
    return config;
  }

  /** Tells garbage collection which layers containers still use. */
  setLayersInUse(fn: () => Set<string>): void {
    this.layersInUse = fn;
  }

  /**
   * What a container needs of its image: the record, the config and the
   * overlayfs lower directories, top layer first, relative to `storageRoot`.
   */
  async forContainer(
    text: string,
  ): Promise<{ record: ImageRecord; config: ImageConfigFile; lowerDirs: string[]; storageRoot: string; names: { name: string; ref: string } }> {
    const image = await this.forVolume(text);
    if (image.record.artifact) throw failedPrecondition(`image "${text}" is an OCI artifact: it can be mounted as an image volume, not run`);
    return image;
  }

  /** What an image volume needs of its image (or OCI artifact): as forContainer, artifacts included. */
  async forVolume(
    text: string,
  ): Promise<{ record: ImageRecord; config: ImageConfigFile; lowerDirs: string[]; storageRoot: string; names: { name: string; ref: string } }> {
    const record = this.resolve(text);
    if (!record) throw notFound(`image "${text}" is not present: pull it first`);
    const config = await this.config(record);
    for (const l of record.layers) {
      if (!this.snapshots.has(l.chainId)) throw internal(`image ${record.id} is missing layer ${l.chainId}`);
    }
    const lowerDirs = record.layers.map((l) => this.snapshots.linkOf(l.chainId)).reverse();
    return { record, config, lowerDirs, storageRoot: this.snapshots.storageRoot, names: this.containerImageNames(text, record) };
  }

  /**
   * An image of `repository` whose index or platform manifest has `digest`,
   * though no name records it (pulled by the other digest).
   */
  private byContentDigest(repository: string, digest: string): ImageRecord | undefined {
    const inRepo = (n: string) => n.startsWith(`${repository}:`) || n.startsWith(`${repository}@`);
    return this.images.list().find((r) => (r.manifestDigest === digest || r.indexDigest === digest) && [...r.repoTags, ...r.repoDigests].some(inRepo));
  }

  /**
   * How a container created from `text` names its image, as containerd and
   * CRI-O report it: the normalised reference the user gave, except that an
   * image id or a digest reference names the image by its first tag when it
   * has one (an image pulled only by digest keeps the digest reference), and
   * the repo digest as the reference to the exact content (the image id when
   * the image has none).
   */
  containerImageNames(text: string, record: ImageRecord): { name: string; ref: string } {
    const ref = record.repoDigests[0] ?? record.id;
    const trimmed = text.trim();
    const hex = trimmed.startsWith('sha256:') ? trimmed.slice(7) : trimmed;
    if (/^[a-f0-9]{6,64}$/.test(hex) && record.id.slice(7).startsWith(hex)) return { name: record.repoTags[0] ?? record.id, ref };
    try {
      const parsed = parseReference(trimmed);
      return { name: parsed.digest ? (record.repoTags[0] ?? digestedName(parsed, parsed.digest)) : taggedName(parsed)!, ref };
    } catch {
      return { name: trimmed, ref };
    }
  }

  /** Collects layers a removed container no longer holds. */
  async releaseLayers(): Promise<void> {
    await this.storeLock.run(() => this.collectGarbage());
  }

  /**
   * Pinned images are exempt from the kubelet's garbage collection: the
   * pause image, and images that containers mount as image volumes (the
   * kubelet counts only container images as in use).
   */
  isPinned(record: ImageRecord): boolean {
    return (this.pauseName !== undefined && record.repoTags.includes(this.pauseName)) || this.volumeUsers().has(record.id);
  }

  setImageVolumeUsers(fn: () => Map<string, string[]>): void {
    this.volumeUsers = fn;
  }

  /** Removes the image with all its names; absent images are not an error. */
  async remove(text: string, log: Logger = this.opts.log): Promise<void> {
    const record = this.resolve(text);
    if (!record) return;
    const users = this.volumeUsers().get(record.id);
    if (users) throw failedPrecondition(`image ${record.id} is mounted as an image volume by container ${users.join(', ')}; remove the container first`);
    await this.storeLock.run(async () => {
      await this.images.remove(record.id);
      this.configs.delete(record.id);
      await this.collectGarbage();
    });
    log.info({ id: record.id, tags: record.repoTags }, 'image removed');
  }

  /** Deletes snapshots and blobs that no image record references. */
  private async collectGarbage(): Promise<void> {
    const records = this.images.list();
    const chains = new Set([...records.flatMap((r) => r.layers.map((l) => l.chainId)), ...this.layersInUse()]);
    const blobs = new Set(records.flatMap((r) => [r.id, r.manifestDigest, ...(r.indexDigest ? [r.indexDigest] : [])]));
    for (const snap of this.snapshots.list()) {
      if (!chains.has(snap.chainId) && !this.puller.isPinned(snap.chainId)) await this.snapshots.delete(snap.chainId);
    }
    for (const digest of this.content.digests()) if (!blobs.has(digest)) await this.content.delete(digest);
  }

  fsUsage(): FsUsage {
    const s = this.snapshots.usage();
    const c = this.content.usage();
    const records = this.images.list().length;
    return { mountpoint: this.mountpoint, bytes: s.bytes + c.bytes, inodes: s.inodes + c.inodes + records };
  }

  async close(): Promise<void> {
    await this.transport.close();
    await this.snapshots.settled();
  }
}
