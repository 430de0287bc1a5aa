import { RuntimeError, errorKind, failedPrecondition, internal } from '../errors.js';
import { createHash } from 'node:crypto';
import type { Logger } from '../log.js';
import type { Credentials } from '../registry/auth.js';
import { LIMITS, checkDigest, checkSize, discardBody } from '../registry/bounded-body.js';
import { type FetchedManifest, type RegistryTransport, RepositoryClient } from '../registry/client.js';
import type { ContentStore } from '../storage/content-store.js';
import type { ImageLayer, ImageRecord, ImageStore } from '../storage/image-store.js';
import { type SnapshotStore, chainIds } from '../storage/snapshot-store.js';
import type { Mutex } from '../util/mutex.js';
import { SharedOperations } from '../util/shared-operation.js';
import {
  type ImageConfigFile,
  type ImageManifest,
  MANIFEST_ACCEPT,
  MEDIA_TYPE,
  artifactFileName,
  isArtifact,
  isIndex,
  isLayerMediaType,
  isManifest,
  isSchema1,
} from './media-types.js';
import { parseImageConfig, parseIndex, parseManifest } from './documents.js';
import { hostPlatform, selectPlatform } from './platform.js';
import { PullProgress } from './pull-progress.js';
import { type ImageReference, digestedName, formatReference, repositoryName, taggedName } from './reference.js';
import { type RegistriesConf, pullSources } from './registries-conf.js';
import type { PullToCheck } from '../signature/enforcer.js';
import { span } from '../tracing/tracing.js';

const MAX_CONFIG_BYTES = LIMITS.config;

/** What a pull resolved before fetching layers. */
interface PullPlan {
  ref: ImageReference;
  name: string;
  client: RepositoryClient;
  top: FetchedManifest;
  index?: FetchedManifest;
  manifest: FetchedManifest;
  configDigest: string;
  configBody: Buffer;
  config: ImageConfigFile;
  layers: ImageLayer[];
  /** An OCI artifact (see media-types.ts): mountable, not runnable. */
  artifact?: boolean;
}

export interface PullerDeps {
  transport: RegistryTransport;
  content: ContentStore;
  snapshots: SnapshotStore;
  images: ImageStore;
  log: Logger;
  progressTimeoutMs: number;
  maxConcurrentDownloads: number;
  /** Held while blobs and records are written, and by garbage collection. */
  storeLock: Mutex;
  /** The signature policy, checked on the top-level manifest before anything else is fetched. */
  policy?: () => { check(pull: PullToCheck): Promise<void> } | undefined;
  /** Told how many compressed layer bytes a pull set out to fetch, once it has ended (either way). */
  afterTransfer?: (bytes: number) => void;
}

/**
 * Pulls one fully qualified reference: manifest (through mirrors in
 * order), platform selection, config, then every missing layer streamed
 * straight into its snapshot, several at a time. Concurrent pulls of the
 * same reference share one transfer; concurrent pulls of different images
 * share layers they have in common.
 */
/**
 * The credentials of a pull: the request's own, or a lookup by each
 * source's repository (the node's auth file), as a mirror may need other
 * credentials than the registry it stands in for.
 */
export type PullCredentials = Credentials | ((repository: string) => Promise<Credentials | undefined>) | undefined;

export class Puller {
  private readonly pulls = new SharedOperations<ImageRecord>();
  private readonly layers = new SharedOperations<void>();
  /** Chain IDs that pulls in progress will reference, so a failed pull never deletes them. */
  private readonly pinnedByPulls = new Map<string, number>();

  constructor(private readonly deps: PullerDeps) {}

  /** `log`: the calling RPC's logger (a shared transfer logs with the first caller's). */
  pull(ref: ImageReference, conf: RegistriesConf, creds: PullCredentials, signal: AbortSignal, log: Logger = this.deps.log): Promise<ImageRecord> {
    // Pulls with different credentials must not share a transfer: one
    // client's secret must not let another client's pull succeed.
    const key = `${formatReference(ref)}\0${typeof creds === 'function' ? 'node' : creds ? JSON.stringify(creds) : ''}`;
    return this.pulls.run(key, signal, (shared) => this.pullOnce(ref, conf, creds, shared, log));
  }

