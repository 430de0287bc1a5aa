/**
 * How the daemon answers while it refuses hostile layers
 * (`BENCH_MAIN=hostile-pull make bench`): berth pulls, round after round,
 * a zstd layer declaring a 2 GiB window and one of 10,000 RLE blocks
 * (e2e/fixtures/zstd-bombs.ts), while a client asks Version every 5 ms and
 * times each answer; the same client with no pull running is the baseline.
 * Round 0 is a warm-up, then BENCH_ROUNDS (default 50) are counted.
 * Prints Version's p50, p99 and slowest answer in each state, how long each
 * refusal took, and the daemon's peak RSS. The e2e test checks only that
 * Version keeps answering; the figures are here.
 */

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type BuiltLayer, buildImage, pushImage } from '../e2e/fixtures/image-builder.js';
import { ZSTD_LAYER, hugeWindowLayer, rleBlocksLayer } from '../e2e/fixtures/zstd-bombs.js';
import { type BerthDaemon, startBerth } from '../e2e/lib/berth-daemon.js';
import { call } from '../e2e/lib/cri-client.js';
import { digestOf } from '../e2e/lib/push.js';
import { startRegistry } from '../e2e/lib/registry.js';
import { median, quantile } from './measure.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 50);
const PROBE_EVERY_MS = 5;

/** Version answered every PROBE_EVERY_MS while `work` runs; returns each answer's latency (ms). */
async function probeWhile(berth: BerthDaemon, work: () => Promise<unknown>): Promise<number[]> {
  const samples: number[] = [];
  let probing = true;
  const probe = (async () => {
    while (probing) {
      const t = performance.now();
      await call(berth.client.runtime, berth.client.runtime.Version, {});
      samples.push(performance.now() - t);
      await new Promise((r) => setTimeout(r, PROBE_EVERY_MS));
    }
  })();
  try {
    await work();
  } finally {
    probing = false;
    await probe;
  }
  return samples;
}

async function rssMiB(pid: number): Promise<number> {
  const m = /VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) / 1024;
}

async function main(): Promise<void> {
  const work = await mkdtemp(path.join(tmpdir(), 'berth-hostile-pull-'));
  const registry = await startRegistry(path.join(work, 'registry'));
  let berth: BerthDaemon | undefined;
  try {
    const images: Record<string, string> = {};
    for (const [tag, blob] of [
      ['window', hugeWindowLayer()],
      ['rle', rleBlocksLayer()],
    ] as const) {
      const layer: BuiltLayer = { blob, diffId: digestOf(Buffer.from(tag)), mediaType: ZSTD_LAYER };
      await pushImage(registry, 'bench/zstd-bombs', tag, buildImage([layer], true));
      images[tag] = `${registry.host}/bench/zstd-bombs:${tag}`;
    }
    berth = await startBerth({ registriesConf: `[[registry]]\nlocation = "${registry.host}"\ninsecure = true\n`, extraArgs: ['--log-level', 'warn'] });
    const daemon = berth;
    const version: Record<string, number[]> = { idle: [], window: [], rle: [] };
    const refusal: Record<string, number[]> = { window: [], rle: [] };
    // Round 0 warms up (connections, code loaded on first use) and is not counted.
    for (let round = 0; round <= ROUNDS; round++) {
      const keep = round > 0;
      const idle = await probeWhile(daemon, () => new Promise((r) => setTimeout(r, 500)));
      if (keep) version.idle!.push(...idle);
      for (const tag of ['window', 'rle'] as const) {
        let outcome = 'pulled';
        let ms = 0;
        const samples = await probeWhile(daemon, async () => {
          const t = performance.now();
          await call(daemon.client.image, daemon.client.image.PullImage, { image: { image: images[tag]! } }, 60_000).catch((e: { code?: number }) => {
            outcome = `code ${e.code}`;
          });
          ms = performance.now() - t;
        });
        // 9 is FAILED_PRECONDITION: anything else means the layer was not refused as it should be.
        if (outcome !== 'code 9') throw new Error(`the ${tag} layer was not refused: ${outcome}`);
        if (!keep) continue;
        version[tag]!.push(...samples);
        refusal[tag]!.push(ms);
      }
    }
    const row = (v: number[]) =>
      `${median(v).toFixed(2).padStart(8)} ${quantile(v, 0.99).toFixed(2).padStart(8)} ${Math.max(...v)
        .toFixed(2)
        .padStart(8)} ${String(v.length).padStart(7)}`;
    console.log(`Version latency (ms) over ${ROUNDS} rounds, asked every ${PROBE_EVERY_MS} ms: p50, p99, slowest, samples`);
    console.log(`no pull running               ${row(version.idle!)}`);
    console.log(`refusing a 2 GiB-window layer ${row(version.window!)}`);
    console.log(`refusing 10,000 RLE blocks    ${row(version.rle!)}`);
    console.log(
      `refusal time (ms), median and slowest: 2 GiB window ${median(refusal.window!).toFixed(1)} / ${Math.max(...refusal.window!).toFixed(1)}, RLE blocks ${median(refusal.rle!).toFixed(1)} / ${Math.max(...refusal.rle!).toFixed(1)}`,
    );
    console.log(`daemon peak RSS: ${(await rssMiB(daemon.process.pid!)).toFixed(1)} MiB`);
  } finally {
    await berth?.destroy();
    await registry.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
