/**
 * Where each container's conmon lives. Left in berth's own cgroup, conmon
 * would be killed with berth by `systemctl restart berth` (systemd kills
 * the whole service cgroup), and with it the container's stdio and exit
 * watch. As CRI-O's `conmon_cgroup = "pod"`, berth moves conmon out before
 * conmon starts the runtime, into a place of its own beside the pod's
 * containers, so the pod's resources account for it:
 *   cgroupfs: the cgroup `<parent>/berth-conmon-<id>`, made by berth;
 *   systemd:  the transient scope `berth-conmon-<id>.scope` in the pod's
 *             slice, made by systemd (only systemd may make cgroups then).
 */

import { readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CgroupManager } from '../config/schema.js';
import { errnoCode } from '../errors.js';
import { hierarchies } from '../cgroups/cgroup-parent.js';
import { startScope } from '../cgroups/systemd-scope.js';
import { makeDirs } from '../util/fs.js';

export type ConmonPlacement = { cgroup: string } | { scope: string; slice: string };

export function conmonPlacement(manager: CgroupManager, parent: string, id: string): ConmonPlacement {
  if (manager === 'systemd') return { scope: `berth-conmon-${id}.scope`, slice: parent || 'system.slice' };
  return { cgroup: `${parent || '/berth'}/berth-conmon-${id}` };
}

/** Moves conmon (`pid`) to its place. */
export async function placeConmon(placement: ConmonPlacement, pid: number, id: string): Promise<void> {
  if ('cgroup' in placement) await joinCgroup(placement.cgroup, pid);
  else await startScope(placement.scope, placement.slice, pid, `berth conmon of container ${id}`);
}

/** Creates the cgroup in every hierarchy and moves `pid` into it. */
export async function joinCgroup(cgroup: string, pid: number): Promise<void> {
  for (const h of await hierarchies()) {
    const dir = path.join(h, cgroup);
    try {
      await makeDirs(dir);
      if (path.basename(h) === 'cpuset') await inheritCpuset(h, dir);
      await writeFile(path.join(dir, 'cgroup.procs'), String(pid));
    } catch (err) {
      // A hierarchy that cannot take processes (read-only, or a v2 parent
      // with controllers and processes of its own) is skipped.
      const code = errnoCode(err);
      if (code !== 'EROFS' && code !== 'EACCES' && code !== 'EBUSY' && code !== 'EOPNOTSUPP' && code !== 'EINVAL') throw err;
    }
  }
}

/**
 * Removes the cgroup once conmon has gone. conmon exits just after it has
 * written the exit file, so a busy cgroup is tried again for a while.
 */
export async function leaveCgroup(cgroup: string, waitMs = 2000): Promise<void> {
  let dirs = (await hierarchies()).map((h) => path.join(h, cgroup));
  const deadline = Date.now() + waitMs;
  for (;;) {
    const busy: string[] = [];
    for (const dir of dirs) {
      try {
        await rmdir(dir);
      } catch (err) {
        const code = errnoCode(err);
        if (code === 'EBUSY') busy.push(dir);
        else if (code !== 'ENOENT') throw err;
      }
    }
    if (busy.length === 0 || Date.now() > deadline) return;
    dirs = busy;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * A new v1 cpuset cgroup has no CPUs and no memory nodes, and takes no
 * process until it has: copy them down from the nearest parent, as runc does.
 */
async function inheritCpuset(root: string, dir: string): Promise<void> {
  if (dir === root) return;
  for (const file of ['cpuset.cpus', 'cpuset.mems']) {
    const own = (await readFile(path.join(dir, file), 'utf8').catch(() => '')).trim();
    if (own) continue;
    await inheritCpuset(root, path.dirname(dir));
    const parent = (await readFile(path.join(path.dirname(dir), file), 'utf8')).trim();
    await writeFile(path.join(dir, file), parent);
  }
}

/** How deep below a hierarchy's root conmon cgroups are looked for (pod parents nest a few levels). */
const SEARCH_DEPTH = 6;

/**
 * The cgroupfs cgroups `<parent>/berth-conmon-<id>` of a container berth no
 * longer has a record of, so no parent to look under: found by name in
 * the first hierarchy, a few levels deep. Only for start-up's clean-up of
 * lost containers, where the tree is walked once per such container.
 */
export async function findConmonCgroups(id: string): Promise<string[]> {
  const [root] = await hierarchies();
  if (!root) return [];
  const name = `berth-conmon-${id}`;
  const found: string[] = [];
  let level = [''];
  for (let depth = 0; depth < SEARCH_DEPTH && level.length > 0; depth++) {
    const next: string[] = [];
    for (const rel of level) {
      const entries = await readdir(path.join(root, rel), { withFileTypes: true }).catch(() => []);
      for (const e of entries) {
        if (!e.isDirectory()) continue;
        const child = path.join(rel, e.name);
        if (e.name === name) found.push(`/${child}`);
        else next.push(child);
      }
    }
    level = next;
  }
  return found;
}
