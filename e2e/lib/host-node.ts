import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type Supervised, stopProcess, supervise } from './control-plane.js';
import { waitFor } from './ports.js';

/**
 * A Kubernetes node on the host for one test: a private mount namespace
 * that berth and a kubelet share (the kubelet's tmpfs volumes must be
 * visible to the runtime that bind-mounts them), in which the six kernel
 * settings the kubelet rewrites at start are copies, so the host's stay as
 * they are. Everything mounted in it goes when its last process does.
 */
const run = promisify(execFile);
const BERTH_BIN = fileURLToPath(new URL('../../bin/berth.js', import.meta.url));

/** What kubelet 1.20 writes at start (pkg/kubelet/cm, setupKernelTunables). */
export const KUBELET_SYSCTLS = [
  'vm/overcommit_memory',
  'vm/panic_on_oom',
  'kernel/panic',
  'kernel/panic_on_oops',
  'kernel/keys/root_maxkeys',
  'kernel/keys/root_maxbytes',
];

export interface HostNodeNamespace {
  pid: number;
  /** A command that runs berth (this checkout's) inside the namespace, for startBerth's `command`. */
  berthCommand: string;
  /** Runs a process inside the namespace. */
  spawnInside(dir: string, name: string, command: string, args: string[]): Supervised;
  /** The namespace's mount table. */
  mountinfo(): Promise<string>;
  close(): Promise<void>;
}

export async function hostNodeNamespace(dir: string): Promise<HostNodeNamespace> {
  await mkdir(dir, { recursive: true });
  const holder: ChildProcess = spawn('unshare', ['--mount', '--propagation', 'private', 'sleep', 'infinity'], { stdio: 'ignore' });
  const pid = holder.pid!;
  const inside = (args: string[]) => run('nsenter', ['-t', String(pid), '-m', '--', ...args]);
  try {
    const own = (await run('readlink', ['/proc/self/ns/mnt'])).stdout;
    await waitFor('the node mount namespace', async () => (await run('readlink', [`/proc/${pid}/ns/mnt`])).stdout !== own, 5000);
    const copies = path.join(dir, 'sysctl-copies');
    await mkdir(copies, { recursive: true });
    for (const key of KUBELET_SYSCTLS) {
      const copy = path.join(copies, key.replaceAll('/', '.'));
      await writeFile(copy, await readFile(`/proc/sys/${key}`));
      await inside(['mount', '--bind', copy, `/proc/sys/${key}`]);
    }
    const berthCommand = path.join(dir, 'berth-in-node');
    await writeFile(berthCommand, `#!/bin/sh\nexec nsenter -t ${pid} -m -- ${process.execPath} ${BERTH_BIN} "$@"\n`, { mode: 0o755 });
    return {
      pid,
      berthCommand,
      spawnInside: (logDir, name, command, args) => supervise(logDir, name, 'nsenter', ['-t', String(pid), '-m', '--', command, ...args]),
      mountinfo: () => readFile(`/proc/${pid}/mountinfo`, 'utf8'),
      close: async () => {
        await stopProcess({ name: 'node namespace', child: holder, log: '' }, 1000);
      },
    };
  } catch (err) {
    holder.kill('SIGKILL');
    throw err;
  }
}

/**
 * The flags of a kubelet on the host (in a HostNodeNamespace): the cgroupfs
 * driver without QoS cgroups or node allocatable enforcement, no iptables
 * chains of its own, and eviction and image GC thresholds the shared
 * machine cannot trip. Callers add what is theirs (verbosity, API rates).
 */
export function hostKubeletArgs(o: { kubeconfig: string; socket: string; name: string; dir: string; port: number }): string[] {
  return [
    `--kubeconfig=${o.kubeconfig}`,
    '--container-runtime=remote',
    `--container-runtime-endpoint=unix://${o.socket}`,
    `--image-service-endpoint=unix://${o.socket}`,
    `--hostname-override=${o.name}`,
    `--root-dir=${o.dir}`,
    `--cert-dir=${path.join(o.dir, 'pki')}`,
    `--volume-plugin-dir=${path.join(o.dir, 'volume-plugins')}`,
    '--cgroup-driver=cgroupfs',
    '--cgroups-per-qos=false',
    '--enforce-node-allocatable=',
    '--fail-swap-on=false',
    `--port=${o.port}`,
    '--healthz-port=0',
    '--read-only-port=0',
    '--make-iptables-util-chains=false',
    '--eviction-hard=memory.available<1Ki,nodefs.available<1Ki,imagefs.available<1Ki',
    '--image-gc-high-threshold=100',
    '--image-gc-low-threshold=99',
    '--runtime-request-timeout=2m',
    '--resolv-conf=/etc/resolv.conf',
  ];
}
