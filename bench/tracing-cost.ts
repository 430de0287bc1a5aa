/**
 * What tracing costs on the pod and container life cycle
 * (`BENCH_MAIN=tracing-cost make bench`): the same runs against berth with
 * tracing off (the default), and on with every trace sampled and exported
 * to a collector on loopback, alternating the two daemons so both see the
 * same machine. Prints each call's median, both ways, and the ratio.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pushFixtures } from '../e2e/fixtures/test-images.js';
import { type BerthDaemon, startBerth } from '../e2e/lib/berth-daemon.js';
import { call } from '../e2e/lib/cri-client.js';
import { startOtlpReceiver } from '../e2e/lib/otlp-receiver.js';
import { startRegistry } from '../e2e/lib/registry.js';
import { median } from './measure.js';
import { LIFECYCLE_CALLS, type LifecycleCall, lifecycle } from './workloads.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 40);

async function main(): Promise<void> {
  const work = await mkdtemp(path.join(tmpdir(), 'berth-tracing-cost-'));
  const registry = await startRegistry(path.join(work, 'registry'));
  const receiver = await startOtlpReceiver();
  const daemons: BerthDaemon[] = [];
  try {
    const fixtures = await pushFixtures(registry);
    const image = `${registry.host}/${fixtures.run.repo}:${fixtures.run.tag}`;
    const conf = `[[registry]]\nlocation = "${registry.host}"\ninsecure = true\n`;
    const off = await startBerth({ registriesConf: conf, extraArgs: ['--log-level', 'warn'] });
    daemons.push(off);
    const on = await startBerth({ registriesConf: conf, extraArgs: ['--log-level', 'warn', '--tracing-endpoint', receiver.endpoint] });
    daemons.push(on);
    const results = { off: [] as Record<LifecycleCall | 'total', number[]>[], on: [] as Record<LifecycleCall | 'total', number[]>[] };
    for (const [name, d] of [
      ['off', off],
      ['on', on],
    ] as const) {
      await call(d.client.image, d.client.image.PullImage, { image: { image } }, 120_000);
      await lifecycle(d.client, image, path.join(work, 'logs'), 3, `warm-${name}`);
    }
    // Alternating batches: drift of the machine falls on both sides alike.
    for (let done = 0; done < RUNS; done += 5) {
      results.off.push(await lifecycle(off.client, image, path.join(work, 'logs'), 5, `off-${done}`));
      results.on.push(await lifecycle(on.client, image, path.join(work, 'logs'), 5, `on-${done}`));
    }
    const merged = (side: 'off' | 'on', k: LifecycleCall | 'total') => results[side].flatMap((r) => r[k]);
    console.log(`life cycle medians over ${RUNS} runs (ms): tracing off, on (every trace sampled and exported), on/off`);
    for (const k of [...LIFECYCLE_CALLS, 'total'] as const) {
      const a = median(merged('off', k));
      const b = median(merged('on', k));
      console.log(`${k.padEnd(18)} ${a.toFixed(2).padStart(8)} ${b.toFixed(2).padStart(8)} ${(b / a).toFixed(3).padStart(7)}`);
    }
    console.log(`spans received: ${receiver.spans.length}`);
  } finally {
    for (const d of daemons) await d.destroy();
    await receiver.close();
    await registry.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
