import type { ChurnFigures } from './churn.js';
import { median, quantile } from './measure.js';
import type { BenchResults } from './report.js';
import { LIFECYCLE_CALLS } from './workloads.js';

export interface TargetCheck {
  target: string;
  measured: string;
  bound: string;
  met: boolean | undefined;
  /** For a missed target: what the run measured about why. */
  cause?: string;
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
  const atMost = (target: string, value: number, bound: number, fmt: (n: number) => string, cause?: () => string) => {
    const known = Number.isFinite(value) && Number.isFinite(bound);
    const met = known ? value <= bound : undefined;
    out.push({ target, measured: fmt(value), bound: fmt(bound), met, ...(met === false && cause ? { cause: cause() } : {}) });
  };
  const spread = (k: string) => {
    const bv = b.lifecycle[k] ?? [];
    const cv = c.lifecycle[k] ?? [];
    const within = median(bv) <= quantile(cv, 0.9);
    return `berth p50 ${ms(median(bv))} against containerd p50 ${ms(median(cv))}, p90 ${ms(quantile(cv, 0.9))}${within ? ": inside containerd's own p50–p90 spread" : ''}`;
  };
  for (const k of LIFECYCLE_CALLS) {
    atMost(`${k} ≤ containerd`, median(b.lifecycle[k] ?? []), median(c.lifecycle[k] ?? []), ms, () => {
      if (k !== 'CreateContainer') return spread(k);
      const pair = (x: typeof b) => median(x.lifecycle.CreateContainer ?? []) + median(x.lifecycle.StartContainer ?? []);
      return `${spread(k)}. berth writes the bundle, mounts the overlay and persists the record in CreateContainer and runs conmon + runc create behind its answer; Create + Start together: berth ${ms(pair(b))}, containerd ${ms(pair(c))}`;
    });
  }
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
  const nodeCause = (rss: number, anon: number, cAnon: number) => () =>
    `an empty node process is already ${mib(r.nodeBaseline.rssBytes)} resident (${mib(r.nodeBaseline.rssBytes - r.nodeBaseline.rssAnonBytes)} of it the pages of the node binary and its libraries); ` +
    `of berth's ${mib(rss)}, ${mib(rss - anon)} are such file pages and ${mib(anon)} anonymous memory, against containerd's ${mib(cAnon)} anonymous`;
  atMost('daemon RSS idle ≤ containerd', b.idleRssBytes, c.idleRssBytes, mib, nodeCause(b.idleRssBytes, b.idleRssAnonBytes, c.idleRssAnonBytes));
  if (b.density && c.density) {
    const bl = b.density.rss.at(-1);
    const cl = c.density.rss.at(-1);
    atMost(
      `daemon RSS at ${b.density.pods} pods ≤ containerd`,
      bl?.bytes ?? NaN,
      cl?.bytes ?? NaN,
      mib,
      nodeCause(bl?.bytes ?? NaN, bl?.anonBytes ?? NaN, cl?.anonBytes ?? NaN),
    );
  }
  if (b.churn) {
    const flat = churnIsFlat(b.churn);
    const cGrowth = c.churn ? `; containerd grew ${mib(churnGrowthBytes(c.churn))}` : '';
    out.push({
      target: `RSS flat over ${b.churn.cycles} churn cycles`,
      measured: `${mib(churnGrowthBytes(b.churn))} growth`,
      bound: '< max(2 MiB, 5 %)',
      met: flat,
      ...(flat ? {} : { cause: `RSS went from ${mib(b.churn.rss[0]?.bytes ?? NaN)} to ${mib(b.churn.rss.at(-1)?.bytes ?? NaN)}${cGrowth}` }),
    });
  }
  if (b.bigPull && c.bigPull) {
    const bp = b.bigPull;
    const cp = c.bigPull;
    atMost(
      `cold pull of the ${(r.bigImage.compressedBytes / 1e6).toFixed(0)} MB image ≤ containerd`,
      bp.ms,
      cp.ms,
      ms,
      () =>
        `each pull: berth ${(bp.samplesMs ?? []).map(ms).join(', ')}; containerd ${(cp.samplesMs ?? []).map(ms).join(', ')}. Daemon CPU ${ms(bp.daemonCpuMs)} against ${ms(cp.daemonCpuMs)}: ` +
        'berth verifies both digests (blob and diff ID) and parses tar on its one JavaScript thread, where containerd spreads that work over goroutines (see `make profile` with BENCH_PROFILE=pull)',
    );
  }
  atMost('start to first Version < 300 ms', median(b.startToVersionMs), 300, ms);
  if (b.restartMs !== undefined && b.density) atMost(`restart with ${b.density.pods} containers to ready < 2 s`, b.restartMs, 2000, ms);
  return out;
}
