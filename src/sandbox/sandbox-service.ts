import path from 'node:path';
import type { RuntimeConfig } from '../config/schema.js';
import { failedPrecondition, invalidArgument, notFound, internal } from '../errors.js';
import type { PodSandboxConfig__Output } from '../generated/runtime/v1/PodSandboxConfig.js';
import type { Logger } from '../log.js';
import type { NativeOps } from '../native/index.js';
import { RecordStore, type StoredRecord } from '../state/record-store.js';
import { NameRegistry } from '../state/name-registry.js';
import { ensureCgroupParent, podCgroupParent, removeCgroupDirs, removeDefaultParent } from '../cgroups/cgroup-parent.js';
import { CleanupStack } from '../util/cleanup.js';
import { newId, requestKey, sandboxName } from '../util/ids.js';
import { KeyedGate } from '../util/keyed-gate.js';
import { KeyedMutex } from '../util/keyed-mutex.js';
import { nowNs } from '../util/time.js';
import { removeIfExists, writeJsonAtomic } from '../util/fs.js';
import type { NetworkManager, PodNetwork } from '../cni/network-manager.js';
import type { ContainerEventType, EventBus } from '../events/event-bus.js';
import { readFile, readdir } from 'node:fs/promises';
import type { NamespacePinner } from './namespaces.js';
import { hostHostname, makeRunDir, writeHostname, writeResolvConf } from './pod-files.js';
import type { NamespaceMode, SandboxMeta, SandboxStatus } from './sandbox.js';
import { mountShm, unmountShm } from './shm.js';
import { checkSysctls } from './sysctls.js';
import { podUserns } from './userns.js';
import { checkPodConfig } from './validate-config.js';
import { checkMetadata, keptMetadataSize, type ListedMetadata } from '../state/metadata-limits.js';
import type { HookDefinition } from '../hooks/hook-file.js';
import { matchingHooks } from '../hooks/hooks-dirs.js';
import { runPoststopHooks } from '../hooks/run-hook.js';
import { type CheckVerdict, NetworkChecks } from './network-checks.js';
import { eachLimit } from '../util/each-limit.js';

export type SandboxRecord = StoredRecord<SandboxMeta, SandboxStatus>;

/** What the sandbox side needs from the container side. */
export interface PodContainers {
  /** Stops every container of the pod (SIGKILL: the kubelet gave grace already). */
  stopAll(sandboxId: string): Promise<void>;
  /** Removes every container of the pod. */
  removeAll(sandboxId: string): Promise<void>;
  /** Creates and starts the infra container that holds a pod's PID namespace. */
  createInfra(sandboxId: string, image: string): Promise<string>;
  remove(id: string): Promise<void>;
}

/** What the container side needs from the sandbox side. */
export interface ContainerPods {
  get(idOrPrefix: string): SandboxRecord | undefined;
  mustGet(id: string): SandboxRecord;
  /**
   * Runs `fn` while the pod is ready and stays so: StopPodSandbox waits
   * until `fn` has finished, and `fn` is not run (FAILED_PRECONDITION) when
   * the pod is not ready.
   */
  whileReady<T>(id: string, fn: (pod: SandboxRecord) => Promise<T>): Promise<T>;
}

/** Makes sure the pause image is present, pulling it if needed. */
export type EnsureImage = (image: string) => Promise<void>;

export interface SandboxServiceOptions {
  root: string;
  runroot: string;
  runtime: RuntimeConfig;
  /** The configured runtime handlers now (a reload may add one). */
  runtimeHandlers: () => string[];
  native: NativeOps;
  pinner: NamespacePinner;
  /** The infra image, read when a PID-sharing pod starts (a reload may change it). */
  pauseImage: () => string;
  ensureImage: EnsureImage;
  network: NetworkManager;
  log: Logger;
  events?: EventBus;
  /** OCI hooks: the pod's poststop hooks run when it stops. */
  hooks?: { current(): Promise<HookDefinition[]> };
}

