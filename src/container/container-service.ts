import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { RuntimeConfig } from '../config/schema.js';
import { failedPrecondition, invalidArgument, messageOf, notFound, runtimeFailed } from '../errors.js';
import type { ContainerConfig__Output } from '../generated/runtime/v1/ContainerConfig.js';
import type { HostFacts } from '../host/host-facts.js';
import { type Logger, logFailure } from '../log.js';
import type { NativeOps } from '../native/index.js';
import type { Monitor } from '../conmon/conmon.js';
import { ExitWatcher, readExitFile } from '../conmon/exit-watcher.js';
import type { MonitorWatcher } from '../conmon/conmon-watch.js';
import { MonitorWatches } from './monitor-watches.js';
import { findConmonCgroups, leaveCgroup } from '../conmon/conmon-cgroup.js';
import type { OciRuntime } from '../oci/runtime.js';
import type { LinuxResources, Process, Spec } from '../oci/spec-types.js';
import type { ContainerPods, PodContainers } from '../sandbox/sandbox-service.js';
import { RecordStore, type StoredRecord } from '../state/record-store.js';
import { NameRegistry } from '../state/name-registry.js';
import { CleanupStack } from '../util/cleanup.js';
import { Trash } from '../util/trash.js';
import { containerName, newId, requestKey } from '../util/ids.js';
import { KeyedMutex } from '../util/keyed-mutex.js';
import { nowNs } from '../util/time.js';
import type { ContainerEventType, EventBus } from '../events/event-bus.js';
import { type ContainerMeta, type ContainerStatus, mustBeRunning } from './container.js';
import { type ExecSyncResult, execSync } from './exec-sync.js';
import { type ExitFields, exitFields, withExit } from './exit-status.js';
import { endWithoutMonitor } from './monitor-gone.js';
import { type BundleDeps, type BundleRequest, pidNamespaceFor, prepareBundle } from './bundle.js';
import { ExitWaiters } from './exit-waiters.js';
import { KillDeadline } from './kill-deadline.js';
import { type LaunchDeps, launchContainer } from './launch.js';
import { type ReconcileDeps, reconcile, restoreRecords } from './reconcile.js';
import { RuntimeRelease } from './runtime-release.js';
import { checkStartable, startFailed, started } from './transitions.js';
import { type CriResources, ociResources } from './spec/resources.js';
import { checkUserRequest } from './spec/user.js';
import { checkContainerConfig } from './validate-config.js';
import { checkMetadata, keptMetadataSize, type ListedMetadata } from '../state/metadata-limits.js';
import { reopenConmonLog } from '../conmon/reopen-log.js';
import { infraContainerConfig } from './infra-config.js';
import type { HookDefinition } from '../hooks/hook-file.js';
import type { ResolvedDevice } from '../cdi/registry.js';
import { span } from '../tracing/tracing.js';
import { makeDirs } from '../util/fs.js';

export type ContainerRecord = StoredRecord<ContainerMeta, ContainerStatus>;

/** What the container side needs of the images (ImageService, or a fake). */
export interface ContainerImages {
  /** The image a container is made from: record, config and overlay lower directories. */
  forContainer(text: string): Promise<BundleRequest['image']>;
  /** The image (or OCI artifact) an image volume mounts. */
  forVolume(text: string): Promise<BundleRequest['image']>;
  /** Collects layers no container holds any more. */
  releaseLayers(): Promise<void>;
}

