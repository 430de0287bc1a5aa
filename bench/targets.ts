import type { ChurnFigures } from './churn.js';
import { median, quantile } from './measure.js';
import { LIFECYCLE_CALLS } from './workloads.js';
import { anchorsIn, type BenchResults, bestAnchor, callMeasures, RUNTIMES, type RuntimeResults } from './results.js';

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

/** Daemon RSS per running pod between two density sizes (`anon`: its anonymous part alone). */
export function rssPerPodBytes(x: RuntimeResults, anon = false): number {
  const [a, b] = [x.density[0], x.density.at(-1)];
  if (!a || !b || a === b) return NaN;
  const last = (d: typeof a) => {
    const sample = d.rss.at(-1);
    return sample ? (anon ? sample.anonBytes : sample.bytes) : NaN;
  };
  return (last(b) - last(a)) / (b.pods - a.pods);
}

/** Daemon CPU per minute of kubelet-like polling, per running pod, at the largest size. */
export function pollCpuPerPodMs(x: RuntimeResults): number {
  const d = x.density.at(-1);
  if (!d || d.rss.length === 0) return NaN;
  return ((d.daemonCpuMs / d.rss.length) * 60) / d.pods;
}

/**
 * The targets of issues 8 and 18, checked against the run's medians:
 * every call at or below the best anchor present (CRI-O where measured,
 * else containerd), and the fixed bounds.
 */
