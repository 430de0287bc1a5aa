/**
 * What berth passes to CNI plugins besides the configuration: CNI_ARGS
 * naming the pod, and `runtimeConfig` for the capabilities a plugin
 * declares (port mappings, bandwidth, DNS, IP ranges).
 */
export interface PodNetworkIdentity {
  name: string;
  namespace: string;
  uid: string;
  sandboxId: string;
}

export function cniArgs(pod: PodNetworkIdentity): string {
  return [
    'IgnoreUnknown=1',
    `K8S_POD_NAMESPACE=${pod.namespace}`,
    `K8S_POD_NAME=${pod.name}`,
    `K8S_POD_INFRA_CONTAINER_ID=${pod.sandboxId}`,
    `K8S_POD_UID=${pod.uid}`,
  ].join(';');
}

export interface PortMappingLike {
  protocol: string;
  containerPort: number;
  hostPort: number;
  hostIp: string;
}

export interface RuntimeInputs {
  portMappings: PortMappingLike[];
  annotations: Record<string, string>;
  dns: { servers: string[]; searches: string[]; options: string[] } | null;
  podCidr: string;
}

/** Kubernetes quantities for bandwidth ("10M", "1Gi") in bits per second. */
export function parseBandwidth(q: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(k|M|G|T|P|Ki|Mi|Gi|Ti|Pi)?$/.exec(q.trim());
  if (!m) return undefined;
  const units: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50 };
  return Math.round(Number(m[1]) * units[m[2] ?? '']!);
}

export function runtimeConfig(capabilities: Record<string, boolean> | undefined, inputs: RuntimeInputs): Record<string, unknown> {
  const caps = capabilities ?? {};
  const out: Record<string, unknown> = {};
  if (caps.portMappings) {
    const mappings = inputs.portMappings
      .filter((p) => p.hostPort > 0)
      .map((p) => ({
        hostPort: p.hostPort,
        containerPort: p.containerPort,
        protocol: p.protocol.toLowerCase(),
        ...(p.hostIp ? { hostIP: p.hostIp } : {}),
      }));
    if (mappings.length > 0) out.portMappings = mappings;
  }
  if (caps.bandwidth) {
    const ingress = parseBandwidth(inputs.annotations['kubernetes.io/ingress-bandwidth'] ?? '');
    const egress = parseBandwidth(inputs.annotations['kubernetes.io/egress-bandwidth'] ?? '');
    if (ingress !== undefined || egress !== undefined) {
      // The kubelet's convention (and CRI-O's): burst is the largest int32.
      out.bandwidth = {
        ...(ingress !== undefined ? { ingressRate: ingress, ingressBurst: 2 ** 31 - 1 } : {}),
        ...(egress !== undefined ? { egressRate: egress, egressBurst: 2 ** 31 - 1 } : {}),
      };
    }
  }
  if (caps.dns && inputs.dns) out.dns = { servers: inputs.dns.servers, searches: inputs.dns.searches, options: inputs.dns.options };
  if (caps.ipRanges && inputs.podCidr) out.ipRanges = [inputs.podCidr.split(',').map((subnet) => ({ subnet: subnet.trim() }))];
  return out;
}
