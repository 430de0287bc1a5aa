import { randomUUID } from 'node:crypto';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import type { ContainerConfig } from '../../src/generated/runtime/v1/ContainerConfig.js';
import type { ContainerStatus__Output } from '../../src/generated/runtime/v1/ContainerStatus.js';
import type { PodSandboxConfig } from '../../src/generated/runtime/v1/PodSandboxConfig.js';
import type { CriClient } from '../lib/cri-client.js';
import { call } from '../lib/cri-client.js';

/**
 * A kubelet-shaped client: it takes a real Pod manifest and drives berth
 * with the kubelet's call sequence (shared/reference/kubelet-needs.md):
 * sandbox, image pulls by pull policy, init containers one at a time,
 * app containers, exec readiness probes through ExecSync, restarts by
 * restart policy (a new attempt, a new log file), logs under
 * <logRoot>/<ns>_<name>_<uid>/<container>/<restart>.log, termination
 * messages, and graceful deletion.
 */
export type Phase = 'Pending' | 'Running' | 'Succeeded' | 'Failed';

export interface ContainerView {
  name: string;
  id: string;
  restarts: number;
  ready: boolean;
  status?: ContainerStatus__Output;
}

const KUBE_LABELS = { name: 'io.kubernetes.pod.name', namespace: 'io.kubernetes.pod.namespace', uid: 'io.kubernetes.pod.uid' };

export class SimulatedPod {
  phase: Phase = 'Pending';
  readonly containers = new Map<string, ContainerView>();
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(
    private readonly kubelet: KubeletSim,
    readonly pod: V1Pod,
    readonly sandboxId: string,
    readonly sandbox: PodSandboxConfig,
  ) {}

  get restartPolicy(): string {
    return this.pod.spec?.restartPolicy ?? 'Always';
  }

  /** Like the kubelet's pod workers: poll statuses, restart, probe. */
  supervise(everyMs = 300): void {
    this.timer = setInterval(() => {
      if (this.busy) return;
      this.busy = true;
      void this.kubelet.sync(this).finally(() => {
        this.busy = false;
      });
    }, everyMs);
  }

  stopSupervising(): void {
    clearInterval(this.timer);
  }
}

export class KubeletSim {
  constructor(
    private readonly cri: CriClient,
    private readonly logRoot: string,
    private readonly podsRoot: string,
  ) {}

  private get rt() {
    return this.cri.runtime;
  }

  async runPod(pod: V1Pod): Promise<SimulatedPod> {
    const name = pod.metadata?.name ?? 'pod';
    const namespace = pod.metadata?.namespace ?? 'default';
    const uid = pod.metadata?.uid ?? randomUUID();
    const spec = pod.spec!;
    const nsOptions = { network: spec.hostNetwork ? 'NODE' : 'POD', pid: spec.shareProcessNamespace ? 'POD' : 'CONTAINER', ipc: 'POD' } as const;
    const logDirectory = path.join(this.logRoot, `${namespace}_${name}_${uid}`);
    await mkdir(logDirectory, { recursive: true, mode: 0o755 });
    const sandbox: PodSandboxConfig = {
      metadata: { name, namespace, uid, attempt: 0 },
      hostname: spec.hostNetwork ? '' : name,
      logDirectory,
      portMappings: spec.containers.flatMap((c) =>
        (c.ports ?? [])
          .filter((p) => p.hostPort)
          .map((p) => ({
            protocol: (p.protocol ?? 'TCP') as 'TCP',
            containerPort: p.containerPort,
            hostPort: p.hostPort!,
            hostIp: p.hostIP ?? '',
          })),
      ),
      labels: { ...(pod.metadata?.labels ?? {}), [KUBE_LABELS.name]: name, [KUBE_LABELS.namespace]: namespace, [KUBE_LABELS.uid]: uid },
      annotations: { ...(pod.metadata?.annotations ?? {}) },
      linux: { securityContext: { namespaceOptions: nsOptions } },
    };
    const sandboxId = (await call(this.rt, this.rt.RunPodSandbox, { config: sandbox })).podSandboxId;
    const sim = new SimulatedPod(this, pod, sandboxId, sandbox);
    for (const c of [...(spec.initContainers ?? []), ...spec.containers]) await this.ensureImage(c);
    for (const init of spec.initContainers ?? []) {
      for (let attempt = 0; ; attempt++) {
        const status = await this.runToCompletion(sim, init, attempt);
        if (status.exitCode === 0) break;
        if (sim.restartPolicy === 'Never' || attempt >= 3) {
          sim.phase = 'Failed';
          return sim;
        }
      }
    }
    for (const c of spec.containers) await this.startContainer(sim, c, 0);
    sim.phase = 'Running';
    sim.supervise();
    return sim;
  }

