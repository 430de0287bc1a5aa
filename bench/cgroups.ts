import { readdir, rmdir } from 'node:fs/promises';
import path from 'node:path';

/**
 * Removes a cgroup tree from every hierarchy once nothing runs in it:
 * runtimes leave the pods' parent cgroups behind (they belong to the
 * kubelet), and CRI-O with cgroupfs leaves its own directories too.
 * Deepest first, as cgroup directories are removed one at a time.
 */
export async function removeCgroupTree(name: string): Promise<void> {
  const roots = ['/sys/fs/cgroup', '/sys/fs/cgroup/unified'];
  for (const root of roots) {
    const hierarchies = await readdir(root, { withFileTypes: true }).catch(() => []);
    for (const h of hierarchies) {
      if (h.isDirectory()) await removeDirTree(path.join(root, h.name, name));
    }
    await removeDirTree(path.join(root, name));
  }
}

async function removeDirTree(dir: string): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => undefined);
  if (!entries) return;
  for (const e of entries) if (e.isDirectory()) await removeDirTree(path.join(dir, e.name));
  await rmdir(dir).catch(() => undefined);
}
