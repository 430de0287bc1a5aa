import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type ChildProcess, spawn } from 'node:child_process';
import { spawnBerth } from '../e2e/lib/berth-daemon.js';
import { call } from '../e2e/lib/cri-client.js';
import { readHostFacts } from '../src/host/host-facts.js';
import { startRegistry } from '../e2e/lib/registry.js';
import { pushFixtures } from '../e2e/fixtures/test-images.js';
import { prepareContainerd, spawnContainerd } from './containerd.js';
import { benchBerth, benchContainerd, type BenchDaemon } from './daemons.js';
import { buildBigImage, tarFloorMs } from './big-image.js';
import { churn } from './churn.js';
import { restartToReady } from './restart.js';
import { stopChild, timeToReady } from './startup.js';
import { bigPull, medianPull, type PullFigures } from './pull.js';
import { pollDense, startDensePods } from './density.js';
import { measureFloor } from './floor.js';
import { median, nodeBusyMs, processFigures, timed } from './measure.js';
import { writeReport, type BenchResults, type RuntimeResults } from './report.js';
import { measureCniFloor, removeBenchNetwork, writeBenchNetwork } from './network.js';
import { execProbes, lifecycle, parallelStart, removeAllPods, removePod, runSleeperPod, type RunningPod } from './workloads.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 50);
const PROBE_SECONDS = Number(process.env.BENCH_PROBE_SECONDS ?? 60);
const DENSITY_PODS = Number(process.env.BENCH_DENSITY_PODS ?? 100);
const DENSITY_SECONDS = Number(process.env.BENCH_DENSITY_SECONDS ?? 60);
const CHURN_CYCLES = Number(process.env.BENCH_CHURN_CYCLES ?? 500);
const BIG_PULLS = Number(process.env.BENCH_BIG_PULLS ?? 3);

/**
 * The side-by-side benchmark: berth and containerd on private sockets and
 * paths, the same images from one loopback registry, the same CNI bridge
 * network; workloads interleaved so that drift on the machine hits both.
 */
