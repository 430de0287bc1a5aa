/**
 * A container as berth keeps it.
 *
 *   CreateContainer ──▶ CREATED ──StartContainer──▶ RUNNING ──exit──▶ EXITED ──RemoveContainer──▶ (gone)
 *                          └──────────── (start failed / killed before start) ─────▶ EXITED
 *
 * CONTAINER_UNKNOWN is in the type because the CRI has it, but berth never
 * reports it: after a restart, reconcile.ts settles every container as
 * running or exited (with a reason) from conmon's exit file, the process
 * and the runtime's state, so the kubelet never has to guess.
 */

import { failedPrecondition } from '../errors.js';
import type { LinuxResources } from '../oci/spec-types.js';
import type { ImageVolume } from './image-volumes.js';

export type ContainerState = 'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED' | 'CONTAINER_UNKNOWN';

export interface CriMountRecord {
  containerPath: string;
  hostPath: string;
  readonly: boolean;
  selinuxRelabel: boolean;
  propagation: string;
  recursiveReadOnly: boolean;
  /** An image volume's image (reference or id) and sub-path. */
  image?: string;
  imageSubPath?: string;
}

export interface ContainerMeta {
  id: string;
  sandboxId: string;
  /** `k8s_<container>_<pod>_<namespace>_<uid>_<attempt>`. */
  name: string;
  requestKey: string;
  metadata: { name: string; attempt: number };
  /** The image as the request named it, and its id (also the image_ref). */
  image: string;
  imageId: string;
  /** The layers the rootfs is made of, so their snapshots outlive RemoveImage. */
  chainIds: string[];
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Absolute path of the CRI log file, or '' for none. */
  logPath: string;
  tty: boolean;
  stdin: boolean;
  stdinOnce: boolean;
  createdAt: string;
  mounts: CriMountRecord[];
  runtimeHandler: string;
  /** The signal `runc kill` sends to stop the container. */
  stopSignal: string;
  /** The CRI stop_signal as requested (RUNTIME_DEFAULT when the image decides). */
  criStopSignal?: string;
  /** `<runroot>/containers/<id>`: config.json, rootfs mount point, conmon files. */
  bundle: string;
  /** `<root>/containers/<id>`: this record, the writable layer, conmon's exit and oom files. */
  persistDir: string;
  user: { uid: number; gid: number; supplementalGroups: number[] };
  /** Hidden infra container of a PID-sharing pod. */
  infra?: boolean;
  /** The cgroup (cgroupfs path) conmon was moved into, removed with the container. */
  conmonCgroup?: string;
  /** The root filesystem's layers are idmapped into the pod's user namespace. */
  idmappedRootfs?: boolean;
  /** Image volumes the container mounts: their images and layers stay in use while it exists. */
  imageVolumes?: ImageVolume[];
  /** With the systemd driver, conmon's transient scope (systemd removes it once conmon has exited). */
  conmonScope?: { scope: string; slice: string };
  /** Whether the container shares a PID namespace (pod, node or another container's). */
  sharedPidNamespace?: boolean;
  /** Whether the container runs privileged (for verbose status). */
  privileged?: boolean;
  /** The image's normalised name (its tag when created by id), as ContainerStatus.image reports it. */
  imageName?: string;
  /** The image's repo digest when it has one, else its id: ContainerStatus.image_ref, the pod's imageID. */
  imageRef?: string;
}

export interface ContainerStatus {
  state: ContainerState;
  pid?: number;
  /** Start time of `pid` (clock ticks since boot), to detect pid reuse. */
  pidStartTime?: string;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  reason?: string;
  message?: string;
  /** The cgroup resources currently applied. */
  resources?: LinuxResources;
}

/** The check of every call that needs a live process (exec, attach, port forward, update, checkpoint). */
export function mustBeRunning(record: { meta: { id: string }; status: { state: ContainerState } }): void {
  if (record.status.state !== 'CONTAINER_RUNNING') throw failedPrecondition(`container ${record.meta.id} is not running`);
}
