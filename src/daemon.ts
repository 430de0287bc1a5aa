import * as grpc from '@grpc/grpc-js';
import { chmod, lchown } from 'node:fs/promises';
import path from 'node:path';
import { type BerthConfig, runtimeRootOf } from './config/schema.js';
import { ImageService } from './image/image-service.js';
import type { Logger } from './log.js';
import { CniConfigSource } from './cni/config-source.js';
import { ExecPluginRunner } from './cni/invoke.js';
import { NetworkManager } from './cni/network-manager.js';
import { Conmon } from './conmon/conmon.js';
import { ConmonWatcher } from './conmon/conmon-watch.js';
import { ContainerService } from './container/container-service.js';
import { loadDefaultAppArmorProfile } from './host/apparmor.js';
import { readHostFacts } from './host/host-facts.js';
import { MemoryReducer } from './host/memory-reducer.js';
import { nativeOps, pinnsPath, streamHelperPath } from './native/index.js';
import { StreamingServer } from './streaming/server.js';
import { EventBus } from './events/event-bus.js';
import { checkExecutables, notExecutable } from './host/executables.js';
import { SystemdNotifier } from './host/systemd-notify.js';
import { type ReloadOutcome, applyReload, reloadedRuntimes } from './config/reload.js';
import { StatsService } from './stats/stats-service.js';
import type { serveMetrics } from './metrics/prometheus.js';
import { type OciRuntime, RuncRuntime } from './oci/runtime.js';
import { PinnsHelper } from './sandbox/namespaces.js';
import { SandboxService } from './sandbox/sandbox-service.js';
import type { Deps } from './server/deps.js';
import { loadCriProto } from './server/proto.js';
import { buildServices } from './server/service.js';
import { type CriListener, listenCri } from './server/listen.js';
import { prepareSocketPath, restrictSocket } from './server/socket.js';
import { ensureDir } from './util/fs.js';
import { versionInfo } from './version.js';
import type { RunningNri } from './nri/start.js';
import { StartError, messageOf } from './errors.js';
import { HooksDirs } from './hooks/hooks-dirs.js';
import { CdiRegistry } from './cdi/registry.js';
import { configureTracing, stopTracing } from './tracing/tracing.js';

export interface RunningDaemon {
  /** Resolves when the daemon has stopped. */
  stopped: Promise<void>;
  stop(): Promise<void>;
  /** Applies a freshly loaded configuration where it can change at run time (SIGHUP). */
  reload(next: BerthConfig): Promise<ReloadOutcome>;
}

/**
 * The one place where real implementations are built and wired together.
 * Order: bind the socket (calls get UNAVAILABLE), restore state, then
 * mark ready.
 */
