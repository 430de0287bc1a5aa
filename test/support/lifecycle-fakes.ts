/**
 * The pod and container services wired to fakes of every seam that needs
 * root or a real host: the OCI runtime, conmon, berth-pinns, the native
 * system calls and the images. Records, bundles, exit files and locks are
 * the real ones, in a temporary directory, so the life cycle runs exactly
 * as in the daemon, without root.
 */

import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { NetworkManager } from '../../src/cni/network-manager.js';
import { CniConfigSource } from '../../src/cni/config-source.js';
import { defaultConfig } from '../../src/config/schema.js';
import type { ConmonCreateOptions, ConmonCreated, Monitor } from '../../src/conmon/conmon.js';
import type { MonitorGone, MonitorWatcher } from '../../src/conmon/conmon-watch.js';
import { type ContainerImages, ContainerService } from '../../src/container/container-service.js';
import type { BundleRequest } from '../../src/container/bundle.js';
import type { HostFacts } from '../../src/host/host-facts.js';
import { silentLogger } from '../../src/log.js';
import type { NativeOps } from '../../src/native/index.js';
import type { OciRuntime, OciState } from '../../src/oci/runtime.js';
import type { LinuxResources } from '../../src/oci/spec-types.js';
import type { NamespacePinner, PinRequest, PinnedNamespaces } from '../../src/sandbox/namespaces.js';
import { SandboxService } from '../../src/sandbox/sandbox-service.js';
import type { PodSandboxConfig } from '../../src/generated/runtime/v1/PodSandboxConfig.js';
import type { PodSandboxConfig__Output } from '../../src/generated/runtime/v1/PodSandboxConfig.js';
import type { ContainerConfig__Output } from '../../src/generated/runtime/v1/ContainerConfig.js';
import { RuntimeError } from '../../src/errors.js';
import { exitFields } from '../../src/container/exit-status.js';

const SIGNALS: Record<string, number> = { SIGKILL: 9, SIGTERM: 15, SIGINT: 2, SIGQUIT: 3, SIGHUP: 1, SIGUSR1: 10 };

/** A promise with its resolver outside, to hold a fake call until a test lets it go. */
export function latch(): { promise: Promise<void>; release: () => void } {
  let release!: () => void;
  const promise = new Promise<void>((resolve) => {
    release = resolve;
  });
  return { promise, release };
}

/**
 * runc as a state machine: conmon's create makes a container "created",
 * start makes it "running", a kill of a running container writes conmon's
 * exit file (128 + signal) as conmon would when the process dies.
 */
export class FakeRuntime implements OciRuntime {
  readonly handler = { name: 'runc', path: '/fake/runc', root: '/fake/root', type: 'oci' as const };
  readonly containers = new Map<string, 'created' | 'running' | 'stopped'>();
  readonly calls: string[] = [];
  /** Set to make the next start wait, or fail. */
  startHold: Promise<void> | undefined;
  startError: Error | undefined;
  /** Signals a running container ignores (a process that traps SIGTERM). */
  readonly ignored = new Set<string>();
  /** Set to make state() hang (a wedged runtime). */
  stateHold: Promise<void> | undefined;
  /** Set to make kill fail (a runtime that timed out: RuntimeRunner kills it and says DEADLINE_EXCEEDED). */
  killError: Error | undefined;

  constructor(private readonly exitsDir: string) {}

  async start(id: string): Promise<void> {
    this.calls.push(`start ${id}`);
    if (this.startHold) await this.startHold;
    if (this.startError) throw this.startError;
    const state = this.containers.get(id);
    if (state === 'stopped') return; // started, and already gone again
    if (state !== 'created') throw new Error(`container ${id} is not created`);
    this.containers.set(id, 'running');
  }

