import { call, type CriClient } from '../e2e/lib/cri-client.js';
import { processFigures, timed } from './measure.js';
import { runSleeperPod, type RunningPod } from './workloads.js';

export interface DensityFigures {
  pods: number;
  listPodsMs: number[];
  listContainersMs: number[];
  containerStatusMs: number[];
  /** One sample per poll: seconds since the poll began, daemon RSS. */
  rss: { t: number; bytes: number; anonBytes: number }[];
  daemonCpuMs: number;
}

/** Many running pods, started ten at a time. */
export async function startDensePods(client: CriClient, image: string, logDir: string, pods: number, tag: string, into: RunningPod[]): Promise<void> {
  for (let i = 0; i < pods; i += 10) {
    into.push(...(await Promise.all(Array.from({ length: Math.min(10, pods - i) }, (_, j) => runSleeperPod(client, image, logDir, `dense-${tag}-${i + j}`)))));
  }
}

/**
 * A PLEG-like poll over the running pods, as the kubelet does it: every
 * second ListPodSandbox and ListContainers, then ContainerStatus for each
 * container; the daemon's RSS sampled after each round.
 */
export async function pollDense(client: CriClient, pid: number, pods: number, seconds: number): Promise<DensityFigures> {
  const rt = client.runtime;
  const out: DensityFigures = { pods, listPodsMs: [], listContainersMs: [], containerStatusMs: [], rss: [], daemonCpuMs: 0 };
  const cpu0 = (await processFigures(pid)).cpuMs;
  const began = Date.now();
  for (let s = 0; s < seconds; s++) {
    const tick = Date.now();
    out.listPodsMs.push((await timed(() => call(rt, rt.ListPodSandbox, {})))[1]);
    const [listed, ms] = await timed(() => call(rt, rt.ListContainers, {}));
    out.listContainersMs.push(ms);
    for (const c of listed.containers) out.containerStatusMs.push((await timed(() => call(rt, rt.ContainerStatus, { containerId: c.id })))[1]);
    const mem = await processFigures(pid);
    out.rss.push({ t: (Date.now() - began) / 1000, bytes: mem.rssBytes, anonBytes: mem.rssAnonBytes });
    await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - tick))));
  }
  out.daemonCpuMs = (await processFigures(pid)).cpuMs - cpu0;
  return out;
}