async function main(): Promise<void> {
  const work = await mkdtemp(path.join(tmpdir(), 'berth-bench-'));
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    const registry = await startRegistry(path.join(work, 'registry'));
    cleanups.push(() => registry.stop());
    const fixtures = await pushFixtures(registry);
    const image = `${registry.host}/${fixtures.run.repo}:${fixtures.run.tag}`;
    const pause = `${registry.host}/${fixtures.pause.repo}:${fixtures.pause.tag}`;

    const cniDir = await writeBenchNetwork(path.join(work, 'cni'));
    cleanups.push(removeBenchNetwork);

    const restrictOom = !(await readHostFacts()).hasSysResource;
    const berthStart = await timeDaemonStart(async (dir) => {
      await mkdir(path.join(dir, 'conf.d'), { recursive: true });
      const socket = path.join(dir, 'run', 'berth.sock');
      return {
        socket,
        spawnDaemon: () =>
          spawnBerth([
            'serve',
            '--config',
            '/dev/null',
            '--config-dir',
            path.join(dir, 'conf.d'),
            '--listen',
            socket,
            '--root',
            path.join(dir, 'root'),
            '--runroot',
            path.join(dir, 'run'),
            '--cni-config-dir',
            cniDir,
            '--cni-plugin-dir',
            '/usr/lib/cni',
            '--log-level',
            'warn',
          ]),
      };
    });
    const berth = await benchBerth({
      registriesConf: insecure(registry.host),
      config: `[image]\npause_image = "${pause}"\n`,
      extraArgs: ['--cni-config-dir', cniDir, '--cni-plugin-dir', '/usr/lib/cni', '--log-level', 'warn'],
    });
    cleanups.push(async () => {
      await removeAllPods(berth.client).catch(() => undefined);
      await berth.destroy();
    });
    const ctrStart = await timeDaemonStart(async (dir) => {
      const { config, socket } = await prepareContainerd(dir, { registry: registry.host, pauseImage: pause, cniConfDir: cniDir, restrictOom });
      return { socket, spawnDaemon: () => spawnContainerd(config) };
    });
    const containerd = await benchContainerd(path.join(work, 'containerd'), { registry: registry.host, pauseImage: pause, cniConfDir: cniDir, restrictOom });
    cleanups.push(async () => {
      await removeAllPods(containerd.client).catch(() => undefined);
      await containerd.stop();
    });

    const sides: BenchDaemon[] = [berth, containerd];
    const results: Record<'berth' | 'containerd', RuntimeResults> = {
      berth: emptyResults(berthStart),
      containerd: emptyResults(ctrStart),
    };
    for (const side of sides) {
      const r = results[side.name];
      const idle = await processFigures(side.pid);
      r.idleRssBytes = idle.rssBytes;
      r.idleRssAnonBytes = idle.rssAnonBytes;
      const [, pullMs] = await timed(() => call(side.client.image, side.client.image.PullImage, { image: { image } }, 120_000));
      r.pullMs = pullMs;
      await call(side.client.image, side.client.image.PullImage, { image: { image: pause } }, 120_000);
      for (let i = 0; i < 20; i++) r.listImagesMs.push((await timed(() => call(side.client.image, side.client.image.ListImages, {})))[1]);
    }

    console.error(`building ${BIG_PULLS} pull images (6 gzip layers, >100 MB each, each its own random content)`);
    const bigs = [];
    for (let i = 0; i < BIG_PULLS; i++) bigs.push(await buildBigImage(registry, path.join(work, `big${i}`), `v${i}`));
    const pulls: Record<string, PullFigures[]> = { berth: [], containerd: [] };
    for (const big of bigs) for (const side of sides) pulls[side.name]!.push(await bigPull(side, big.ref));
    for (const side of sides) results[side.name].bigPull = medianPull(pulls[side.name]!);
    const tarFloors: number[] = [];
    for (const big of bigs) tarFloors.push(await tarFloorMs(big, path.join(work, 'tar-floor')));
    const big = bigs[0]!;
    const tarFloor = median(tarFloors);

    const logs = path.join(work, 'logs');
    console.error('warming up');
    for (const side of sides) await lifecycle(side.client, image, logs, 3, `warm-${side.name}`);
    console.error(`life cycle x${RUNS}, interleaved`);
    for (let done = 0; done < RUNS; done += 5) {
      for (const side of sides) {
        const got = await lifecycle(side.client, image, logs, Math.min(5, RUNS - done), `${side.name}-${done}`);
        for (const [k, v] of Object.entries(got)) {
          results[side.name].lifecycle[k] ??= [];
          results[side.name].lifecycle[k].push(...v);
        }
      }
    }
    console.error('parallel start x20');
    for (const side of sides) results[side.name].parallelStartMs = await parallelStart(side.client, image, logs, 20, side.name);

    console.error(`exec probes: 10 containers for ${PROBE_SECONDS} s`);
    for (const side of sides) {
      const r = results[side.name];
      const ids: RunningPod[] = [];
      for (let i = 0; i < 10; i++) ids.push(await runSleeperPod(side.client, image, logs, `probe-${side.name}-${i}`));
      const busy0 = await nodeBusyMs();
      const cpu0 = (await processFigures(side.pid)).cpuMs;
      r.execProbeMs = await execProbes(
        side.client,
        ids.map((x) => x.containerId),
        PROBE_SECONDS,
      );
      r.execProbeNodeCpuMs = (await nodeBusyMs()) - busy0;
      r.execProbeDaemonCpuMs = (await processFigures(side.pid)).cpuMs - cpu0;
      r.busyRssBytes = (await processFigures(side.pid)).rssBytes;
      for (const { podId } of ids) await removePod(side.client, podId);
    }

    console.error(`density: ${DENSITY_PODS} pods polled for ${DENSITY_SECONDS} s, then a restart`);
    for (const side of sides) {
      const pods: RunningPod[] = [];
      try {
        await startDensePods(side.client, image, logs, DENSITY_PODS, side.name, pods);
        results[side.name].density = await pollDense(side.client, side.pid, DENSITY_PODS, DENSITY_SECONDS);
        results[side.name].restartMs = await restartToReady(side, DENSITY_PODS);
      } finally {
        for (const { podId } of pods) await removePod(side.client, podId);
      }
    }

    console.error(`churn: ${CHURN_CYCLES} container create/start/stop/remove cycles`);
    for (const side of sides) results[side.name].churn = await churn(side.client, () => side.pid, image, logs, CHURN_CYCLES, side.name);

    console.error('raw runc floor');
    const floor = await measureFloor(path.join(work, 'floor'), Math.min(RUNS, 30));
    const cni = await measureCniFloor(10);
    const nodeBaseline = await emptyNodeFigures();
    const bench: BenchResults = {
      date: new Date().toISOString(),
      runs: RUNS,
      probeSeconds: PROBE_SECONDS,
      berth: results.berth,
      containerd: results.containerd,
      floor,
      cniAddDelMs: cni,
      bigImage: { compressedBytes: big.compressedBytes, unpackedBytes: big.unpackedBytes, layers: big.layers, tarFloorMs: tarFloor },
      nodeBaseline,
    };
    const out = await writeReport(bench);
    console.error(`report: ${out}`);
  } finally {
    for (const c of cleanups.reverse()) await c().catch((err: unknown) => console.error(`cleanup: ${String(err)}`));
    await rm(work, { recursive: true, force: true }).catch(() => undefined);
  }
}

function emptyResults(startMs: number[]): RuntimeResults {
  return {
    startToVersionMs: startMs,
    idleRssBytes: 0,
    idleRssAnonBytes: 0,
    busyRssBytes: 0,
    pullMs: 0,
    listImagesMs: [],
    lifecycle: {},
    parallelStartMs: 0,
    execProbeMs: [],
    execProbeNodeCpuMs: 0,
    execProbeDaemonCpuMs: 0,
  };
}

/** Resident memory of a node process that does nothing. */
async function emptyNodeFigures(): Promise<{ rssBytes: number; rssAnonBytes: number }> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 1000));
  const { rssBytes, rssAnonBytes } = await processFigures(child.pid!);
  await stopChild(child);
  return { rssBytes, rssAnonBytes };
}

function insecure(host: string): string {
  return `[[registry]]\nlocation = "${host}"\ninsecure = true\n`;
}

/** Daemon start on fresh paths until its first answered Version, five times. */
async function timeDaemonStart(prepare: (dir: string) => Promise<{ socket: string; spawnDaemon: () => ChildProcess }>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < 5; i++) {
    const dir = await mkdtemp(path.join(tmpdir(), 'berth-bench-start-'));
    try {
      const { socket, spawnDaemon } = await prepare(dir);
      const { ms, child } = await timeToReady(spawnDaemon, socket);
      out.push(ms);
      await stopChild(child);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  return out;
}

await main();
