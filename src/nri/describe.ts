/**
 * Pods and containers as NRI describes them to plugins, from berth's
 * records: identity, labels, annotations, handler, state and pid. What a
 * plugin reads of a container's spec at creation (args, env, mounts,
 * resources) comes with the CreateContainer call, a later step.
 */

import type { Container } from '../generated/nri/nri/pkg/api/v1alpha1/Container.js';
import type { ContainerState } from '../generated/nri/nri/pkg/api/v1alpha1/ContainerState.js';
import type { PodSandbox } from '../generated/nri/nri/pkg/api/v1alpha1/PodSandbox.js';

/** What describing a pod needs of its record. */
export interface DescribedPod {
  meta: {
    id: string;
    runtimeHandler: string;
    cgroupParent: string;
    config: { metadata: { name: string; uid: string; namespace: string } | null; labels: Record<string, string>; annotations: Record<string, string> };
  };
}

/** What describing a container needs of its record. */
export interface DescribedContainer {
  meta: { id: string; sandboxId: string; metadata: { name: string }; labels: Record<string, string>; annotations: Record<string, string> };
  status: { state: string; pid?: number };
}

const STATES: Record<string, ContainerState> = {
  CONTAINER_CREATED: 'CONTAINER_CREATED',
  CONTAINER_RUNNING: 'CONTAINER_RUNNING',
  CONTAINER_EXITED: 'CONTAINER_STOPPED',
};

export function describePod(record: DescribedPod): PodSandbox {
  const { meta } = record;
  return {
    id: meta.id,
    name: meta.config.metadata?.name ?? '',
    uid: meta.config.metadata?.uid ?? '',
    namespace: meta.config.metadata?.namespace ?? '',
    labels: meta.config.labels,
    annotations: meta.config.annotations,
    runtimeHandler: meta.runtimeHandler,
    linux: { cgroupParent: meta.cgroupParent },
  };
}

export function describeContainer(record: DescribedContainer): Container {
  const { meta, status } = record;
  return {
    id: meta.id,
    podSandboxId: meta.sandboxId,
    name: meta.metadata.name,
    state: STATES[status.state] ?? 'CONTAINER_UNKNOWN',
    labels: meta.labels,
    annotations: meta.annotations,
    ...(status.pid ? { pid: status.pid } : {}),
  };
}
