import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { access, readFile, readdir, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { waitFor } from './ports.js';

/**
 * A Debian 12 node booted with systemd as PID 1 by systemd-nspawn: the
 * machine an operator installs berth's package on. Its root is made once
 * by debootstrap and cached (the build folder keeps it between runs); each
 * boot is volatile (an overlay over the cached root, thrown away at exit),
 * and shares the host's network, so the node reaches the test registries
 * on 127.0.0.1. Directories of the host can be bound into it.
 */
const run = promisify(execFile);

/** What the node has before berth's package: systemd, and what the package depends on. */
const PACKAGES = [
  'systemd',
  'systemd-sysv',
  'dbus',
  'runc',
  'conmon',
  'containernetworking-plugins',
  'iptables',
  'golang-github-containers-common',
  'libstdc++6',
];

export async function ensureNodeRoot(root: string): Promise<void> {
  // The cached root is kept while it was made with today's package list.
  const marker = `${root}.packages`;
  const made = await readFile(marker, 'utf8').catch(() => '');
  const present = await access(`${root}/etc/os-release`).then(
    () => true,
    () => false,
  );
  if (present && made === PACKAGES.join(',')) return;
  await rm(root, { recursive: true, force: true });
  const tmp = `${root}.tmp`;
  await rm(tmp, { recursive: true, force: true });
  await run('debootstrap', ['--variant=minbase', `--include=${PACKAGES.join(',')}`, 'bookworm', tmp, 'http://deb.debian.org/debian'], {
    timeout: 600_000,
    maxBuffer: 16 << 20,
  });
  await rename(tmp, root);
  await writeFile(marker, PACKAGES.join(','));
}

export interface BootedNode {
  /** PID of the node's systemd, as the host sees it. */
  leader: number;
  /** Runs a command inside the node (all its namespaces). */
  exec(cmd: string[], timeoutMs?: number): Promise<{ stdout: string; stderr: string }>;
  /** Powers the node off and waits until nspawn has gone. */
  stop(): Promise<void>;
}

export async function bootNode(root: string, binds: { host: string; node: string; readOnly?: boolean }[], consoleLog: string[]): Promise<BootedNode> {
  const args = [
    '-b',
    '--register=no',
    '--keep-unit',
    '-D',
    root,
    '--volatile=overlay',
    // What nested runc needs here (a trial found these): every capability,
    // the host's cgroup tree, and keyctl for runc's session keyring.
    '--capability=all',
    '--bind=/sys/fs/cgroup',
    '--system-call-filter=@keyring',
    ...binds.map((b) => `--bind${b.readOnly ? '-ro' : ''}=${b.host}:${b.node}`),
  ];
  // The node's systemd works in the host's cgroup tree (bound in): what it
  // leaves at the roots (its init.scope) is removed after it stops.
  const cgroupsBefore = await cgroupRootDirs();
  const nspawn: ChildProcess = spawn('systemd-nspawn', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  nspawn.stdout!.on('data', (d: Buffer) => consoleLog.push(d.toString()));
  nspawn.stderr!.on('data', (d: Buffer) => consoleLog.push(d.toString()));
  const exited = new Promise<void>((resolve) => nspawn.once('exit', () => resolve()));
  let leader = 0;
  await waitFor(
    "the node's systemd",
    async () => {
      if (nspawn.exitCode !== null) throw new Error(`systemd-nspawn exited: ${consoleLog.join('').slice(-2000)}`);
      leader = await childNamed(nspawn.pid!, 'systemd');
      return leader > 0;
    },
    30_000,
  );
  const exec = async (cmd: string[], timeoutMs = 120_000) => {
    const { stdout, stderr } = await run('nsenter', ['-t', String(leader), '-a', '--', ...cmd], { timeout: timeoutMs, maxBuffer: 16 << 20 });
    return { stdout, stderr };
  };
  // Booted: systemd says running (or degraded: units a container lacks).
  await waitFor(
    'the node to boot',
    async () => {
      const state = await exec(['systemctl', 'is-system-running'], 10_000).then(
        (r) => r.stdout,
        (e: { stdout?: string }) => e.stdout ?? '',
      );
      return /running|degraded/.test(state);
    },
    60_000,
  );
  return {
    leader,
    exec,
    stop: async () => {
      if (nspawn.exitCode === null) nspawn.kill('SIGTERM'); // nspawn shuts the node down in order
      // A unit that ignores SIGTERM would hold the shutdown for 90 s: past
      // 20 s the node's init is killed, which ends every process in it
      // (its containers included), then nspawn itself if need be.
      const slow = setTimeout(() => {
        try {
          process.kill(leader, 'SIGKILL');
        } catch {
          // Gone already.
        }
        setTimeout(() => nspawn.kill('SIGKILL'), 10_000).unref();
      }, 20_000);
      await exited;
      clearTimeout(slow);
      for (const dir of await cgroupRootDirs()) if (!cgroupsBefore.has(dir)) await removeTree(dir);
    },
  };
}

/** Removes an (empty) cgroup directory tree, deepest first. */
async function removeTree(dir: string): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) if (e.isDirectory()) await removeTree(`${dir}/${e.name}`);
  await rmdir(dir).catch(() => undefined);
}

async function cgroupRootDirs(): Promise<Set<string>> {
  const out = new Set<string>();
  for (const h of await readdir('/sys/fs/cgroup')) {
    for (const e of await readdir(`/sys/fs/cgroup/${h}`, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) out.add(`/sys/fs/cgroup/${h}/${e.name}`);
    }
  }
  return out;
}

async function childNamed(parent: number, comm: string): Promise<number> {
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    const m = /^\d+ \((.*)\) \S+ (\d+)/.exec(stat);
    if (m && m[1] === comm && Number(m[2]) === parent) return Number(pid);
  }
  return 0;
}