export interface ContainerServiceOptions {
  root: string;
  runroot: string;
  runtime: RuntimeConfig;
  runtimes: Map<string, OciRuntime>;
  monitor: Monitor;
  /** Tells when a container's conmon dies (conmon-watch.ts); without one, nobody watches. */
  monitorWatcher?: MonitorWatcher;
  images: ContainerImages;
  sandboxes: ContainerPods;
  native: NativeOps;
  facts: HostFacts;
  /** Whether berth's default AppArmor profile could be loaded at start-up. */
  apparmorDefaultLoaded: boolean;
  log: Logger;
  events?: EventBus;
  /** Told of every removal, so memory is given back after churn (host/memory-reducer.ts). */
  onRemoved?: () => void;
  /** The node's CDI devices (runtime.cdi_spec_dirs). */
  cdi?: { resolve(names: string[]): Promise<ResolvedDevice[]> };
  /** OCI hooks to inject into containers' specs (runtime.hooks_dirs). */
  hooks?: { current(): Promise<HookDefinition[]> };
  /** Reads what conmon left about an exit (exit-status.ts; a seam for tests that hold it). */
  readExit?: typeof exitFields;
  /** How long start-up waits for restored containers to be reconciled (reconcile.ts has the default). */
  restoreWaitMs?: number;
  /** Metrics hooks, when metrics are on. */
  observer?: { oomKill(): void; spawned(program: string, action: string, seconds: number): void };
}

const KILL_WAIT_MS = 10_000;
/** After `kill --all`, how long before the init is killed by itself too. */
const KILL_ALL_WAIT_MS = 2_000;
/** How long the exit file of a process already gone may take to appear. */
const EXIT_FILE_WAIT_MS = 2_000;

export class ContainerService implements PodContainers {
  readonly store: RecordStore<ContainerMeta, ContainerStatus>;
  private readonly names = new NameRegistry();
  private readonly locks = new KeyedMutex();
  private readonly exitWaiters = new ExitWaiters();
  /** Containers whose start is in progress, and whether their exit came meanwhile. */
  private readonly starting = new Map<string, boolean>();
  /** Stops in progress, which later stops and removals may hurry. */
  private readonly pendingStops = new Map<string, { deadline: KillDeadline; done: Promise<void> }>();
  private readonly processes = new Map<string, Process>();
  private readonly monitorWatches: MonitorWatches;
  private readonly exitsDir: string;
  /** conmon's attach sockets are reached through `<socketDir>/<id>/attach`. */
  readonly socketDir: string;
  private watcher: ExitWatcher | undefined;
  /** What only a live container needs, released once it has exited. */
  private readonly release: RuntimeRelease;
  private readonly trash: Trash;

  /** NRI's plugins, once NRI has started (after the restore phase). */
  nri: BundleDeps['nri'];

  constructor(private readonly opts: ContainerServiceOptions) {
    this.store = new RecordStore(path.join(opts.root, 'containers'), 'container', opts.log);
    this.trash = new Trash([opts.root, opts.runroot], opts.log);
    this.release = new RuntimeRelease((h) => this.runtimeFor(h), opts.native, opts.log);
    this.monitorWatches = new MonitorWatches(opts.monitorWatcher, opts.log);
    this.exitsDir = path.join(opts.runroot, 'exits');
    this.socketDir = path.join(opts.runroot, 'attach');
  }

  private emit(meta: ContainerMeta, type: ContainerEventType): void {
    if (meta.infra) return;
    this.opts.events?.publish({ containerId: meta.id, sandboxId: meta.sandboxId, type, createdAt: nowNs() });
  }

