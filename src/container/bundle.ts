import { mkdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RuntimeConfig } from '../config/schema.js';
import { errnoCode, errorKind, failedPrecondition, invalidArgument, notFound } from '../errors.js';
import type { ContainerConfig__Output } from '../generated/runtime/v1/ContainerConfig.js';
import type { HostFacts } from '../host/host-facts.js';
import type { ImageConfigFile } from '../image/media-types.js';
import type { Logger } from '../log.js';
import type { NativeOps } from '../native/index.js';
import type { Spec } from '../oci/spec-types.js';
import type { SandboxMeta } from '../sandbox/sandbox.js';
import type { ImageRecord } from '../storage/image-store.js';
import { containerCgroupsPath } from '../cgroups/cgroup-parent.js';
import { conmonPlacement } from '../conmon/conmon-cgroup.js';
import type { StoredRecord } from '../state/record-store.js';
import type { CleanupStack } from '../util/cleanup.js';
import { makeDirs, removeIfExists } from '../util/fs.js';
import { resolveInRoot } from '../util/path-in-root.js';
import { containerLogPath } from '../sandbox/validate-config.js';
import { nowNs } from '../util/time.js';
import type { ContainerMeta, ContainerStatus } from './container.js';
import { prepareMountTargets } from './mount-targets.js';
import { signalName } from './process-info.js';
import { mountRootfs, removeRootfs, rootfsPaths } from './rootfs.js';
import { idmapVolumesDir, releaseHostCopies } from './host-copies.js';
import { prepareRecursiveReadOnly, rroSupported } from './rro.js';
import { buildSpec } from './spec/build.js';
import type { CriMount } from './spec/mounts.js';
import { hostCapabilities } from './spec/capabilities.js';
import { type ResolvedUser, type UserRequest, resolveUser } from './spec/user.js';
import { type ImageVolume, type VolumeImage, checkSubPath, mountImageVolume, releaseImageVolumes } from './image-volumes.js';
import type { HookDefinition } from '../hooks/hook-file.js';
import { injectHooks } from '../hooks/hooks-dirs.js';
import { applyCdiDevices } from '../cdi/apply.js';
import { type ResolvedDevice, requestedCdiDevices } from '../cdi/registry.js';

export interface BundleDeps {
  native: NativeOps;
  /** The node's CDI devices (absent: requests for CDI devices are refused). */
  cdi?: { resolve(names: string[]): Promise<ResolvedDevice[]> };
  /** OCI hook definitions to inject where they match (absent: none). */
  hooks?: { current(): Promise<HookDefinition[]> };
  /** The image an image volume names (absent: image volumes are refused). */
  volumeImage?: (text: string) => Promise<VolumeImage>;
  facts: HostFacts;
  runtime: RuntimeConfig;
  apparmorDefaultLoaded: boolean;
  /** Plugins that adjust a container's spec before it is written (NRI); absent: none. */
  nri?: {
    adjustContainer(
      pod: SandboxMeta,
      spec: Spec,
      container: { id: string; sandboxId: string; name: string; labels: Record<string, string>; annotations: Record<string, string> },
    ): Promise<void>;
  };
  log: Logger;
}

export interface BundleRequest {
  id: string;
  name: string;
  key: string;
  config: ContainerConfig__Output;
  sandbox: SandboxMeta;
  image: { record: ImageRecord; config: ImageConfigFile; lowerDirs: string[]; storageRoot: string; names: { name: string; ref: string } };
  infra: boolean;
  pid: { mode: string; path?: string };
  /** `<runroot>/containers/<id>` and `<root>/containers/<id>`. */
  bundle: string;
  persistDir: string;
}

const users = new Map<string, ResolvedUser>();
const USERS_KEPT = 256;

/**
 * The user a container runs as. A new root filesystem holds exactly its
 * image's /etc/passwd and /etc/group, so the answer depends only on the
 * image and the request and is kept for the next container of that image.
 */
async function userOf(imageId: string, rootfs: string, req: UserRequest): Promise<ResolvedUser> {
  const key = JSON.stringify([imageId, req]);
  let user = users.get(key);
  if (!user) {
    user = await resolveUser(rootfs, req);
    if (users.size >= USERS_KEPT) users.delete(users.keys().next().value!);
    users.set(key, user);
  }
  return user;
}

