import { call } from '../e2e/lib/cri-client.js';
import type { BenchDaemon } from './daemons.js';
import { median, nodeBusyMs, processFigures, timed } from './measure.js';

export interface PullFigures {
  ms: number;
  /** CPU of the daemon process itself (containerd unpacks in-process, as berth does). */
  daemonCpuMs: number;
  /** The kernel's part of it (creating files and directories, mostly); absent in older results. */
  daemonSysCpuMs?: number;
  /** CPU of the whole node: the registry's share is the same for both runtimes. */
  nodeCpuMs: number;
}

/** A cold pull: the image has never been on this daemon. */
export async function bigPull(daemon: BenchDaemon, ref: string): Promise<PullFigures> {
  const before = await processFigures(daemon.pid);
  const node0 = await nodeBusyMs();
  const [, ms] = await timed(() => call(daemon.client.image, daemon.client.image.PullImage, { image: { image: ref } }, 600_000));
  const after = await processFigures(daemon.pid);
  return { ms, daemonCpuMs: after.cpuMs - before.cpuMs, daemonSysCpuMs: after.sysCpuMs - before.sysCpuMs, nodeCpuMs: (await nodeBusyMs()) - node0 };
}

/** Field by field medians of several pulls, with the walls of each. */
export function medianPull(pulls: PullFigures[]): PullFigures & { samplesMs: number[] } {
  return {
    ms: median(pulls.map((p) => p.ms)),
    daemonCpuMs: median(pulls.map((p) => p.daemonCpuMs)),
    daemonSysCpuMs: median(pulls.map((p) => p.daemonSysCpuMs ?? NaN)),
    nodeCpuMs: median(pulls.map((p) => p.nodeCpuMs)),
    samplesMs: pulls.map((p) => p.ms),
  };
}
