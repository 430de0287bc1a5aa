import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CriClient, call, connectCri } from './cri-client.js';
import { waitFor } from './ports.js';

export const BERTH_BIN = fileURLToPath(new URL('../../bin/berth.js', import.meta.url));

/**
 * The real berth daemon on private paths: its own socket, root, runroot,
 * registries.conf and an empty configuration, so nothing on the host's
 * /etc/berth or /var/lib/berth is read or touched.
 */
export interface BerthDaemon {
  dir: string;
  socket: string;
  root: string;
  runroot: string;
  registriesConf: string;
  client: CriClient;
  process: ChildProcess;
  logs(): Promise<string>;
  /** SIGTERM, wait for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** stop() and remove every file the daemon made. */
  destroy(): Promise<void>;
}

export interface DaemonOptions {
  registriesConf?: string;
  /** Extra TOML for berth.conf (the e2e pause image, for instance). */
  config?: string;
  extraArgs?: string[];
  /** Options for node itself, such as `--cpu-prof`. */
  nodeArgs?: string[];
  /** Reuse the directories of an earlier daemon (restart). */
  reuse?: { dir: string };
  /** Another berth command than this checkout's (an installed package's). */
  command?: string;
}

export function spawnBerth(args: string[], logFile?: string, nodeArgs: string[] = [], command?: string): ChildProcess {
  const child = command
    ? spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, [...nodeArgs, BERTH_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  if (logFile) {
    const chunks: Buffer[] = [];
    const flush = () => writeFile(logFile, Buffer.concat(chunks), { flag: 'w' }).catch(() => undefined);
    child.stderr?.on('data', (d: Buffer) => chunks.push(d));
    child.stdout?.on('data', (d: Buffer) => chunks.push(d));
    child.on('exit', () => void flush());
    (child as ChildProcess & { flushLog?: () => Promise<unknown> }).flushLog = flush;
  }
  return child;
}

/** The daemon's files and command line, written but not started. */
export interface PreparedBerth {
  dir: string;
  socket: string;
  root: string;
  runroot: string;
  registriesConf: string;
  args: string[];
}

export async function prepareBerth(opts: DaemonOptions = {}): Promise<PreparedBerth> {
  const dir = opts.reuse?.dir ?? (await mkdtemp(path.join(tmpdir(), 'berth-e2e-')));
  // Containers in a user namespace run as unprivileged host uids that must
  // pass through runroot's parents, as they can through /run.
  await chmod(dir, 0o711);
  const socket = path.join(dir, 'run', 'berth.sock');
  const root = path.join(dir, 'root');
  const runroot = path.join(dir, 'run');
  const registriesConf = path.join(dir, 'registries.conf');
  const config = path.join(dir, 'berth.conf');
  await mkdir(path.join(dir, 'conf.d'), { recursive: true });
  await writeFile(config, `# e2e: embedded defaults plus flags\n${opts.config ?? ''}`);
  if (opts.registriesConf !== undefined) await writeFile(registriesConf, opts.registriesConf);
  // Unless a test brings its own CNI setup, pods get a loopback-only network:
  // the pod tests need a ready network but no bridge on the host.
  const cniArgs: string[] = [];
  if (!(opts.extraArgs ?? []).includes('--cni-config-dir')) {
    const cniDir = path.join(dir, 'cni', 'loopback.d');
    await mkdir(cniDir, { recursive: true });
    await writeFile(
      path.join(cniDir, '99-loopback.conflist'),
      JSON.stringify({ cniVersion: '1.0.0', name: 'berth-e2e-loopback', plugins: [{ type: 'loopback' }] }),
    );
    cniArgs.push('--cni-config-dir', cniDir, '--cni-plugin-dir', '/usr/lib/cni');
  }
  // Unless a test brings its own, a policy that accepts any image, and an
  // empty registries.d: the host's /etc/containers must not decide. In a
  // conf.d file, not flags, so that a later file of a test can change them.
  if (!(opts.extraArgs ?? []).includes('--signature-policy')) {
    const policy = path.join(dir, 'policy.json');
    await writeFile(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    await mkdir(path.join(dir, 'registries.d'), { recursive: true });
    await writeFile(
      path.join(dir, 'conf.d', '00-e2e-policy.conf'),
      `[image]\nsignature_policy = "${policy}"\nregistries_d = "${path.join(dir, 'registries.d')}"\n`,
    );
  }
  const args = [
    'serve',
    '--config',
    config,
    '--config-dir',
    path.join(dir, 'conf.d'),
    '--listen',
    socket,
    '--root',
    root,
    '--runroot',
    runroot,
    '--registries-conf',
    registriesConf,
    '--log-level',
    'debug',
    ...cniArgs,
    ...(opts.extraArgs ?? []),
  ];
  return { dir, socket, root, runroot, registriesConf, args };
}

export async function startBerth(opts: DaemonOptions = {}): Promise<BerthDaemon> {
  const { dir, socket, root, runroot, registriesConf, args } = await prepareBerth(opts);
  const logFile = path.join(dir, `berth-${Date.now()}.log`);
  const child = spawnBerth(args, logFile, opts.nodeArgs, opts.command);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const client = await connectCri(socket);
  try {
    await waitFor('berth to answer Version', async () => {
      if (child.exitCode !== null) throw new Error(`berth exited with ${child.exitCode}`);
      await call(client.runtime, client.runtime.Version, {}, 2000);
      return true;
    });
  } catch (err) {
    client.close();
    child.kill('SIGKILL');
    await exited;
    throw new Error(`${(err as Error).message}\n${await readFile(logFile, 'utf8').catch(() => '')}`);
  }
  let stopped: Promise<number | null> | undefined;
  const daemon: BerthDaemon = {
    dir,
    socket,
    root,
    runroot,
    registriesConf,
    client,
    process: child,
    logs: async () => {
      await (child as ChildProcess & { flushLog?: () => Promise<unknown> }).flushLog?.();
      return readFile(logFile, 'utf8').catch(() => '');
    },
    stop: () => {
      stopped ??= (async () => {
        client.close();
        if (child.exitCode === null) child.kill('SIGTERM');
        return exited;
      })();
      return stopped;
    },
    destroy: async () => {
      await daemon.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return daemon;
}
