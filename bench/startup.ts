import type { ChildProcess } from 'node:child_process';
import { access } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { call, connectCri, type CriClient } from '../e2e/lib/cri-client.js';

/** Ready means answering Version unless the caller asks for more. */
export type Readiness = (client: CriClient) => Promise<boolean>;
const answersVersion: Readiness = async (client) => {
  await call(client.runtime, client.runtime.Version, {}, 1000);
  return true;
};

/** Ready after a restart: every one of `count` containers listed as running. */
export function listsRunning(count: number): Readiness {
  return async (client) => {
    const { containers } = await call(client.runtime, client.runtime.ListContainers, { filter: { state: { state: 'CONTAINER_RUNNING' } } }, 5000);
    return containers.length >= count;
  };
}

/** Daemons spawned for timing that have not exited: an interrupted run stops them (stopSpawned). */
const spawned = new Set<ChildProcess>();
let stopping = false;

/** Stops them, and refuses to spawn any more (the run is ending). */
export async function stopSpawned(): Promise<void> {
  stopping = true;
  await Promise.all(
    [...spawned].map(async (child) => {
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await stopChild(child);
      clearTimeout(killer);
    }),
  );
}

/**
 * Milliseconds from spawning a daemon until it is ready. The socket is
 * watched every 2 ms and a fresh client is made once it exists, so gRPC's
 * reconnect back-off does not count against the daemon.
 */
export async function timeToReady(
  spawnDaemon: () => ChildProcess,
  socket: string,
  ready: Readiness = answersVersion,
): Promise<{ ms: number; child: ChildProcess }> {
  if (stopping) throw new Error('the run is being cleaned up: no daemon is started');
  const t0 = performance.now();
  const child = spawnDaemon();
  spawned.add(child);
  child.once('exit', () => spawned.delete(child));
  for (;;) {
    if (child.exitCode !== null) throw new Error(`daemon exited with ${child.exitCode} before answering`);
    if (
      await access(socket).then(
        () => true,
        () => false,
      )
    ) {
      const client = await connectCri(socket);
      try {
        if (await ready(client)) return { ms: performance.now() - t0, child };
      } catch {
        // listening socket not accepting yet, or not ready
      } finally {
        client.close();
      }
    }
    await new Promise((r) => setTimeout(r, 2));
  }
}

export function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** Closes a client, then stops its daemon and waits for it to exit. */
export async function stopDaemon(child: ChildProcess, client: CriClient): Promise<void> {
  client.close();
  await stopChild(child);
}
