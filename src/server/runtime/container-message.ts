import type { Container } from '../../generated/runtime/v1/Container.js';
import type { ContainerStatus } from '../../generated/runtime/v1/ContainerStatus.js';
import type { ContainerRecord } from '../../container/container-service.js';
import type { LinuxResources } from '../../oci/spec-types.js';
import type { LinuxContainerResources } from '../../generated/runtime/v1/LinuxContainerResources.js';
import type { MountPropagation } from '../../generated/runtime/v1/MountPropagation.js';

export function toCriContainer(r: ContainerRecord): Container {
  return {
    id: r.meta.id,
    podSandboxId: r.meta.sandboxId,
    metadata: r.meta.metadata,
    image: { image: r.meta.imageName ?? r.meta.image, userSpecifiedImage: r.meta.image },
    imageRef: r.meta.imageRef ?? r.meta.imageId,
    imageId: r.meta.imageId,
    state: r.status.state,
    createdAt: r.meta.createdAt,
    labels: r.meta.labels,
    annotations: r.meta.annotations,
  };
}

/** The resources actually applied, in the CRI's terms (the kubelet compares them during resize). */
export function toCriResources(res: LinuxResources | undefined): LinuxContainerResources | null {
  if (!res) return null;
  return {
    cpuPeriod: String(res.cpu?.period ?? 0),
    cpuQuota: String(res.cpu?.quota ?? 0),
    cpuShares: String(res.cpu?.shares ?? 0),
    memoryLimitInBytes: String(res.memory?.limit ?? 0),
    cpusetCpus: res.cpu?.cpus ?? '',
    cpusetMems: res.cpu?.mems ?? '',
    hugepageLimits: (res.hugepageLimits ?? []).map((h) => ({ pageSize: h.pageSize, limit: String(h.limit) })),
    unified: res.unified ?? {},
    memorySwapLimitInBytes: String(res.memory?.swap ?? 0),
  };
}

export function toCriContainerStatus(r: ContainerRecord): ContainerStatus {
  const { meta, status } = r;
  const started = status.state !== 'CONTAINER_CREATED';
  return {
    id: meta.id,
    metadata: meta.metadata,
    state: status.state,
    createdAt: meta.createdAt,
    startedAt: started ? (status.startedAt ?? '0') : '0',
    finishedAt: status.finishedAt ?? '0',
    exitCode: status.exitCode ?? 0,
    image: { image: meta.imageName ?? meta.image, userSpecifiedImage: meta.image },
    imageRef: meta.imageRef ?? meta.imageId,
    imageId: meta.imageId,
    reason: status.reason ?? '',
    message: status.message ?? '',
    labels: meta.labels,
    annotations: meta.annotations,
    mounts: meta.mounts.map(({ image, imageSubPath, ...m }) => ({
      ...m,
      propagation: (m.propagation || 'PROPAGATION_PRIVATE') as MountPropagation,
      // An image volume reports its image as the CRI has it: a message, not a name.
      ...(image ? { image: { image }, imageSubPath: imageSubPath ?? '' } : {}),
    })),
    logPath: meta.logPath,
    resources: { linux: toCriResources(status.resources) },
    stopSignal: (meta.criStopSignal ?? 'RUNTIME_DEFAULT') as ContainerStatus['stopSignal'],
    user: { linux: { uid: String(meta.user.uid), gid: String(meta.user.gid), supplementalGroups: meta.user.supplementalGroups.map(String) } },
  };
}