export async function startDaemon(config: BerthConfig, log: Logger): Promise<RunningDaemon> {
  // Taken before any helper runs: they must not inherit $NOTIFY_SOCKET.
  const systemd = new SystemdNotifier(log);
  // The start-up's file-system work is set going first and runs on the
  // thread pool while the CRI codecs are built on this thread (CPU only,
  // the largest single cost of start-up): the two overlap instead of adding.
  const early = Promise.all([versionInfo(), checkExecutables(config).then(() => prepareRoots(config)), readHostFacts()]);
  early.catch(() => undefined); // awaited just below; a failure must not count as unhandled meanwhile
  const proto = await loadCriProto();
  const [info, , facts] = await early;
  const tracingOptions = () => ({
    endpoint: config.tracing.endpoint,
    samplingRatePerMillion: config.tracing.sampling_rate_per_million,
    serviceVersion: info.version,
  });
  await configureTracing(tracingOptions());
  if (config.tracing.endpoint) log.info({ endpoint: config.tracing.endpoint }, 'tracing on: spans go to the OTLP collector');
  log.info({ version: info.version, commit: info.gitCommit, listen: config.listen, root: config.root, runroot: config.runroot }, 'berth starting');
  const native = nativeOps();
  const memory = new MemoryReducer(native);
  const images = new ImageService({
    storageRoot: path.join(config.root, 'storage'),
    registriesConf: config.image.registries_conf,
    globalAuthFile: config.image.global_auth_file,
    signaturePolicy: config.image.signature_policy,
    registriesD: config.image.registries_d,
    pauseImage: config.image.pause_image,
    pullProgressTimeoutMs: config.image.pull_progress_timeout,
    maxConcurrentDownloads: config.image.max_concurrent_downloads,
    zstdMaxWindow: config.image.zstd_max_window,
    unpackOps: { mknod: native.mknod, lsetxattr: native.lsetxattr, lchown: (p, uid, gid) => lchown(p, uid, gid), writeFiles: native.writeFiles },
    releaseMemory: () => memory.release(),
    log: log.child({ component: 'images' }),
  });
  const runtimes = new Map<string, OciRuntime>();
  const makeRuntime = (name: string): void => {
    const handler = config.runtimes[name]!;
    const root = runtimeRootOf(config, name);
    runtimes.set(
      name,
      new RuncRuntime(
        { name, path: handler.runtime_path, root, type: 'oci' },
        config.runtime.cgroup_manager === 'systemd',
        log,
        config.runtime.runtime_timeout,
      ),
    );
  };
  for (const name of Object.keys(config.runtimes)) makeRuntime(name);
  const netLog = log.child({ component: 'network' });
  const cniConfigs = new CniConfigSource(config.network.cni_config_dir, config.network.cni_plugin_dirs, config.network.default_network, netLog);
  const network = new NetworkManager(cniConfigs, new ExecPluginRunner(), config.network.plugin_timeout, netLog);
  const events = new EventBus();
  const hooks = new HooksDirs(config.runtime.hooks_dirs, log.child({ component: 'hooks' }));
  const sandboxes = new SandboxService({
    root: config.root,
    runroot: config.runroot,
    runtime: config.runtime,
    runtimeHandlers: () => [...runtimes.keys()],
    native,
    pinner: new PinnsHelper(pinnsPath(), native, config.runtime.runtime_timeout),
    log: log.child({ component: 'pods' }),
    pauseImage: () => config.image.pause_image,
    network,
    events,
    hooks,
    ensureImage: async (image) => {
      if (!images.resolve(image)) await images.pull(image, null, AbortSignal.timeout(10 * 60_000));
    },
  });
  const countBy = <T>(items: T[], key: (t: T) => string) => {
    const m = new Map<string, number>();
    for (const i of items) m.set(key(i), (m.get(key(i)) ?? 0) + 1);
    return m;
  };
  // prom-client is loaded only when metrics are served: it is a noticeable
  // part of start-up time otherwise spent for nothing.
  const prometheus = config.stats.metrics_address ? await import('./metrics/prometheus.js') : undefined;
  const metrics = prometheus ? new prometheus.BerthMetrics() : undefined;
  const cdi = new CdiRegistry(config.runtime.cdi_spec_dirs, log.child({ component: 'cdi' }));
  const containers = new ContainerService({
    root: config.root,
    runroot: config.runroot,
    runtime: config.runtime,
    runtimes,
    monitor: new Conmon(config.runtime.conmon, conmonLogLevel(config.log_level)),
    monitorWatcher: new ConmonWatcher(),
    images,
    sandboxes,
    native,
    facts,
    log: log.child({ component: 'containers' }),
    apparmorDefaultLoaded: await loadDefaultAppArmorProfile(facts.apparmor, config.runroot, log),
    events,
    observer: metrics,
    hooks,
    cdi,
    onRemoved: () => memory.note(),
  });
  sandboxes.attachContainers(containers);
  images.setLayersInUse(() => containers.layersInUse());
  images.setImageVolumeUsers(() => containers.imageVolumeUsers());
  metrics?.countObjects({
    containers: () => countBy(containers.list(), (c) => c.status.state),
    sandboxes: () => countBy(sandboxes.list(), (s) => s.status.state),
  });
  const streaming = new StreamingServer({
    address: config.streaming.address,
    port: config.streaming.port,
    tlsCert: config.streaming.tls_cert,
    tlsKey: config.streaming.tls_key,
    idleTimeoutMs: config.streaming.idle_timeout,
    containers,
    sandboxes,
    native,
    helper: streamHelperPath(),
    log: log.child({ component: 'streaming' }),
  });
  const stats = new StatsService(containers, sandboxes, config.runtime.cgroup_manager, () => images.fsUsage().mountpoint);
  const deps: Deps = { config, log, images, sandboxes, containers, network, streaming, stats, events, metrics, lifecycle: { ready: false } };
  const services = buildServices(proto, deps);
  const server = new grpc.Server({
    'grpc.max_receive_message_length': config.grpc_max_receive_message_size,
    'grpc.max_send_message_length': config.grpc_max_message_size,
    // channelz (gRPC's introspection service) is never served; its per-call
    // bookkeeping is pure cost.
    'grpc.enable_channelz': 0,
  });
  server.addService(proto.runtime.v1.RuntimeService.service, services.runtime);
  server.addService(proto.runtime.v1.ImageService.service, services.image);
  server.addService(proto.runtime.v1alpha2.RuntimeService.service, services.v1alpha2Runtime);
  server.addService(proto.runtime.v1alpha2.ImageService.service, services.image);

  try {
    await prepareSocketPath(config.listen);
  } catch (err) {
    await images.close();
    throw err;
  }
  let criListener: CriListener | undefined;
  // The socket is created 0660 (never, even for a moment, open to others):
  // nothing else of the daemon creates files while it binds.
  const umask = process.umask(0o117);
  try {
    criListener = await listenCri(server, config.listen);
  } finally {
    process.umask(umask);
  }
  await restrictSocket(config.listen);
  let metricsServer: Awaited<ReturnType<typeof serveMetrics>> | undefined;
  try {
    await streaming.start();
    if (metrics && prometheus) metricsServer = await prometheus.serveMetrics(metrics, config.stats.metrics_address, log.child({ component: 'metrics' }));
  } catch (err) {
    server.forceShutdown();
    await streaming.stop();
    await images.close();
    throw err;
  }
  log.info({ listen: config.listen }, 'listening; restoring state');

  const started = performanceNow();
  // Containers first: image garbage collection must know which layers they use.
  await sandboxes.restore();
  await containers.restore();
  await images.restore();
  await network.status(); // logs whether the pod network is ready
  await sandboxes.collectNetworkGarbage();
  sandboxes.startNetworkChecks(config.network.check_interval);
  let nri: RunningNri | undefined;
  if (config.nri.enable_nri) {
    const { startNri } = await import('./nri/start.js');
    try {
      nri = await startNri(config.nri, {
        events,
        pods: sandboxes,
        containers,
        runtimeVersion: (await versionInfo()).version,
        log: log.child({ component: 'nri' }),
      });
    } catch (err) {
      throw new StartError(`NRI cannot listen on ${config.nri.nri_listen} (nri.nri_listen): ${messageOf(err)}`);
    }
  }
  deps.nri = nri;
  containers.nri = nri;
  deps.lifecycle.ready = true;
  systemd.ready(`serving on ${config.listen}`);
  // Start-up's garbage (the configuration, the CRI descriptor, restored
  // records) need not stay resident until V8 gets round to it; given back
  // a moment later, so that the collection does not delay the first calls
  // (the kubelet's Version and Status) that arrive as soon as we are ready.
  setTimeout(() => void memory.release(), 2000).unref();
  log.info(
    {
      restoreMs: Math.round(performanceNow() - started),
      images: images.list().length,
      pods: sandboxes.list().length,
      containers: containers.list().length,
    },
    'berth ready',
  );

  let resolveStopped!: () => void;
  const stopped = new Promise<void>((resolve) => {
    resolveStopped = resolve;
  });
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      systemd.stopping();
      log.info('stopping: no new calls, waiting for calls in flight');
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          log.warn('shutdown timeout: closing remaining calls');
          server.forceShutdown();
          resolve();
        }, config.shutdown_timeout);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      criListener?.close();
      await nri?.stop();
      containers.close();
      sandboxes.close();
      memory.close();
      await streaming.stop();
      metricsServer?.close();
      await images.close();
      await stopTracing().catch((err: unknown) => log.warn({ err }, 'sending the last spans failed'));
      log.info('berth stopped');
      resolveStopped();
    })();
    return stopping;
  };
  const reload = async (next: BerthConfig): Promise<ReloadOutcome> => {
    systemd.notify({ RELOADING: 1, MONOTONIC_USEC: (process.hrtime.bigint() / 1000n).toString() });
    await keepUnusableRuntimes(config, next, log);
    const outcome = applyReload(config, next, log);
    // Keys whose users keep a copy: hand them the new value.
    if (outcome.applied.includes('image.pause_image')) images.setPauseImage(config.image.pause_image);
    if (outcome.applied.includes('runtime.hooks_dirs')) hooks.setDirs(config.runtime.hooks_dirs);
    if (outcome.applied.some((k) => k.startsWith('tracing.'))) {
      configureTracing(tracingOptions()).catch((err: unknown) => log.error({ err }, 'tracing could not be reconfigured'));
    }
    if (outcome.applied.includes('runtime.cdi_spec_dirs')) cdi.setDirs(config.runtime.cdi_spec_dirs);
    if (outcome.applied.includes('image.global_auth_file')) images.setGlobalAuthFile(config.image.global_auth_file);
    if (outcome.applied.includes('image.signature_policy') || outcome.applied.includes('image.registries_d')) {
      images.setSignaturePolicy(config.image.signature_policy, config.image.registries_d);
    }
    if (outcome.applied.includes('network.check_interval')) sandboxes.restartNetworkChecks(config.network.check_interval);
    if (outcome.applied.some((k) => k.startsWith('network.') && k !== 'network.check_interval')) {
      cniConfigs.reconfigure(config.network.cni_config_dir, config.network.cni_plugin_dirs, config.network.default_network);
      network.setPluginTimeout(config.network.plugin_timeout);
    }
    for (const name of reloadedRuntimes(outcome)) makeRuntime(name);
    log.info(
      { applied: outcome.applied, needRestart: outcome.needRestart },
      outcome.applied.length + outcome.needRestart.length === 0 ? 'configuration reloaded: nothing changed' : 'configuration reloaded',
    );
    if (outcome.needRestart.length > 0) log.warn({ keys: outcome.needRestart }, 'these changes take effect only after a restart');
    systemd.ready(`serving on ${config.listen}`);
    return outcome;
  };
  return { stopped, stop, reload };
}

