import type { RuntimeConfig } from '../../config/schema.js';
import type { ContainerConfig__Output } from '../../generated/runtime/v1/ContainerConfig.js';
import type { HostFacts } from '../../host/host-facts.js';
import type { ImageConfigFile } from '../../image/media-types.js';
import type { Device, Namespace, Spec } from '../../oci/spec-types.js';
import type { SandboxMeta } from '../../sandbox/sandbox.js';
import { processArgs } from './args.js';
import { capabilitySets } from './capabilities.js';
import { criDevices, hostDevices } from './devices.js';
import { buildEnv } from './env.js';
import { type CriMount, type IdmapPreparer, type ImageVolumePreparer, type RroPreparer, criMounts, defaultMounts, mergeMounts, podMounts } from './mounts.js';
import { type CriResources, oomScoreAdj, ociResources, rlimits } from './resources.js';
import { selectSeccomp } from './seccomp.js';
import { apparmorProfile, selinuxLabel } from './lsm.js';
import type { ResolvedUser } from './user.js';

/** Everything the OCI spec of one container is made from. */
export interface SpecPlan {
  id: string;
  config: ContainerConfig__Output;
  sandbox: SandboxMeta;
  imageConfig: ImageConfigFile;
  imageName: string;
  user: ResolvedUser;
  cwd: string;
  facts: HostFacts;
  runtime: RuntimeConfig;
  hostCapabilities: string[];
  cgroupsPath: string;
  /** POD, CONTAINER, NODE or TARGET, as resolved against the pod. */
  pidMode: string;
  /** Path of the PID namespace to join (pod infra or target container), if any. */
  pidNamespacePath?: string;
  rroSupported: boolean;
  /** Prepares recursive read-only trees on the host (see container/rro.ts). */
  prepareRro?: RroPreparer;
  /** Mounts image volumes (absent: they are refused). */
  prepareImageVolume?: ImageVolumePreparer;
  /** Idmapped binds for mounts with ID mappings (absent: refused). */
  prepareIdmap?: IdmapPreparer;
  /** Whether berth's default AppArmor profile is loaded on this host. */
  apparmorDefaultLoaded: boolean;
  /** Told of requested limits the host cannot enforce, which were left out. */
  onDroppedResources?: (what: string[]) => void;
}

export interface BuiltSpec {
  spec: Spec;
  mounts: CriMount[];
}

/** The container's namespaces: the pod's pinned ones, new mount (and cgroup on v2) ones. */
export function containerNamespaces(sandbox: SandboxMeta, pidMode: string, pidPath: string | undefined, privileged: boolean, cgroupV2: boolean): Namespace[] {
  const ns: Namespace[] = [{ type: 'mount' }];
  if (sandbox.namespaces.network) ns.push({ type: 'network', path: sandbox.namespaces.network });
  if (sandbox.namespaces.ipc) ns.push({ type: 'ipc', path: sandbox.namespaces.ipc });
  if (sandbox.namespaces.uts) ns.push({ type: 'uts', path: sandbox.namespaces.uts });
  if (pidMode !== 'NODE') ns.push(pidPath ? { type: 'pid', path: pidPath } : { type: 'pid' });
  if (cgroupV2 && !privileged) ns.push({ type: 'cgroup' });
  if (sandbox.namespaces.user) ns.push({ type: 'user', path: sandbox.namespaces.user });
  return ns;
}

/**
 * Mounts propagate between host and container only if the container's
 * root mount lets them: shared for a bidirectional mount, slave for a
 * host-to-container one (runc's default is slave already).
 */
function rootfsPropagation(mounts: { options?: string[] }[]): { rootfsPropagation?: string } {
  if (mounts.some((m) => m.options?.includes('rshared'))) return { rootfsPropagation: 'rshared' };
  if (mounts.some((m) => m.options?.includes('rslave'))) return { rootfsPropagation: 'rslave' };
  return {};
}

