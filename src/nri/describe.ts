/**
 * Pods and containers as NRI describes them to plugins, from berth's
 * records: identity, labels, annotations, handler, state and pid. What a
 * plugin reads of a container's spec at creation (args, env, mounts,
 * resources) comes with the CreateContainer call, a later step.
 */

import type { Container } from '../generated/nri/nri/pkg/api/v1alpha1/Container.js';
import type { ContainerState } from '../generated/nri/nri/pkg/api/v1alpha1/ContainerState.js';
import type { PodSandbox } from '../generated/nri/nri/pkg/api/v1alpha1/PodSandbox.js';
import type { Spec } from '../oci/spec-types.js';

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

/** A container about to be created, as its spec now stands (after the adjustments so far). */
export function describeCreating(
  identity: { id: string; sandboxId: string; name: string; labels: Record<string, string>; annotations: Record<string, string> },
  spec: Spec,
): Container {
  const r = spec.linux.resources;
  return {
    id: identity.id,
    podSandboxId: identity.sandboxId,
    name: identity.name,
    state: 'CONTAINER_CREATED',
    labels: identity.labels,
    annotations: { ...identity.annotations, ...spec.annotations },
    args: spec.process.args,
    env: spec.process.env,
    mounts: spec.mounts.map((m) => ({ destination: m.destination, type: m.type ?? '', source: m.source ?? '', options: m.options ?? [] })),
    rlimits: (spec.process.rlimits ?? []).map((l) => ({ type: l.type, hard: String(l.hard), soft: String(l.soft) })),
    linux: {
      cgroupsPath: spec.linux.cgroupsPath ?? '',
      namespaces: spec.linux.namespaces.map((n) => ({ type: n.type, path: n.path ?? '' })),
      ...(spec.process.oomScoreAdj !== undefined ? { oomScoreAdj: { value: String(spec.process.oomScoreAdj) } } : {}),
      resources: {
        ...(r?.memory?.limit !== undefined ? { memory: { limit: { value: String(r.memory.limit) } } } : {}),
        ...(r?.cpu
          ? {
              cpu: {
                ...(r.cpu.shares !== undefined ? { shares: { value: String(r.cpu.shares) } } : {}),
                ...(r.cpu.quota !== undefined ? { quota: { value: String(r.cpu.quota) } } : {}),
                ...(r.cpu.period !== undefined ? { period: { value: String(r.cpu.period) } } : {}),
                cpus: r.cpu.cpus ?? '',
                mems: r.cpu.mems ?? '',
              },
            }
          : {}),
        ...(r?.pids ? { pids: { limit: String(r.pids.limit) } } : {}),
      },
    },
  };
}
