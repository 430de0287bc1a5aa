import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startBerth } from '../e2e/lib/berth-daemon.js';
import { call } from '../e2e/lib/cri-client.js';
import { pushFixtures } from '../e2e/fixtures/test-images.js';
import { startRegistry } from '../e2e/lib/registry.js';
import { median, processFigures, timed } from './measure.js';
import { buildBigImage } from './big-image.js';
import { pollDense, startDensePods } from './density.js';
import { IMAGE_CALLS, imageCalls } from './images.js';
import { lifecycle, LIFECYCLE_CALLS, removeAllPods, type RunningPod, runSleeperPod } from './workloads.js';

/**
 * Profiles berth alone with the daemon under `--cpu-prof`, then prints
 * where its CPU went: the hottest functions by self time and the share of
 * each package. `make profile` runs it. BENCH_PROFILE picks the workload:
 *   lifecycle (default)  BENCH_RUNS pod + container life cycles, with call medians
 *   poll                 30 running pods under a PLEG-like poll for 20 s
 *   pull                 a cold pull of the benchmark's 120 MB image
 *   images               BENCH_RUNS rounds of the image calls (bench/images.ts)
 *   calls                the cheap calls the kubelet polls (Version, ImageStatus,
 *                        ListImages, ListPodSandbox, ContainerStatus), 2000 each
 */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const MODE = process.env.BENCH_PROFILE ?? 'lifecycle';

function owner(url: string): string {
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  // The daemon runs from its bundle, its dependencies inside: one owner.
  if (url.includes('/bundle/')) return 'berth bundle (berth and the modules it bundles)';
  if (url.startsWith('node:')) return url;
  return url === '' ? '(native, gc, idle)' : url;
}

function summarise(profile: CpuProfile): { functions: [string, number][]; owners: [string, number][]; totalMs: number } {
  const self = new Map<number, number>();
  for (const [i, id] of profile.samples.entries()) self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  const byFunction = new Map<string, number>();
  const byOwner = new Map<string, number>();
  let totalMs = 0;
  for (const node of profile.nodes) {
    const us = self.get(node.id) ?? 0;
    if (node.callFrame.functionName === '(idle)') continue;
    totalMs += us / 1000;
    const fn = `${node.callFrame.functionName || '(anonymous)'} ${node.callFrame.url.replace(/^.*\/(bundle|node_modules)\//, '$1/')}:${node.callFrame.lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us / 1000);
    const o = owner(node.callFrame.url);
    byOwner.set(o, (byOwner.get(o) ?? 0) + us / 1000);
  }
  const top = (m: Map<string, number>, n: number) => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, n);
  return { functions: top(byFunction, 30), owners: top(byOwner, 20), totalMs };
}

async function main(): Promise<void> {
  const work = await mkdtemp(path.join(tmpdir(), 'berth-profile-'));
  const profDir = path.join(work, 'prof');
  const registry = await startRegistry(path.join(work, 'registry'));
  try {
    const fixtures = await pushFixtures(registry);
    const image = `${registry.host}/${fixtures.run.repo}:${fixtures.run.tag}`;
    const berth = await startBerth({
      registriesConf: `[[registry]]\nlocation = "${registry.host}"\ninsecure = true\n`,
      extraArgs: ['--log-level', 'warn'],
      nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`],
    });
    try {
      await call(berth.client.image, berth.client.image.PullImage, { image: { image } }, 120_000);
      const logs = path.join(work, 'logs');
      if (MODE === 'pull') {
        const big = await buildBigImage(registry, path.join(work, 'big'), 'v1');
        const before = await processFigures(berth.process.pid!);
        const [, ms] = await timed(() => call(berth.client.image, berth.client.image.PullImage, { image: { image: big.ref } }, 600_000));
        const after = await processFigures(berth.process.pid!);
        const mib = (n: number) => (n / 1048576).toFixed(1);
        console.log(
          `pull of ${(big.compressedBytes / 1e6).toFixed(0)} MB: ${ms.toFixed(0)} ms, daemon CPU ${after.cpuMs - before.cpuMs} ms (${after.sysCpuMs - before.sysCpuMs} ms in the kernel); daemon RSS ${mib(before.rssBytes)} -> ${mib(after.rssBytes)} MiB (anonymous ${mib(before.rssAnonBytes)} -> ${mib(after.rssAnonBytes)})`,
        );
      } else if (MODE === 'images') {
        const got = await imageCalls(berth.client, `${registry.host}/${fixtures.plain.repo}:${fixtures.plain.tag}`, RUNS);
        for (const k of IMAGE_CALLS) console.log(`${k.padEnd(20)} p50 ${median(got[k]).toFixed(2)} ms  (${got[k].map((x) => x.toFixed(1)).join(' ')})`);
      } else if (MODE === 'calls') {
        const pod = await runSleeperPod(berth.client, image, logs, 'calls');
        const rt = berth.client.runtime;
        const img = berth.client.image;
        const calls: [string, () => Promise<unknown>][] = [
          ['Version', () => call(rt, rt.Version, {})],
          ['ImageStatus', () => call(img, img.ImageStatus, { image: { image } })],
          ['ListImages', () => call(img, img.ListImages, {})],
          ['ListPodSandbox', () => call(rt, rt.ListPodSandbox, {})],
          ['ContainerStatus', () => call(rt, rt.ContainerStatus, { containerId: pod.containerId })],
        ];
        for (const [name, fn] of calls) {
          const samples: number[] = [];
          for (let i = 0; i < 2000; i++) samples.push((await timed(fn))[1]);
          console.log(`${name.padEnd(18)} p50 ${median(samples).toFixed(3)} ms`);
        }
      } else if (MODE === 'poll') {
        const pods: RunningPod[] = [];
        await startDensePods(berth.client, image, logs, 30, 'profile', pods);
        const got = await pollDense(berth.client, berth.process.pid!, 30, 20);
        console.log(
          `ListPodSandbox ${median(got.listPodsMs).toFixed(2)} ms, ListContainers ${median(got.listContainersMs).toFixed(2)} ms, ContainerStatus ${median(got.containerStatusMs).toFixed(2)} ms, daemon CPU ${got.daemonCpuMs} ms`,
        );
      } else {
        await lifecycle(berth.client, image, logs, 3, 'warm');
        const got = await lifecycle(berth.client, image, logs, RUNS, 'run');
        for (const k of [...LIFECYCLE_CALLS, 'total'] as const) console.log(`${k.padEnd(18)} ${median(got[k]).toFixed(1)} ms`);
      }
      await removeAllPods(berth.client);
    } finally {
      await berth.stop();
    }
    const [file] = (await readdir(profDir)).filter((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error('berth wrote no CPU profile');
    const { functions, owners, totalMs } = summarise(JSON.parse(await readFile(path.join(profDir, file), 'utf8')) as CpuProfile);
    console.log(`\nberth CPU, whole run: ${totalMs.toFixed(0)} ms\n\nby package:`);
    for (const [o, ms] of owners) console.log(`${ms.toFixed(1).padStart(9)} ms  ${o}`);
    console.log('\nhottest functions (self time):');
    for (const [f, ms] of functions) console.log(`${ms.toFixed(1).padStart(9)} ms  ${f}`);
    await rm(berth.dir, { recursive: true, force: true });
  } finally {
    await registry.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
