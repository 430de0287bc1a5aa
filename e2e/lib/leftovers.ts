import { readFile, readdir } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/**
 * What a test run must not leave behind on the host: mounts under its
 * directories, conmon processes, runc containers, cgroups.
 */
export async function mountsUnder(dir: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  return info
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((mp) => mp.startsWith(dir));
}

export async function conmonProcessesFor(dir: string): Promise<number[]> {
  const out: number[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes('conmon') && cmdline.includes(dir)) out.push(Number(pid));
  }
  return out;
}

export async function runcContainers(root: string): Promise<string[]> {
  const { stdout } = await promisify(execFile)('runc', ['--root', root, 'list', '-q']).catch(() => ({ stdout: '' }));
  return stdout.split('\n').filter(Boolean);
}

/** Cgroup directories named `name` directly under any hierarchy root. */
export async function cgroupDirs(name: string): Promise<string[]> {
  const out: string[] = [];
  for (const h of await readdir('/sys/fs/cgroup')) {
    const dir = `/sys/fs/cgroup/${h}/${name}`;
    if (
      await readdir(dir).then(
        () => true,
        () => false,
      )
    )
      out.push(dir);
  }
  return out;
}
