import type { ChildProcess } from 'node:child_process';
import { access } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { call, connectCri } from '../e2e/lib/cri-client.js';

/**
 * Milliseconds from spawning a daemon to its first answered Version. The
 * socket is watched every 2 ms and a fresh client is made once it exists,
 * so gRPC's reconnect back-off does not count against the daemon.
 */
export async function timeToVersion(spawnDaemon: () => ChildProcess, socket: string): Promise<{ ms: number; child: ChildProcess }> {
  const t0 = performance.now();
  const child = spawnDaemon();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`daemon exited with ${child.exitCode} before answering`);
    if (await access(socket).then(() => true, () => false)) {
      const client = await connectCri(socket);
      try {
        await call(client.runtime, client.runtime.Version, {}, 1000);
        return { ms: performance.now() - t0, child };
      } catch {
        // listening socket not accepting yet
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