/**
 * Everything a container needs before the runtime sees it: its
 * directories, the overlay root filesystem, the user it runs as, and the
 * OCI spec written as `config.json`. Each step pushes its undo onto
 * `cleanup`; the caller commits or unwinds. Returns the record's meta.
 */
export async function prepareBundle(deps: BundleDeps, cleanup: CleanupStack, req: BundleRequest): Promise<{ meta: ContainerMeta; spec: Spec }> {
  const { id, config, sandbox, image, bundle, persistDir } = req;
  const sc = config.linux?.securityContext;
  const paths = rootfsPaths(bundle, persistDir);
  // CDI devices are resolved before anything is made: an unknown one is the request's fault.
  const cdiNames = requestedCdiDevices(config.CDIDevices ?? [], config.annotations);
  if (cdiNames.length > 0 && !deps.cdi) throw invalidArgument('CDI devices are not supported here');
  const cdiDevices = cdiNames.length > 0 ? await deps.cdi!.resolve(cdiNames) : [];
  // Traversable (not listable): in a user namespace the container's root
  // is an unprivileged host uid that must still reach its root filesystem.
  await makeDirs(path.dirname(bundle), 0o711);
  await mkdir(bundle, { mode: 0o711 });
  cleanup.push('bundle', async () => {
    await releaseHostCopies(deps.native, bundle);
    await removeIfExists(bundle);
  });
  await makeDirs(persistDir, 0o700);
  cleanup.push('persist dir', () => removeIfExists(persistDir));
  // A pod with a user namespace of its own sees the image's files through idmapped layers.
  const usernsPath = sandbox.userns ? sandbox.namespaces.user : undefined;
  const idmapped = await mountRootfs(
    deps.native,
    paths,
    image.lowerDirs,
    image.storageRoot,
    usernsPath && sandbox.userns
      ? {
          usernsPath,
          stageDir: path.join(bundle, 'idmap'),
          rootUid: sandbox.userns.uidMappings[0]!.hostID,
          rootGid: sandbox.userns.gidMappings[0]!.hostID,
        }
      : undefined,
  );
  if (usernsPath && !idmapped)
    deps.log.warn({ containerId: id }, "idmapped layers are not supported here: the image's files keep their host owners in the container");
  cleanup.push('rootfs', () => removeRootfs(deps.native, paths));
  const cwd = config.workingDir || image.config.config?.WorkingDir || '/';
  if (!path.isAbsolute(cwd)) throw invalidArgument(`working_dir "${cwd}" must be absolute`);
  // Independent reads and writes inside the new root: side by side.
  const [user] = await Promise.all([
    userOf(image.record.id, paths.mountpoint, {
      runAsUser: sc?.runAsUser ? Number(sc.runAsUser.value) : undefined,
      runAsUsername: sc?.runAsUsername || undefined,
      runAsGroup: sc?.runAsGroup ? Number(sc.runAsGroup.value) : undefined,
      supplementalGroups: (sc?.supplementalGroups ?? []).map(Number),
      policy: sc?.supplementalGroupsPolicy === 'Strict' ? 'Strict' : 'Merge',
      imageUser: image.config.config?.User ?? '',
    }),
    makeWorkingDir(paths.mountpoint, cwd),
  ]);
  const volumes: ImageVolume[] = [];
  const prepareImageVolume = async (text: string, subPath: string, containerPath: string, index: number): Promise<string> => {
    if (!deps.volumeImage) throw invalidArgument(`mount ${containerPath}: image volumes are not supported here`);
    const sub = checkSubPath(subPath, containerPath);
    const volumeImage = await deps.volumeImage(text).catch((err: unknown) => {
      // The kubelet pulls an image volume's image before it creates the container.
      if (errorKind(err) === 'not-found') throw notFound(`image volume ${containerPath}: image "${text}" is not present`, err);
      throw err;
    });
    if (volumes.length === 0) cleanup.push('image volumes', () => releaseImageVolumes(deps.native, bundle));
    const source = await mountImageVolume(deps.native, bundle, index, volumeImage, sub, containerPath);
    volumes.push({ containerPath, imageId: volumeImage.record.id, chainIds: volumeImage.record.layers.map((l) => l.chainId) });
    return source;
  };
  // Volumes asking for ID mappings get idmapped copies, mapped as the pod's user namespace.
  let idmapCleanup = false;
  const prepareIdmap = async (source: string, m: CriMount, index: number): Promise<string> => {
    const nsPath = sandbox.namespaces.user;
    if (!sandbox.userns || !nsPath) throw invalidArgument(`mount ${m.containerPath}: ID mappings need a pod with a user namespace of its own`);
    if (!sameMappings(m.uidMappings ?? [], sandbox.userns.uidMappings) || !sameMappings(m.gidMappings ?? [], sandbox.userns.gidMappings)) {
      throw invalidArgument(`mount ${m.containerPath}: its ID mappings must be the pod's (the volume is mapped into the pod's user namespace)`);
    }
    const target = path.join(idmapVolumesDir(bundle), String(index));
    await makeDirs(idmapVolumesDir(bundle), 0o700);
    if ((await stat(source)).isDirectory()) await mkdir(target);
    else await writeFile(target, '', { mode: 0o600 });
    if (!idmapCleanup) cleanup.push('idmapped volumes', () => releaseHostCopies(deps.native, bundle));
    idmapCleanup = true;
    await deps.native.idmapMount(source, target, nsPath);
    return target;
  };
  const built = await buildSpec({
    id,
    config,
    sandbox,
    imageConfig: image.config,
    imageName: config.image!.image,
    user,
    cwd,
    facts: deps.facts,
    runtime: deps.runtime,
    hostCapabilities: await hostCapabilities(),
    cgroupsPath: containerCgroupsPath(deps.runtime.cgroup_manager, sandbox.cgroupParent, id),
    pidMode: req.pid.mode,
    pidNamespacePath: req.pid.path,
    rroSupported: rroSupported(),
    prepareRro: (source, index) => prepareRecursiveReadOnly(deps.native, bundle, source, index),
    prepareImageVolume,
    prepareIdmap,
    apparmorDefaultLoaded: deps.apparmorDefaultLoaded,
    onDroppedResources: (what) => deps.log.debug({ containerId: id, dropped: what }, 'leaving out limits this host cannot enforce'),
  });
  const userns = sandbox.userns;
  if (cdiDevices.length > 0) deps.log.debug({ containerId: id, devices: await applyCdiDevices(built.spec, cdiDevices) }, 'CDI devices applied');
  if (userns) await prepareMountTargets(paths.mountpoint, paths.upper, built.spec.mounts, userns.uidMappings[0]!.hostID, userns.gidMappings[0]!.hostID);
  // A pod's own poststop hooks are the pod's (sandbox-service.ts), not its infra container's.
  const hookDefs = req.infra ? [] : ((await deps.hooks?.current()) ?? []);
  if (hookDefs.length > 0) {
    const injected = injectHooks(
      built.spec,
      hookDefs,
      config.mounts.some((m) => m.hostPath !== ''),
    );
    if (injected.length > 0) deps.log.debug({ containerId: id, hooks: injected }, 'OCI hooks injected');
  }
  if (!req.infra && deps.nri) {
    await deps.nri.adjustContainer(sandbox, built.spec, {
      id,
      sandboxId: sandbox.id,
      name: config.metadata?.name ?? '',
      labels: config.labels,
      annotations: config.annotations,
    });
  }
  await writeFile(path.join(bundle, 'config.json'), JSON.stringify(built.spec), { mode: 0o600 });
  const logPath = containerLogPath(sandbox.config.logDirectory, config.logPath);
  if (logPath) {
    await makeDirs(path.dirname(logPath), 0o755).catch((err: unknown) => {
      const code = errnoCode(err);
      if (code === 'ENOTDIR' || code === 'EEXIST')
        throw invalidArgument(`log_path ${config.logPath}: its directory cannot be created in ${sandbox.config.logDirectory}: a part of it is a file`);
      throw err;
    });
  }
  const meta: ContainerMeta = {
    id,
    sandboxId: sandbox.id,
    name: req.name,
    requestKey: req.key,
    metadata: { name: config.metadata!.name, attempt: config.metadata!.attempt },
    image: config.image!.image,
    imageName: image.names.name,
    imageRef: image.names.ref,
    imageId: image.record.id,
    chainIds: image.record.layers.map((l) => l.chainId),
    labels: config.labels,
    annotations: config.annotations,
    logPath,
    tty: config.tty,
    stdin: config.stdin,
    stdinOnce: config.stdinOnce,
    createdAt: nowNs(),
    mounts: built.mounts,
    runtimeHandler: sandbox.runtimeHandler,
    stopSignal: signalName(config.stopSignal, image.config.config?.StopSignal),
    criStopSignal: config.stopSignal,
    bundle,
    persistDir,
    user: { uid: user.uid, gid: user.gid, supplementalGroups: user.additionalGids },
    privileged: sc?.privileged === true,
    // With a PID namespace of its own, killing its init ends every process.
    sharedPidNamespace: req.pid.mode !== 'CONTAINER',
    ...conmonCgroupOf(deps.runtime, sandbox.cgroupParent, id),
    ...(volumes.length > 0 ? { imageVolumes: volumes } : {}),
    ...(idmapped ? { idmappedRootfs: true } : {}),
    ...(req.infra ? { infra: true } : {}),
  };
  return { meta, spec: built.spec };
}