export function checkTargets(r: BenchResults): TargetCheck[] {
  const b = r.runtimes.berth;
  if (!b) return [];
  const out: TargetCheck[] = [];
  const check = (target: string, value: number, bound: number, fmt: (n: number) => string, cause?: () => string) => {
    const known = Number.isFinite(value) && Number.isFinite(bound);
    const met = known ? value <= bound : undefined;
    out.push({ target, measured: fmt(value), bound: fmt(bound), met, ...(met === false && cause ? { cause: cause() } : {}) });
  };
  const spread = (samples: (x: RuntimeResults) => number[], anchor: RuntimeResults, name: string) => {
    const bv = samples(b);
    const av = samples(anchor);
    const within = median(bv) <= quantile(av, 0.9);
    return `berth p50 ${ms(median(bv))} against ${name} p50 ${ms(median(av))}, p90 ${ms(quantile(av, 0.9))}${within ? `: inside ${name}'s own p50–p90 spread` : ''}`;
  };
  const pair = (x: RuntimeResults) => median(x.lifecycle.CreateContainer ?? []) + median(x.lifecycle.StartContainer ?? []);
  const pairs = () =>
    `Create + Start together: berth ${ms(pair(b))}, ${anchorsIn(r)
      .map(([n, x]) => `${n} ${ms(pair(x))}`)
      .join(', ')}. ` +
    "Each runtime puts runc create (about 60 ms here) on one side of the pair: containerd and berth behind CreateContainer's answer, in StartContainer; CRI-O inside CreateContainer. No runtime can be below the best of both sides at once, so the pair is what compares";
  // Calls whose handler is a lookup: what they cost beyond Node's gRPC stack.
  const floor = median(r.grpcFloorMs);
  const transport = () =>
    `a bare grpc-js server (bench/grpc-floor-server.ts) answers Version in ${ms(floor)}; berth's Version takes ${ms(median(b.versionMs))} ` +
    `(berth's own code adds ${ms(median(b.versionMs) - floor)} per call), ${anchorsIn(r)
      .map(([n, x]) => `${n}'s ${ms(median(x.versionMs))}`)
      .join(', ')}: the rest of the gap is gRPC over HTTP/2 in JavaScript (grpc-js) against Go's`;
  const causes: Record<string, () => string> = {
    CreateContainer: () => `berth writes the bundle, mounts the overlay and persists the record in CreateContainer. ${pairs()}`,
    StartContainer: () => `StartContainer waits for the runc create started behind CreateContainer. ${pairs()}`,
    Version: transport,
    ImageStatus: transport,
    ListImages: transport,
    RemoveContainer: transport,
    'Version, from process start': () => {
      const first = r.nodeBaseline.firstLineMs;
      const own = median(b.startToVersionMs) - r.nodeBaseline.startMs;
      return (
        (first === undefined ? '' : `an empty node script runs its first line ${ms(first)} after its process starts and `) +
        `takes ${ms(r.nodeBaseline.startMs)} from spawn to exit on this machine, before any berth code runs; ` +
        `berth's own part (loading its bundle, building the CRI codecs, preparing its directories, binding the socket, restoring state) is about ${ms(own)} beyond that ` +
        '(BENCH_MAIN=start-time with BENCH_CPU_PROF profiles it)'
      );
    },
  };
  for (const m of callMeasures(r)) {
    if (/^(ListPodSandbox|ListContainers|ContainerStatus) at /.test(m.call)) causes[m.call] = transport;
    const anchor = bestAnchor(r, (x) => median(m.samples(x)));
    if (!anchor) continue;
    const anchorResults = r.runtimes[anchor.name]!;
    check(`${m.call} ≤ best anchor (${anchor.name})`, median(m.samples(b)), anchor.value, ms, () =>
      [spread(m.samples, anchorResults, anchor.name), causes[m.call]?.()].filter(Boolean).join('. '),
    );
  }
  const bestPair = bestAnchor(r, pair);
  if (bestPair) check(`CreateContainer + StartContainer ≤ best anchor (${bestPair.name})`, pair(b), bestPair.value, ms, pairs);
  const total = (x: RuntimeResults) => median(x.lifecycle.total ?? []);
  const bestTotal = bestAnchor(r, total);
  if (bestTotal) {
    const anchor = r.runtimes[bestTotal.name]!;
    check(`summed life cycle ≤ best anchor (${bestTotal.name})`, total(b), bestTotal.value, ms, () => {
      const deltas = LIFECYCLE_CALLS.map((k) => [k, median(b.lifecycle[k] ?? []) - median(anchor.lifecycle[k] ?? [])] as const).filter(([, d]) => d > 0);
      return `the calls where berth is slower than ${bestTotal.name}: ${deltas.map(([k, d]) => `${k} +${ms(d)}`).join(', ')}`;
    });
  }
  check('whole life cycle ≤ 1.3× (overlay floor + CNI)', total(b), 1.3 * (median(r.floor.overlay) + median(r.cniAddDelMs)), ms, () => {
    const floor = median(r.floor.overlay) + median(r.cniAddDelMs);
    return `the floor (raw runc on overlayfs ${ms(median(r.floor.overlay))} + CNI ADD/DEL ${ms(median(r.cniAddDelMs))}) has no CRI calls, conmon, cgroup or record work; berth adds ${ms(total(b) - floor)} to it`;
  });
  const coldPull = median(b.images.PullImage ?? []);
  check(
    'cold small pull ≤ 1.2× its HTTP transfers',
    coldPull,
    1.2 * median(r.smallPullHttpMs),
    ms,
    () =>
      `the manifest, config and layers fetched one after another take ${ms(median(r.smallPullHttpMs))}` +
      (r.smallPullUnpackMs
        ? `; the same fetches with each layer streamed into GNU tar take ${ms(median(r.smallPullUnpackMs))}, so unpacking alone puts the floor of a pull that unpacks at ${(median(r.smallPullUnpackMs) / median(r.smallPullHttpMs)).toFixed(2)}× the transfers`
        : '') +
      '; berth also verifies every digest and writes the image record',
  );
  const parallel = bestAnchor(r, (x) => x.parallelStartMs);
  if (parallel)
    check(`parallel start of 20 ≤ best anchor (${parallel.name})`, b.parallelStartMs, parallel.value, ms, () => {
      const one = (x: RuntimeResults) => median(x.lifecycle.RunPodSandbox ?? []) + pair(x);
      return `one measurement per runtime; a single pod's RunPodSandbox + CreateContainer + StartContainer: berth ${ms(one(b))}, ${parallel.name} ${ms(one(r.runtimes[parallel.name]!))}`;
    });
  const probeCpu = bestAnchor(r, (x) => x.execProbeNodeCpuMs);
  if (probeCpu)
    check(
      `exec-probe node CPU ≤ best anchor (${probeCpu.name})`,
      b.execProbeNodeCpuMs,
      probeCpu.value,
      ms,
      () =>
        `of it the daemon itself: berth ${ms(b.execProbeDaemonCpuMs)}, ${probeCpu.name} ${ms(r.runtimes[probeCpu.name]!.execProbeDaemonCpuMs)}; the rest is runc exec, conmon and the probed processes`,
    );
  for (const d of b.density) {
    check(`ListPodSandbox at ${d.pods} pods < 5 ms`, median(d.listPodsMs), 5, ms);
    check(`ListContainers at ${d.pods} pods < 5 ms`, median(d.listContainersMs), 5, ms);
    check(`ContainerStatus at ${d.pods} pods < 1 ms`, median(d.containerStatusMs), 1, ms);
  }
  const ctr = r.runtimes.containerd;
  const restartAt = (x: RuntimeResults | undefined, pods: number) => x?.density.find((d) => d.pods === pods)?.restartMs ?? NaN;
  for (const d of b.density) {
    const anchor = bestAnchor(r, (x) => restartAt(x, d.pods));
    if (anchor) {
      const other = r.runtimes[anchor.name]!;
      check(
        `restart with ${d.pods} running containers ≤ best anchor (${anchor.name})`,
        d.restartMs,
        anchor.value,
        ms,
        () =>
          `start to first Version on empty state is berth ${ms(median(b.startToVersionMs))}, ${anchor.name} ${ms(median(other.startToVersionMs))}; ` +
          `the rest, restoring ${d.pods} pods and containers until all are listed running: berth ${ms(d.restartMs - median(b.startToVersionMs))}, ${anchor.name} ${ms(anchor.value - median(other.startToVersionMs))}`,
      );
    }
  }
  check('Version ≤ a bare grpc-js server + 0.2 ms', median(b.versionMs), floor + 0.2, ms, transport);
  check('start to first Version < 100 ms', median(b.startToVersionMs), 100, ms, causes['Version, from process start']);
  const nodeCause = (rss: number, anon: number) => () =>
    `an empty node process is already ${mib(r.nodeBaseline.rssBytes)} resident (${mib(r.nodeBaseline.rssBytes - r.nodeBaseline.rssAnonBytes)} of it the pages of the node binary and its libraries); ` +
    `of berth's ${mib(rss)}, ${mib(rss - anon)} are such file pages and ${mib(anon)} anonymous memory`;
  const idle = bestAnchor(r, (x) => x.idleRssBytes);
  if (idle) check(`daemon RSS idle ≤ best anchor (${idle.name})`, b.idleRssBytes, idle.value, mib, nodeCause(b.idleRssBytes, b.idleRssAnonBytes));
  if (r.runtimes.crio) check('daemon RSS idle ≤ CRI-O', b.idleRssBytes, r.runtimes.crio.idleRssBytes, mib, nodeCause(b.idleRssBytes, b.idleRssAnonBytes));
  check('daemon RSS idle ≤ bare node + 20 MiB', b.idleRssBytes, r.nodeBaseline.rssBytes + 20 * 1048576, mib, nodeCause(b.idleRssBytes, b.idleRssAnonBytes));
  const perPod = bestAnchor(r, rssPerPodBytes);
  const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
  if (perPod)
    check(`daemon RSS per pod ≤ best anchor (${perPod.name})`, rssPerPodBytes(b), perPod.value, kib, () => {
      const split = (x: RuntimeResults) => `${kib(rssPerPodBytes(x, true))} anonymous, ${kib(rssPerPodBytes(x) - rssPerPodBytes(x, true))} file pages`;
      return (
        `per added pod berth grew by ${split(b)}, ${perPod.name} by ${split(r.runtimes[perPod.name]!)}; ` +
        'each figure is the difference of one RSS sample at each size, which V8 heap sizing moves by a few MiB'
      );
    });
  const pollCpu = bestAnchor(r, pollCpuPerPodMs);
  if (pollCpu)
    check(
      `polling CPU per pod per minute ≤ best anchor (${pollCpu.name})`,
      pollCpuPerPodMs(b),
      pollCpu.value,
      ms,
      () => `each pod costs a ContainerStatus a second; ${transport()}`,
    );
  if (b.churn) {
    const flat = churnIsFlat(b.churn);
    out.push({
      target: `RSS flat over ${b.churn.cycles} churn cycles`,
      measured: `${mib(churnGrowthBytes(b.churn))} growth`,
      bound: '< max(2 MiB, 5 %)',
      met: flat,
      ...(flat ? {} : { cause: `RSS went from ${mib(b.churn.rss[0]?.bytes ?? NaN)} to ${mib(b.churn.rss.at(-1)?.bytes ?? NaN)}` }),
    });
  }
  const bp = b.bigPull;
  const bigWall = bestAnchor(r, (x) => x.bigPull?.ms ?? NaN);
  if (bp && bigWall)
    check(
      `cold pull of the ${(r.bigImage.compressedBytes / 1e6).toFixed(0)} MB image ≤ best anchor (${bigWall.name})`,
      bp.ms,
      bigWall.value,
      ms,
      () => `each pull: ${pullSamples(r)}; daemon CPU ${pullCpuSplit(r)}; GNU tar alone takes ${ms(r.bigImage.tarFloorMs)} on local files`,
    );
  if (bp && ctr?.bigPull)
    check(
      'pull daemon CPU ≤ containerd',
      bp.daemonCpuMs,
      ctr.bigPull.daemonCpuMs,
      ms,
      () =>
        `daemon CPU ${pullCpuSplit(r)}. ` +
        'The kernel part is creating files and directories (ext4 inode allocation, which on a file system with many recent deletions scans for free inodes); ' +
        'in user space berth verifies both digests (blob and diff ID) on the thread pool and parses tar on its one JavaScript thread, where containerd spreads that work over goroutines (see `make profile` with BENCH_PROFILE=pull)',
    );
  return out;
}

/** Each runtime's big-pull walls, for a cause. */
function pullSamples(r: BenchResults): string {
  return RUNTIMES.filter((n) => r.runtimes[n]?.bigPull)
    .map((n) => `${n} ${(r.runtimes[n]?.bigPull?.samplesMs ?? []).map(ms).join(', ')}`)
    .join('; ');
}

/** Each runtime's big-pull daemon CPU, split into user space and kernel where the run recorded it. */
function pullCpuSplit(r: BenchResults): string {
  return RUNTIMES.filter((n) => r.runtimes[n]?.bigPull)
    .map((n) => {
      const p = r.runtimes[n]!.bigPull!;
      const sys = p.daemonSysCpuMs;
      return sys === undefined || !Number.isFinite(sys)
        ? `${n} ${ms(p.daemonCpuMs)}`
        : `${n} ${ms(p.daemonCpuMs)} (${ms(p.daemonCpuMs - sys)} user, ${ms(sys)} kernel)`;
    })
    .join(', ');
}