  private async pullOnce(ref: ImageReference, conf: RegistriesConf, creds: PullCredentials, outer: AbortSignal, log: Logger): Promise<ImageRecord> {
    const name = formatReference(ref);
    const controller = new AbortController();
    const signal = AbortSignal.any([outer, controller.signal]);
    const progress = new PullProgress(name, log, this.deps.progressTimeoutMs, (reason) => controller.abort(reason));
    try {
      return await span('image.pull', { 'container.image.name': name }, () => this.fetchImage(ref, name, conf, creds, signal, progress, log));
    } catch (err) {
      if (signal.aborted && signal.reason instanceof RuntimeError) throw signal.reason;
      throw err;
    } finally {
      progress.stop();
    }
  }

  private async fetchImage(
    ref: ImageReference,
    name: string,
    conf: RegistriesConf,
    creds: PullCredentials,
    signal: AbortSignal,
    progress: PullProgress,
    log: Logger,
  ): Promise<ImageRecord> {
    const { client, top } = await this.fetchTopManifest(ref, conf, creds, signal, log);
    progress.touch();
    // Every pull, a repeated one too, meets the signature policy before anything else.
    await this.deps.policy?.()?.check({ ref, manifestDigest: top.digest, client, signal });
    const present = await this.alreadyPresent(ref, top);
    if (present) return present;
    const plan = await this.resolve(ref, name, client, top, signal, progress);
    const { layers } = plan;
    for (const l of layers) this.pinnedByPulls.set(l.chainId, (this.pinnedByPulls.get(l.chainId) ?? 0) + 1);
    let transferred = 0;
    try {
      transferred = await this.fetchLayers(plan.client, layers, signal, progress, plan.artifact === true);
    } catch (err) {
      this.unpin(layers);
      await this.discardUnreferenced(layers.map((l) => l.chainId));
      this.deps.afterTransfer?.(layers.reduce((sum, l) => sum + l.size, 0));
      throw err;
    }
    try {
      return await this.record(plan, log);
    } finally {
      this.unpin(layers);
      this.deps.afterTransfer?.(transferred);
    }
  }

  /**
   * An image already stored whose top-level manifest is the one the
   * registry just named: a repeated pull needs nothing more than that one
   * manifest request. Names the pull adds (a tag that moved here, a repo
   * digest) are recorded; when there are none, nothing is written.
   */
  private async alreadyPresent(ref: ImageReference, top: FetchedManifest): Promise<ImageRecord | undefined> {
    const record = this.deps.images.list().find((r) => r.manifestDigest === top.digest || r.indexDigest === top.digest);
    if (!record?.layers.every((l) => this.deps.snapshots.has(l.chainId))) return undefined;
    const tags = ref.digest ? [] : [taggedName(ref)!];
    const throughIndex = record.indexDigest === top.digest && !ref.digest;
    const digests = throughIndex ? [digestedName(ref, top.digest), digestedName(ref, record.manifestDigest)] : [digestedName(ref, top.digest)];
    const known = new Set([...record.repoTags, ...record.repoDigests]);
    if ([...tags, ...digests].every((n) => known.has(n))) return record;
    const { repoTags: _tags, repoDigests: _digests, ...stored } = record;
    return this.deps.storeLock.run(() => this.deps.images.save(stored, tags, digests));
  }

