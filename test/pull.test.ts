import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ImageService } from '../src/image/image-service.js';
import { silentLogger } from '../src/log.js';
import { RecordingOps } from './support/recording-ops.js';
import { createTar } from './support/tar-writer.js';

/**
 * Whole pulls through ImageService against a loopback registry whose blob
 * endpoint can stall, to check progress timeouts, cancellation and shared
 * transfers without root.
 */
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const tar = createTar([{ name: 'hello.txt', content: 'x'.repeat(200_000) }]);
const layer = gzipSync(tar, { level: 0 });
const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { User: '7' }, rootfs: { type: 'layers', diff_ids: [sha(tar)] } }));
const manifest = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(layer), size: layer.length }],
  }),
);

describe('pulling', () => {
  let dir: string;
  let server: Server;
  let host: string;
  let blobRequests = 0;
  /** Every request the registry answered, by path. */
  let requests: string[] = [];
  /** While set, the layer blob sends half its bytes and waits for this promise. */
  let gate: Promise<void> | undefined;
  let service: ImageService;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-pull-'));
    blobRequests = 0;
    requests = [];
    gate = undefined;
    server = createServer((req, res) => {
      const url = req.url ?? '';
      requests.push(`${req.method} ${url}`);
      if (url.includes('/manifests/')) {
        res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
        return void res.end(manifest);
      }
      if (url.endsWith(sha(config))) return void res.end(config);
      if (url.endsWith(sha(layer))) {
        blobRequests++;
        res.writeHead(200, { 'content-length': layer.length });
        res.write(layer.subarray(0, layer.length >> 1));
        const rest = () => res.end(layer.subarray(layer.length >> 1));
        if (gate) void gate.then(rest);
        else rest();
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    await service?.close();
    server.closeAllConnections();
    server.close();
    await rm(dir, { recursive: true, force: true });
  });

  let releases = 0;
  async function start(pullProgressTimeoutMs = 10_000, releaseMemoryAfterBytes?: number): Promise<ImageService> {
    releases = 0;
    const conf = path.join(dir, 'registries.conf');
    await import('node:fs/promises').then((fs) => fs.writeFile(conf, `[[registry]]\nlocation = "${host}"\ninsecure = true\n`));
    service = new ImageService({
      storageRoot: path.join(dir, 'storage'),
      registriesConf: conf,
      pauseImage: `${host}/pause:1`,
      pullProgressTimeoutMs,
      maxConcurrentDownloads: 2,
      unpackOps: new RecordingOps(),
      releaseMemory: async () => void releases++,
      releaseMemoryAfterBytes,
      log: silentLogger(),
    });
    await service.restore();
    return service;
  }

  const leftovers = async () => (await readdir(path.join(dir, 'storage', 'snapshots'))).length;

  it('pulls, names and pins images', async () => {
    const images = await start();
    const record = await images.pull(`${host}/pause:1`, null, AbortSignal.timeout(5000));
    expect(record).toMatchObject({ id: sha(config), repoTags: [`${host}/pause:1`], user: '7' });
    expect(images.isPinned(record)).toBe(true);
    expect(images.resolve(sha(config).slice(7, 19))?.id).toBe(sha(config));
    expect(images.fsUsage().bytes).toBeGreaterThan(200_000);
  });

  it('pulls an image already present with one manifest request, writing nothing', async () => {
    const images = await start();
    await images.pull(`${host}/app:1`, null, AbortSignal.timeout(5000));
    const recordFile = path.join(dir, 'storage', 'images', `${sha(config).slice(7)}.json`);
    const before = await stat(recordFile);
    requests = [];
    const again = await images.pull(`${host}/app:1`, null, AbortSignal.timeout(5000));
    expect(again.id).toBe(sha(config));
    expect(requests.filter((r) => !r.endsWith('/v2/'))).toEqual(['GET /v2/app/manifests/1']);
    expect((await stat(recordFile)).mtimeMs).toBe(before.mtimeMs);
    // Another tag of the same content: still one request, and the new name is recorded.
    requests = [];
    expect((await images.pull(`${host}/app:2`, null, AbortSignal.timeout(5000))).repoTags).toEqual([`${host}/app:1`, `${host}/app:2`]);
    expect(requests.filter((r) => !r.endsWith('/v2/'))).toEqual(['GET /v2/app/manifests/2']);
  });

  it('gives memory back after a pull that fetched enough, not after a small or repeated one', async () => {
    const small = await start();
    await small.pull(`${host}/app:1`, null, AbortSignal.timeout(5000));
    expect(releases).toBe(0);
    await small.close();
    await rm(path.join(dir, 'storage'), { recursive: true, force: true });
    const images = await start(10_000, layer.length);
    await images.pull(`${host}/app:1`, null, AbortSignal.timeout(5000));
    expect(releases).toBe(1);
    await images.pull(`${host}/app:1`, null, AbortSignal.timeout(5000));
    expect(releases).toBe(1);
  });

  it('fails a pull that stops making progress, keeping nothing', async () => {
    const images = await start(300);
    gate = new Promise(() => undefined); // never releases
    await expect(images.pull(`${host}/app:1`, null, AbortSignal.timeout(5000))).rejects.toMatchObject({
      kind: 'deadline-exceeded',
      message: expect.stringContaining('no progress'),
    });
    expect(await leftovers()).toBe(0);
    expect(images.list()).toEqual([]);
  });

  it('cancels the transfer when the only caller goes away', async () => {
    const images = await start();
    gate = new Promise(() => undefined);
    const controller = new AbortController();
    const pulling = images.pull(`${host}/app:1`, null, controller.signal);
    setTimeout(() => controller.abort(), 200);
    await expect(pulling).rejects.toBeDefined();
    await new Promise((r) => setTimeout(r, 100));
    expect(await leftovers()).toBe(0);
  });

  it('shares one transfer between callers and survives one of them leaving', async () => {
    const images = await start();
    let release!: () => void;
    gate = new Promise((r) => (release = r));
    const quitter = new AbortController();
    const first = images.pull(`${host}/app:1`, null, quitter.signal);
    const second = images.pull(`${host}/app:1`, null, AbortSignal.timeout(5000));
    setTimeout(() => quitter.abort(), 100);
    await expect(first).rejects.toBeDefined();
    release();
    expect((await second).id).toBe(sha(config));
    expect(blobRequests).toBe(1);
  });
});
