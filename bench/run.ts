import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { spawnBerth, startBerth, type BerthDaemon } from '../e2e/lib/berth-daemon.js';
import { call, type CriClient } from '../e2e/lib/cri-client.js';
import { podConfig } from '../e2e/lib/pods.js';
import { startRegistry } from '../e2e/lib/registry.js';
import { pushFixtures } from '../e2e/fixtures/test-images.js';
import { prepareContainerd, spawnContainerd, startContainerd, type Containerd } from './containerd.js';
import { stopChild, timeToVersion } from './startup.js';
import { density } from './density.js';
import { measureFloor } from './floor.js';
import { nodeBusyMs, processFigures, timed } from './measure.js';
import { writeReport, type BenchResults, type RuntimeResults } from './report.js';
import { execProbes, lifecycle, parallelStart, removeAllPods, sleeper } from './workloads.js';

const sh = promisify(execFile);
const RUNS = Number(process.env.BENCH_RUNS ?? 50);
const PROBE_SECONDS = Number(process.env.BENCH_PROBE_SECONDS ?? 60);
const DENSITY_PODS = Number(process.env.BENCH_DENSITY_PODS ?? 100);
const DENSITY_SECONDS = Number(process.env.BENCH_DENSITY_SECONDS ?? 60);
const BRIDGE = 'berthbench0';
const NETWORK = 'berth-bench';

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

    const cniDir = path.join(work, 'cni');
    await mkdir(cniDir, { recursive: true });
    await writeFile(path.join(cniDir, '10-bench.conflist'), JSON.stringify({
      cniVersion: '1.0.0', name: NETWORK,
      plugins: [
        { type: 'bridge', bridge: BRIDGE, isGateway: true, ipMasq: false, hairpinMode: true, ipam: { type: 'host-local', ranges: [[{ subnet: '10.233.0.0/16' }]], routes: [{ dst: '0.0.0.0/0' }] } },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    }));
    cleanups.push(async () => {
      await sh('ip', ['link', 'del', BRIDGE]).catch(() => undefined);
      await rm(`/var/lib/cni/networks/${NETWORK}`, { recursive: true, force: true });
    });

    const restrictOom = !(await hasCapSysResource());
    const berthStart = await timeDaemonStart(async (dir) => {
      await mkdir(path.join(dir, 'conf.d'), { recursive: true });
      const socket = path.join(dir, 'run', 'berth.sock');
      return { socket, spawnDaemon: () => spawnBerth(['serve', '--config', '/dev/null', '--config-dir', path.join(dir, 'conf.d'), '--listen', socket, '--root', path.join(dir, 'root'), '--runroot', path.join(dir, 'run'), '--cni-config-dir', cniDir, '--cni-plugin-dir', '/usr/lib/cni', '--log-level', 'warn']) };
    });
    const berth: BerthDaemon = await startBerth({ registriesConf: insecure(registry.host), config: `[image]\npause_image = "${pause}"\n`, extraArgs: ['--cni-config-dir', cniDir, '--cni-plugin-dir', '/usr/lib/cni', '--log-level', 'warn'] });
    cleanups.push(async () => { await removeAllPods(berth.client).catch(() => undefined); await berth.destroy(); });
    const ctrStart = await timeDaemonStart(async (dir) => {
      const { config, socket } = await prepareContainerd(dir, { registry: registry.host, pauseImage: pause, cniConfDir: cniDir, restrictOom });
      return { socket, spawnDaemon: () => spawnContainerd(config) };
    });
    const containerd: Containerd = await startContainerd(path.join(work, 'containerd'), { registry: registry.host, pauseImage: pause, cniConfDir: cniDir, restrictOom });
    cleanups.push(async () => { await removeAllPods(containerd.client).catch(() => undefined); await containerd.stop(); });

    const sides = [
      { name: 'berth' as const, client: berth.client, pid: berth.process.pid! },
      { name: 'containerd' as const, client: containerd.client, pid: containerd.pid },
    ];
    const results: Record<'berth' | 'containerd', RuntimeResults> = {
      berth: emptyResults(berthStart), containerd: emptyResults(ctrStart),
    };
    for (const side of sides) {
      const r = results[side.name];
      r.idleRssBytes = (await processFigures(side.pid)).rssBytes;
      const [, pullMs] = await timed(() => call(side.client.image, side.client.image.PullImage, { image: { image } }, 120_000));
      r.pullMs = pullMs;
      await call(side.client.image, side.client.image.PullImage, { image: { image: pause } }, 120_000);
      for (let i = 0; i < 20; i++) r.listImagesMs.push((await timed(() => call(side.client.image, side.client.image.ListImages, {})))[1]);
    }

    const logs = path.join(work, 'logs');
    console.error('warming up');
    for (const side of sides) await lifecycle(side.client, image, logs, 3, `warm-${side.name}`);
    console.error(`life cycle x${RUNS}, interleaved`);
    for (let done = 0; done < RUNS; done += 5) {
      for (const side of sides) {
        const got = await lifecycle(side.client, image, logs, Math.min(5, RUNS - done), `${side.name}-${done}`);
        for (const [k, v] of Object.entries(got)) (results[side.name].lifecycle[k] ??= []).push(...v);
      }
    }
    console.error('parallel start x20');
    for (const side of sides) results[side.name].parallelStartMs = await parallelStart(side.client, image, logs, 20, side.name);

    console.error(`exec probes: 10 containers for ${PROBE_SECONDS} s`);
    for (const side of sides) {
      const r = results[side.name];
      const ids = await startContainers(side.client, image, logs, 10, `probe-${side.name}`);
      const busy0 = await nodeBusyMs();
      const cpu0 = (await processFigures(side.pid)).cpuMs;
      r.execProbeMs = await execProbes(side.client, ids.map((x) => x.containerId), PROBE_SECONDS);
      r.execProbeNodeCpuMs = (await nodeBusyMs()) - busy0;
      r.execProbeDaemonCpuMs = (await processFigures(side.pid)).cpuMs - cpu0;
      r.busyRssBytes = (await processFigures(side.pid)).rssBytes;
      for (const { podId } of ids) {
        await call(side.client.runtime, side.client.runtime.StopPodSandbox, { podSandboxId: podId });
        await call(side.client.runtime, side.client.runtime.RemovePodSandbox, { podSandboxId: podId });
      }
    }

    console.error(`density: ${DENSITY_PODS} pods polled for ${DENSITY_SECONDS} s`);
    for (const side of sides) results[side.name].density = await density(side.client, side.pid, image, logs, DENSITY_PODS, DENSITY_SECONDS, side.name);

    console.error('raw runc floor');
    const floor = await measureFloor(path.join(work, 'floor'), Math.min(RUNS, 30));
    const cni = await measureCni(cniDir, path.join(work, 'cni-floor'), 10);
    const bench: BenchResults = { date: new Date().toISOString(), runs: RUNS, probeSeconds: PROBE_SECONDS, berth: results.berth, containerd: results.containerd, floor, cniAddDelMs: cni };
    const out = await writeReport(bench);
    console.error(`report: ${out}`);
  } finally {
    for (const c of cleanups.reverse()) await c().catch((err: unknown) => console.error(`cleanup: ${String(err)}`));
    await rm(work, { recursive: true, force: true }).catch(() => undefined);
  }
}