  async kill(id: string, signal: string): Promise<boolean> {
    this.calls.push(`kill ${id} ${signal}`);
    if (this.killError) throw this.killError;
    // runc signals a created container's init too (it waits in runc's exec fifo).
    const state = this.containers.get(id);
    if (state !== 'running' && state !== 'created') return false;
    if (!this.ignored.has(signal)) await this.exit(id, 128 + (SIGNALS[signal] ?? 15));
    return true;
  }

  /** Each container's persist directory, where conmon also leaves its exit file. */
  readonly persistDirs = new Map<string, string>();

  /** Containers whose conmon is dead: their end writes no exit file. */
  readonly withoutConmon = new Set<string>();

  /** The container's process ends by itself with `code`: conmon's two exit files appear. */
  async exit(id: string, code: number): Promise<void> {
    this.containers.set(id, 'stopped');
    if (this.withoutConmon.has(id)) return;
    const persist = this.persistDirs.get(id);
    if (persist) await writeFile(path.join(persist, 'exit'), String(code));
    await writeFile(path.join(this.exitsDir, `${id}.tmp`), String(code));
    await rename(path.join(this.exitsDir, `${id}.tmp`), path.join(this.exitsDir, id));
  }

  async delete(id: string): Promise<void> {
    this.calls.push(`delete ${id}`);
    this.containers.delete(id);
  }

  async state(id: string): Promise<OciState | undefined> {
    if (this.stateHold) await this.stateHold;
    const s = this.containers.get(id);
    return s ? ({ ociVersion: '1.0.2', id, status: s, pid: s === 'stopped' ? 0 : process.pid, bundle: '' } as OciState) : undefined;
  }

  async update(id: string, _resources: LinuxResources): Promise<void> {
    this.calls.push(`update ${id}`);
  }

  globalArgs(): string[] {
    return [];
  }
}

/** conmon: runs the runtime's create (the container becomes "created"), or fails as told; `dies` plays kill -9 of it. */
export class FakeMonitor implements Monitor, MonitorWatcher {
  /** Watches by bundle, and the conmons already dead. */
  private readonly watches = new Map<string, MonitorGone>();
  private readonly dead = new Set<string>();
  readonly bundles = new Map<string, string>();
  readonly created: ConmonCreateOptions[] = [];
  createError: Error | undefined;
  createHold: Promise<void> | undefined;
  /** The pid conmon reports for the container (a dead one to play a process gone). */
  pid = process.pid;

  constructor(private readonly runtime: FakeRuntime) {}

  async create(opts: ConmonCreateOptions): Promise<ConmonCreated> {
    this.created.push(opts);
    this.bundles.set(opts.id, opts.bundle);
    this.runtime.persistDirs.set(opts.id, opts.persistDir);
    if (this.createHold) await this.createHold;
    if (this.createError) throw this.createError;
    this.runtime.containers.set(opts.id, 'created');
    // By default a live pid whose start time can be read: the test process itself.
    return { pid: this.pid };
  }

  /** Set to play a bundle without conmon's pid file: nothing can be watched. */
  unwatchable = false;

  async watch(bundle: string, onGone: MonitorGone): Promise<(() => void) | undefined> {
    if (this.unwatchable) return undefined;
    if (this.dead.has(bundle)) onGone(4242);
    else this.watches.set(bundle, onGone);
    return () => this.watches.delete(bundle);
  }

  /** Whether the container's conmon is watched now. */
  watched(id: string): boolean {
    return this.watches.has(this.bundles.get(id) ?? '');
  }

  /** The container's conmon is killed (kill -9): the container runs on, and no exit file will come. */
  dies(id: string): void {
    const bundle = this.bundles.get(id) ?? '';
    this.dead.add(bundle);
    this.runtime.withoutConmon.add(id);
    const onGone = this.watches.get(bundle);
    this.watches.delete(bundle);
    onGone?.(4242);
  }
}

/** berth-pinns: empty files stand for the pinned namespaces. */
export class FakePinner implements NamespacePinner {
  /** Set to make the next pin fail (berth-pinns refusing a sysctl, say). */
  pinError: Error | undefined;