export class SandboxService implements ContainerPods {
  readonly store: RecordStore<SandboxMeta, SandboxStatus>;
  private readonly names = new NameRegistry();
  private readonly locks = new KeyedMutex();
  /** Held shared by container creates and starts, exclusive by a pod stop (see whileReady). */
  private readonly gates = new KeyedGate();
  /** CNI CHECK in the background, and the last verdict per pod. */
  private readonly checks: NetworkChecks;
  private containers: PodContainers | undefined;

  constructor(private readonly opts: SandboxServiceOptions) {
    this.store = new RecordStore(path.join(opts.root, 'sandboxes'), 'sandbox', opts.log);
    this.checks = new NetworkChecks(opts.network, this.store, opts.log);
  }

  attachContainers(containers: PodContainers): void {
    this.containers = containers;
  }

  /** A pod's own life-cycle event (GetContainerEvents), keyed by its id as containerd does. */
  private emit(id: string, type: ContainerEventType, last?: SandboxRecord): void {
    this.opts.events?.publish({ containerId: id, sandboxId: id, type, createdAt: nowNs(), ...(last ? { podStatus: last } : {}) });
  }

  get(idOrPrefix: string): SandboxRecord | undefined {
    return this.store.resolve(idOrPrefix);
  }

  mustGet(id: string): SandboxRecord {
    if (!id) throw invalidArgument('pod sandbox id is empty');
    const record = this.store.resolve(id);
    if (!record) throw notFound(`pod sandbox ${id} not found`);
    return record;
  }

  /** `log`: the call's logger (its RPC and request id). */
  async run(config: PodSandboxConfig__Output | null, handler: string, log?: Logger): Promise<string> {
    const md = config?.metadata;
    if (!config || !md?.name || !md.namespace || !md.uid) {
      throw invalidArgument('RunPodSandbox: config.metadata needs name, namespace and uid');
    }
    const runtimeHandler = handler || this.opts.runtime.default_runtime;
    const handlers = this.opts.runtimeHandlers();
    if (!handlers.includes(runtimeHandler)) {
      throw invalidArgument(`unknown runtime handler "${handler}" (configured: ${handlers.join(', ')})`);
    }
    await checkPodConfig(config);
    checkMetadata(`pod ${md.namespace}/${md.name}`, podMetadata(config), config, this.listedSizes(), this.opts.runtime);
    const name = sandboxName(md);
    return this.names.reserve(name, requestKey({ config, handler }), () =>
      this.create(name, config, { runtimeHandler, requestedHandler: handler }, requestKey({ config, handler }), log),
    );
  }

  /** The metadata size of each pod berth keeps, for the node-wide bound of List answers. */
  private *listedSizes(): Iterable<number> {
    for (const r of this.store.list()) yield keptMetadataSize(r.meta, () => podMetadata(r.meta.config));
  }

