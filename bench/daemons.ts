import type { ChildProcess } from 'node:child_process';
import { prepareBerth, spawnBerth, startBerth, type BerthDaemon, type DaemonOptions } from '../e2e/lib/berth-daemon.js';
import type { CriClient } from '../e2e/lib/cri-client.js';
import { type Crio, type CrioBinaries, type CrioOptions, prepareCrio, spawnCrio, startCrio, unmountCrio } from './crio.js';
import { prepareContainerd, spawnContainerd, startContainerd, type Containerd, type ContainerdOptions } from './containerd.js';

/**
 * One runtime under test, managed so it can be stopped with its containers
 * left running and brought back: the restart workload spawns it unmanaged
 * for timing, then `start` gives it back to the rest of the run.
 */
/** berth and the anchors it is measured against. */
export type RuntimeName = 'berth' | 'containerd' | 'crio';

export interface BenchDaemon {
  readonly name: RuntimeName;
  client: CriClient;
  pid: number;
  readonly socket: string;
  /** Stops the daemon; containers keep running under their monitors. */
  stop(): Promise<void>;
  /** The daemon on the same paths, not managed: the caller stops it. */
  spawn(): ChildProcess;
  start(): Promise<void>;
}

export async function benchBerth(opts: DaemonOptions): Promise<BenchDaemon & { destroy(): Promise<void> }> {
  let daemon: BerthDaemon = await startBerth(opts);
  const { args } = await prepareBerth({ ...opts, reuse: { dir: daemon.dir } });
  const side = {
    name: 'berth' as const,
    client: daemon.client,
    pid: daemon.process.pid!,
    socket: daemon.socket,
    stop: async () => void (await daemon.stop()),
    spawn: () => spawnBerth(args),
    start: async () => {
      daemon = await startBerth({ ...opts, reuse: { dir: daemon.dir } });
      side.client = daemon.client;
      side.pid = daemon.process.pid!;
    },
    destroy: () => daemon.destroy(),
  };
  return side;
}

export async function benchContainerd(dir: string, opts: ContainerdOptions): Promise<BenchDaemon> {
  let daemon: Containerd = await startContainerd(dir, opts);
  const { config } = await prepareContainerd(dir, opts);
  const side = {
    name: 'containerd' as const,
    client: daemon.client,
    pid: daemon.pid,
    socket: daemon.socket,
    stop: () => daemon.stop(),
    spawn: () => spawnContainerd(config),
    start: async () => {
      daemon = await startContainerd(dir, opts);
      side.client = daemon.client;
      side.pid = daemon.pid;
    },
  };
  return side;
}

export async function benchCrio(dir: string, bins: CrioBinaries, opts: CrioOptions): Promise<BenchDaemon & { destroy(): Promise<void> }> {
  let daemon: Crio = await startCrio(dir, bins, opts);
  const { args, logFile } = await prepareCrio(dir, bins, opts);
  const side = {
    name: 'crio' as const,
    client: daemon.client,
    pid: daemon.pid,
    socket: daemon.socket,
    stop: () => daemon.stop(),
    spawn: () => spawnCrio(bins.crio, args, logFile),
    start: async () => {
      daemon = await startCrio(dir, bins, opts);
      side.client = daemon.client;
      side.pid = daemon.pid;
    },
    destroy: async () => {
      await daemon.stop();
      await unmountCrio(dir);
    },
  };
  return side;
}