function emptyResults(startMs: number[]): RuntimeResults {
  return { startToVersionMs: startMs, idleRssBytes: 0, busyRssBytes: 0, pullMs: 0, listImagesMs: [], lifecycle: {}, parallelStartMs: 0, execProbeMs: [], execProbeNodeCpuMs: 0, execProbeDaemonCpuMs: 0 };
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
      const { ms, child } = await timeToVersion(spawnDaemon, socket);
      out.push(ms);
      await stopChild(child);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  return out;
}

async function startContainers(client: CriClient, image: string, logDir: string, n: number, tag: string): Promise<{ podId: string; containerId: string }[]> {
  const rt = client.runtime;
  const out: { podId: string; containerId: string }[] = [];
  for (let i = 0; i < n; i++) {
    const pod = podConfig(`${tag}-${i}`, path.join(logDir, `${tag}-${i}`));
    const podId = (await call(rt, rt.RunPodSandbox, { config: pod })).podSandboxId;
    const containerId = (await call(rt, rt.CreateContainer, { podSandboxId: podId, config: sleeper(image), sandboxConfig: pod })).containerId;
    await call(rt, rt.StartContainer, { containerId });
    out.push({ podId, containerId });
  }
  return out;
}

/** The CNI plugins' own ADD + DEL time for a fresh network namespace. */
async function measureCni(confDir: string, dir: string, runs: number): Promise<number[]> {
  const conf = JSON.parse(await readFile(path.join(confDir, '10-bench.conflist'), 'utf8')) as { cniVersion: string; name: string; plugins: Record<string, unknown>[] };
  await mkdir(dir, { recursive: true });
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const ns = `berthbench-cni-${process.pid}-${i}`;
    await sh('ip', ['netns', 'add', ns]);
    try {
      const [, ms] = await timed(async () => {
        // The bridge plugin (with host-local IPAM) is the part of pod set-up
        // and tear-down that neither runtime can avoid.
        const bridge = conf.plugins.find((p) => p.type === 'bridge')!;
        for (const cmd of ['ADD', 'DEL']) await execPlugin('bridge', cmd, ns, { cniVersion: conf.cniVersion, name: conf.name, ...bridge });
      });
      out.push(ms);
    } finally {
      await sh('ip', ['netns', 'del', ns]).catch(() => undefined);
    }
  }
  return out;
}

async function execPlugin(type: string, command: string, ns: string, conf: Record<string, unknown>): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn(`/usr/lib/cni/${type}`, [], {
      env: { CNI_COMMAND: command, CNI_CONTAINERID: ns, CNI_NETNS: `/run/netns/${ns}`, CNI_IFNAME: 'eth0', CNI_PATH: '/usr/lib/cni' },
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${type} ${command}: ${code} ${err}`))));
    child.stdin.end(JSON.stringify(conf));
  });
}

async function hasCapSysResource(): Promise<boolean> {
  const status = await readFile('/proc/self/status', 'utf8');
  const eff = BigInt(`0x${/CapEff:\s+([0-9a-f]+)/.exec(status)?.[1] ?? '0'}`);
  return (eff & (1n << 24n)) !== 0n;
}

await main();
