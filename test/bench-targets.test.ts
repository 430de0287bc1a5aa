import { describe, expect, it } from 'vitest';
import type { BenchResults, RuntimeResults } from '../bench/report.js';
import { bestAnchor } from '../bench/results.js';
import { checkTargets, churnIsFlat, rssPerPodBytes } from '../bench/targets.js';

const MiB = 1048576;
function side(over: Partial<RuntimeResults>, lifecycle: Record<string, number>, images: Record<string, number> = {}): RuntimeResults {
  const samples = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, [v, v, v]]));
  return {
    startToVersionMs: [200],
    idleRssBytes: 60 * MiB,
    idleRssAnonBytes: 15 * MiB,
    busyRssBytes: 0,
    images: samples(images),
    versionMs: [0.5],
    lifecycle: samples(lifecycle),
    parallelStartMs: 500,
    execProbeMs: [],
    execProbeNodeCpuMs: 1000,
    execProbeDaemonCpuMs: 100,
    density: [],
    ...over,
  };
}

const density = (pods: number, rssMiB: number, cpuMs: number, restartMs: number) => ({
  pods,
  listPodsMs: [2],
  listContainersMs: [2],
  containerStatusMs: [0.5],
  rss: Array.from({ length: 60 }, (_, i) => ({ t: i, bytes: rssMiB * MiB, anonBytes: 10 * MiB })),
  daemonCpuMs: cpuMs,
  restartMs,
});

describe('the benchmark targets', () => {
  const calls = {
    RunPodSandbox: 20,
    CreateContainer: 9,
    StartContainer: 35,
    StopContainer: 15,
    RemoveContainer: 2,
    StopPodSandbox: 27,
    RemovePodSandbox: 3,
    total: 111,
  };
  const containerd = {
    RunPodSandbox: 60,
    CreateContainer: 7,
    StartContainer: 43,
    StopContainer: 30,
    RemoveContainer: 2.5,
    StopPodSandbox: 48,
    RemovePodSandbox: 12,
    total: 203,
  };
  const crio = { ...containerd, RunPodSandbox: 18, StartContainer: 64, total: 230 };
  const results = (withCrio: boolean): BenchResults => ({
    date: 'x',
    runs: 3,
    imageRuns: 3,
    probeSeconds: 1,
    runtimes: {
      berth: side({ density: [density(100, 100, 3000, 600), density(250, 130, 6000, 900)] }, calls, { PullImage: 40, ImageStatus: 1 }),
      containerd: side(
        {
          idleRssBytes: 38 * MiB,
          idleRssAnonBytes: 8 * MiB,
          parallelStartMs: 900,
          execProbeNodeCpuMs: 1400,
          density: [density(100, 100, 2500, 400), density(250, 190, 5000, 700)],
        },
        containerd,
        { PullImage: 150, ImageStatus: 0.8 },
      ),
      ...(withCrio ? { crio: side({ idleRssBytes: 55 * MiB, startToVersionMs: [300] }, crio, { PullImage: 25, ImageStatus: 1.6 }) } : {}),
    },
    notes: [],
    floor: { plain: [60], overlay: [80] },
    cniAddDelMs: [35],
    smallPullHttpMs: [30],
    grpcFloorMs: [0.45],
    bigImage: { compressedBytes: 120e6, unpackedBytes: 164e6, layers: 6, tarFloorMs: 1100 },
    nodeBaseline: { rssBytes: 40 * MiB, rssAnonBytes: 6 * MiB, startMs: 40 },
  });

  it('compares every call with the best anchor present and says what was measured about a miss', () => {
    const byName = new Map(checkTargets(results(true)).map((c) => [c.target, c]));
    expect(byName.get('RunPodSandbox ≤ best anchor (crio)')?.met).toBe(false);
    expect(byName.get('StartContainer ≤ best anchor (containerd)')?.met).toBe(true);
    expect(byName.get('PullImage ≤ best anchor (crio)')?.met).toBe(false);
    expect(byName.get('ImageStatus ≤ best anchor (containerd)')?.met).toBe(false);
    expect(byName.get('summed life cycle ≤ best anchor (containerd)')?.met).toBe(true);
    const create = byName.get('CreateContainer ≤ best anchor (containerd)')!;
    expect(create.met).toBe(false);
    expect(create.cause).toContain('Create + Start together: berth 44.0 ms, containerd 50.0 ms, crio 71.0 ms');
    expect(byName.get('CreateContainer + StartContainer ≤ best anchor (containerd)')?.met).toBe(true);
    expect(byName.get('daemon RSS idle ≤ CRI-O')?.met).toBe(false);
    expect(byName.get('daemon RSS idle ≤ bare node + 20 MiB')?.met).toBe(true);
    expect(byName.get('cold small pull ≤ 1.2× its HTTP transfers')?.met).toBe(false);
    const version = byName.get('start to first Version < 100 ms')!;
    expect(version.met).toBe(false);
    expect(version.cause).toContain('40.0 ms from spawn to exit');
    expect(byName.get('restart with 100 running containers ≤ best anchor (containerd)')?.met).toBe(false);
    expect(byName.get('daemon RSS per pod ≤ best anchor (containerd)')?.met).toBe(true);
    expect(byName.get('Version ≤ a bare grpc-js server + 0.2 ms')?.met).toBe(true);
    const status = byName.get('ImageStatus ≤ best anchor (containerd)')!;
    expect(status.cause).toContain('a bare grpc-js server (bench/grpc-floor-server.ts) answers Version in 0.5 ms');
    expect([...byName.values()].filter((c) => c.met).every((c) => c.cause === undefined)).toBe(true);
  });

  it('falls back to containerd when CRI-O was not measured', () => {
    const byName = new Map(checkTargets(results(false)).map((c) => [c.target, c]));
    expect(byName.get('RunPodSandbox ≤ best anchor (containerd)')?.met).toBe(true);
    expect(byName.has('daemon RSS idle ≤ CRI-O')).toBe(false);
    expect(bestAnchor(results(false), (x) => x.idleRssBytes)?.name).toBe('containerd');
  });

  it('costs a pod as the RSS added between the density sizes', () => {
    const berth = results(false).runtimes.berth!;
    expect(rssPerPodBytes(berth) / 1024).toBeCloseTo((30 * 1024) / 150, 5);
    expect(rssPerPodBytes({ ...berth, density: berth.density.slice(0, 1) })).toBeNaN();
  });

  it('calls churn flat only when RSS does not climb', () => {
    const samples = (from: number, to: number) => Array.from({ length: 50 }, (_, i) => ({ cycle: (i + 1) * 10, bytes: (from + ((to - from) * i) / 49) * MiB }));
    expect(churnIsFlat({ cycles: 500, rss: samples(70, 71) })).toBe(true);
    expect(churnIsFlat({ cycles: 500, rss: samples(70, 90) })).toBe(false);
  });
});
