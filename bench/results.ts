import type { ChurnFigures } from './churn.js';
import type { RuntimeName } from './daemons.js';
import type { DensityFigures } from './density.js';
import type { FloorFigures } from './floor.js';
import { IMAGE_CALLS } from './images.js';
import type { PullFigures } from './pull.js';
import { LIFECYCLE_CALLS } from './workloads.js';

/** What one run measured: the shapes shared by the run, the report and the targets. */
export interface DensityRun extends DensityFigures {
  /** Restart with these pods running, to every container listed running. */
  restartMs: number;
}

export interface RuntimeResults {
  startToVersionMs: number[];
  idleRssBytes: number;
  idleRssAnonBytes: number;
  busyRssBytes: number;
  /** Per image call (IMAGE_CALLS), every sample. */
  images: Record<string, number[]>;
  /** Version on the running daemon, call after call. */
  versionMs: number[];
  lifecycle: Record<string, number[]>;
  parallelStartMs: number;
  execProbeMs: number[];
  execProbeNodeCpuMs: number;
  execProbeDaemonCpuMs: number;
  /** One entry per density size, smallest first. */
  density: DensityRun[];
  /** Medians over the pull images, with each pull's wall time. */
  bigPull?: PullFigures & { samplesMs?: number[] };
  churn?: ChurnFigures;
}

export interface BenchResults {
  date: string;
  runs: number;
  imageRuns: number;
  probeSeconds: number;
  runtimes: Partial<Record<RuntimeName, RuntimeResults>>;
  /** Why a runtime or a measure is missing from this run. */
  notes: string[];
  floor: FloorFigures;
  cniAddDelMs: number[];
  /** The small image's manifest, config and layers fetched over HTTP, summed, per run. */
  smallPullHttpMs: number[];
  /** The same fetches with every layer streamed into GNU tar (absent in older results). */
  smallPullUnpackMs?: number[];
  /** Version answered by a bare grpc-js server (bench/grpc-floor-server.ts): Node's own floor for a call. */
  grpcFloorMs: number[];
  bigImage: { compressedBytes: number; unpackedBytes: number; layers: number; tarFloorMs: number };
  /** An empty node process on this machine: the floor of any Node daemon's memory. */
  /** firstLineMs: performance.now() at an empty script's first line (absent in older results). */
  nodeBaseline: { rssBytes: number; rssAnonBytes: number; startMs: number; firstLineMs?: number };
}

/** The runtimes berth is measured against, in the order the report shows them. */
export const ANCHORS = ['containerd', 'crio'] as const satisfies readonly RuntimeName[];
export const RUNTIMES = ['berth', ...ANCHORS] as const satisfies readonly RuntimeName[];

/** A CRI call (or the start-up's first one) as every runtime answered it. */
export interface CallMeasure {
  call: string;
  samples: (r: RuntimeResults) => number[];
}

/** Every call the report and the targets compare, in the report's order. */
export function callMeasures(r: BenchResults): CallMeasure[] {
  const out: CallMeasure[] = [];
  for (const k of IMAGE_CALLS) out.push({ call: k, samples: (x) => x.images[k] ?? [] });
  for (const k of LIFECYCLE_CALLS) out.push({ call: k, samples: (x) => x.lifecycle[k] ?? [] });
  out.push({ call: 'ExecSync (probe)', samples: (x) => x.execProbeMs });
  const sizes = r.runtimes.berth?.density.map((d) => d.pods) ?? [];
  sizes.forEach((pods, i) => {
    const at = (x: RuntimeResults) => x.density[i];
    out.push({ call: `ListPodSandbox at ${pods} pods`, samples: (x) => at(x)?.listPodsMs ?? [] });
    out.push({ call: `ListContainers at ${pods} pods`, samples: (x) => at(x)?.listContainersMs ?? [] });
    out.push({ call: `ContainerStatus at ${pods} pods`, samples: (x) => at(x)?.containerStatusMs ?? [] });
  });
  out.push({ call: 'Version', samples: (x) => x.versionMs });
  out.push({ call: 'Version, from process start', samples: (x) => x.startToVersionMs });
  return out;
}

/** The anchors present in this run, with their results. */
export function anchorsIn(r: BenchResults): [RuntimeName, RuntimeResults][] {
  return ANCHORS.flatMap((name) => {
    const x = r.runtimes[name];
    return x ? [[name, x] as [RuntimeName, RuntimeResults]] : [];
  });
}

/** The lowest finite value among the anchors, and whose it is. */
export function bestAnchor(r: BenchResults, value: (x: RuntimeResults) => number): { name: RuntimeName; value: number } | undefined {
  let best: { name: RuntimeName; value: number } | undefined;
  for (const [name, x] of anchorsIn(r)) {
    const v = value(x);
    if (Number.isFinite(v) && (best === undefined || v < best.value)) best = { name, value: v };
  }
  return best;
}
