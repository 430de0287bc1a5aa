import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { call, connectCri, type CriClient } from '../e2e/lib/cri-client.js';
import { waitFor } from '../e2e/lib/ports.js';
import { stopDaemon } from './startup.js';
import { sweepLeftovers, unmountUnder } from './sweep.js';

/**
 * CRI-O as a third runtime, only when the operator hands the benchmark a
 * binary (BENCH_CRIO=/path/to/crio; pinns next to it or BENCH_CRIO_PINNS).
 * The project neither builds nor ships CRI-O: the benchmark writes a
 * private configuration (storage, state, socket, exits and namespaces
 * under its own directory, runc and conmon from the host, cgroupfs, the
 * bench's CNI directory, the loopback registry as insecure, an
 * accept-anything signature policy) and never reads /etc/crio or
 * /etc/containers.
 */
export interface CrioBinaries {
  crio: string;
  pinns: string;
}

export interface CrioOptions {
  registry: string;
  pauseImage: string;
  cniConfDir: string;
}

/** The binaries named by the environment, or why CRI-O is left out of this run. */
export async function findCrio(env: NodeJS.ProcessEnv = process.env): Promise<CrioBinaries | { skipped: string }> {
  const crio = env.BENCH_CRIO;
  if (!crio) return { skipped: 'CRI-O not measured: set BENCH_CRIO to a crio binary (and BENCH_CRIO_PINNS if pinns is not beside it)' };
  const pinns = env.BENCH_CRIO_PINNS ?? path.join(path.dirname(crio), 'pinns');
  for (const bin of [crio, pinns]) {
    const ok = await access(bin, constants.X_OK).then(
      () => true,
      () => false,
    );
    if (!ok) return { skipped: `CRI-O not measured: ${bin} is not an executable file` };
  }
  return { crio, pinns };
}

/** Writes the private configuration; returns the arguments and the socket they name. */
export async function prepareCrio(dir: string, bins: CrioBinaries, opts: CrioOptions): Promise<{ args: string[]; socket: string; logFile: string }> {
  const root = path.join(dir, 'root');
  const state = path.join(dir, 'state');
  const conf = path.join(dir, 'conf');
  const socket = path.join(state, 'crio.sock');
  await mkdir(path.join(conf, 'crio.conf.d'), { recursive: true });
  await mkdir(path.join(conf, 'registries.conf.d'), { recursive: true });
  await mkdir(path.join(conf, 'hooks.d'), { recursive: true });
  await mkdir(state, { recursive: true });
  await writeFile(path.join(conf, 'registries.conf'), `[[registry]]\nlocation = "${opts.registry}"\ninsecure = true\n`);
  await writeFile(path.join(conf, 'policy.json'), '{ "default": [{ "type": "insecureAcceptAnything" }] }\n');
  const q = JSON.stringify;
  await writeFile(
    path.join(conf, 'crio.conf'),
    `[crio]
root = ${q(path.join(root, 'storage'))}
runroot = ${q(path.join(state, 'storage'))}
storage_driver = "overlay"
log_dir = ${q(path.join(root, 'pods'))}
version_file = ${q(path.join(state, 'version'))}
version_file_persist = ${q(path.join(root, 'version'))}
clean_shutdown_file = ${q(path.join(root, 'clean.shutdown'))}

[crio.api]
listen = ${q(socket)}
stream_address = "127.0.0.1"
stream_port = "0"

[crio.runtime]
default_runtime = "runc"
cgroup_manager = "cgroupfs"
selinux = false
apparmor_profile = ""
log_level = "warn"
container_exits_dir = ${q(path.join(state, 'exits'))}
container_attach_socket_dir = ${q(state)}
namespaces_dir = ${q(path.join(state, 'ns'))}
pinns_path = ${q(bins.pinns)}
hooks_dir = [${q(path.join(conf, 'hooks.d'))}]
decryption_keys_path = ${q(path.join(conf, 'keys'))}
irqbalance_config_file = ${q(path.join(root, 'irqbalance'))}
irqbalance_config_restore_file = "disable"
enable_criu_support = false

[crio.runtime.runtimes.runc]
runtime_path = "/usr/sbin/runc"
runtime_type = "oci"
runtime_root = ${q(path.join(state, 'runc'))}
monitor_path = "/usr/bin/conmon"
monitor_cgroup = "pod"
monitor_env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]

[crio.image]
pause_image = ${q(opts.pauseImage)}
# The bench's pause image has no /pause: run its own entrypoint.
pause_command = ""
signature_policy = ${q(path.join(conf, 'policy.json'))}

[crio.network]
network_dir = ${q(opts.cniConfDir)}
plugin_dirs = ["/usr/lib/cni"]

[crio.metrics]
enable_metrics = false

[crio.nri]
enable_nri = false
nri_listen = ${q(path.join(state, 'nri.sock'))}
`,
  );
  const args = [
    '--config',
    path.join(conf, 'crio.conf'),
    '--config-dir',
    path.join(conf, 'crio.conf.d'),
    // Hidden flags of crio: the registries configuration of containers/image.
    '--registries-conf',
    path.join(conf, 'registries.conf'),
    '--registries-conf-dir',
    path.join(conf, 'registries.conf.d'),
  ];
  return { args, socket, logFile: path.join(dir, 'crio.log') };
}

/** Synchronous, as the restart timing needs the child at once; the log is appended to. */
export function spawnCrio(bin: string, args: string[], logFile: string): ChildProcess {
  const fd = openSync(logFile, 'a');
  try {
    return spawn(bin, args, { stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
}

export interface Crio {
  socket: string;
  pid: number;
  client: CriClient;
  stop(): Promise<void>;
}

export async function startCrio(dir: string, bins: CrioBinaries, opts: CrioOptions): Promise<Crio> {
  const { args, socket, logFile } = await prepareCrio(dir, bins, opts);
  const child = spawnCrio(bins.crio, args, logFile);
  const client = await connectCri(socket);
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  try {
    await waitFor(
      'CRI-O to answer Version',
      async () => {
        if (exited()) return true;
        await call(client.runtime, client.runtime.Version, {}, 1000);
        return true;
      },
      60_000,
    );
    if (exited()) throw new Error(`crio exited (${child.exitCode ?? child.signalCode})`);
  } catch (err) {
    client.close();
    child.kill('SIGKILL');
    const tail = (await readFile(logFile, 'utf8').catch(() => '')).slice(-2000);
    throw new Error(`${err instanceof Error ? err.message : String(err)}; ${logFile} ends with:\n${tail}`);
  }
  return {
    socket,
    pid: child.pid!,
    client,
    stop: () => stopDaemon(child, client),
  };
}

/**
 * containers/storage leaves its overlay home (and any layer still
 * mounted) mounted when CRI-O stops: the benchmark takes down containers
 * an interrupt left, then whatever is mounted under CRI-O's directory,
 * deepest first.
 */
export async function unmountCrio(dir: string): Promise<void> {
  await sweepLeftovers({ runcRoot: path.join(dir, 'state', 'runc'), under: dir, monitors: `conmon .*${dir}/` });
  await unmountUnder(dir);
}