/**
 * The state directories. 0711: other users may pass through (containers in
 * a user namespace run as unprivileged host uids and must reach their
 * files) but not list them; the socket itself is 0660.
 */
async function prepareRoots(config: BerthConfig): Promise<void> {
  await ensureDir(config.root, 0o711);
  await ensureDir(config.runroot, 0o711);
  await chmod(config.runroot, 0o711);
}

/** conmon's log levels are logrus names. */
function conmonLogLevel(level: string): string {
  return level === 'fatal'
    ? 'fatal'
    : level === 'trace'
      ? 'trace'
      : level === 'warn'
        ? 'warn'
        : level === 'error'
          ? 'error'
          : level === 'debug'
            ? 'debug'
            : 'info';
}

function performanceNow(): number {
  return performance.now();
}

/**
 * A reloaded runtime handler whose binary cannot be run is not taken: the
 * running one stays (or a new one is not added), with an error naming it,
 * as a start-up with that path would have refused.
 */
async function keepUnusableRuntimes(running: BerthConfig, next: BerthConfig, log: Logger): Promise<void> {
  for (const [name, handler] of Object.entries(next.runtimes)) {
    if (running.runtimes[name]?.runtime_path === handler.runtime_path) continue;
    const why = await notExecutable(handler.runtime_path);
    if (!why) continue;
    log.error({ handler: name, path: handler.runtime_path }, `runtime handler not reloaded: ${handler.runtime_path} ${why}`);
    if (running.runtimes[name]) next.runtimes[name] = running.runtimes[name];
    else delete next.runtimes[name];
  }
}
