/**
 * Cgroup paths for pods and containers, per driver:
 *   cgroupfs: parent is a path ("/kubepods/besteffort/pod<uid>"), a
 *             container is "<parent>/berth-<id>";
 *   systemd:  parent is a slice ("kubepods-besteffort-pod<uid>.slice"),
 *             a container is "<slice>:berth:<id>" (runc makes berth-<id>.scope).
 * Kubelets before 1.2x send a systemd parent expanded as a path of slices
 * ("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<uid>.slice");
 * the unit is its last element, which is what runc wants (CRI-O and
 * containerd take the same element).
 */

import { mkdir, readdir, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { errnoCode, invalidArgument } from '../errors.js';
import type { CgroupManager } from '../config/schema.js';

export const CGROUP_ROOT = '/sys/fs/cgroup';

/**
 * The parent a pod's cgroups go under, as berth records it: for systemd the
 * slice unit (the last element of an expanded path), for cgroupfs the path.
 */
export function podCgroupParent(manager: CgroupManager, parent: string): string {
  checkCgroupParent(manager, parent);
  return manager === 'systemd' ? path.posix.basename(parent) : parent;
}

export function checkCgroupParent(manager: CgroupManager, parent: string): void {
  if (!parent) return;
  if (manager === 'systemd') {
    const elements = parent.split('/').filter(Boolean);
    // Each element of an expanded path is a slice, and each one's name
    // extends its parent's ("a.slice/a-b.slice"), as systemd nests them.
    const nested = elements.every((e, i) => e.endsWith('.slice') && (i === 0 || e.startsWith(`${elements[i - 1]!.slice(0, -'.slice'.length)}-`)));
    if (elements.length === 0 || !nested || (elements.length > 1 && !parent.startsWith('/'))) {
      throw invalidArgument(`cgroup_parent "${parent}" is not a systemd slice, but berth uses the systemd cgroup driver`);
    }
  }
  if (manager === 'cgroupfs' && (parent.endsWith('.slice') || !parent.startsWith('/'))) {
    throw invalidArgument(`cgroup_parent "${parent}" is not an absolute cgroupfs path, but berth uses the cgroupfs driver`);
  }
  if (parent.split('/').includes('..')) throw invalidArgument(`cgroup_parent "${parent}" contains ".."`);
}

export function containerCgroupsPath(manager: CgroupManager, parent: string, id: string): string {
  if (manager === 'systemd') return `${parent || 'system.slice'}:berth:${id}`;
  return `${parent || '/berth'}/berth-${id}`;
}

/** The hierarchies on this host: each v1 controller mount, or the single v2 one. */
export async function hierarchies(): Promise<string[]> {
  try {
    await stat(path.join(CGROUP_ROOT, 'cgroup.controllers'));
    return [CGROUP_ROOT];
  } catch {
    const out: string[] = [];
    for (const e of await readdir(CGROUP_ROOT, { withFileTypes: true })) {
      if (e.isDirectory() || e.isSymbolicLink()) out.push(path.join(CGROUP_ROOT, e.name));
    }
    return out;
  }
}

/** Creates a cgroupfs parent where missing; returns the directories it made. */
export async function ensureCgroupParent(parent: string): Promise<string[]> {
  const made: string[] = [];
  if (!parent || parent === '/') return made;
  for (const h of await hierarchies()) {
    let current = h;
    for (const part of parent.split('/').filter(Boolean)) {
      current = path.join(current, part);
      try {
        await mkdir(current);
        made.push(current);
      } catch (err) {
        if (errnoCode(err) !== 'EEXIST') {
          if (errnoCode(err) === 'EROFS' || errnoCode(err) === 'EACCES') break;
          throw err;
        }
      }
    }
  }
  return made;
}

/**
 * Removes berth's default parent ("/berth", used when a pod names none)
 * once no container is left in it; a busy one stays.
 */
export async function removeDefaultParent(): Promise<void> {
  await removeCgroupDirs((await hierarchies()).map((h) => path.join(h, 'berth')));
}

/** Removes directories made by ensureCgroupParent, deepest first; busy ones stay. */
export async function removeCgroupDirs(dirs: string[]): Promise<void> {
  for (const dir of [...dirs].sort((a, b) => b.length - a.length)) {
    try {
      await rmdir(dir);
    } catch (err) {
      const code = errnoCode(err);
      if (code !== 'ENOENT' && code !== 'EBUSY' && code !== 'ENOTEMPTY') throw err;
    }
  }
}
