import { randomBytes } from 'node:crypto';
import type { ContainerConfig } from '../../src/generated/runtime/v1/ContainerConfig.js';
import type { ContainerStatus__Output } from '../../src/generated/runtime/v1/ContainerStatus.js';
import type { PodSandboxConfig } from '../../src/generated/runtime/v1/PodSandboxConfig.js';
import type { BerthDaemon } from './berth-daemon.js';
import { call } from './cri-client.js';

/**
 * Kubelet-shaped requests for the e2e tests, and a few conveniences over
 * the raw CRI calls.
 */
export function podConfig(name: string, logDirectory: string, extra: Partial<PodSandboxConfig> = {}): PodSandboxConfig {
  const hostNetwork = extra.linux?.securityContext?.namespaceOptions?.network === 'NODE';
  return {
    metadata: { name, namespace: 'e2e', uid: `${name}-${randomBytes(4).toString('hex')}`, attempt: 0 },
    // As the kubelet: a host-network pod has the node's hostname and sends none.
    hostname: hostNetwork ? '' : name,
    logDirectory,
    labels: { 'io.kubernetes.pod.name': name, app: 'berth-e2e' },
    annotations: { 'berth.test/annotation': 'kept exactly', unicode: 'ünïcödé ✓' },
    ...extra,
  };
}

export function containerConfig(name: string, image: string, extra: Partial<ContainerConfig> = {}): ContainerConfig {
  return {
    metadata: { name, attempt: 0 },
    image: { image },
    logPath: `${name}/0.log`,
    labels: { 'io.kubernetes.container.name': name },
    ...extra,
  };
}

export class Cri {
  constructor(private readonly berth: BerthDaemon) {}

  private get rt() {
    return this.berth.client.runtime;
  }

  async runPod(config: PodSandboxConfig, runtimeHandler = ''): Promise<string> {
    return (await call(this.rt, this.rt.RunPodSandbox, { config, runtimeHandler })).podSandboxId;
  }

  async createContainer(podId: string, config: ContainerConfig, pod: PodSandboxConfig): Promise<string> {
    return (await call(this.rt, this.rt.CreateContainer, { podSandboxId: podId, config, sandboxConfig: pod })).containerId;
  }

  async start(id: string): Promise<void> {
    await call(this.rt, this.rt.StartContainer, { containerId: id });
  }

  /** Create and start in one go. */
  async run(podId: string, config: ContainerConfig, pod: PodSandboxConfig): Promise<string> {
    const id = await this.createContainer(podId, config, pod);
    await this.start(id);
    return id;
  }

  async status(id: string): Promise<ContainerStatus__Output> {
    return (await call(this.rt, this.rt.ContainerStatus, { containerId: id })).status!;
  }

  async waitExited(id: string, timeoutMs = 20_000): Promise<ContainerStatus__Output> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await this.status(id);
      if (s.state === 'CONTAINER_EXITED') return s;
      if (Date.now() > deadline) throw new Error(`container ${id} still ${s.state} after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async exec(id: string, cmd: string[], timeout = 10) {
    const res = await call(this.rt, this.rt.ExecSync, { containerId: id, cmd, timeout });
    return { stdout: res.stdout.toString(), stderr: res.stderr.toString(), exitCode: res.exitCode };
  }

  async stop(id: string, timeout: number): Promise<void> {
    await call(this.rt, this.rt.StopContainer, { containerId: id, timeout }, 120_000);
  }

  async removeContainer(id: string): Promise<void> {
    await call(this.rt, this.rt.RemoveContainer, { containerId: id });
  }

  async stopPod(id: string): Promise<void> {
    await call(this.rt, this.rt.StopPodSandbox, { podSandboxId: id });
  }

  async removePod(id: string): Promise<void> {
    await call(this.rt, this.rt.RemovePodSandbox, { podSandboxId: id });
  }

  async pull(image: string): Promise<string> {
    return (await call(this.berth.client.image, this.berth.client.image.PullImage, { image: { image } })).imageRef;
  }
}