  private async ensureImage(c: V1Container): Promise<void> {
    const image = c.image!;
    const present = (await call(this.cri.image, this.cri.image.ImageStatus, { image: { image } })).image;
    if (!present || c.imagePullPolicy === 'Always') await call(this.cri.image, this.cri.image.PullImage, { image: { image }, sandboxConfig: null });
  }

  private async volumeHostPath(sim: SimulatedPod, volume: string): Promise<string> {
    const v = sim.pod.spec?.volumes?.find((x) => x.name === volume);
    if (v?.hostPath) return v.hostPath.path;
    const dir = path.join(this.podsRoot, sim.sandbox.metadata!.uid!, 'volumes', volume);
    await mkdir(dir, { recursive: true, mode: 0o777 });
    return dir;
  }

  private async containerConfig(sim: SimulatedPod, c: V1Container, attempt: number): Promise<ContainerConfig> {
    const uid = sim.sandbox.metadata!.uid!;
    const termPath = c.terminationMessagePath ?? '/dev/termination-log';
    const termHost = path.join(this.podsRoot, uid, 'containers', c.name, `${attempt}-termination-log`);
    await mkdir(path.dirname(termHost), { recursive: true });
    await writeFile(termHost, '', { mode: 0o666 });
    const mounts = [
      ...(await Promise.all(
        (c.volumeMounts ?? []).map(async (m) => ({
          containerPath: m.mountPath,
          hostPath: await this.volumeHostPath(sim, m.name),
          readonly: m.readOnly ?? false,
        })),
      )),
      { containerPath: termPath, hostPath: termHost },
    ];
    const memory = c.resources?.limits?.memory;
    return {
      metadata: { name: c.name, attempt },
      image: { image: c.image! },
      command: c.command ?? [],
      args: c.args ?? [],
      workingDir: c.workingDir ?? '',
      envs: (c.env ?? []).map((e) => ({ key: e.name, value: Buffer.from(e.value ?? '') })),
      mounts,
      logPath: path.join(c.name, `${attempt}.log`),
      labels: { ...sim.sandbox.labels, 'io.kubernetes.container.name': c.name },
      annotations: {
        'io.kubernetes.container.restartCount': String(attempt),
        'io.kubernetes.container.terminationMessagePath': termPath,
        'io.kubernetes.pod.terminationGracePeriod': String(sim.pod.spec?.terminationGracePeriodSeconds ?? 30),
      },
      linux: {
        // As the kubelet fills them: a CFS period, shares, and a hugepage
        // limit of 0 for every page size the host has, hugetlb controller or not.
        resources: {
          cpuPeriod: 100_000,
          cpuShares: 2,
          oomScoreAdj: 1000,
          hugepageLimits: await hostHugepageLimits(),
          ...(memory ? { memoryLimitInBytes: parseQuantity(String(memory)) } : {}),
        },
        securityContext: { namespaceOptions: sim.sandbox.linux!.securityContext!.namespaceOptions },
      },
    };
  }

  private async startContainer(sim: SimulatedPod, c: V1Container, attempt: number): Promise<string> {
    const config = await this.containerConfig(sim, c, attempt);
    const id = (await call(this.rt, this.rt.CreateContainer, { podSandboxId: sim.sandboxId, config, sandboxConfig: sim.sandbox })).containerId;
    await call(this.rt, this.rt.StartContainer, { containerId: id });
    sim.containers.set(c.name, { name: c.name, id, restarts: attempt, ready: !c.readinessProbe });
    return id;
  }