  async pin(req: PinRequest): Promise<PinnedNamespaces> {
    if (this.pinError) throw this.pinError;
    await mkdir(req.dir, { recursive: true });
    const files: PinnedNamespaces = {};
    for (const kind of ['network', 'ipc', 'uts'] as const) {
      if (!req[kind]) continue;
      files[kind] = path.join(req.dir, kind);
      await writeFile(files[kind]!, '');
    }
    return files;
  }

  async unpin(files: PinnedNamespaces): Promise<void> {
    for (const f of Object.values(files)) if (f) await rm(f, { force: true });
  }

  async intact(files: PinnedNamespaces): Promise<boolean> {
    for (const f of Object.values(files))
      if (
        f &&
        !(await stat(f).then(
          () => true,
          () => false,
        ))
      )
        return false;
    return true;
  }
}

/** The system calls: mounts are remembered, not made. */
export function fakeNative(): NativeOps & { mounts: Set<string> } {
  const mounts = new Set<string>();
  return {
    mounts,
    mknod: async () => undefined,
    lsetxattr: async () => undefined,
    writeFiles: async (files) => {
      for (const f of files) await writeFile(f.path, f.data);
    },
    trimMemory: async () => undefined,
    memoryPressure: () => undefined,
    lgetxattr: async () => null,
    llistxattr: async () => [],
    mount: async (_source, target) => {
      mounts.add(target);
    },
    umount2: async (target) => {
      mounts.delete(target);
    },
    connectInNetns: async () => {
      throw new Error('no network namespaces in unit tests');
    },
    readOnlyRecursive: async () => undefined,
    idmapMount: async (_source, target) => {
      mounts.add(target);
    },
  };
}

const FACTS: HostFacts = {
  hasSysResource: false,
  ownOomScoreAdj: 0,
  hardLimits: new Map(),
  cgroupV2Only: false,
  cgroupControllers: new Set(['cpu', 'memory', 'pids']),
  swapAccounting: false,
  apparmor: false,
  selinux: false,
};

/** One image with one (empty) layer directory. */
class FakeImages implements ContainerImages {
  releases = 0;
  /** Set to hold CreateContainer at its image lookup. */
  hold: Promise<void> | undefined;
  constructor(private readonly storageRoot: string) {}

  async forContainer(text: string): Promise<BundleRequest['image']> {
    if (this.hold) await this.hold;
    if (!text.startsWith('busybox') && !text.startsWith('data')) throw new RuntimeError('not-found', `image "${text}" is not present: pull it first`);
    await mkdir(path.join(this.storageRoot, 'l', 'layer0'), { recursive: true });
    const id = `sha256:${(text.startsWith('data') ? 'd' : 'a').repeat(64)}`;
    const layers = [{ chainId: `sha256:${(text.startsWith('data') ? 'e' : 'b').repeat(64)}`, diffId: '', digest: '', size: 1, mediaType: '' }];
    return {
      record: { id, repoTags: [`docker.io/library/${text}`], repoDigests: [], manifestDigest: id, layers, size: 1, user: '', pulledAt: '' },
      config: { config: { Cmd: ['sh'], Env: ['PATH=/bin'] } },
      lowerDirs: ['l/layer0'],
      storageRoot: this.storageRoot,
      names: { name: 'docker.io/library/busybox:latest', ref: id },
    };
  }

  forVolume(text: string): Promise<BundleRequest['image']> {
    return this.forContainer(text);
  }

  async releaseLayers(): Promise<void> {
    this.releases++;
  }
}

export interface Lifecycle {
  dir: string;
  /** Set to hold every exit between conmon's report and its record (the race with a start). */
  exitHold: { current: Promise<void> | undefined };
  pinner: FakePinner;
  runtime: FakeRuntime;
  monitor: FakeMonitor;
  native: ReturnType<typeof fakeNative>;
  images: FakeImages;
  sandboxes: SandboxService;
  containers: ContainerService;
  /** Runs the pod (host network: no CNI) and returns its id. */
  runPod(name?: string): Promise<string>;
  /** Creates a container in the pod. */
  createContainer(podId: string, name?: string, extra?: Partial<ContainerConfig__Output>): Promise<string>;
  /** The daemon restarting: new services over the same directories and fakes. */
  restart(): Promise<Lifecycle>;
  close(): Promise<void>;
}

