import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { call, type CriClient } from '../e2e/lib/cri-client.js';
import { containerConfig, podConfig } from '../e2e/lib/pods.js';
import { timed } from './measure.js';

/**
 * The workload container, as the kubelet sends it: the image as the pod
 * names it beside the reference (CRI-O checks signatures against that
 * name and refuses a container without it), the pod's namespace options
 * repeated; PATH given, because
 * containerd takes PATH only from the image, which has none.
 */
export function sleeper(image: string) {
  return containerConfig('c', image, {
    image: { image, userSpecifiedImage: image },
    linux: { securityContext: { namespaceOptions: KUBELET_NAMESPACES } },
    command: ['/bin/sleep', '600'],
    envs: [{ key: 'PATH', value: Buffer.from('/usr/sbin:/usr/bin:/sbin:/bin') }],
  });
}

/**
 * A pod as the kubelet asks for one by default: each container its own
 * PID namespace (shareProcessNamespace unset), so no runtime needs an infra
 * (pause) process for it. Its log directory and the sleeper's are made
 * first, as the kubelet does: CRI-O (conmon) does not create them.
 */
export async function benchPod(name: string, logDirectory: string) {
  await mkdir(path.join(logDirectory, 'c'), { recursive: true });
  const pod = podConfig(name, logDirectory);
  // A cgroup parent per pod, as the kubelet gives (cgroupfs layout), all
  // under one tree the benchmark removes at the end.
  pod.linux = { cgroupParent: `/${BENCH_CGROUP}/pod${pod.metadata?.uid ?? name}`, securityContext: { namespaceOptions: KUBELET_NAMESPACES } };
  return pod;
}

/** The cgroup (in every hierarchy) under which the benchmark's pods run. */
export const BENCH_CGROUP = 'berth-bench';

/** The kubelet's namespace options for a pod and each of its containers by default. */
const KUBELET_NAMESPACES = { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } as const;

export interface RunningPod {
  podId: string;
  containerId: string;
}

/** A pod with one running sleeper container. */
export async function runSleeperPod(client: CriClient, image: string, logDir: string, name: string): Promise<RunningPod> {
  const rt = client.runtime;
  const pod = await benchPod(name, path.join(logDir, name));
  const podId = (await call(rt, rt.RunPodSandbox, { config: pod })).podSandboxId;
  const { containerId } = await call(rt, rt.CreateContainer, { podSandboxId: podId, config: sleeper(image), sandboxConfig: pod });
  await call(rt, rt.StartContainer, { containerId });
  return { podId, containerId };
}

/**
 * As the kubelet tears a pod down: its containers stopped first (here with
 * no grace period), then the sandbox. CRI-O would otherwise give each
 * container its full stop timeout inside StopPodSandbox.
 */
export async function removePod(client: CriClient, podId: string): Promise<void> {
  const rt = client.runtime;
  const { containers } = await call(rt, rt.ListContainers, { filter: { podSandboxId: podId } });
  for (const c of containers) if (c.state === 'CONTAINER_RUNNING') await call(rt, rt.StopContainer, { containerId: c.id, timeout: 0 });
  await call(rt, rt.StopPodSandbox, { podSandboxId: podId });
  await call(rt, rt.RemovePodSandbox, { podSandboxId: podId });
}

/** Stops and removes every pod a runtime has: the benchmark leaves nothing behind. */
export async function removeAllPods(client: CriClient): Promise<void> {
  const { items } = await call(client.runtime, client.runtime.ListPodSandbox, {});
  // One pod caught half-made by an interrupt must not leave the others behind.
  let failed = 0;
  for (const pod of items) await removePod(client, pod.id).catch(() => failed++);
  if (failed > 0) throw new Error(`${failed} of ${items.length} pods could not be removed`);
}

/** The CRI calls of one pod and container life, timed call by call. */
export const LIFECYCLE_CALLS = [
  'RunPodSandbox',
  'CreateContainer',
  'StartContainer',
  'StopContainer',
  'RemoveContainer',
  'StopPodSandbox',
  'RemovePodSandbox',
] as const;
export type LifecycleCall = (typeof LIFECYCLE_CALLS)[number];

export async function lifecycle(
  client: CriClient,
  image: string,
  logDir: string,
  runs: number,
  tag: string,
): Promise<Record<LifecycleCall | 'total', number[]>> {
  const rt = client.runtime;
  const out = Object.fromEntries([...LIFECYCLE_CALLS, 'total'].map((k) => [k, [] as number[]])) as Record<LifecycleCall | 'total', number[]>;
  for (let i = 0; i < runs; i++) {
    const pod = await benchPod(`bench-${tag}-${i}`, path.join(logDir, `${tag}-${i}`));
    const [podId, a] = await timed(async () => (await call(rt, rt.RunPodSandbox, { config: pod })).podSandboxId);
    const cfg = sleeper(image);
    const [id, b] = await timed(async () => (await call(rt, rt.CreateContainer, { podSandboxId: podId, config: cfg, sandboxConfig: pod })).containerId);
    const [, c] = await timed(() => call(rt, rt.StartContainer, { containerId: id }));
    const [, d] = await timed(() => call(rt, rt.StopContainer, { containerId: id, timeout: 0 }));
    const [, e] = await timed(() => call(rt, rt.RemoveContainer, { containerId: id }));
    const [, f] = await timed(() => call(rt, rt.StopPodSandbox, { podSandboxId: podId }));
    const [, g] = await timed(() => call(rt, rt.RemovePodSandbox, { podSandboxId: podId }));
    const steps = [a, b, c, d, e, f, g];
    for (const [j, k] of LIFECYCLE_CALLS.entries()) out[k].push(steps[j]!);
    out.total.push(steps.reduce((s, x) => s + x, 0));
  }
  return out;
}

/** N pods with one container each, started at once: time until all run, then cleaned up. */
export async function parallelStart(client: CriClient, image: string, logDir: string, pods: number, tag: string): Promise<number> {
  const [started, ms] = await timed(() => Promise.all(Array.from({ length: pods }, (_, i) => runSleeperPod(client, image, logDir, `par-${tag}-${i}`))));
  for (const { podId } of started) await removePod(client, podId);
  return ms;
}

/** ExecSync `true` in each of N containers every second for `seconds`: latencies. */
export async function execProbes(client: CriClient, containerIds: string[], seconds: number): Promise<number[]> {
  const rt = client.runtime;
  const latencies: number[] = [];
  for (let s = 0; s < seconds; s++) {
    const started = Date.now();
    await Promise.all(
      containerIds.map(async (id) => {
        const [, ms] = await timed(() => call(rt, rt.ExecSync, { containerId: id, cmd: ['true'], timeout: 5 }));
        latencies.push(ms);
      }),
    );
    await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - started))));
  }
  return latencies;
}
