import type { BenchDaemon } from './daemons.js';
import { listsRunning, stopChild, timeToReady } from './startup.js';

/**
 * Restart with containers running: the daemon is stopped (its containers
 * keep running under their monitors) and started again on the same paths;
 * ready is the first ListContainers that shows all of them running.
 */
export async function restartToReady(daemon: BenchDaemon, running: number): Promise<number> {
  await daemon.stop();
  const { ms, child } = await timeToReady(() => daemon.spawn(), daemon.socket, listsRunning(running));
  await stopChild(child);
  await daemon.start();
  return ms;
}
