import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { spawnBerth } from '../e2e/lib/berth-daemon.js';
import { call } from '../e2e/lib/cri-client.js';
import { readHostFacts } from '../src/host/host-facts.js';
import { startRegistry } from '../e2e/lib/registry.js';
import { pushFixtures } from '../e2e/fixtures/test-images.js';
import { prepareContainerd, spawnContainerd, sweepContainerd } from './containerd.js';
import { benchBerth, benchContainerd, benchCrio, type BenchDaemon, type RuntimeName } from './daemons.js';
import { findCrio, prepareCrio, spawnCrio, unmountCrio } from './crio.js';
import { imageCalls } from './images.js';
import { httpTransferMs, httpUnpackMs } from './http-floor.js';
import { grpcFloorMs, versionCalls } from './grpc-floor.js';
import { buildBigImage, tarFloorMs } from './big-image.js';
import { churn } from './churn.js';
import { restartToReady } from './restart.js';
import { stopChild, stopSpawned, timeToReady } from './startup.js';
import { bigPull, medianPull, type PullFigures } from './pull.js';
import { pollDense, startDensePods } from './density.js';
import { measureFloor } from './floor.js';
import { median, nodeBusyMs, processFigures, timed } from './measure.js';
import { writeReport, type BenchResults, type RuntimeResults } from './report.js';
import { measureCniFloor, removeBenchNetwork, writeBenchNetwork } from './network.js';
import { removeCgroupTree } from './cgroups.js';
import { unmountUnder } from './sweep.js';
import { BENCH_CGROUP, execProbes, lifecycle, parallelStart, removeAllPods, removePod, runSleeperPod, type RunningPod } from './workloads.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 50);
const PROBE_SECONDS = Number(process.env.BENCH_PROBE_SECONDS ?? 60);
const IMAGE_RUNS = Number(process.env.BENCH_IMAGE_RUNS ?? 20);
/** One density workload per size, in order (BENCH_DENSITY_PODS="100,250"). */
const DENSITY_PODS = (process.env.BENCH_DENSITY_PODS ?? '100,250')
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
const DENSITY_SECONDS = Number(process.env.BENCH_DENSITY_SECONDS ?? 60);
const CHURN_CYCLES = Number(process.env.BENCH_CHURN_CYCLES ?? 500);
const BIG_PULLS = Number(process.env.BENCH_BIG_PULLS ?? 3);

/**
 * The side-by-side benchmark: berth, containerd and (when given a binary)
 * CRI-O on private sockets and paths, the same images from one loopback
 * registry, the same CNI bridge network; workloads interleaved so that
 * drift on the machine hits every runtime alike.
 */