  private async runToCompletion(sim: SimulatedPod, c: V1Container, attempt: number): Promise<ContainerStatus__Output> {
    const id = await this.startContainer(sim, c, attempt);
    for (;;) {
      const status = (await call(this.rt, this.rt.ContainerStatus, { containerId: id })).status!;
      if (status.state === 'CONTAINER_EXITED') return status;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** One pass of the pod worker. */
  async sync(sim: SimulatedPod): Promise<void> {
    const specs = sim.pod.spec!.containers;
    let exitedOk = 0;
    let failed = false;
    for (const c of specs) {
      const view = sim.containers.get(c.name);
      if (!view) continue;
      const status = (await call(this.rt, this.rt.ContainerStatus, { containerId: view.id }).catch(() => undefined))?.status;
      if (!status) continue;
      view.status = status.state === 'CONTAINER_EXITED' ? { ...status, message: await terminationMessage(status) } : status;
      if (status.state === 'CONTAINER_EXITED') {
        const restart = sim.restartPolicy === 'Always' || (sim.restartPolicy === 'OnFailure' && status.exitCode !== 0);
        if (restart && view.restarts < 5) {
          await this.startContainer(sim, c, view.restarts + 1);
          continue;
        }
        if (status.exitCode === 0) exitedOk++;
        else failed = true;
        continue;
      }
      const probe = c.readinessProbe?.exec?.command;
      if (probe && status.state === 'CONTAINER_RUNNING') {
        const res = await call(this.rt, this.rt.ExecSync, { containerId: view.id, cmd: probe, timeout: c.readinessProbe?.timeoutSeconds ?? 1 }).catch(
          () => undefined,
        );
        view.ready = res?.exitCode === 0;
      }
    }
    if (failed) sim.phase = 'Failed';
    else if (exitedOk === specs.length) sim.phase = 'Succeeded';
  }

  /** Graceful deletion: stop containers with the grace period, then the sandbox. */
  async deletePod(sim: SimulatedPod): Promise<void> {
    sim.stopSupervising();
    const grace = sim.pod.spec?.terminationGracePeriodSeconds ?? 30;
    await Promise.all([...sim.containers.values()].map((c) => call(this.rt, this.rt.StopContainer, { containerId: c.id, timeout: grace }, 120_000)));
    await call(this.rt, this.rt.StopPodSandbox, { podSandboxId: sim.sandboxId });
    await call(this.rt, this.rt.RemovePodSandbox, { podSandboxId: sim.sandboxId });
  }
}

/** Kubernetes memory quantities ("64Mi", "100M", "1Gi") in bytes. */
export function parseQuantity(q: string): string {
  const m = /^(\d+)(Ki|Mi|Gi|k|M|G)?$/.exec(q);
  if (!m) throw new Error(`unsupported quantity ${q}`);
  const mult: Record<string, number> = { '': 1, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, k: 1e3, M: 1e6, G: 1e9 };
  return String(Number(m[1]) * mult[m[2] ?? '']!);
}

/** `hugepages-2048kB` -> 2MB, as the kubelet names page sizes. */
async function hostHugepageLimits(): Promise<{ pageSize: string; limit: number }[]> {
  const dirs = await readdir('/sys/kernel/mm/hugepages').catch(() => [] as string[]);
  return dirs
    .map((d) => Number(/^hugepages-(\d+)kB$/.exec(d)?.[1] ?? 0))
    .filter((kb) => kb > 0)
    .map((kb) => ({
      pageSize: kb >= 1 << 20 ? `${kb >> 20}GB` : kb >= 1 << 10 ? `${kb >> 10}MB` : `${kb}KB`,
      limit: 0,
    }));
}

/**
 * The message of an exited container as the kubelet makes it: the
 * runtime's message, then ": " and the termination-message file, which the
 * kubelet reads itself from the host path of the mount at the container's
 * terminationMessagePath (its first 4 KiB).
 */
async function terminationMessage(status: ContainerStatus__Output): Promise<string> {
  const inside = status.annotations['io.kubernetes.container.terminationMessagePath'];
  const mount = status.mounts.find((m) => m.containerPath === inside);
  const written = mount ? (await readFile(mount.hostPath).catch(() => Buffer.alloc(0))).subarray(0, 4096).toString('utf8') : '';
  if (!written) return status.message;
  return status.message ? `${status.message}: ${written}` : written;
}