  private async create(
    name: string,
    config: PodSandboxConfig__Output,
    handlers: Pick<SandboxMeta, 'runtimeHandler' | 'requestedHandler'>,
    key: string,
    callLog?: Logger,
  ): Promise<string> {
    const id = newId();
    const log = (callLog ?? this.opts.log).child({ podSandboxId: id });
    const cleanup = new CleanupStack(log);
    const nsOpts = config.linux?.securityContext?.namespaceOptions;
    const modes = {
      network: (nsOpts?.network ?? 'POD') as NamespaceMode,
      pid: (nsOpts?.pid ?? 'CONTAINER') as NamespaceMode,
      ipc: (nsOpts?.ipc ?? 'POD') as NamespaceMode,
    };
    const hostNetwork = modes.network === 'NODE';
    const hostIpc = modes.ipc === 'NODE';
    const sysctls = checkSysctls(config.linux?.sysctls ?? {}, hostNetwork, hostIpc);
    const userns = podUserns(nsOpts?.usernsOptions);
    if (userns && (hostNetwork || hostIpc)) {
      throw invalidArgument(
        "a pod with its own user namespace needs its own network and IPC namespaces (host namespaces are owned by the host's user namespace)",
      );
    }
    const cgroupParent = podCgroupParent(this.opts.runtime.cgroup_manager, config.linux?.cgroupParent ?? '');
    const runDir = path.join(this.opts.runroot, 'sandboxes', id);
    try {
      await makeRunDir(runDir);
      cleanup.push('run directory', () => removeIfExists(runDir));
      const hostname = hostNetwork ? await hostHostname() : config.hostname || id.slice(0, 12);
      const files: SandboxMeta['files'] = { hostname: path.join(runDir, 'hostname'), resolvConf: path.join(runDir, 'resolv.conf') };
      await writeHostname(files.hostname, hostname);
      await writeResolvConf(files.resolvConf, config.dnsConfig);
      if (hostNetwork) files.hosts = '/etc/hosts';
      if (!hostIpc) {
        files.shm = path.join(runDir, 'shm');
        await mountShm(this.opts.native, files.shm, this.opts.runtime.shm_size);
        cleanup.push('shm', () => unmountShm(this.opts.native, files.shm!));
      }
      const namespaces = await this.opts.pinner.pin({
        dir: path.join(runDir, 'ns'),
        network: !hostNetwork,
        ipc: !hostIpc,
        uts: !hostNetwork,
        hostname,
        sysctls,
        userns,
      });
      cleanup.push('namespaces', () => this.opts.pinner.unpin(namespaces));
      let network: PodNetwork | undefined;
      if (!hostNetwork) network = await this.setUpNetwork(id, config, runDir, namespaces.network!, cleanup);
      let createdCgroups: string[] = [];
      if (this.opts.runtime.cgroup_manager === 'cgroupfs' && cgroupParent) {
        createdCgroups = await ensureCgroupParent(cgroupParent);
        cleanup.push('cgroup parent', () => removeCgroupDirs(createdCgroups));
      }
      const meta: SandboxMeta = {
        id,
        name,
        requestKey: key,
        config,
        ...handlers,
        createdAt: nowNs(),
        hostname,
        modes,
        namespaces,
        runDir,
        files,
        cgroupParent,
        createdCgroups,
        ...(network ? { network } : {}),
        ...(userns ? { userns } : {}),
      };
      await this.store.create(meta, { state: 'SANDBOX_READY' });
      cleanup.push('record', () => this.store.remove(id));
      if (modes.pid === 'POD') await this.startInfra(id, cleanup);
      cleanup.commit();
      this.emit(id, 'CONTAINER_CREATED_EVENT');
      this.emit(id, 'CONTAINER_STARTED_EVENT');
      // One CHECK right after ADD, in the background, for verbose status.
      const created = this.store.get(id);
      if (created && network) void this.checks.run(created);
      log.info({ name }, 'pod sandbox ready');
      return id;
    } catch (err) {
      await cleanup.unwind();
      throw err;
    }
  }

  /**
   * CNI ADD for the pod. The teardown is registered before ADD runs:
   * a plugin can allocate an address and still fail.
   */
  private async setUpNetwork(id: string, config: PodSandboxConfig__Output, runDir: string, netns: string, cleanup: CleanupStack): Promise<PodNetwork> {
    const md = config.metadata!;
    let planned: PodNetwork | undefined;
    cleanup.push('pod network', async () => {
      if (planned) await this.opts.network.tearDown(planned);
    });
    return this.opts.network.setUp(
      { name: md.name, namespace: md.namespace, uid: md.uid, sandboxId: id },
      netns,
      { portMappings: config.portMappings, annotations: config.annotations, dns: config.dnsConfig },
      async (plan) => {
        planned = plan;
        await writeJsonAtomic(path.join(runDir, 'network.json'), 1, plan);
      },
    );
  }

  /** The pause container that holds a PID namespace shared by the pod's containers. */
  private async startInfra(id: string, cleanup: CleanupStack): Promise<void> {
    if (!this.containers) throw internal('no container service attached');
    const pause = this.opts.pauseImage();
    await this.opts.ensureImage(pause);
    const containers = this.containers;
    const infraId = await containers.createInfra(id, pause);
    cleanup.push('infra container', () => containers.remove(infraId));
    await this.store.update(id, (s) => ({ ...s, infraContainerId: infraId }));
  }

