import type { PodSandbox } from '../../generated/runtime/v1/PodSandbox.js';
import type { PodSandboxStatus } from '../../generated/runtime/v1/PodSandboxStatus.js';
import type { SandboxRecord } from '../../sandbox/sandbox-service.js';

export function toCriSandbox(r: SandboxRecord): PodSandbox {
  return {
    id: r.meta.id,
    metadata: r.meta.config.metadata,
    state: r.status.state,
    createdAt: r.meta.createdAt,
    labels: r.meta.config.labels,
    annotations: r.meta.config.annotations,
    runtimeHandler: r.meta.runtimeHandler,
  };
}

/**
 * The kubelet recreates a sandbox whose reported namespace options differ
 * from what the pod wants, so they are echoed exactly as requested.
 */
export function toCriSandboxStatus(r: SandboxRecord): PodSandboxStatus {
  const ns = r.meta.config.linux?.securityContext?.namespaceOptions;
  return {
    id: r.meta.id,
    metadata: r.meta.config.metadata,
    state: r.status.state,
    createdAt: r.meta.createdAt,
    network: { ip: '', additionalIps: [] },
    linux: { namespaces: { options: ns ?? { network: 'POD', pid: 'CONTAINER', ipc: 'POD', targetId: '' } } },
    labels: r.meta.config.labels,
    annotations: r.meta.config.annotations,
    runtimeHandler: r.meta.runtimeHandler,
  };
}
