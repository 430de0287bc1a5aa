import { readFile } from 'node:fs/promises';
import { invalidArgument, deadlineExceeded, failedPrecondition } from '../errors.js';
import { runCommand } from '../util/exec.js';

/**
 * Moves a running process into a transient systemd scope of its own, as
 * CRI-O does with conmon under the systemd cgroup driver: with systemd as
 * the cgroup manager, only systemd may create cgroups, and a process it
 * finds in a unit's cgroup belongs to that unit (`systemctl stop berth`
 * would kill it). The Manager's StartTransientUnit is called through
 * `busctl`, which every systemd install has, so berth needs no D-Bus client
 * of its own for the one call.
 */

/** A unit name systemd accepts: what berth makes is `berth-conmon-<hex id>.scope`. */
const UNIT_NAME = /^[A-Za-z0-9:_.\\-]+\.(scope|slice)$/;

/** busctl's arguments for StartTransientUnit(name, mode, properties, aux). */
export function startScopeArgs(unit: string, slice: string, pid: number, description: string): string[] {
  if (!UNIT_NAME.test(unit) || !unit.endsWith('.scope')) throw invalidArgument(`"${unit}" is not a scope unit name`);
  if (!UNIT_NAME.test(slice) || !slice.endsWith('.slice')) throw invalidArgument(`"${slice}" is not a slice unit name`);
  if (!Number.isSafeInteger(pid) || pid <= 1) throw invalidArgument(`${pid} is not a process to move`);
  return [
    'call',
    '--quiet',
    'org.freedesktop.systemd1',
    '/org/freedesktop/systemd1',
    'org.freedesktop.systemd1.Manager',
    'StartTransientUnit',
    'ssa(sv)a(sa(sv))',
    unit,
    'fail',
    '5',
    'PIDs',
    'au',
    '1',
    String(pid),
    'Slice',
    's',
    slice,
    'Description',
    's',
    description,
    // A scope whose conmon exited with an error would otherwise stay
    // loaded as "failed" until someone resets it: one leaked unit per crash.
    'CollectMode',
    's',
    'inactive-or-failed',
    // The container's own scope is where its resources are limited; conmon's
    // is only accounted.
    'DefaultDependencies',
    'b',
    'false',
    '0',
  ];
}

export type CommandRunner = typeof runCommand;
/** The process's cgroup file (`/proc/<pid>/cgroup`), or '' once it has gone. */
export type CgroupReader = (pid: number) => Promise<string>;

const readProcCgroup: CgroupReader = (pid) => readFile(`/proc/${pid}/cgroup`, 'utf8').catch(() => '');

/**
 * Creates `unit` in `slice` holding `pid`, and returns once the process is
 * in it; the scope goes away by itself once the process has exited.
 * StartTransientUnit answers when the start job is queued, not done: the
 * process is moved when the job runs, so berth watches for the move (as
 * runc waits for the job's JobRemoved signal) before it lets conmon fork.
 */
export async function startScope(
  unit: string,
  slice: string,
  pid: number,
  description: string,
  run: CommandRunner = runCommand,
  readCgroup: CgroupReader = readProcCgroup,
  waitMs = 5000,
): Promise<void> {
  const res = await run('busctl', startScopeArgs(unit, slice, pid, description), { timeoutMs: 10_000, maxOutput: 64 << 10 });
  if (res.code !== 0) {
    throw failedPrecondition(`systemd did not create ${unit}: ${res.stderr.trim() || `busctl exited with ${res.code ?? res.signal}`}`);
  }
  const deadline = Date.now() + waitMs;
  for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
    const cgroups = await readCgroup(pid);
    if (cgroups.split('\n').some((line) => line.endsWith(`/${unit}`))) return;
    if (cgroups === '') throw failedPrecondition(`process ${pid} exited before systemd moved it into ${unit}`);
    if (Date.now() > deadline) throw deadlineExceeded(`systemd did not move process ${pid} into ${unit} within ${waitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}
