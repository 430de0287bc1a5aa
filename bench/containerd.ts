import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { waitFor } from '../e2e/lib/ports.js';
import { stopDaemon } from './startup.js';
import { sweepLeftovers } from './sweep.js';
import { connectCri, call, type CriClient } from '../e2e/lib/cri-client.js';

/**
 * containerd 1.6 (Debian's package) with its CRI plugin, on private paths,
 * configured like berth: the same loopback registry (as a mirror), the
 * same CNI directories, runc with cgroupfs, oom_score_adj restricted when
 * CAP_SYS_RESOURCE is missing.
 */
export interface Containerd {
  socket: string;
  pid: number;
  client: CriClient;
  stop(): Promise<void>;
}

export interface ContainerdOptions {
  registry: string;
  pauseImage: string;
  cniConfDir: string;
  restrictOom: boolean;
  /** Registries (such as docker.io) the loopback registry stands in for as a mirror. */
  mirroredHosts?: string[];
}

/** Writes the private configuration; returns its path and the socket it names. */
export async function prepareContainerd(dir: string, opts: ContainerdOptions): Promise<{ config: string; socket: string }> {
  const root = path.join(dir, 'root');
  const state = path.join(dir, 'state');
  const socket = path.join(dir, 'containerd.sock');
  const certs = path.join(dir, 'certs.d', opts.registry);
  await mkdir(certs, { recursive: true });
  await writeFile(
    path.join(certs, 'hosts.toml'),
    `server = "http://${opts.registry}"\n\n[host."http://${opts.registry}"]\n  capabilities = ["pull", "resolve"]\n`,
  );
  for (const host of opts.mirroredHosts ?? []) {
    await mkdir(path.join(dir, 'certs.d', host), { recursive: true });
    await writeFile(
      path.join(dir, 'certs.d', host, 'hosts.toml'),
      `server = "https://${host === 'docker.io' ? 'registry-1.docker.io' : host}"\n\n[host."http://${opts.registry}"]\n  capabilities = ["pull", "resolve"]\n`,
    );
  }
  const config = path.join(dir, 'config.toml');
  await writeFile(
    config,
    `version = 2
root = "${root}"
state = "${state}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "${socket}"
[ttrpc]
  address = "${socket}.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${opts.pauseImage}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  disable_apparmor = true
  restrict_oom_score_adj = ${opts.restrictOom}
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${opts.cniConfDir}"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "${path.join(dir, 'certs.d')}"
`,
  );
  return { config, socket };
}

export function spawnContainerd(config: string): ChildProcess {
  return spawn('containerd', ['--config', config], { stdio: ['ignore', 'ignore', 'ignore'] });
}

/** Shims and containers a containerd stopped mid-workload left under `dir`. */
export function sweepContainerd(dir: string): Promise<void> {
  return sweepLeftovers({ runcRoot: '/run/containerd/runc/k8s.io', under: dir, monitors: `containerd-shim-runc-v2 .*-address ${dir}/` });
}

/** Starts containerd with `spawnWith` (by default on the host; a caller may run it in a namespace of its own). */
export async function startContainerd(
  dir: string,
  opts: ContainerdOptions,
  spawnWith: (config: string) => ChildProcess = spawnContainerd,
): Promise<Containerd> {
  const { config, socket } = await prepareContainerd(dir, opts);
  const child = spawnWith(config);
  const client = await connectCri(socket);
  await waitFor(
    'containerd to answer',
    async () => {
      await call(client.runtime, client.runtime.Version, {}, 1000);
      return true;
    },
    30_000,
  );
  return {
    socket,
    pid: child.pid!,
    client,
    stop: () => stopDaemon(child, client),
  };
}