export async function buildSpec(plan: SpecPlan): Promise<BuiltSpec> {
  const { config, sandbox, facts } = plan;
  const sc = config.linux?.securityContext;
  const privileged = sc?.privileged ?? false;
  const caps = capabilitySets({
    defaults: plan.runtime.default_capabilities,
    add: sc?.capabilities?.addCapabilities ?? [],
    drop: sc?.capabilities?.dropCapabilities ?? [],
    privileged,
    host: plan.hostCapabilities,
  });
  const seccomp = await selectSeccomp({ profile: sc?.seccomp ?? null, legacyPath: sc?.seccompProfilePath ?? '', privileged, capabilities: caps.bounding });
  const readonlyRootfs = sc?.readonlyRootfs ?? false;
  const cri = await criMounts(
    config.mounts.map((m) => ({
      containerPath: m.containerPath,
      hostPath: m.hostPath,
      readonly: m.readonly,
      propagation: m.propagation,
      recursiveReadOnly: m.recursiveReadOnly,
      selinuxRelabel: m.selinuxRelabel,
      image: m.image?.image || m.image?.imageRef || undefined,
      imageSubPath: m.imageSubPath,
      uidMappings: (m.uidMappings ?? []).map((x) => ({ hostId: x.hostId, containerId: x.containerId, length: x.length })),
      gidMappings: (m.gidMappings ?? []).map((x) => ({ hostId: x.hostId, containerId: x.containerId, length: x.length })),
    })),
    plan.rroSupported,
    plan.prepareRro,
    plan.prepareImageVolume,
    plan.prepareIdmap,
  );
  const mounts = mergeMounts(
    defaultMounts(privileged, false),
    podMounts({ shm: sandbox.files.shm, hostname: sandbox.files.hostname, resolvConf: sandbox.files.resolvConf, hosts: sandbox.files.hosts }, readonlyRootfs),
    cri.mounts,
  );
  const devices = await criDevices(config.devices);
  const resources = ociResources(config.linux?.resources as CriResources | null, facts, plan.runtime.pids_limit, plan.onDroppedResources);
  resources.devices = privileged ? [{ allow: true, access: 'rwm' }] : [...(resources.devices ?? []), ...devices.rules];
  const requestedOom = Number(config.linux?.resources?.oomScoreAdj ?? 0);
  const apparmor = apparmorProfile({
    hostHasAppArmor: facts.apparmor,
    defaultLoaded: plan.apparmorDefaultLoaded,
    profile: sc?.apparmor ?? null,
    legacy: sc?.apparmorProfile ?? '',
    privileged,
  });
  const label = selinuxLabel(facts.selinux, sc?.selinuxOptions ?? null);
  const spec: Spec = {
    ociVersion: '1.0.2',
    process: {
      terminal: config.tty,
      user: { uid: plan.user.uid, gid: plan.user.gid, additionalGids: plan.user.additionalGids },
      args: processArgs(plan.imageConfig.config ?? {}, config, config.metadata?.name ?? plan.id),
      env: buildEnv(sandbox.hostname, config.tty, plan.imageConfig.config?.Env ?? [], config.envs),
      cwd: plan.cwd,
      capabilities: caps,
      rlimits: rlimits(plan.runtime.default_ulimits, facts),
      noNewPrivileges: sc?.noNewPrivs ?? false,
      oomScoreAdj: oomScoreAdj(requestedOom, facts),
      ...(apparmor ? { apparmorProfile: apparmor } : {}),
      ...(label ? { selinuxLabel: label } : {}),
    },
    root: { path: 'rootfs', readonly: readonlyRootfs },
    // A hostname needs the pod's own UTS namespace (host-network pods have none).
    ...(sandbox.namespaces.uts ? { hostname: sandbox.hostname } : {}),
    mounts,
    annotations: {
      ...config.annotations,
      'io.kubernetes.cri.container-type': 'container',
      'io.kubernetes.cri.container-name': config.metadata?.name ?? '',
      'io.kubernetes.cri.sandbox-id': sandbox.id,
      'io.kubernetes.cri.sandbox-name': sandbox.config.metadata?.name ?? '',
      'io.kubernetes.cri.sandbox-namespace': sandbox.config.metadata?.namespace ?? '',
      'io.kubernetes.cri.sandbox-uid': sandbox.config.metadata?.uid ?? '',
      'io.kubernetes.cri.image-name': plan.imageName,
    },
    linux: {
      namespaces: containerNamespaces(sandbox, plan.pidMode, plan.pidNamespacePath, privileged, facts.cgroupV2Only),
      ...(sandbox.userns ? { uidMappings: sandbox.userns.uidMappings, gidMappings: sandbox.userns.gidMappings } : {}),
      devices: privileged ? withRequested(await hostDevices(), devices.nodes) : devices.nodes,
      cgroupsPath: plan.cgroupsPath,
      resources,
      ...(seccomp ? { seccomp } : {}),
      ...(label ? { mountLabel: label } : {}),
      ...rootfsPropagation(cri.mounts),
      maskedPaths: privileged ? [] : (sc?.maskedPaths ?? []),
      readonlyPaths: privileged ? [] : (sc?.readonlyPaths ?? []),
    },
  };
  return { spec, mounts: cri.reported };
}

/** A privileged container's devices: the host's, and those its config asks for (which win at the same path). */
function withRequested(host: Device[], requested: Device[]): Device[] {
  const taken = new Set(requested.map((d) => d.path));
  return [...host.filter((d) => !taken.has(d.path)), ...requested];
}
