import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { access, mkdir, readFile, readdir, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
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

/**
 * What the node has before berth's package: systemd, what the package
 * depends on, and what a Kubernetes node adds (the cluster test's kubelet
 * and kube-proxy: ip for the node's own network, conntrack for Services).
 */
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
  'libzstd1',
  'iproute2',
  'conntrack',
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

/**
 * How a node boots. By default its root is volatile and it shares the
 * host's network and cgroup tree (the package test). A cluster node brings
 * its own root (kept across reboots), its own network (a veth on a bridge
 * the test owns) and its own cgroup subtree: a directory under every
 * hierarchy, which the node sees as the root through a cgroup namespace,
 * so two nodes' systemd and kubelets never share a cgroup.
 */
export interface BootOptions {
  /** The root is the caller's (an overlay it keeps); otherwise a volatile overlay over `root`. */
  ownRoot?: boolean;
  /** Machine and host name. */
  machine?: string;
  /** A private network: the node's host0 is a veth whose other end joins this bridge. */
  bridge?: string;
  /** A private cgroup subtree of this name under each hierarchy; `stage` is a directory for its view. */
  cgroup?: { name: string; stage: string };
}

export async function bootNode(
  root: string,
  binds: { host: string; node: string; readOnly?: boolean }[],
  consoleLog: string[],
  opts: BootOptions = {},
): Promise<BootedNode> {
  const args = [
    '-b',
    '--register=no',
    '--keep-unit',
    '-D',
    root,
    ...(opts.ownRoot ? [] : ['--volatile=overlay']),
    ...(opts.machine ? [`--machine=${opts.machine}`, `--hostname=${opts.machine}`] : []),
    ...(opts.bridge ? [`--network-bridge=${opts.bridge}`] : []),
    // What nested runc needs here (a trial found these): every capability,
    // a writable cgroup tree, and keyctl for runc's session keyring.
    '--capability=all',
    `--bind=${opts.cgroup ? opts.cgroup.stage : '/sys/fs/cgroup'}:/sys/fs/cgroup`,
    '--system-call-filter=@keyring',
    ...binds.map((b) => `--bind${b.readOnly ? '-ro' : ''}=${b.host}:${b.node}`),
  ];
  // Without a subtree, the node's systemd works in the host's cgroup tree
  // (bound in): what it leaves at the roots (its init.scope) is removed
  // after it stops. With one, the whole subtree is.
  const cgroupsBefore = await cgroupRootDirs();
  const subtree = opts.cgroup ? await stageCgroupSubtree(opts.cgroup.name, opts.cgroup.stage) : undefined;
  const nspawn: ChildProcess = subtree
    ? // Joins the subtree, then a new cgroup namespace rooted there, then execs nspawn (same pid).
      spawn('sh', ['-c', 'for p in $BERTH_E2E_CGROUP_PROCS; do echo $$ > "$p"; done; exec unshare --cgroup -- systemd-nspawn "$@"', 'sh', ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, BERTH_E2E_CGROUP_PROCS: subtree.procs.join(' ') },
      })
    : spawn('systemd-nspawn', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  nspawn.stdout!.on('data', (d: Buffer) => consoleLog.push(d.toString()));
  nspawn.stderr!.on('data', (d: Buffer) => consoleLog.push(d.toString()));
  const exited = new Promise<void>((resolve) => nspawn.once('exit', () => resolve()));
  const cleanCgroups = async () => {
    if (subtree) await subtree.remove();
    else for (const dir of await cgroupRootDirs()) if (!cgroupsBefore.has(dir)) await removeTree(dir);
  };
  let leader = 0;
  try {
    await waitFor(
      "the node's systemd",
      async () => {
        if (nspawn.exitCode !== null) throw new Error(`systemd-nspawn exited: ${consoleLog.join('').slice(-2000)}`);
        leader = await childNamed(nspawn.pid!, 'systemd');
        return leader > 0;
      },
      30_000,
    );
  } catch (err) {
    nspawn.kill('SIGKILL');
    await exited;
    await cleanCgroups();
    throw err;
  }
  const exec = async (cmd: string[], timeoutMs = 120_000) => {
    const { stdout, stderr } = await run('nsenter', ['-t', String(leader), '-a', '--', ...cmd], { timeout: timeoutMs, maxBuffer: 16 << 20 });
    return { stdout, stderr };
  };
  const stop = async () => {
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
    await cleanCgroups();
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
  ).catch(async (err: unknown) => {
    await stop();
    throw err;
  });
  return { leader, exec, stop };
}

/** The cgroup v1 hierarchies a node gets a subtree of (name=systemd included). */
async function hierarchies(): Promise<string[]> {
  const out: string[] = [];
  for (const line of (await readFile('/proc/self/mountinfo', 'utf8')).split('\n')) {
    const [mountpoint, fstype] = [line.split(' ')[4], line.split(' - ')[1]?.split(' ')[0]];
    if (fstype === 'cgroup' && mountpoint?.startsWith('/sys/fs/cgroup/')) out.push(mountpoint);
  }
  return out;
}

/**
 * Makes `<hierarchy>/<name>` under every hierarchy and a view of them at
 * `stage` (a tmpfs with each subtree bound at its hierarchy's name), which
 * the node gets as its /sys/fs/cgroup.
 */
async function stageCgroupSubtree(name: string, stage: string): Promise<{ procs: string[]; remove(): Promise<void> }> {
  const dirs: string[] = [];
  const remove = async () => {
    await run('umount', ['-R', stage]).catch(() => undefined);
    await rmdir(stage).catch(() => undefined);
    for (const d of dirs) await removeTree(d);
  };
  try {
    await mkdir(stage, { recursive: true });
    await run('mount', ['-t', 'tmpfs', '-o', 'mode=755,size=64k', 'berth-e2e-cgroup', stage]);
    for (const h of await hierarchies()) {
      const dir = path.join(h, name);
      await mkdir(dir, { recursive: true });
      dirs.push(dir);
      // A new cpuset has no CPUs or memory nodes until it is given its parent's.
      if (path.basename(h) === 'cpuset') {
        for (const f of ['cpuset.cpus', 'cpuset.mems']) await writeFile(path.join(dir, f), await readFile(path.join(h, f)));
      }
      const view = path.join(stage, path.basename(h));
      await mkdir(view);
      await run('mount', ['--bind', dir, view]);
    }
    return { procs: dirs.map((d) => path.join(d, 'cgroup.procs')), remove };
  } catch (err) {
    await remove();
    throw err;
  }
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
