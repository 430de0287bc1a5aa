import { describe, expect, it } from 'vitest';
import type { BenchResults, RuntimeResults } from '../bench/report.js';
import { checkTargets, churnIsFlat } from '../bench/targets.js';

const MiB = 1048576;
function side(over: Partial<RuntimeResults>, lifecycle: Record<string, number>): RuntimeResults {
  return {
    startToVersionMs: [200],
    idleRssBytes: 60 * MiB,
    idleRssAnonBytes: 15 * MiB,
    busyRssBytes: 0,
    pullMs: 0,
    listImagesMs: [],
    lifecycle: Object.fromEntries(Object.entries(lifecycle).map(([k, v]) => [k, [v, v, v]])),
    parallelStartMs: 500,
    execProbeMs: [],
    execProbeNodeCpuMs: 1000,
    execProbeDaemonCpuMs: 100,
    ...over,
  };
}

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
  const theirs = {
    RunPodSandbox: 60,
    CreateContainer: 7,
    StartContainer: 43,
    StopContainer: 30,
    RemoveContainer: 2.5,
    StopPodSandbox: 48,
    RemovePodSandbox: 12,
    total: 203,
  };
  const results: BenchResults = {
    date: 'x',
    runs: 3,
    probeSeconds: 1,
    berth: side({}, calls),
    containerd: side({ idleRssBytes: 38 * MiB, idleRssAnonBytes: 8 * MiB, parallelStartMs: 900, execProbeNodeCpuMs: 1400 }, theirs),
    floor: { plain: [60], overlay: [80] },
    cniAddDelMs: [35],
    bigImage: { compressedBytes: 120e6, unpackedBytes: 164e6, layers: 6, tarFloorMs: 1100 },
    nodeBaseline: { rssBytes: 40 * MiB, rssAnonBytes: 6 * MiB },
  } as BenchResults;

  it('checks each target and says what was measured about a miss', () => {
    const checks = checkTargets(results);
    const byName = new Map(checks.map((c) => [c.target, c]));
    expect(byName.get('RunPodSandbox ≤ containerd')?.met).toBe(true);
    expect(byName.get('whole life cycle ≤ 0.9× containerd')?.met).toBe(true);
    expect(byName.get('whole life cycle ≤ 1.3× (overlay floor + CNI)')?.met).toBe(true);
    const create = byName.get('CreateContainer ≤ containerd')!;
    expect(create.met).toBe(false);
    expect(create.cause).toContain('Create + Start together: berth 44.0 ms, containerd 50.0 ms');
    const idle = byName.get('daemon RSS idle ≤ containerd')!;
    expect(idle.met).toBe(false);
    expect(idle.cause).toContain('an empty node process is already 40.0 MiB resident');
    expect(byName.get('start to first Version < 300 ms')?.met).toBe(true);
    expect(checks.filter((c) => c.met).every((c) => c.cause === undefined)).toBe(true);
  });

  it('calls churn flat only when RSS does not climb', () => {
    const samples = (from: number, to: number) => Array.from({ length: 50 }, (_, i) => ({ cycle: (i + 1) * 10, bytes: (from + ((to - from) * i) / 49) * MiB }));
    expect(churnIsFlat({ cycles: 500, rss: samples(70, 71) })).toBe(true);
    expect(churnIsFlat({ cycles: 500, rss: samples(70, 90) })).toBe(false);
  });
});