  /**
   * Stops every container and releases the pod's namespaces and shm; the
   * record stays (NOTREADY) until RemovePodSandbox. The CRI says this is
   * idempotent and must not fail for a sandbox that is already gone.
   */
  async stop(id: string, callLog?: Logger): Promise<void> {
    if (!id) throw invalidArgument('pod sandbox id is empty');
    const record = this.store.resolve(id);
    if (!record) return;
    const log = callLog ?? this.opts.log.child({ podSandboxId: record.meta.id });
    await this.gates.exclusive(record.meta.id, () => this.stopLocked(record, log));
  }

  async whileReady<T>(id: string, fn: (pod: SandboxRecord) => Promise<T>): Promise<T> {
    const pod = this.mustGet(id);
    return this.gates.shared(pod.meta.id, async () => {
      // Checked inside the gate: a stop that came first has finished by now.
      if (pod.status.state !== 'SANDBOX_READY') throw failedPrecondition(`pod sandbox ${pod.meta.id} is not ready`);
      return fn(pod);
    });
  }

  private async stopLocked(record: SandboxRecord, log: Logger): Promise<void> {
    await this.locks.run(record.meta.id, async () => {
      await this.containers?.stopAll(record.meta.id);
      if (!record.status.released) {
        try {
          await this.release(record);
        } catch (err) {
          // Not ready any more, but not released either: the next Stop or Remove retries.
          await this.store.update(record.meta.id, (s) => ({ ...s, state: 'SANDBOX_NOTREADY' }));
          throw err;
        }
        await this.store.update(record.meta.id, (s) => ({ ...s, state: 'SANDBOX_NOTREADY', released: true }));
        this.emit(record.meta.id, 'CONTAINER_STOPPED_EVENT');
        log.info('pod sandbox stopped');
      }
    });
  }

  private async release(record: SandboxRecord): Promise<void> {
    const { meta } = record;
    if (meta.network) await this.opts.network.tearDown(meta.network);
    await this.opts.pinner.unpin(meta.namespaces);
    if (meta.files.shm) await unmountShm(this.opts.native, meta.files.shm);
    await this.runPoststopHooks(record);
  }

  /** The poststop hooks whose conditions the pod meets (its annotations; no command, no bind mounts). */
  private async runPoststopHooks(record: SandboxRecord): Promise<void> {
    const defs = (await this.opts.hooks?.current()) ?? [];
    if (defs.length === 0) return;
    const annotations = record.meta.config.annotations ?? {};
    const poststop = matchingHooks(defs, { annotations, command: '', hasBindMounts: false }).poststop ?? [];
    if (poststop.length > 0) await runPoststopHooks(poststop, { id: record.meta.id, bundle: record.meta.runDir, annotations }, this.opts.log);
  }

  /** Removes the sandbox with all its containers. Idempotent, like Stop. */
  async remove(id: string, callLog?: Logger): Promise<void> {
    if (!id) throw invalidArgument('pod sandbox id is empty');
    const record = this.store.resolve(id);
    if (!record) return;
    const log = callLog ?? this.opts.log.child({ podSandboxId: record.meta.id });
    await this.stop(record.meta.id, log);
    await this.locks.run(record.meta.id, async () => {
      if (!this.store.get(record.meta.id)) return;
      await this.containers?.removeAll(record.meta.id);
      if (!this.store.get(record.meta.id)?.status.released) await this.release(record);
      await removeCgroupDirs(record.meta.createdCgroups);
      if (!record.meta.cgroupParent && this.opts.runtime.cgroup_manager === 'cgroupfs') await removeDefaultParent();
      await removeIfExists(record.meta.runDir);
      const last = this.store.get(record.meta.id);
      await this.store.remove(record.meta.id);
      this.checks.forget(record.meta.id);
      this.names.release(record.meta.name);
      if (last) this.emit(record.meta.id, 'CONTAINER_DELETED_EVENT', last);
      log.info('pod sandbox removed');
    });
  }

