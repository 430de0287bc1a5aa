import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type BuiltLayer, buildImage, pushImage } from './fixtures/image-builder.js';
import { ZSTD_LAYER, hugeWindowLayer, rleBlocksLayer } from './fixtures/zstd-bombs.js';
import { type BerthDaemon, startBerth } from './lib/berth-daemon.js';
import { call } from './lib/cri-client.js';
import { Cri } from './lib/pods.js';
import { freePort } from './lib/ports.js';
import { digestOf } from './lib/push.js';
import { testBerthConf, testRegistriesConf } from './lib/registries-conf.js';

/**
 * zstd layers built to hurt: a frame that declares a 2 GiB window, and a
 * 40 KB frame of 10,000 RLE blocks (1.25 GiB of zeros, which a tar reader
 * takes for the end of the archive, then padding without end). Each pull
 * is refused quickly, keeps nothing, and the daemon goes on answering
 * while it runs: Version is asked every 20 ms and timed.
 */
const env = inject('env');
const REPO = `berth-test/zstd-bombs-${process.pid}`;

async function push(tag: string, blob: Buffer): Promise<string> {
  // The diff ID is a lie too: an attacker needs no valid one, digests are compared last.
  const layer: BuiltLayer = { blob, diffId: digestOf(Buffer.from(tag)), mediaType: ZSTD_LAYER };
  await pushImage({ host: env.openRegistry, url: `http://${env.openRegistry}`, stop: async () => undefined }, REPO, tag, buildImage([layer], true));
  return `${env.openRegistry}/${REPO}:${tag}`;
}

describe('zstd bombs', () => {
  let berth: BerthDaemon;
  let cri: Cri;
  beforeAll(async () => {
    berth = await startBerth({ registriesConf: testRegistriesConf(env, await freePort()), config: testBerthConf(env) });
    cri = new Cri(berth);
  });
  afterAll(async () => {
    await berth.destroy();
  });

  /** Pulls `image` while timing Version every 20 ms; returns the pull's outcome, its duration and the slowest Version. */
  async function pullWhileProbing(image: string): Promise<{ code?: number; details?: string; ms: number; slowestVersionMs: number }> {
    let slowest = 0;
    let probing = true;
    const probe = (async () => {
      while (probing) {
        const t = performance.now();
        await call(berth.client.runtime, berth.client.runtime.Version, {});
        slowest = Math.max(slowest, performance.now() - t);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const started = performance.now();
    const outcome = await cri.pull(image).then(
      () => ({}),
      (e: { code?: number; details?: string }) => ({ code: e.code, details: e.details }),
    );
    const ms = performance.now() - started;
    probing = false;
    await probe;
    return { ...outcome, ms, slowestVersionMs: slowest };
  }

  const storedNothing = async () => {
    expect((await call(berth.client.image, berth.client.image.ListImages, {})).images).toEqual([]);
    const snapshots = await readdir(path.join(berth.root, 'storage', 'snapshots')).catch(() => [] as string[]);
    expect(snapshots).toEqual([]);
  };

  it('refuses a layer declaring a 2 GiB window before allocating it, answering Version meanwhile', async () => {
    const image = await push('window', hugeWindowLayer());
    const r = await pullWhileProbing(image);
    expect(r.code).toBe(9); // FAILED_PRECONDITION
    expect(r.details).toMatch(/declares a zstd window larger than the 67108864 bytes/);
    expect(r.ms).toBeLessThan(3000);
    // A liveness check: the figure itself belongs to bench/, not to a test.
    expect(r.slowestVersionMs).toBeLessThan(250);
    await storedNothing();
  });

  it('refuses a layer of 10,000 RLE blocks past its archive end within about a second, answering Version meanwhile', async () => {
    const image = await push('rle', rleBlocksLayer());
    const r = await pullWhileProbing(image);
    expect(r.code).toBe(9);
    expect(r.details).toMatch(/goes on past the end of its tar archive/);
    expect(r.ms).toBeLessThan(3000);
    expect(r.slowestVersionMs).toBeLessThan(250);
    await storedNothing();
  });
});
