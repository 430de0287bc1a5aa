/**
 * A pod sandbox as berth keeps it. The pod's network, IPC and UTS
 * namespaces are pinned to files (no process holds them); per-pod files
 * (hostname, resolv.conf, /dev/shm) live in the sandbox's run directory.
 *
 *   RunPodSandbox ──▶ SANDBOX_READY ──StopPodSandbox──▶ SANDBOX_NOTREADY ──RemovePodSandbox──▶ (gone)
 */

import type { PodNetwork } from '../cni/network-manager.js';
import type { PodUserns } from './userns.js';
import type { PodSandboxConfig__Output } from '../generated/runtime/v1/PodSandboxConfig.js';

export type SandboxState = 'SANDBOX_READY' | 'SANDBOX_NOTREADY';

export type NamespaceMode = 'POD' | 'CONTAINER' | 'NODE' | 'TARGET';

export interface SandboxMeta {
  id: string;
  /** `k8s_<name>_<namespace>_<uid>_<attempt>`. */
  name: string;
  /** Identifies the request, so an identical retry gets this sandbox. */
  requestKey: string;
  config: PodSandboxConfig__Output;
  /** The configured handler the pod runs with ("" resolved to the default). */
  runtimeHandler: string;
  /**
   * The handler as RunPodSandbox asked for it, reported back as asked (the
   * kubelet compares it; containerd and CRI-O echo "" too). Records written
   * before it was kept lack it and report runtimeHandler.
   */
  requestedHandler?: string;
  /** Nanoseconds since the epoch. */
  createdAt: string;
  hostname: string;
  modes: { network: NamespaceMode; pid: NamespaceMode; ipc: NamespaceMode };
  /** Pinned namespace files; absent where the pod uses the host's. */
  namespaces: { network?: string; ipc?: string; uts?: string; user?: string };
  /** `<runroot>/sandboxes/<id>`. */
  runDir: string;
  files: { hostname: string; resolvConf: string; shm?: string; hosts?: string };
  cgroupParent: string;
  /** Cgroup directories berth created for the parent, removed with the pod. */
  createdCgroups: string[];
  /** The CNI configuration and result of the pod's network (absent for host network). */
  network?: PodNetwork;
  /** The id mappings of the pod's containers' user namespaces (absent: the host's). */
  userns?: PodUserns;
}

export interface SandboxStatus {
  state: SandboxState;
  /** Set once stop released the pod's resources. */
  released?: boolean;
  /** The infra container holding the pod's PID namespace (PID mode POD). */
  infraContainerId?: string;
  /** Pod-level overhead and resources last reported by UpdatePodSandboxResources. */
  resources?: { overhead: unknown; resources: unknown };
}
