import type { ChurnFigures } from './churn.js';
import { median } from './measure.js';
import type { BenchResults } from './report.js';
import { LIFECYCLE_CALLS } from './workloads.js';

export interface TargetCheck {
  target: string;
  measured: string;
  bound: string;
  met: boolean | undefined;
}

const ms = (n: number) => `${n.toFixed(1)} ms`;
const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

/** RSS growth under churn: the mean of the last tenth of the samples over the first tenth. */
export function churnGrowthBytes(c: ChurnFigures): number {
  const tenth = Math.max(1, Math.floor(c.rss.length / 10));
  const mean = (xs: { bytes: number }[]) => xs.reduce((s, x) => s + x.bytes, 0) / xs.length;
  return mean(c.rss.slice(-tenth)) - mean(c.rss.slice(0, tenth));
}

/** Flat: less than 2 MiB or 5 % of growth, which is what heap sizing noise reaches. */
export function churnIsFlat(c: ChurnFigures): boolean {
  const first = c.rss[0]?.bytes ?? 0;
  return churnGrowthBytes(c) < Math.max(2 * 1048576, first * 0.05);
}

/** Each target of issue 8, checked against the run's medians. */
export function checkTargets(r: BenchResults): TargetCheck[] {
  const b = r.berth;
  const c = r.containerd;
  const out: TargetCheck[] = [];
  const atMost = (target: string, value: number, bound: number, fmt: (n: number) => string, boundText?: string) => {
    const known = Number.isFinite(value) && Number.isFinite(bound);
    out.push({ target, measured: fmt(value), bound: boundText ?? fmt(bound), met: known ? value <= bound : undefined });
  };
  for (const k of LIFECYCLE_CALLS) atMost(`${k} ≤ containerd`, median(b.lifecycle[k] ?? []), median(c.lifecycle[k] ?? []), ms);
  const total = median(b.lifecycle.total ?? []);
  atMost('whole life cycle ≤ 0.9× containerd', total, 0.9 * median(c.lifecycle.total ?? []), ms);
  atMost('whole life cycle ≤ 1.3× (overlay floor + CNI)', total, 1.3 * (median(r.floor.overlay) + median(r.cniAddDelMs)), ms);
  atMost('parallel start of 20 ≤ containerd', b.parallelStartMs, c.parallelStartMs, ms);
  atMost('exec-probe node CPU ≤ containerd', b.execProbeNodeCpuMs, c.execProbeNodeCpuMs, ms);
  if (b.density) {
    atMost(`ListPodSandbox at ${b.density.pods} pods < 5 ms`, median(b.density.listPodsMs), 5, ms);
    atMost(`ListContainers at ${b.density.pods} pods < 5 ms`, median(b.density.listContainersMs), 5, ms);
    atMost('ContainerStatus < 1 ms', median(b.density.containerStatusMs), 1, ms);
  }
  atMost('daemon RSS idle ≤ containerd', b.idleRssBytes, c.idleRssBytes, mib);
  if (b.density && c.density) atMost(`daemon RSS at ${b.density.pods} pods ≤ containerd`, b.density.rss.at(-1)?.bytes ?? NaN, c.density.rss.at(-1)?.bytes ?? NaN, mib);
  if (b.churn) {
    out.push({ target: `RSS flat over ${b.churn.cycles} churn cycles`, measured: `${mib(churnGrowthBytes(b.churn))} growth`, bound: '< max(2 MiB, 5 %)', met: churnIsFlat(b.churn) });
  }
  if (b.bigPull && c.bigPull) atMost(`cold pull of the ${(r.bigImage.compressedBytes / 1e6).toFixed(0)} MB image ≤ containerd`, b.bigPull.ms, c.bigPull.ms, ms);
  atMost('start to first Version < 300 ms', median(b.startToVersionMs), 300, ms);
  if (b.restartMs !== undefined && b.density) atMost(`restart with ${b.density.pods} containers to ready < 2 s`, b.restartMs, 2000, ms);
  return out;
}
