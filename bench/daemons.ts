import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { prepareBerth, spawnBerth, startBerth, type BerthDaemon, type DaemonOptions } from '../e2e/lib/berth-daemon.js';
import type { CriClient } from '../e2e/lib/cri-client.js';
import { type CrioBinaries, type CrioOptions, prepareCrio, spawnCrio, startCrio, unmountCrio } from './crio.js';
import { prepareContainerd, spawnContainerd, startContainerd, type ContainerdOptions } from './containerd.js';
import { sweepLeftovers, unmountUnder } from './sweep.js';

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
    destroy: async () => {
      // Pods an interrupt caught half-made outlive the daemon: their conmons,
      // runc containers and root filesystem mounts go before its directory.
      await daemon.stop();
      await sweepLeftovers({ runcRoot: path.join(daemon.runroot, 'runtimes', 'runc'), under: daemon.dir, monitors: `conmon .*${daemon.dir}/` });
      await unmountUnder(daemon.dir);
      await daemon.destroy();
    },
  };
  return side;
}

/** A runtime the benchmark started and can stop: what an anchor's start gives back. */
interface RunningAnchor {
  socket: string;
  pid: number;
  client: CriClient;
  stop(): Promise<void>;
}

/** An anchor as a bench side: `start` runs it on its paths, `spawn` the same unmanaged (for restart timing). */
async function anchorSide(
  name: RuntimeName,
  start: () => Promise<RunningAnchor>,
  spawn: () => ChildProcess,
): Promise<BenchDaemon & { current(): RunningAnchor }> {
  let daemon = await start();
  const side = {
    name,
    client: daemon.client,
    pid: daemon.pid,
    socket: daemon.socket,
    stop: () => daemon.stop(),
    spawn,
    start: async () => {
      daemon = await start();
      side.client = daemon.client;
      side.pid = daemon.pid;
    },
    current: () => daemon,
  };
  return side;
}

export async function benchContainerd(dir: string, opts: ContainerdOptions): Promise<BenchDaemon> {
  const { config } = await prepareContainerd(dir, opts);
  return anchorSide(
    'containerd',
    () => startContainerd(dir, opts),
    () => spawnContainerd(config),
  );
}

export async function benchCrio(dir: string, bins: CrioBinaries, opts: CrioOptions): Promise<BenchDaemon & { destroy(): Promise<void> }> {
  const { args, logFile } = await prepareCrio(dir, bins, opts);
  const side = await anchorSide(
    'crio',
    () => startCrio(dir, bins, opts),
    () => spawnCrio(bins.crio, args, logFile),
  );
  // The same object (its start() updates client and pid in place), given a destroy.
  return Object.assign(side, {
    destroy: async () => {
      await side.current().stop();
      await unmountCrio(dir);
    },
  });
}