async function main(): Promise<void> {
  const work = await mkdtemp(path.join(tmpdir(), 'berth-bench-'));
  const cleanups: (() => Promise<unknown>)[] = [];
  // An interrupted run still takes down what it started.
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`${signal}: cleaning up`);
    // The workload is still running and fails as its daemons go (grpc-js
    // throws on a closed channel from a callback): that must not end the
    // process before every runtime's leftovers are taken down.
    const keepGoing = (err: unknown) => console.error(`during cleanup: ${String(err)}`);
    process.on('uncaughtException', keepGoing).on('unhandledRejection', keepGoing);
    void runCleanups(cleanups, work).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  try {
    const registry = await startRegistry(path.join(work, 'registry'));
    cleanups.push(() => registry.stop());
    // Runs after the runtimes' own cleanups: anything still mounted under the run's directory.
    cleanups.push(() => unmountUnder(work));
    const fixtures = await pushFixtures(registry);
    const image = `${registry.host}/${fixtures.run.repo}:${fixtures.run.tag}`;
    const pause = `${registry.host}/${fixtures.pause.repo}:${fixtures.pause.tag}`;

    const cniDir = await writeBenchNetwork(path.join(work, 'cni'));
    cleanups.push(removeBenchNetwork);
    // Runs after every runtime has stopped (cleanups run in reverse).
    cleanups.push(async () => {
      await removeCgroupTree(BENCH_CGROUP);
      await removeCgroupTree('crio');
    });

    const restrictOom = !(await readHostFacts()).hasSysResource;
    const crioBins = await findCrio();
    const notes: string[] = [];
    if ('skipped' in crioBins) {
      notes.push(crioBins.skipped);
      console.error(crioBins.skipped);
    }

    console.error('start to first Version, five fresh starts each');
    const startTimes: Partial<Record<RuntimeName, number[]>> = {};
    startTimes.berth = await timeDaemonStart(work, async (dir) => {
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
    const anchorOpts = { registry: registry.host, pauseImage: pause, cniConfDir: cniDir, restrictOom };
    startTimes.containerd = await timeDaemonStart(work, async (dir) => {
      const { config, socket } = await prepareContainerd(dir, anchorOpts);
      return { socket, spawnDaemon: () => spawnContainerd(config) };
    });
    if (!('skipped' in crioBins)) {
      startTimes.crio = await timeDaemonStart(
        work,
        async (dir) => {
          const { args, socket, logFile } = await prepareCrio(dir, crioBins, anchorOpts);
          return { socket, spawnDaemon: () => spawnCrio(crioBins.crio, args, logFile) };
        },
        (dir) => unmountCrio(dir),
      );
    }

    const berth = await benchBerth({
      registriesConf: insecure(registry.host),
      config: `[image]\npause_image = "${pause}"\n`,
      extraArgs: ['--cni-config-dir', cniDir, '--cni-plugin-dir', '/usr/lib/cni', '--log-level', 'warn'],
    });
    cleanups.push(async () => {
      await removeAllPods(berth.client).catch(() => undefined);
      await berth.destroy();
    });
    const containerd = await benchContainerd(path.join(work, 'containerd'), anchorOpts);
    cleanups.push(async () => {
      await removeAllPods(containerd.client).catch((err: unknown) => console.error(`containerd: ${String(err)}`));
      await containerd.stop();
      await sweepContainerd(path.join(work, 'containerd'));
    });
    const sides: BenchDaemon[] = [berth, containerd];
    if (!('skipped' in crioBins)) {
      const crio = await benchCrio(path.join(work, 'crio'), crioBins, anchorOpts);
      cleanups.push(async () => {
        await removeAllPods(crio.client).catch(() => undefined);
        await crio.destroy();
      });
      sides.push(crio);
    }

    const results: Partial<Record<RuntimeName, RuntimeResults>> = {};
    const resultsOf = (side: BenchDaemon): RuntimeResults => {
      results[side.name] ??= emptyResults(startTimes[side.name] ?? []);
      return results[side.name]!;
    };
    const smallImage = `${registry.host}/${fixtures.plain.repo}:${fixtures.plain.tag}`;
    for (const side of sides) {
      const r = resultsOf(side);
      const idle = await processFigures(side.pid);
      r.idleRssBytes = idle.rssBytes;
      r.idleRssAnonBytes = idle.rssAnonBytes;
      await call(side.client.image, side.client.image.PullImage, { image: { image } }, 120_000);
      await call(side.client.image, side.client.image.PullImage, { image: { image: pause } }, 120_000);
    }
    console.error(`image calls x${IMAGE_RUNS}, interleaved`);
    for (let done = 0; done < IMAGE_RUNS; done += 5) {
      for (const side of sides) {
        const got = await imageCalls(side.client, smallImage, Math.min(5, IMAGE_RUNS - done));
        for (const [k, v] of Object.entries(got)) append(resultsOf(side).images, k, v);
      }
    }

    console.error('Version x500 on each running daemon, interleaved, and on a bare grpc-js server');
    // Warmed up first, as the floor server is: the kubelet's polling is the steady state that matters.
    for (const side of sides) await versionCalls(side.client, 500);
    for (let done = 0; done < 500; done += 100) for (const side of sides) resultsOf(side).versionMs.push(...(await versionCalls(side.client, 100)));
    const grpcFloor = await grpcFloorMs(work, 1000);

    console.error(`building ${BIG_PULLS} pull images (6 gzip layers, >100 MB each, each its own random content)`);
    const bigs = [];
    for (let i = 0; i < BIG_PULLS; i++) bigs.push(await buildBigImage(registry, path.join(work, `big${i}`), `v${i}`));
    const pulls: Partial<Record<RuntimeName, PullFigures[]>> = {};
    for (const big of bigs) for (const side of sides) append(pulls, side.name, [await bigPull(side, big.ref)]);
    for (const side of sides) resultsOf(side).bigPull = medianPull(pulls[side.name] ?? []);
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
        for (const [k, v] of Object.entries(got)) append(resultsOf(side).lifecycle, k, v);
      }
    }
    console.error('parallel start x20');
    for (const side of sides) resultsOf(side).parallelStartMs = await parallelStart(side.client, image, logs, 20, side.name);

    console.error(`exec probes: 10 containers for ${PROBE_SECONDS} s`);
    for (const side of sides) {
      const r = resultsOf(side);
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

    for (const pods of DENSITY_PODS) {
      console.error(`density: ${pods} pods polled for ${DENSITY_SECONDS} s, then a restart`);
      for (const side of sides) {
        const running: RunningPod[] = [];
        try {
          await startDensePods(side.client, image, logs, pods, side.name, running);
          const figures = await pollDense(side.client, side.pid, pods, DENSITY_SECONDS);
          resultsOf(side).density.push({ ...figures, restartMs: await restartToReady(side, pods) });
        } finally {
          for (const { podId } of running) await removePod(side.client, podId);
        }
      }
    }

    console.error(`churn: ${CHURN_CYCLES} container create/start/stop/remove cycles`);
    for (const side of sides) resultsOf(side).churn = await churn(side.client, () => side.pid, image, logs, CHURN_CYCLES, side.name);

    console.error('raw runc floor');
    const floor = await measureFloor(path.join(work, 'floor'), Math.min(RUNS, 30));
    const cni = await measureCniFloor(10);
    const nodeBaseline = await emptyNodeFigures();
    const smallPullHttpMs = await httpTransferMs(registry.host, fixtures.plain.repo, fixtures.plain.tag, IMAGE_RUNS);
    const smallPullUnpackMs = await httpUnpackMs(registry.host, fixtures.plain.repo, fixtures.plain.tag, IMAGE_RUNS, path.join(work, 'small-unpack'));
    const bench: BenchResults = {
      date: new Date().toISOString(),
      runs: RUNS,
      imageRuns: IMAGE_RUNS,
      probeSeconds: PROBE_SECONDS,
      runtimes: results,
      notes,
      floor,
      cniAddDelMs: cni,
      smallPullHttpMs,
      smallPullUnpackMs,
      grpcFloorMs: grpcFloor,
      bigImage: { compressedBytes: big.compressedBytes, unpackedBytes: big.unpackedBytes, layers: big.layers, tarFloorMs: tarFloor },
      nodeBaseline,
    };
    const out = await writeReport(bench);
    console.error(`report: ${out}`);
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    await runCleanups(cleanups, work);
  }
}

