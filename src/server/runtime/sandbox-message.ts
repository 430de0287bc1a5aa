import type { PodSandbox } from '../../generated/runtime/v1/PodSandbox.js';
import type { PodSandboxStatus } from '../../generated/runtime/v1/PodSandboxStatus.js';
import { podIps } from '../../cni/result.js';
import type { SandboxRecord } from '../../sandbox/sandbox-service.js';

export function toCriSandbox(r: SandboxRecord): PodSandbox {
  return {
    id: r.meta.id,
    metadata: r.meta.config.metadata,
    state: r.status.state,
    createdAt: r.meta.createdAt,
    labels: r.meta.config.labels,
    annotations: r.meta.config.annotations,
    runtimeHandler: r.meta.requestedHandler ?? r.meta.runtimeHandler,
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
    network: networkStatus(r),
    linux: { namespaces: { options: ns ?? { network: 'POD', pid: 'CONTAINER', ipc: 'POD', targetId: '' } } },
    labels: r.meta.config.labels,
    annotations: r.meta.config.annotations,
    runtimeHandler: r.meta.requestedHandler ?? r.meta.runtimeHandler,
  };
}

/** The pod's IPs from its CNI result: the first is primary, the others additional. */
function networkStatus(r: SandboxRecord): { ip: string; additionalIps: { ip: string }[] } {
  const ips = r.status.released ? [] : podIps(r.meta.network?.result, r.meta.network?.ifname);
  return { ip: ips[0] ?? '', additionalIps: ips.slice(1).map((ip) => ({ ip })) };
}