  /** Start-up: load every record; a pod whose namespaces vanished (reboot) is NOTREADY. */
  async restore(): Promise<void> {
    const { loaded, broken } = await this.store.load();
    for (const id of broken) await removeIfExists(this.store.dirOf(id));
    await this.removeOrphanRunDirs();
    for (const record of loaded) this.names.restore(record.meta.name, record.meta.id, record.meta.requestKey);
    // Several pods at a time: each check is a few stats on the thread pool.
    await eachLimit(loaded, 16, async (record) => {
      if (record.status.state === 'SANDBOX_READY' && !(await this.opts.pinner.intact(record.meta.namespaces))) {
        this.opts.log.warn({ podSandboxId: record.meta.id }, 'pod namespaces are gone (reboot?): marking the sandbox not ready');
        await this.store.update(record.meta.id, (s) => ({ ...s, state: 'SANDBOX_NOTREADY', released: false }));
      }
    });
  }

  /** Run directories without a record (berth died mid-create): release and delete. */
  private async removeOrphanRunDirs(): Promise<void> {
    const dir = path.join(this.opts.runroot, 'sandboxes');
    for (const id of await readdir(dir).catch(() => [] as string[])) {
      if (this.store.get(id)) continue;
      this.opts.log.warn({ podSandboxId: id }, 'removing a pod run directory without a record');
      const runDir = path.join(dir, id);
      const plan = await readFile(path.join(runDir, 'network.json'), 'utf8').then(
        (t) => JSON.parse(t) as PodNetwork,
        () => undefined,
      );
      if (plan)
        await this.opts.network
          .tearDown(plan)
          .catch((err: unknown) => this.opts.log.warn({ err, podSandboxId: id }, 'tearing down an orphan pod network failed'));
      await this.opts.pinner.unpin({
        network: path.join(runDir, 'ns', 'net'),
        ipc: path.join(runDir, 'ns', 'ipc'),
        uts: path.join(runDir, 'ns', 'uts'),
        user: path.join(runDir, 'ns', 'user'),
      });
      await unmountShm(this.opts.native, path.join(runDir, 'shm'));
      await removeIfExists(runDir);
    }
  }

  list(): SandboxRecord[] {
    return this.store.list();
  }

  /** Records pod-level resources the kubelet has applied (in-place resize). */
  async recordResources(id: string, resources: { overhead: unknown; resources: unknown }): Promise<void> {
    const record = this.mustGet(id);
    await this.store.update(record.meta.id, (s) => ({ ...s, resources }));
  }

  /** CNI GC at start-up: plugins may free what no live pod holds (spec 1.1). */
  async collectNetworkGarbage(): Promise<void> {
    const live = this.store
      .list()
      .filter((r) => r.meta.network && !r.status.released)
      .map((r) => ({ containerId: r.meta.id, ifname: r.meta.network!.ifname }));
    await this.opts.network.collectGarbage(live);
  }

  /** Runs CNI CHECK on every ready pod every `intervalMs` (0: never); see network-checks.ts. */
  startNetworkChecks(intervalMs: number): void {
    this.checks.start(intervalMs);
  }

  /** A reload changed network.check_interval. */
  restartNetworkChecks(intervalMs: number): void {
    this.checks.start(intervalMs);
  }

  /** The last CNI CHECK verdict of a pod, if one ran since berth started. */
  lastNetworkCheck(id: string): CheckVerdict | undefined {
    return this.checks.last(id);
  }

  close(): void {
    this.checks.stop();
  }
}

/** What ListPodSandbox repeats of a pod's config. */
function podMetadata(config: PodSandboxConfig__Output): ListedMetadata {
  const md = config.metadata;
  return { labels: config.labels, annotations: config.annotations, strings: [md?.name ?? '', md?.namespace ?? '', md?.uid ?? ''] };
}