async function runCleanups(cleanups: (() => Promise<unknown>)[], work: string): Promise<void> {
  // Daemons spawned unmanaged for start and restart timing go first, before the runtimes' sweeps;
  // from here on none is spawned, though the interrupted workload may still try.
  await stopSpawned().catch((err: unknown) => console.error(`cleanup: ${String(err)}`));
  // Last registered, first run; one the interrupted workload registers meanwhile is run too.
  for (let c = cleanups.pop(); c; c = cleanups.pop()) await c().catch((err: unknown) => console.error(`cleanup: ${String(err)}`));
  await rm(work, { recursive: true, force: true }).catch(() => undefined);
}

function append<K extends string, T>(into: Partial<Record<K, T[]>>, key: K, values: T[]): void {
  const list = into[key] ?? [];
  list.push(...values);
  into[key] = list;
}

function emptyResults(startMs: number[]): RuntimeResults {
  return {
    startToVersionMs: startMs,
    idleRssBytes: 0,
    idleRssAnonBytes: 0,
    busyRssBytes: 0,
    images: {},
    versionMs: [],
    lifecycle: {},
    parallelStartMs: 0,
    execProbeMs: [],
    execProbeNodeCpuMs: 0,
    execProbeDaemonCpuMs: 0,
    density: [],
  };
}

/** Resident memory of a node process that does nothing, and how long an empty script takes from spawn to exit. */
async function emptyNodeFigures(): Promise<BenchResults['nodeBaseline']> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 1000));
  const { rssBytes, rssAnonBytes } = await processFigures(child.pid!);
  await stopChild(child);
  const starts: number[] = [];
  for (let i = 0; i < 5; i++) {
    const [, ms] = await timed(
      () =>
        new Promise<void>((resolve, reject) => {
          const c = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
          c.once('error', reject);
          c.once('exit', () => resolve());
        }),
    );
    starts.push(ms);
  }
  // How long node takes to reach a script's first line, by its own clock (which starts with the process).
  const firstLines: number[] = [];
  for (let i = 0; i < 5; i++) {
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', 'process.stdout.write(String(performance.now()))']);
    firstLines.push(Number(stdout));
  }
  return { rssBytes, rssAnonBytes, startMs: median(starts), firstLineMs: median(firstLines) };
}

function insecure(host: string): string {
  return `[[registry]]\nlocation = "${host}"\ninsecure = true\n`;
}

/** Daemon start on fresh paths until its first answered Version, five times. */
async function timeDaemonStart(
  work: string,
  prepare: (dir: string) => Promise<{ socket: string; spawnDaemon: () => ChildProcess }>,
  afterStop?: (dir: string) => Promise<void>,
): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < 5; i++) {
    const dir = await mkdtemp(path.join(work, 'start-'));
    try {
      const { socket, spawnDaemon } = await prepare(dir);
      const { ms, child } = await timeToReady(spawnDaemon, socket);
      out.push(ms);
      await stopChild(child);
      await afterStop?.(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  return out;
}

await main();