  runtimeFor(handler: string): OciRuntime {
    const runtime = this.opts.runtimes.get(handler);
    if (!runtime) throw failedPrecondition(`runtime handler "${handler}" is not configured`);
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

  /** Layers that containers' root filesystems and image volumes are made of. */
  layersInUse(): Set<string> {
    return new Set(this.store.list().flatMap((r) => [...r.meta.chainIds, ...(r.meta.imageVolumes ?? []).flatMap((v) => v.chainIds)]));
  }

  /**
   * The containers that mount each image as a volume, by image id. Asked
   * for every image ListImages and ImageStatus report (pinned or not), so
   * it is kept until the records change.
   */
  imageVolumeUsers(): Map<string, string[]> {
    if (this.volumeUsers?.generation === this.store.generation) return this.volumeUsers.users;
    const users = new Map<string, string[]>();
    for (const r of this.store.list()) {
      for (const v of r.meta.imageVolumes ?? []) users.set(v.imageId, [...(users.get(v.imageId) ?? []), r.meta.id]);
    }
    this.volumeUsers = { generation: this.store.generation, users };
    return users;
  }

  private volumeUsers: { generation: number; users: Map<string, string[]> } | undefined;

  /** The metadata size of each container berth keeps, for the node-wide bound of List answers. */
  private *listedSizes(): Iterable<number> {
    for (const r of this.store.list()) {
      yield keptMetadataSize(r.meta, () => ({ labels: r.meta.labels, annotations: r.meta.annotations, strings: [r.meta.metadata.name, r.meta.image] }));
    }
  }

  /** `log`: the call's logger (its RPC and request id), kept by the launch that follows. */
  async create(sandboxId: string, config: ContainerConfig__Output | null, log?: Logger): Promise<string> {
    if (!config?.metadata?.name) throw invalidArgument('CreateContainer: config.metadata.name is empty');
    if (!config.image?.image) throw invalidArgument('CreateContainer: config.image.image is empty');
    // The pod stays ready until the container exists: a StopPodSandbox
    // waits, then stops it with the rest (and a create after it fails).
    return this.opts.sandboxes.whileReady(sandboxId, async (sandbox) => {
      checkContainerConfig(config, sandbox.meta);
      checkMetadata(`container ${JSON.stringify(config.metadata!.name)}`, containerMetadata(config), config, this.listedSizes(), this.opts.runtime);
      const md = sandbox.meta.config.metadata!;
      const name = containerName(config.metadata!, md);
      const key = requestKey({ sandboxId: sandbox.meta.id, config });
      return this.names.reserve(name, key, () => this.createReserved(sandbox.meta.id, name, key, config, false, log));
    });
  }

  /**
   * The infra container of a pod whose containers share one PID namespace:
   * it runs the pause image and holds that namespace. It is hidden from
   * ListContainers, like CRI-O's infra container.
   */
  async createInfra(sandboxId: string, image: string): Promise<string> {
    const sandbox = this.opts.sandboxes.mustGet(sandboxId);
    const config = infraContainerConfig(image, sandbox.meta.config.metadata?.attempt ?? 0);
    const name = `k8s_POD_${sandbox.meta.name.slice(4)}`;
    const id = await this.createReserved(sandboxId, name, requestKey({ infra: sandboxId }), config, true);
    this.names.restore(name, id, requestKey({ infra: sandboxId }));
    await this.start(id);
    return id;
  }

  /** Creates the container; runs while its name is reserved, so identical concurrent creates wait for this one's answer. */
  private async createReserved(
    sandboxId: string,
    name: string,
    key: string,
    config: ContainerConfig__Output,
    infra = false,
    callLog?: Logger,
  ): Promise<string> {
    const sandbox = this.opts.sandboxes.mustGet(sandboxId);
    const id = newId();
    const log = (callLog ?? this.opts.log).child({ containerId: id });
    const sc = config.linux?.securityContext;
    checkUserRequest(
      {
        runAsGroup: sc?.runAsGroup ? Number(sc.runAsGroup.value) : undefined,
        runAsUser: sc?.runAsUser ? Number(sc.runAsUser.value) : undefined,
        runAsUsername: sc?.runAsUsername,
      },
      `container ${config.metadata!.name}`,
    );
    const image = await this.opts.images.forContainer(config.image!.image);
    const runtime = this.runtimeFor(sandbox.meta.runtimeHandler);
    const cleanup = new CleanupStack(log);
    try {
      const pid = pidNamespaceFor(config, sandbox.meta, sandbox.status.infraContainerId, (cid) => this.store.resolve(cid));
      const { meta, spec } = await prepareBundle({ ...this.opts, nri: this.nri, volumeImage: (text) => this.opts.images.forVolume(text) }, cleanup, {
        id,
        name,
        key,
        config,
        sandbox: sandbox.meta,
        image,
        infra,
        pid,
        bundle: path.join(this.opts.runroot, 'containers', id),
        persistDir: this.store.dirOf(id),
      });
      this.processes.set(id, spec.process);
      await this.store.create(meta, { state: 'CONTAINER_CREATED', resources: spec.linux.resources });
      cleanup.commit();
      // The runtime creates the container (conmon, then `runc create`) while
      // the answer travels back and the kubelet asks for StartContainer,
      // which waits for it under the container's lock. containerd goes
      // further and defers all of it to StartContainer; either way a
      // failure of the runtime reaches the kubelet there. The lock is taken
      // now; conmon starts once the answer is on its way (runc's start-up
      // takes both cores of a small node for a while).
      this.locks
        .run(id, async () => {
          await new Promise((resolve) => setImmediate(resolve));
          await launchContainer(this.launchDeps(), meta, runtime, log);
          await this.watchMonitor(id);
        })
        .catch((err: unknown) => log.error({ err }, 'launching the container failed unexpectedly'));
      this.emit(meta, 'CONTAINER_CREATED_EVENT');
      log.info({ name }, 'container created');
      return id;
    } catch (err) {
      await cleanup.unwind();
      this.processes.delete(id);
      throw err;
    }
  }

  async start(id: string, log?: Logger): Promise<void> {
    const record = this.mustGet(id);
    const callLog = log ?? this.opts.log.child({ containerId: record.meta.id });
    // The infra container starts while its pod is being made (not ready yet).
    if (record.meta.infra) return this.startLocked(record, callLog);
    // A pod stop waits for the start to finish, then stops the container.
    return this.opts.sandboxes.whileReady(record.meta.sandboxId, () => this.startLocked(record, callLog));
  }

  private async startLocked(record: ContainerRecord, log: Logger): Promise<void> {
    await this.locks.run(record.meta.id, async () => {
      checkStartable(record.meta.id, record.status);
      const runtime = this.runtimeFor(record.meta.runtimeHandler);
      // Taken before the process runs, so a quick exit never precedes it.
      const startedAt = nowNs();
      const t0 = performance.now();
      this.starting.set(record.meta.id, false);
      try {
        try {
          await span('runc.start', { 'k8s.container.id': record.meta.id }, () => runtime.start(record.meta.id));
          this.opts.observer?.spawned(runtime.handler.name, 'start', (performance.now() - t0) / 1000);
        } catch (err) {
          await this.store.update(record.meta.id, (s) => startFailed(s, messageOf(err)));
          throw err;
        }
        // The process may already have exited and been recorded: keep that.
        await this.store.update(record.meta.id, (s) => started(s, startedAt));
        this.emit(record.meta, 'CONTAINER_STARTED_EVENT');
        // An exit recorded while runc was starting it is told after the start.
        if (this.starting.get(record.meta.id)) this.emit(record.meta, 'CONTAINER_STOPPED_EVENT');
      } finally {
        this.starting.delete(record.meta.id);
      }
      log.info('container started');
    });
  }

  /** Resolves true when the container's exit has been recorded, false after `ms` or once `until` settles. */
  private waitForExit(id: string, ms: number, until?: Promise<unknown>): Promise<boolean> {
    const record = this.store.get(id);
    if (!record || record.status.state === 'CONTAINER_EXITED') return Promise.resolve(true);
    return this.exitWaiters.wait(id, ms, until);
  }

  /**
   * Sends the stop signal, waits `timeoutSeconds`, then SIGKILL. Returns
   * once the exit is recorded. Idempotent: stopping a stopped or unknown
   * container succeeds (CRI: "must not return an error if the container
   * has already been stopped"). A stop while another is pending joins it,
   * bringing its SIGKILL forward when this one's grace period ends first.
   */
  async stop(id: string, timeoutSeconds: number): Promise<void> {
    if (!id) throw invalidArgument('container id is empty');
    const record = this.store.resolve(id);
    if (!record) return;
    const killAt = Date.now() + Math.max(0, timeoutSeconds) * 1000;
    const pending = this.pendingStops.get(record.meta.id);
    if (pending) {
      pending.deadline.bringForward(killAt);
      return pending.done;
    }
    const deadline = new KillDeadline(killAt);
    const done = this.locks
      .run(record.meta.id, async () => {
        await this.stopLocked(record, deadline);
        // Like containerd, whose StopContainer returns once the task is
        // deleted: the runtime's container and the mount are released here
        // rather than in RemoveContainer. A failure is RemoveContainer's to retry.
        await this.release
          .release(record.meta)
          .catch(logFailure(this.opts.log, 'info', 'releasing a stopped container failed; RemoveContainer retries', { containerId: record.meta.id }));
      })
      .finally(() => {
        deadline.cancel();
        this.pendingStops.delete(record.meta.id);
      });
    this.pendingStops.set(record.meta.id, { deadline, done });
    return done;
  }

  private async stopLocked(record: ContainerRecord, deadline: KillDeadline): Promise<void> {
    const id = record.meta.id;
    if (record.status.state === 'CONTAINER_EXITED') return;
    const runtime = this.runtimeFor(record.meta.runtimeHandler);
    if (record.status.state === 'CONTAINER_RUNNING' && deadline.remainingMs() > 0) {
      if (await runtime.kill(id, record.meta.stopSignal)) {
        if (await this.waitForExit(id, deadline.remainingMs(), deadline.reached)) return;
      }
    }
    // `kill --all` signals every process of the container's cgroup, which
    // only a container sharing a PID namespace needs: with the systemd
    // cgroup driver runc 1.1 may find no process that way. A container
    // with its own PID namespace ends with its init.
    const all = record.meta.sharedPidNamespace ?? true; // records from before berth knew: as it did then
    let signalled: boolean;
    try {
      signalled = await runtime.kill(id, 'SIGKILL', all);
    } catch (err) {
      // The process may have died while runc was killing it: that is a stop.
      if (!(await this.waitForExit(id, 1000))) throw err;
      return;
    }
    if (!signalled) {
      // Nothing left to kill: the process has ended and only its exit file
      // is missing, which a conmon that died with it never writes. Waited
      // for briefly (as CRI-O does), then the runtime decides. The init is
      // killed by itself too, in case `kill --all` found no process.
      if (all) await runtime.kill(id, 'SIGKILL', false).catch(() => false);
      if (await this.waitForExit(id, EXIT_FILE_WAIT_MS)) return;
    } else if (await this.waitForExit(id, all ? KILL_ALL_WAIT_MS : KILL_WAIT_MS)) return;
    else if (all) {
      // What `kill --all` did not reach, killing the init still ends.
      await runtime.kill(id, 'SIGKILL', false).catch(logFailure(this.opts.log, 'debug', 'SIGKILL of the init after kill --all failed', { containerId: id }));
      if (await this.waitForExit(id, KILL_WAIT_MS)) return;
    }
    await reconcile(this.reconcileDeps(), record);
    if (this.store.get(id)?.status.state !== 'CONTAINER_EXITED') {
      throw runtimeFailed(`container ${id} did not exit after SIGKILL`);
    }
  }

  /** Called for every exit file conmon writes. */
  async handleExit(id: string, exitCode: number): Promise<void> {
    const record = this.store.get(id);
    if (!record) return;
    const exit = record.status.state === 'CONTAINER_EXITED' ? undefined : await (this.opts.readExit ?? exitFields)(record.meta, exitCode);
    await this.recordExit(record, exit);
  }

  /** Records `exit` (none when it is already recorded), then releases the container and wakes its waiters. */
  private async recordExit(record: ContainerRecord, exit: ExitFields | undefined): Promise<void> {
    const id = record.meta.id;
    this.monitorWatches.stop(id);
    // Only the call that records the exit tells of it: the exit watcher and
    // the watch on conmon can both report one exit at the same moment.
    let recorded = false;
    if (exit) {
      // Merged into the status as it stands when written: a start recorded
      // meanwhile keeps its startedAt.
      await this.store.update(id, (s) => {
        if (s.state === 'CONTAINER_EXITED') return s;
        recorded = true;
        return withExit(s, exit);
      });
    }
    if (exit && recorded) {
      if (exit.reason === 'OOMKilled') this.opts.observer?.oomKill();
      // Events keep the order of the life cycle: a start in progress tells of the exit after its own event.
      if (this.starting.has(id)) this.starting.set(id, true);
      else this.emit(record.meta, 'CONTAINER_STOPPED_EVENT');
      this.opts.log.info({ containerId: id, exitCode: exit.exitCode, reason: exit.reason }, 'container exited');
    }
    // Under the container's lock: a `runc kill` in flight (a stop) must not
    // find its cgroups deleted under it.
    this.locks
      .run(id, () => this.release.release(record.meta))
      .catch((err: unknown) => this.opts.log.warn({ err, containerId: id }, 'releasing an exited container failed; RemoveContainer will retry'));
    this.exitWaiters.notify(id);
  }

  /**
   * Watches the container's conmon, once: when it dies without an exit
   * file, the container is ended and recorded EXITED (monitor-gone.ts).
   */
  private async watchMonitor(id: string): Promise<void> {
    const record = this.store.get(id);
    if (!record || record.status.state === 'CONTAINER_EXITED') return;
    await this.monitorWatches.watch(id, record.meta.bundle, (pid) =>
      this.monitorGone(id, pid).catch((err: unknown) => this.opts.log.error({ err, containerId: id }, 'handling the death of conmon failed')),
    );
  }

  /** The container's conmon exited: an ordinary exit if it left the exit file, else the container lost its monitor. */
  private async monitorGone(id: string, conmonPid: number): Promise<void> {
    const record = this.store.get(id);
    if (!record || record.status.state === 'CONTAINER_EXITED') return;
    // conmon writes the exit file before it exits; the exit watcher may not have reported it yet.
    const code = await readExitFile(path.join(record.meta.persistDir, 'exit')).catch(() => undefined);
    if (code !== undefined) return this.handleExit(id, code);
    this.opts.log.warn({ containerId: id, conmonPid }, 'conmon died without recording the exit: killing the container through the runtime');
    const exit = await endWithoutMonitor({ runtime: this.runtimeFor(record.meta.runtimeHandler), log: this.opts.log }, record.meta, conmonPid);
    if (!this.store.get(id)) return; // removed meanwhile
    // The exit file may have come while the runtime was asked (conmon wrote it as it died).
    const late = await readExitFile(path.join(record.meta.persistDir, 'exit')).catch(() => undefined);
    if (late !== undefined) return this.handleExit(id, late);
    await this.recordExit(record, this.store.get(id)?.status.state === 'CONTAINER_EXITED' ? undefined : exit);
  }

  /** Removes the container whatever its state (killing it first). Idempotent. */
  async remove(id: string, callLog?: Logger): Promise<void> {
    if (!id) throw invalidArgument('container id is empty');
    const record = this.store.resolve(id);
    if (!record) return;
    const log = callLog ?? this.opts.log.child({ containerId: record.meta.id });
    // A stop waiting out a grace period escalates now instead of holding the lock.
    this.pendingStops.get(record.meta.id)?.deadline.bringForward(Date.now());
    await this.locks.run(record.meta.id, async () => {
      if (!this.store.get(record.meta.id)) return;
      const { meta } = record;
      if (record.status.state !== 'CONTAINER_EXITED')
        await this.stopLocked(record, new KillDeadline(0)).catch((err: unknown) => log.warn({ err }, 'stop before remove failed'));
      // Nothing may be mounted below the directories when they are deleted.
      await this.release.release(meta);
      if (meta.conmonCgroup) await leaveCgroup(meta.conmonCgroup).catch((err: unknown) => log.warn({ err }, "removing conmon's cgroup failed"));
      // The record directory goes first: once it is in the trash, a restart
      // no longer sees the container, and the rest are orphans at worst. A
      // status write still queued (an exit being recorded) lands before.
      await this.store.settled(meta.id);
      await this.trash.discard(meta.persistDir);
      this.store.forget(meta.id);
      this.release.forget(meta.id);
      this.monitorWatches.stop(meta.id);
      await Promise.all([
        this.trash.discard(meta.bundle),
        rm(path.join(this.exitsDir, meta.id), { force: true }),
        rm(path.join(this.socketDir, meta.id), { force: true, recursive: true }),
      ]);
      this.names.release(meta.name);
      this.processes.delete(meta.id);
      this.emit(meta, 'CONTAINER_DELETED_EVENT');
      this.opts.onRemoved?.();
      log.info('container removed');
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
    mustBeRunning(record);
    const process = await this.processOf(record);
    return span('runc.exec', { 'k8s.container.id': record.meta.id }, () =>
      execSync({
        runtime: this.runtimeFor(record.meta.runtimeHandler),
        id: record.meta.id,
        bundle: record.meta.bundle,
        process,
        cmd,
        timeoutSeconds,
        signal,
      }),
    );
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

  async updateResources(id: string, resources: CriResources | null, callLog?: Logger): Promise<LinuxResources> {
    const record = this.mustGet(id);
    const log = callLog ?? this.opts.log.child({ containerId: record.meta.id });
    const next = ociResources(resources, this.opts.facts, this.opts.runtime.pids_limit, (what) =>
      log.debug({ dropped: what }, 'leaving out limits this host cannot enforce'),
    );
    delete next.devices; // devices are fixed at create
    // Under the lock: a container just created may still be in the runtime's hands.
    return this.locks.run(record.meta.id, async () => {
      if (record.status.state === 'CONTAINER_EXITED') throw failedPrecondition(`container ${record.meta.id} has exited`);
      await this.runtimeFor(record.meta.runtimeHandler).update(record.meta.id, next);
      const merged: LinuxResources = { ...record.status.resources, ...next };
      await this.store.update(record.meta.id, (s) => ({ ...s, resources: merged }));
      return merged;
    });
  }

  /** Asks conmon to reopen the log file (the kubelet rotated it), and waits until it has. */
  async reopenLog(id: string): Promise<void> {
    const record = this.mustGet(id);
    mustBeRunning(record);
    await reopenConmonLog(record.meta.bundle, record.meta.logPath);
  }

  /**
   * Start-up: load records, reconcile each with conmon's exit files and
   * the runtime, remove what cannot be used, then watch for exits (the
   * initial scan also reports exits that happened while berth was down).
   */
  async restore(): Promise<void> {
    await makeDirs(this.exitsDir, 0o700);
    await makeDirs(this.socketDir, 0o700);
    await restoreRecords({
      ...this.reconcileDeps(),
      names: this.names,
      bundlesDir: path.join(this.opts.runroot, 'containers'),
      hasPod: (id) => this.opts.sandboxes.get(id) !== undefined,
      underLock: (id, fn) => this.locks.run(id, fn),
      waitMs: this.opts.restoreWaitMs,
      // A conmon that died while berth was down is found dead at once.
      reconciled: (id) => void this.watchMonitor(id),
    });
    void this.trash.empty(); // what an earlier run left there
    this.watcher = new ExitWatcher(this.exitsDir, (id, code) => this.handleExit(id, code), this.opts.log);
    await this.watcher.start();
  }

  private launchDeps(): LaunchDeps {
    return {
      monitor: this.opts.monitor,
      native: this.opts.native,
      runtime: this.opts.runtime,
      store: this.store,
      exitsDir: this.exitsDir,
      socketDir: this.socketDir,
      observer: this.opts.observer,
      failed: (meta) => this.emit(meta, 'CONTAINER_STOPPED_EVENT'),
    };
  }

  private reconcileDeps(): ReconcileDeps {
    return {
      store: this.store,
      native: this.opts.native,
      log: this.opts.log,
      runtimeFor: (h) => this.runtimeFor(h),
      runtimes: () => [...this.opts.runtimes.values()],
      handleExit: (id, code) => this.handleExit(id, code),
      forgetConmonCgroup: async (id) => {
        // With systemd, conmon's scope goes with conmon; cgroupfs directories stay until removed.
        if (this.opts.runtime.cgroup_manager !== 'cgroupfs') return;
        for (const cgroup of await findConmonCgroups(id)) {
          await leaveCgroup(cgroup).catch((err: unknown) =>
            this.opts.log.warn({ err, containerId: id, cgroup }, "removing a lost container's conmon cgroup failed"),
          );
        }
      },
    };
  }

  close(): void {
    this.watcher?.stop();
    this.monitorWatches.stopAll();
  }
}

/** What ListContainers repeats of a container's config. */
function containerMetadata(config: ContainerConfig__Output): ListedMetadata {
  return { labels: config.labels, annotations: config.annotations, strings: [config.metadata?.name ?? '', config.image?.image ?? ''] };
}