export async function makeLifecycle(
  dir: string,
  shared?: { runtime: FakeRuntime; monitor: FakeMonitor; native: ReturnType<typeof fakeNative> },
): Promise<Lifecycle> {
  const root = path.join(dir, 'root');
  const runroot = path.join(dir, 'run');
  const exitsDir = path.join(runroot, 'exits');
  await mkdir(exitsDir, { recursive: true });
  const config = defaultConfig();
  const log = silentLogger();
  const runtime = shared?.runtime ?? new FakeRuntime(exitsDir);
  const monitor = shared?.monitor ?? new FakeMonitor(runtime);
  const native = shared?.native ?? fakeNative();
  const images = new FakeImages(path.join(root, 'storage'));
  const exitHold: { current: Promise<void> | undefined } = { current: undefined };
  const pinner = new FakePinner();
  const cniDir = path.join(dir, 'cni');
  await mkdir(cniDir, { recursive: true });
  const network = new NetworkManager(new CniConfigSource(cniDir, [], '', log), { run: async () => ({}) }, 1000, log);
  const sandboxes = new SandboxService({
    root,
    runroot,
    runtime: config.runtime,
    runtimeHandlers: () => ['runc'],
    native,
    pinner,
    pauseImage: () => 'busybox:pause',
    ensureImage: async () => undefined,
    network,
    log,
  });
  const containers = new ContainerService({
    root,
    runroot,
    runtime: config.runtime,
    runtimes: new Map([['runc', runtime]]),
    monitor,
    monitorWatcher: monitor,
    images,
    sandboxes,
    native,
    facts: FACTS,
    apparmorDefaultLoaded: false,
    log,
    restoreWaitMs: 300,
    readExit: async (meta, code) => {
      if (exitHold.current) await exitHold.current;
      return exitFields(meta, code);
    },
  });
  sandboxes.attachContainers(containers);
  await sandboxes.restore();
  await containers.restore();
  let pods = 0;
  const lifecycle: Lifecycle = {
    dir,
    exitHold,
    pinner,
    runtime,
    monitor,
    native,
    images,
    sandboxes,
    containers,
    runPod: async (name = `pod${pods++}`) => {
      const cfg = {
        metadata: { name, namespace: 'unit', uid: `${name}-uid`, attempt: 0 },
        hostname: '',
        logDirectory: path.join(dir, 'logs', name),
        dnsConfig: null,
        portMappings: [],
        labels: {},
        annotations: {},
        linux: { cgroupParent: '', sysctls: {}, securityContext: { namespaceOptions: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD', targetId: '' } } },
      } as unknown as PodSandboxConfig__Output & PodSandboxConfig;
      return sandboxes.run(cfg, '');
    },
    createContainer: (podId, name = 'main', extra = {}) =>
      containers.create(podId, {
        metadata: { name, attempt: 0 },
        image: { image: 'busybox' },
        command: ['sleep', '1000'],
        args: [],
        workingDir: '',
        envs: [],
        mounts: [],
        devices: [],
        labels: {},
        annotations: {},
        logPath: `${name}.log`,
        stdin: false,
        stdinOnce: false,
        tty: false,
        linux: null,
        windows: null,
        CDIDevices: [],
        stopSignal: 'RUNTIME_DEFAULT',
        ...extra,
      } as unknown as ContainerConfig__Output),
    restart: async () => {
      containers.close();
      sandboxes.close();
      return makeLifecycle(dir, { runtime, monitor, native });
    },
    close: async () => {
      containers.close();
      sandboxes.close();
    },
  };
  return lifecycle;
}
