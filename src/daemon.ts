import * as grpc from '@grpc/grpc-js';
import { lchown } from 'node:fs/promises';
import path from 'node:path';
import type { BerthConfig } from './config/schema.js';
import { ImageService } from './image/image-service.js';
import type { Logger } from './log.js';
import { nativeOps } from './native/index.js';
import type { Deps } from './server/deps.js';
import { loadCriProto } from './server/proto.js';
import { buildServices } from './server/service.js';
import { prepareSocketPath, restrictSocket } from './server/socket.js';
import { ensureDir } from './util/fs.js';
import { versionInfo } from './version.js';

export interface RunningDaemon {
  /** Resolves when the daemon has stopped. */
  stopped: Promise<void>;
  stop(): Promise<void>;
}

/**
 * The one place where real implementations are built and wired together.
 * Order: bind the socket (calls get UNAVAILABLE), restore state, then
 * mark ready.
 */
export async function startDaemon(config: BerthConfig, log: Logger): Promise<RunningDaemon> {
  const info = await versionInfo();
  log.info({ version: info.version, commit: info.gitCommit, listen: config.listen, root: config.root, runroot: config.runroot }, 'berth starting');
  await ensureDir(config.root, 0o711);
  // The socket lives in runroot by default: 0750 keeps it from other users.
  await ensureDir(config.runroot, 0o750);
  const native = nativeOps();
  const images = new ImageService({
    storageRoot: path.join(config.root, 'storage'),
    registriesConf: config.image.registries_conf,
    pauseImage: config.image.pause_image,
    pullProgressTimeoutMs: config.image.pull_progress_timeout,
    maxConcurrentDownloads: config.image.max_concurrent_downloads,
    unpackOps: { mknod: native.mknod, lsetxattr: native.lsetxattr, lchown: (p, uid, gid) => lchown(p, uid, gid) },
    log: log.child({ component: 'images' }),
  });
  const deps: Deps = { config, log, images, lifecycle: { ready: false } };
  const proto = await loadCriProto();
  const services = buildServices(proto, deps);
  const server = new grpc.Server({
    'grpc.max_receive_message_length': config.grpc_max_message_size,
    'grpc.max_send_message_length': config.grpc_max_message_size,
  });
  server.addService(proto.runtime.v1.RuntimeService.service, services.runtime);
  server.addService(proto.runtime.v1.ImageService.service, services.image);

  await prepareSocketPath(config.listen);
  await new Promise<void>((resolve, reject) => {
    server.bindAsync(`unix://${config.listen}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve()));
  });
  await restrictSocket(config.listen);
  log.info({ listen: config.listen }, 'listening; restoring state');

  const started = performanceNow();
  await images.restore();
  deps.lifecycle.ready = true;
  log.info({ restoreMs: Math.round(performanceNow() - started), images: images.list().length }, 'berth ready');

  let resolveStopped!: () => void;
  const stopped = new Promise<void>((resolve) => {
    resolveStopped = resolve;
  });
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
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
      await images.close();
      log.info('berth stopped');
      resolveStopped();
    })();
    return stopping;
  };
  return { stopped, stop };
}

function performanceNow(): number {
  return performance.now();
}
