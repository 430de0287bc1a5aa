/**
 * What a runtime stopped mid-workload leaves running: its shims or conmons
 * and their runc containers outlive the daemon by design. An interrupted
 * bench run takes down those that belong to its private paths, and nothing
 * else of the host's.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mountsUnder } from '../e2e/lib/leftovers.js';

const sh = promisify(execFile);

export interface Leftovers {
  /** runc's state root the runtime used. */
  runcRoot: string;
  /** The run's private directory: only containers with their bundle under it go. */
  under: string;
  /** pkill -f pattern of the runtime's per-container monitors. */
  monitors: string;
}

export async function sweepLeftovers({ runcRoot, under, monitors }: Leftovers): Promise<void> {
  const listed = await sh('runc', ['--root', runcRoot, 'list', '--format', 'json']).catch(() => ({ stdout: 'null' }));
  const containers = (JSON.parse(listed.stdout || 'null') ?? []) as { id: string; bundle: string }[];
  for (const c of containers.filter((c) => c.bundle.startsWith(`${under}/`))) {
    await sh('runc', ['--root', runcRoot, 'delete', '--force', c.id]).catch(() => undefined);
  }
  await sh('pkill', ['-f', monitors]).catch(() => undefined);
}

/** Unmounts whatever is mounted under `dir`, deepest first (lazily: a busy mount still goes). */
export async function unmountUnder(dir: string): Promise<void> {
  const mounts = (await mountsUnder(`${dir}/`)).sort((a, b) => b.length - a.length);
  for (const m of mounts) await sh('umount', ['-l', m]).catch(() => undefined);
}
