import { mkdir, open, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import path from 'node:path';
import type { RuntimeConfig } from '../config/schema.js';
import { RuntimeError, failedPrecondition, invalidArgument, notFound } from '../errors.js';
import type { ContainerConfig__Output } from '../generated/runtime/v1/ContainerConfig.js';
import type { HostFacts } from '../host/host-facts.js';
import type { ImageService } from '../image/image-service.js';
import type { Logger } from '../log.js';
import type { NativeOps } from '../native/index.js';
import type { Monitor } from '../conmon/conmon.js';
import { ExitWatcher, readExitFile } from '../conmon/exit-watcher.js';
import type { OciRuntime } from '../oci/runtime.js';
import type { LinuxResources, Process, Spec } from '../oci/spec-types.js';
import type { PodContainers, SandboxService } from '../sandbox/sandbox-service.js';
import { RecordStore, type StoredRecord } from '../state/record-store.js';
import { NameRegistry } from '../state/name-registry.js';
import { containerCgroupsPath } from '../cgroups/cgroup-parent.js';
import { CleanupStack } from '../util/cleanup.js';
import { removeIfExists } from '../util/fs.js';
import { containerName, newId, requestKey } from '../util/ids.js';
import { KeyedMutex } from '../util/keyed-mutex.js';
import { resolveInRoot } from '../util/path-in-root.js';
import { nowNs } from '../util/time.js';
import type { ContainerEventType, EventBus } from '../events/event-bus.js';
import type { ContainerMeta, ContainerStatus } from './container.js';
import { type ExecSyncResult, execSync } from './exec-sync.js';
import { exitedStatus } from './exit-status.js';
import { isSameProcess, processStartTime, signalName } from './process-info.js';
import { type RootfsPaths, mountRootfs, removeRootfs, rootfsPaths, unmountRootfs } from './rootfs.js';
import { buildSpec } from './spec/build.js';
import { prepareMountTargets } from './mount-targets.js';
import { prepareRecursiveReadOnly, releaseRecursiveReadOnly, rroSupported } from './rro.js';
import { hostCapabilities } from './spec/capabilities.js';
import { type CriResources, ociResources } from './spec/resources.js';
import { checkUserRequest, resolveUser } from './spec/user.js';

export type ContainerRecord = StoredRecord<ContainerMeta, ContainerStatus>;

export interface ContainerServiceOptions {
  root: string;
  runroot: string;
  runtime: RuntimeConfig;
  runtimes: Map<string, OciRuntime>;
  monitor: Monitor;
  images: ImageService;
  sandboxes: SandboxService;
  native: NativeOps;
  facts: HostFacts;
  /** Whether berth's default AppArmor profile could be loaded at start-up. */
  apparmorDefaultLoaded: boolean;
  log: Logger;
  events?: EventBus;
  /** Metrics hooks, when metrics are on. */
  observer?: { oomKill(): void; spawned(program: string, action: string, seconds: number): void };
}

const KILL_WAIT_MS = 10_000;

export class ContainerService implements PodContainers {
  readonly store: RecordStore<ContainerMeta, ContainerStatus>;
  private readonly names = new NameRegistry();
  private readonly locks = new KeyedMutex();
  private readonly exitWaiters = new Map<string, (() => void)[]>();
  private readonly processes = new Map<string, Process>();
  private readonly exitsDir: string;
  /** conmon's attach sockets are reached through `<socketDir>/<id>/attach`. */
  readonly socketDir: string;
  private watcher: ExitWatcher | undefined;

  constructor(private readonly opts: ContainerServiceOptions) {
    this.store = new RecordStore(path.join(opts.root, 'containers'), 'container', opts.log);
    this.exitsDir = path.join(opts.runroot, 'exits');
    this.socketDir = path.join(opts.runroot, 'attach');
  }

  private emit(meta: ContainerMeta, type: ContainerEventType): void {
    if (meta.infra) return;
    this.opts.events?.publish({ containerId: meta.id, sandboxId: meta.sandboxId, type, createdAt: nowNs() });
  }

  runtimeFor(handler: string): OciRuntime {
    const runtime = this.opts.runtimes.get(handler);
    if (!runtime) throw new RuntimeError('failed-precondition', `runtime handler "${handler}" is not configured`);
    return runtime;
  }

  get(idOrPrefix: string): ContainerRecord | undefined {
    return this.store.resolve(idOrPrefix);
  }

  mustGet(id: string): ContainerRecord {
    if (!id) throw invalidArgument('container id is empty');
    const record = this.store.resolve(id);
    if (!record) throw notFound(`container ${id} not found`);
    return record;
  }

  list(): ContainerRecord[] {
    return this.store.list().filter((r) => !r.meta.infra);
  }

  /** Layers that containers' root filesystems are made of. */
  layersInUse(): Set<string> {
    return new Set(this.store.list().flatMap((r) => r.meta.chainIds));
  }

  async create(sandboxId: string, config: ContainerConfig__Output | null): Promise<string> {
    if (!config?.metadata?.name) throw invalidArgument('CreateContainer: config.metadata.name is empty');
    if (!config.image?.image) throw invalidArgument('CreateContainer: config.image.image is empty');
    const sandbox = this.opts.sandboxes.mustGet(sandboxId);
    if (sandbox.status.state !== 'SANDBOX_READY') throw failedPrecondition(`pod sandbox ${sandbox.meta.id} is not ready`);
    const md = sandbox.meta.config.metadata!;
    const name = containerName(config.metadata, md);
    const key = requestKey({ sandboxId: sandbox.meta.id, config });
    return this.names.reserve(name, key, () => this.createLocked(sandbox.meta.id, name, key, config));
  }

  /**
   * The infra container of a pod whose containers share one PID namespace:
   * it runs the pause image and holds that namespace. It is hidden from
   * ListContainers, like CRI-O's infra container.
   */
  async createInfra(sandboxId: string, image: string): Promise<string> {
    const sandbox = this.opts.sandboxes.mustGet(sandboxId);
    const config = {
      metadata: { name: 'POD', attempt: sandbox.meta.config.metadata?.attempt ?? 0 }, image: { image }, command: [], args: [], workingDir: '',
      envs: [], mounts: [], devices: [], labels: {}, annotations: {}, logPath: '', stdin: false, stdinOnce: false, tty: false,
      linux: { resources: null, securityContext: { readonlyRootfs: true, namespaceOptions: { network: 'POD', pid: 'CONTAINER', ipc: 'POD', targetId: '' } } },
      windows: null, CDIDevices: [], stopSignal: 'SIGKILL',
    } as unknown as ContainerConfig__Output;
    const name = `k8s_POD_${sandbox.meta.name.slice(4)}`;
    const id = await this.createLocked(sandboxId, name, requestKey({ infra: sandboxId }), config, true);
    this.names.restore(name, id, requestKey({ infra: sandboxId }));
    await this.start(id);
    return id;
  }

  private async createLocked(sandboxId: string, name: string, key: string, config: ContainerConfig__Output, infra = false): Promise<string> {
    const sandbox = this.opts.sandboxes.mustGet(sandboxId);
    const id = newId();
    const log = this.opts.log.child({ containerId: id });
    const sc = config.linux?.securityContext;
    checkUserRequest({ runAsGroup: sc?.runAsGroup ? Number(sc.runAsGroup.value) : undefined, runAsUser: sc?.runAsUser ? Number(sc.runAsUser.value) : undefined, runAsUsername: sc?.runAsUsername }, `container ${config.metadata!.name}`);
    const image = await this.opts.images.forContainer(config.image!.image);
    const runtime = this.runtimeFor(sandbox.meta.runtimeHandler);
    const bundle = path.join(this.opts.runroot, 'containers', id);
    const persistDir = this.store.dirOf(id);
    const paths = rootfsPaths(bundle, persistDir);
    const cleanup = new CleanupStack(log);
    try {
      // Traversable (not listable): in a user namespace the container's root
      // is an unprivileged host uid that must still reach its root filesystem.
      await mkdir(path.dirname(bundle), { recursive: true, mode: 0o711 });
      await mkdir(bundle, { mode: 0o711 });
      cleanup.push('bundle', async () => {
        await releaseRecursiveReadOnly(this.opts.native, bundle);
        await removeIfExists(bundle);
      });
      await mkdir(persistDir, { recursive: true, mode: 0o700 });
      cleanup.push('persist dir', () => removeIfExists(persistDir));
      await mountRootfs(this.opts.native, paths, image.lowerDirs, image.storageRoot);
      cleanup.push('rootfs', () => removeRootfs(this.opts.native, paths));
      const user = await resolveUser(paths.mountpoint, {
        runAsUser: sc?.runAsUser ? Number(sc.runAsUser.value) : undefined,
        runAsUsername: sc?.runAsUsername || undefined,
        runAsGroup: sc?.runAsGroup ? Number(sc.runAsGroup.value) : undefined,
        supplementalGroups: (sc?.supplementalGroups ?? []).map(Number),
        policy: sc?.supplementalGroupsPolicy === 'Strict' ? 'Strict' : 'Merge',
        imageUser: image.config.config?.User ?? '',
      });
      const cwd = config.workingDir || image.config.config?.WorkingDir || '/';
      if (!path.isAbsolute(cwd)) throw invalidArgument(`working_dir "${cwd}" must be absolute`);
      await mkdir(await resolveInRoot(paths.mountpoint, cwd), { recursive: true, mode: 0o755 });
      const pid = await this.pidNamespaceFor(config, sandbox.meta, sandbox.status.infraContainerId);
      const built = await buildSpec({
        id, config, sandbox: sandbox.meta, imageConfig: image.config, imageName: config.image!.image, user, cwd,
        facts: this.opts.facts, runtime: this.opts.runtime, hostCapabilities: await hostCapabilities(),
        cgroupsPath: containerCgroupsPath(this.opts.runtime.cgroup_manager, sandbox.meta.cgroupParent, id),
        pidMode: pid.mode, pidNamespacePath: pid.path, rroSupported: rroSupported(),
        prepareRro: (source, index) => prepareRecursiveReadOnly(this.opts.native, bundle, source, index), apparmorDefaultLoaded: this.opts.apparmorDefaultLoaded,
      });
      const userns = sandbox.meta.userns;
      if (userns) await prepareMountTargets(paths.mountpoint, paths.upper, built.spec.mounts, userns.uidMappings[0]!.hostID, userns.gidMappings[0]!.hostID);
      await writeFile(path.join(bundle, 'config.json'), JSON.stringify(built.spec), { mode: 0o600 });
      this.processes.set(id, built.spec.process);
      const logPath = config.logPath ? path.resolve(sandbox.meta.config.logDirectory || '/', config.logPath) : '';
      if (logPath) await mkdir(path.dirname(logPath), { recursive: true, mode: 0o755 });
      const spawnStarted = performance.now();
      const created = await this.opts.monitor.create({
        id, name, bundle, exitDir: this.exitsDir, persistDir, logPath, socketDir: this.socketDir, runtime,
        tty: config.tty, stdin: config.stdin, stdinOnce: config.stdinOnce, logSizeMax: this.opts.runtime.log_size_max,
        timeoutMs: this.opts.runtime.container_create_timeout,
      });
      this.opts.observer?.spawned('conmon', 'create', (performance.now() - spawnStarted) / 1000);
      // The container now has its own copies of the read-only trees; the host's
      // copies would keep their mount points busy (rmdir says EBUSY) for nothing.
      await releaseRecursiveReadOnly(this.opts.native, bundle);
      cleanup.push('runtime container', () => runtime.delete(id, true));
      const termPath = config.annotations['io.kubernetes.container.terminationMessagePath'];
      const termMount = termPath ? built.mounts.find((m) => path.normalize(m.containerPath) === path.normalize(termPath)) : undefined;
      const meta: ContainerMeta = {
        id, sandboxId, name, requestKey: key, metadata: { name: config.metadata!.name, attempt: config.metadata!.attempt },
        image: config.image!.image, imageId: image.record.id, chainIds: image.record.layers.map((l) => l.chainId),
        labels: config.labels, annotations: config.annotations, logPath, tty: config.tty, stdin: config.stdin, stdinOnce: config.stdinOnce,
        createdAt: nowNs(), mounts: built.mounts, runtimeHandler: sandbox.meta.runtimeHandler,
        stopSignal: signalName(config.stopSignal, image.config.config?.StopSignal), criStopSignal: config.stopSignal, bundle, persistDir,
        user: { uid: user.uid, gid: user.gid, supplementalGroups: user.additionalGids },
        terminationMessageHostPath: termMount?.hostPath,
        ...(infra ? { infra: true } : {}),
      };
      await this.store.create(meta, {
        state: 'CONTAINER_CREATED', pid: created.pid, pidStartTime: await processStartTime(created.pid), resources: built.spec.linux.resources,
      });
      cleanup.commit();
      this.emit(meta, 'CONTAINER_CREATED_EVENT');
      log.info({ name }, 'container created');
      return id;
    } catch (err) {
      await cleanup.unwind();
      this.processes.delete(id);
      throw err;
    }
  }

  /**
   * The PID namespace a container gets: the host's when the pod uses it,
   * the pod's (held by its infra container) in POD mode, a target
   * container's in TARGET mode, else its own.
   */
  private async pidNamespaceFor(config: ContainerConfig__Output, sandbox: { modes: { pid: string } }, infraId: string | undefined): Promise<{ mode: string; path?: string }> {
    if (sandbox.modes.pid === 'NODE') return { mode: 'NODE' };
    const ns = config.linux?.securityContext?.namespaceOptions;
    const mode = ns?.pid ?? sandbox.modes.pid;
    if (mode === 'NODE') return { mode };
    const joinOf = (id: string | undefined, what: string) => {
      const target = id ? this.store.resolve(id) : undefined;
      if (!target || target.status.state !== 'CONTAINER_RUNNING' || !target.status.pid) throw notFound(`${what} holding the PID namespace is not running`);
      return `/proc/${target.status.pid}/ns/pid`;
    };
    if (mode === 'TARGET') return { mode, path: joinOf(ns?.targetId, `target container ${ns?.targetId}`) };
    if (mode === 'POD') {
      if (!infraId) return { mode: 'CONTAINER' }; // the infra container itself
      return { mode, path: joinOf(infraId, 'the pod\'s infra container') };
    }
    return { mode: 'CONTAINER' };
  }

  async start(id: string): Promise<void> {
    const record = this.mustGet(id);
    await this.locks.run(record.meta.id, async () => {
      if (record.status.state !== 'CONTAINER_CREATED') {
        throw failedPrecondition(`container ${record.meta.id} is ${stateWord(record.status.state)}, not created`);
      }
      const runtime = this.runtimeFor(record.meta.runtimeHandler);
      // Taken before the process runs, so a quick exit never precedes it.
      const startedAt = nowNs();
      const t0 = performance.now();
      try {
        await runtime.start(record.meta.id);
        this.opts.observer?.spawned(runtime.handler.name, 'start', (performance.now() - t0) / 1000);
      } catch (err) {
        await this.store.update(record.meta.id, (s) => ({ ...s, state: 'CONTAINER_EXITED', exitCode: 128, finishedAt: nowNs(), reason: 'ContainerCannotRun', message: (err as Error).message }));
        throw err;
      }
      // The process may already have exited and been recorded: keep that.
      await this.store.update(record.meta.id, (s) => (s.state === 'CONTAINER_EXITED' ? { ...s, startedAt } : { ...s, state: 'CONTAINER_RUNNING', startedAt }));
      this.emit(record.meta, 'CONTAINER_STARTED_EVENT');
      this.opts.log.info({ containerId: record.meta.id }, 'container started');
    });
  }

  /** Resolves when the container's exit has been recorded, or after `ms`. */
  private waitForExit(id: string, ms: number): Promise<boolean> {
    const record = this.store.get(id);
    if (!record || record.status.state === 'CONTAINER_EXITED') return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        const list = this.exitWaiters.get(id) ?? [];
        this.exitWaiters.set(id, list.filter((w) => w !== done));
        resolve(false);
      }, ms);
      this.exitWaiters.set(id, [...(this.exitWaiters.get(id) ?? []), done]);
    });
  }

  /**
   * Sends the stop signal, waits `timeoutSeconds`, then SIGKILL. Returns
   * once the exit is recorded. Idempotent: stopping a stopped or unknown
   * container succeeds (CRI: "must not return an error if the container
   * has already been stopped").
   */
  async stop(id: string, timeoutSeconds: number): Promise<void> {
    if (!id) throw invalidArgument('container id is empty');
    const record = this.store.resolve(id);
    if (!record) return;
    await this.locks.run(record.meta.id, () => this.stopLocked(record, timeoutSeconds));
  }

  private async stopLocked(record: ContainerRecord, timeoutSeconds: number): Promise<void> {
    const id = record.meta.id;
    if (record.status.state === 'CONTAINER_EXITED') return;
    const runtime = this.runtimeFor(record.meta.runtimeHandler);
    if (record.status.state === 'CONTAINER_RUNNING' && timeoutSeconds > 0) {
      if (await runtime.kill(id, record.meta.stopSignal)) {
        if (await this.waitForExit(id, timeoutSeconds * 1000)) return;
      }
    }
    await runtime.kill(id, 'SIGKILL', true);
    if (await this.waitForExit(id, KILL_WAIT_MS)) return;
    await this.reconcile(record);
    if (this.store.get(id)?.status.state !== 'CONTAINER_EXITED') {
      throw new RuntimeError('unknown', `container ${id} did not exit after SIGKILL`);
    }
  }

  /** Called for every exit file conmon writes. */
  async handleExit(id: string, exitCode: number): Promise<void> {
    const record = this.store.get(id);
    if (!record) return;
    if (record.status.state !== 'CONTAINER_EXITED') {
      await this.store.update(id, (s) => s); // wait for writes in flight
      const status = await exitedStatus(record.meta, this.store.get(id)!.status, exitCode);
      await this.store.update(id, () => status);
      if (status.reason === 'OOMKilled') this.opts.observer?.oomKill();
      this.emit(record.meta, 'CONTAINER_STOPPED_EVENT');
      this.opts.log.info({ containerId: id, exitCode, reason: status.reason }, 'container exited');
    }
    const waiters = this.exitWaiters.get(id) ?? [];
    this.exitWaiters.delete(id);
    for (const w of waiters) w();
  }

  /**
   * Brings a record in line with reality when no exit event can be
   * expected: the exit file if conmon wrote one, else whether the process
   * still lives (same pid and start time), else the runtime's state.
   */
  private async reconcile(record: ContainerRecord): Promise<void> {
    const { meta, status } = record;
    if (status.state === 'CONTAINER_EXITED') return;
    const code = await readExitFile(path.join(meta.persistDir, 'exit'));
    if (code !== undefined) {
      await this.handleExit(meta.id, code);
      return;
    }
    if (await isSameProcess(status.pid, status.pidStartTime)) return;
    const state = await this.runtimeFor(meta.runtimeHandler).state(meta.id).catch(() => undefined);
    if (state && (state.status === 'running' || state.status === 'created' || state.status === 'paused')) return;
    await this.store.update(meta.id, (s) => ({
      ...s, state: 'CONTAINER_EXITED', exitCode: 255, finishedAt: nowNs(), reason: 'Error',
      message: 'the container exited while berth could not watch it; its exit code is unknown',
    }));
  }

  /** Removes the container whatever its state (killing it first). Idempotent. */
  async remove(id: string): Promise<void> {
    if (!id) throw invalidArgument('container id is empty');
    const record = this.store.resolve(id);
    if (!record) return;
    await this.locks.run(record.meta.id, async () => {
      if (!this.store.get(record.meta.id)) return;
      const { meta } = record;
      const runtime = this.runtimeFor(meta.runtimeHandler);
      if (record.status.state !== 'CONTAINER_EXITED') await this.stopLocked(record, 0).catch((err: unknown) => this.opts.log.warn({ err, containerId: meta.id }, 'stop before remove failed'));
      await runtime.delete(meta.id, true);
      await removeRootfs(this.opts.native, rootfsPaths(meta.bundle, meta.persistDir));
      await releaseRecursiveReadOnly(this.opts.native, meta.bundle);
      await removeIfExists(meta.bundle);
      await rm(path.join(this.exitsDir, meta.id), { force: true });
      await rm(path.join(this.socketDir, meta.id), { force: true });
      await this.store.remove(meta.id);
      this.names.release(meta.name);
      this.processes.delete(meta.id);
      this.emit(meta, 'CONTAINER_DELETED_EVENT');
      this.opts.log.info({ containerId: meta.id }, 'container removed');
    });
    await this.opts.images.releaseLayers();
  }

  async stopAll(sandboxId: string): Promise<void> {
    const mine = this.store.list().filter((r) => r.meta.sandboxId === sandboxId);
    await Promise.all(mine.map((r) => this.stop(r.meta.id, 0)));
  }

  async removeAll(sandboxId: string): Promise<void> {
    const mine = this.store.list().filter((r) => r.meta.sandboxId === sandboxId);
    await Promise.all(mine.map((r) => this.remove(r.meta.id)));
  }

  async execSync(id: string, cmd: string[], timeoutSeconds: number, signal: AbortSignal): Promise<ExecSyncResult> {
    const record = this.mustGet(id);
    if (cmd.length === 0) throw invalidArgument('ExecSync: cmd is empty');
    if (record.status.state !== 'CONTAINER_RUNNING') throw failedPrecondition(`container ${record.meta.id} is not running`);
    const process = await this.processOf(record);
    return execSync({ runtime: this.runtimeFor(record.meta.runtimeHandler), id: record.meta.id, bundle: record.meta.bundle, process, cmd, timeoutSeconds, signal });
  }

  /** The container's process spec (config.json), the template of exec'd processes. */
  async processOf(record: ContainerRecord): Promise<Process> {
    let p = this.processes.get(record.meta.id);
    if (!p) {
      p = (JSON.parse(await readFile(path.join(record.meta.bundle, 'config.json'), 'utf8')) as Spec).process;
      this.processes.set(record.meta.id, p);
    }
    return p;
  }

  async updateResources(id: string, resources: CriResources | null): Promise<LinuxResources> {
    const record = this.mustGet(id);
    if (record.status.state === 'CONTAINER_EXITED') throw failedPrecondition(`container ${record.meta.id} has exited`);
    const next = ociResources(resources, this.opts.facts, this.opts.runtime.pids_limit);
    delete next.devices; // devices are fixed at create
    await this.runtimeFor(record.meta.runtimeHandler).update(record.meta.id, next);
    const merged: LinuxResources = { ...record.status.resources, ...next };
    await this.store.update(record.meta.id, (s) => ({ ...s, resources: merged }));
    return merged;
  }

  /** Asks conmon to reopen the log file (the kubelet rotated it), and waits until it has. */
  async reopenLog(id: string): Promise<void> {
    const record = this.mustGet(id);
    if (record.status.state !== 'CONTAINER_RUNNING') throw failedPrecondition(`container ${record.meta.id} is not running`);
    const fh = await open(path.join(record.meta.bundle, 'ctl'), constants.O_WRONLY | constants.O_NONBLOCK);
    try {
      await fh.write('2 0 0\n');
    } finally {
      await fh.close();
    }
    if (!record.meta.logPath) return;
    for (let i = 0; i < 50; i++) {
      if (await stat(record.meta.logPath).then(() => true, () => false)) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new RuntimeError('unknown', `conmon did not reopen ${record.meta.logPath}`);
  }

  /**
   * Start-up: load records, reconcile each with conmon's exit files and
   * the runtime, remove what cannot be used, then watch for exits (the
   * initial scan also reports exits that happened while berth was down).
   */
  async restore(): Promise<void> {
    await mkdir(this.exitsDir, { recursive: true, mode: 0o700 });
    await mkdir(this.socketDir, { recursive: true, mode: 0o700 });
    const { loaded, broken } = await this.store.load();
    for (const id of broken) {
      await unmountRootfs(this.opts.native, rootfsPaths(path.join(this.opts.runroot, 'containers', id), this.store.dirOf(id)));
      await removeIfExists(this.store.dirOf(id));
      await removeIfExists(path.join(this.opts.runroot, 'containers', id));
    }
    await this.removeOrphanBundles();
    for (const record of loaded) {
      this.names.restore(record.meta.name, record.meta.id, record.meta.requestKey);
      if (!this.opts.sandboxes.get(record.meta.sandboxId)) this.opts.log.warn({ containerId: record.meta.id }, 'container of a missing sandbox');
      await this.reconcile(record);
    }
    this.watcher = new ExitWatcher(this.exitsDir, (id, code) => this.handleExit(id, code), this.opts.log);
    await this.watcher.start();
  }

  /** Bundles without a record (berth died mid-create or mid-remove): unmount and delete. */
  private async removeOrphanBundles(): Promise<void> {
    const dir = path.join(this.opts.runroot, 'containers');
    for (const id of await readdir(dir).catch(() => [] as string[])) {
      if (this.store.get(id)) continue;
      this.opts.log.warn({ containerId: id }, 'removing a container bundle without a record');
      await this.runtimeFor(this.opts.runtime.default_runtime).delete(id, true).catch(() => undefined);
      await unmountRootfs(this.opts.native, rootfsPaths(path.join(dir, id), this.store.dirOf(id)));
      await releaseRecursiveReadOnly(this.opts.native, path.join(dir, id));
      await removeIfExists(path.join(dir, id));
    }
  }

  close(): void {
    this.watcher?.stop();
  }
}

function stateWord(state: string): string {
  return state.replace('CONTAINER_', '').toLowerCase();
}

export type { RootfsPaths };