  /** Everything but the layers: the platform's manifest and the config. Nothing is stored yet. */
  private async resolve(
    ref: ImageReference,
    name: string,
    client: RepositoryClient,
    top: FetchedManifest,
    signal: AbortSignal,
    progress: PullProgress,
  ): Promise<PullPlan> {
    let manifestBlob = top;
    let index: FetchedManifest | undefined;
    if (isSchema1(top.mediaType)) {
      throw failedPrecondition(`${name} uses Docker image manifest schema 1, which is deprecated and not supported: rebuild or re-push the image`);
    }
    if (isIndex(top.mediaType)) {
      const parsed = parseIndex(top.body, name);
      const chosen = selectPlatform(parsed.manifests, hostPlatform());
      index = top;
      manifestBlob = await client.getManifest(checkDigest(chosen.digest, `${name}: image index entry`), MANIFEST_ACCEPT, signal);
      progress.touch();
    }
    if (!isManifest(manifestBlob.mediaType)) {
      throw failedPrecondition(`${name}: unsupported manifest media type "${manifestBlob.mediaType || 'none'}"`);
    }
    const manifest = parseManifest(manifestBlob.body, name);
    const artifact = isArtifact(manifest);
    // Every digest and size is checked before it is used, as a URL or a file name.
    for (const layer of manifest.layers) {
      const acceptable = isLayerMediaType(layer.mediaType) || (artifact && typeof layer.mediaType === 'string' && MEDIA_TYPE.test(layer.mediaType));
      if (!acceptable) throw failedPrecondition(`${name}: unsupported layer media type "${layer.mediaType}"`);
      checkDigest(layer.digest, `${name}: layer`);
      checkSize(layer.size, `${name}: layer ${layer.digest}`);
    }
    const configDigest = checkDigest(manifest.config.digest, `${name}: image config`);
    const configSize = checkSize(manifest.config.size, `${name}: image config`);
    if (configSize > MAX_CONFIG_BYTES)
      throw failedPrecondition(`${name}: image config ${configDigest} is ${configSize} bytes; at most ${MAX_CONFIG_BYTES} are accepted`);
    const configBody = this.deps.content.has(configDigest)
      ? await this.deps.content.get(configDigest)
      : await client.getBlobBuffer(configDigest, configSize, signal);
    if (artifact) return this.artifactPlan({ ref, name, client, top, index, manifest: manifestBlob, configDigest, configBody }, manifest);
    const config = parseImageConfig(configBody, `${name}: image config ${configDigest}`);
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== manifest.layers.length) {
      throw failedPrecondition(`${name}: the config lists ${diffIds.length} layers but the manifest has ${manifest.layers.length}`);
    }
    const layers = imageLayers(manifest, diffIds, false);
    return { ref, name, client, top, index, manifest: manifestBlob, configDigest, configBody, config, layers };
  }

  /**
   * An OCI artifact: no image configuration and no diff IDs, so each layer
   * is known by its blob digest (verified as it streams); a layer that is
   * not a tar archive becomes one file named by its title.
   */
  private artifactPlan(base: Omit<PullPlan, 'config' | 'layers' | 'artifact'>, manifest: ImageManifest): PullPlan {
    // A plain layer's snapshot is one file with a name: the same blob under
    // another title is another snapshot, so the name is part of its identity.
    const identities = manifest.layers.map((l) =>
      isLayerMediaType(l.mediaType)
        ? l.digest
        : `sha256:${createHash('sha256')
            .update(`file\0${artifactFileName(l)}\0${l.digest}`)
            .digest('hex')}`,
    );
    const layers = imageLayers(manifest, identities, true);
    return { ...base, config: {}, layers, artifact: true };
  }

  private unpin(layers: ImageLayer[]): void {
    for (const l of layers) {
      const n = (this.pinnedByPulls.get(l.chainId) ?? 1) - 1;
      if (n <= 0) this.pinnedByPulls.delete(l.chainId);
      else this.pinnedByPulls.set(l.chainId, n);
    }
  }

  /** The layers are in: store the small blobs, then the record that makes the image visible. */
  private async record(plan: PullPlan, log: Logger): Promise<ImageRecord> {
    return this.deps.storeLock.run(() => this.recordLocked(plan, log));
  }

  private async recordLocked(plan: PullPlan, log: Logger): Promise<ImageRecord> {
    const { ref, manifest, configDigest, configBody, layers } = plan;
    if (plan.index) await this.deps.content.put(plan.index.digest, plan.index.body);
    await this.deps.content.put(configDigest, configBody);
    await this.deps.content.put(manifest.digest, manifest.body);
    const tag = ref.digest ? undefined : taggedName(ref);
    const size = manifest.body.length + configBody.length + layers.reduce((s, l) => s + l.size, 0);
    const record = await this.deps.images.save(
      {
        id: configDigest,
        manifestDigest: manifest.digest,
        indexDigest: plan.index?.digest,
        layers,
        size,
        user: plan.config.config?.User ?? '',
        pulledAt: new Date().toISOString(),
        ...(plan.artifact ? { artifact: true } : {}),
      },
      tag ? [tag] : [],
      // Pulled by tag through an index, both the index's and the platform
      // manifest's digest name the image, as CRI-O lists them. Pulled by
      // digest, RepoDigests is the one asked for (critest checks exactly
      // that); the other still finds the image (ImageService.resolve).
      plan.index && !ref.digest ? [digestedName(ref, plan.top.digest), digestedName(ref, manifest.digest)] : [digestedName(ref, plan.top.digest)],
    );
    log.info({ image: plan.name, id: record.id, source: plan.client.displayName }, 'image pulled');
    return record;
  }

  /** Tries each mirror in order, then the primary location. */
  private async fetchTopManifest(
    ref: ImageReference,
    conf: RegistriesConf,
    creds: PullCredentials,
    signal: AbortSignal,
    log: Logger,
  ): Promise<{ client: RepositoryClient; top: FetchedManifest }> {
    const sources = pullSources(conf, repositoryName(ref), ref.digest !== undefined);
    let lastError: unknown;
    for (const source of sources) {
      const sourceCreds = typeof creds === 'function' ? await creds(`${source.host}/${source.path}`) : creds;
      const client = new RepositoryClient(this.deps.transport, source, sourceCreds, log);
      try {
        const top = await client.getManifest(ref.digest ?? ref.tag!, MANIFEST_ACCEPT, signal);
        return { client, top };
      } catch (err) {
        lastError = err;
        if (signal.aborted) throw err;
        const kind = errorKind(err);
        const retryable = kind === 'not-found' || kind === 'unavailable' || kind === 'unauthenticated' || kind === 'permission-denied';
        if (!source.mirror || !retryable) throw err;
        log.info({ mirror: source.host, err: (err as Error).message }, 'mirror failed; trying the next source');
      }
    }
    throw lastError;
  }

  /** Fetches the layers not yet unpacked; returns their compressed size. */
  private async fetchLayers(client: RepositoryClient, layers: ImageLayer[], outer: AbortSignal, progress: PullProgress, artifact: boolean): Promise<number> {
    const missing = layers.filter((l) => !this.deps.snapshots.has(l.chainId));
    for (const l of missing) progress.addTotal(l.size);
    const controller = new AbortController();
    const signal = AbortSignal.any([outer, controller.signal]);
    let next = 0;
    const worker = async () => {
      while (next < missing.length) {
        const layer = missing[next++]!;
        const parent = layers[layers.indexOf(layer) - 1]?.chainId;
        await this.layers.run(
          layer.chainId,
          signal,
          async (layerSignal) => {
            const blob = await client.getBlob(layer.digest, layerSignal);
            if (blob.length !== undefined && blob.length !== layer.size) {
              discardBody(blob.body);
              throw internal(`layer ${layer.digest}: registry sent ${blob.length} bytes, the manifest says ${layer.size}`);
            }
            await span('image.layer', { 'oci.layer.digest': layer.digest, 'oci.layer.size': layer.size }, () =>
              this.deps.snapshots.unpack(
                { chainId: layer.chainId, diffId: layer.diffId, parent, blobDigest: layer.digest },
                { stream: blob.body, size: layer.size, onBytes: (n) => progress.add(n) },
                layerSignal,
                // An artifact's layers have no diff ID of their own: the blob digest stands for it.
                artifact ? { file: layer.file, diffIdIsBlobDigest: true } : {},
              ),
            );
          },
          { waitForSettle: true },
        );
      }
    };
    let firstError: unknown;
    const workers = Array.from({ length: Math.min(this.deps.maxConcurrentDownloads, missing.length) }, () =>
      worker().catch((err: unknown) => {
        if (firstError === undefined) firstError = err;
        controller.abort(err);
      }),
    );
    await Promise.all(workers);
    if (firstError !== undefined) throw firstError;
    return missing.reduce((sum, l) => sum + l.size, 0);
  }

  /** Whether a pull in progress is about to reference this layer. */
  isPinned(chainId: string): boolean {
    return this.pinnedByPulls.has(chainId);
  }

  /** After a failed pull, drops the layers it unpacked that no image uses, so nothing of it stays. */
  private async discardUnreferenced(chainIds: string[]): Promise<void> {
    const used = new Set(this.deps.images.list().flatMap((r) => r.layers.map((l) => l.chainId)));
    for (const chainId of chainIds) {
      if (!used.has(chainId) && !this.pinnedByPulls.has(chainId) && this.deps.snapshots.has(chainId)) await this.deps.snapshots.delete(chainId);
    }
  }
}

/** The layers of a manifest as records keep them: with their diff IDs and chain IDs, and for an artifact the file a plain layer becomes. */
function imageLayers(manifest: ImageManifest, diffIds: string[], artifact: boolean): ImageLayer[] {
  const chains = chainIds(diffIds);
  return manifest.layers.map((l, i) => ({
    digest: l.digest,
    size: l.size,
    mediaType: l.mediaType,
    diffId: diffIds[i]!,
    chainId: chains[i]!,
    ...(artifact && !isLayerMediaType(l.mediaType) ? { file: artifactFileName(l) } : {}),
  }));
}