/** Where conmon goes, unless `runtime.conmon_cgroup` keeps it in berth's own cgroup. */
function conmonCgroupOf(runtime: RuntimeConfig, parent: string, id: string): Pick<ContainerMeta, 'conmonCgroup' | 'conmonScope'> {
  if (runtime.conmon_cgroup !== 'pod') return {};
  const placement = conmonPlacement(runtime.cgroup_manager, parent, id);
  return 'cgroup' in placement ? { conmonCgroup: placement.cgroup } : { conmonScope: placement };
}

/** The working directory, created in the new root where the image lacks it. */
async function makeWorkingDir(rootfs: string, cwd: string): Promise<void> {
  try {
    await makeDirs(await resolveInRoot(rootfs, cwd), 0o755);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'EEXIST' || code === 'ENOTDIR') throw invalidArgument(`working directory ${cwd} is not a directory in the image`);
    throw err;
  }
}

/**
 * The PID namespace a container gets: the host's when the pod uses it,
 * the pod's (held by its infra container) in POD mode, a target
 * container's in TARGET mode, else its own.
 */
export function pidNamespaceFor(
  config: ContainerConfig__Output,
  sandbox: { modes: { pid: string } },
  infraId: string | undefined,
  resolve: (id: string) => StoredRecord<ContainerMeta, ContainerStatus> | undefined,
): { mode: string; path?: string } {
  if (sandbox.modes.pid === 'NODE') return { mode: 'NODE' };
  const ns = config.linux?.securityContext?.namespaceOptions;
  const mode = ns?.pid ?? sandbox.modes.pid;
  if (mode === 'NODE') return { mode };
  const joinOf = (id: string | undefined, what: string) => {
    const target = id ? resolve(id) : undefined;
    if (!target) throw notFound(`${what} holding the PID namespace does not exist`);
    if (target.status.state !== 'CONTAINER_RUNNING' || !target.status.pid) throw failedPrecondition(`${what} holding the PID namespace is not running`);
    return `/proc/${target.status.pid}/ns/pid`;
  };
  if (mode === 'TARGET') return { mode, path: joinOf(ns?.targetId, `target container ${ns?.targetId}`) };
  if (mode === 'POD') {
    if (!infraId) return { mode: 'CONTAINER' }; // the infra container itself
    return { mode, path: joinOf(infraId, "the pod's infra container") };
  }
  return { mode: 'CONTAINER' };
}

/** Whether a mount's CRI mappings are exactly the pod's user namespace mappings (order included). */
function sameMappings(mount: { hostId: number; containerId: number; length: number }[], pod: { hostID: number; containerID: number; size: number }[]): boolean {
  return (
    mount.length === pod.length && mount.every((m, i) => m.hostId === pod[i]!.hostID && m.containerId === pod[i]!.containerID && m.length === pod[i]!.size)
  );
}
