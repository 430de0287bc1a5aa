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
    ? // Joins the subtree, then a new cgroup namespace rooted there and a
      // mount namespace where /sys/fs/cgroup is nspawn's view of the
      // subtree, then execs nspawn (same pid). nspawn must not see the
      // host's tree: on this hybrid host it makes its payload's sub-cgroup
      // at a path it reads relative to its cgroup namespace but writes
      // relative to the host's mounts, so the sub-cgroup landed at the
      // host's root, outside the subtree, the node's init saw itself
      // outside its own tree ("/../…"), runc derived a name=systemd path
      // that does not exist from that, and execs failed. With only the
      // subtree in view, nspawn takes the host for a legacy one and makes
      // the sub-cgroup inside it, where the node's view is rooted.
      spawn(
        'sh',
        [
          '-c',
          'set -e; for p in $BERTH_E2E_CGROUP_PROCS; do echo $$ > "$p"; done; grep -qx "[0-9]*:name=systemd:$BERTH_E2E_CGROUP_NAME" /proc/self/cgroup; exec unshare --cgroup --mount --propagation private -- sh -c \'mount --rbind "$BERTH_E2E_CGROUP_STAGE" /sys/fs/cgroup && exec systemd-nspawn "$@"\' sh "$@"',
          'sh',
          ...args,
        ],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: {
            ...process.env,
            BERTH_E2E_CGROUP_PROCS: subtree.procs.join(' '),
            BERTH_E2E_CGROUP_NAME: `/${opts.cgroup!.name}`,
            BERTH_E2E_CGROUP_STAGE: subtree.nspawnView,
          },
        },
      )
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
  if (subtree) {
    // The node's init must sit inside its cgroup namespace's root in every
    // hierarchy (as "/" or "/init.scope"), or runc inside works out paths
    // that do not exist: say so at boot, not at the first exec.
    const seen = (await exec(['cat', '/proc/1/cgroup'])).stdout;
    if (seen.split('\n').some((line) => line.split(':')[2]?.startsWith('/..'))) {
      await stop();
      throw new Error(`the node's init is outside its cgroup namespace:\n${seen}`);
    }
  }
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
 * systemd-nspawn (252) puts its payload in a sub-cgroup of this name in the
 * name=systemd hierarchy, then roots the payload's cgroup namespace there.
 */
const NSPAWN_PAYLOAD = 'payload';

/**
 * Makes `<hierarchy>/<name>` under every hierarchy and two views of them,
 * tmpfs directories with each subtree bound at its hierarchy's name: one
 * at `stage`, the node's /sys/fs/cgroup, and one beside it that nspawn
 * sees as its own. They differ in name=systemd: nspawn sees the subtree,
 * the node the sub-cgroup nspawn will put it in, which is the root of its
 * cgroup namespace, so that the tree the node sees and the paths its
 * processes report agree.
 */
async function stageCgroupSubtree(name: string, stage: string): Promise<{ procs: string[]; nspawnView: string; remove(): Promise<void> }> {
  const dirs: string[] = [];
  const nspawnView = `${stage}-nspawn`;
  const remove = async () => {
    for (const v of [stage, nspawnView]) {
      await run('umount', ['-R', v]).catch(() => undefined);
      await rmdir(v).catch(() => undefined);
    }
    for (const d of dirs) await removeTree(d);
  };
  try {
    for (const v of [stage, nspawnView]) {
      await mkdir(v, { recursive: true });
      await run('mount', ['-t', 'tmpfs', '-o', 'mode=755,size=64k', 'berth-e2e-cgroup', v]);
    }
    for (const h of await hierarchies()) {
      const dir = path.join(h, name);
      await mkdir(dir, { recursive: true });
      dirs.push(dir);
      // A new cpuset has no CPUs or memory nodes until it is given its parent's.
      if (path.basename(h) === 'cpuset') {
        for (const f of ['cpuset.cpus', 'cpuset.mems']) await writeFile(path.join(dir, f), await readFile(path.join(h, f)));
      }
      const nodeDir = path.basename(h) === 'systemd' ? path.join(dir, NSPAWN_PAYLOAD) : dir;
      await mkdir(nodeDir, { recursive: true });
      for (const [view, target] of [
        [stage, nodeDir],
        [nspawnView, dir],
      ] as const) {
        await mkdir(path.join(view, path.basename(h)));
        await run('mount', ['--bind', target, path.join(view, path.basename(h))]);
      }
    }
    return { procs: dirs.map((d) => path.join(d, 'cgroup.procs')), nspawnView, remove };
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
