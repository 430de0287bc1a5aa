import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort, waitFor } from './ports.js';

/**
 * A Kubernetes control plane as host processes on private ports and
 * directories: Debian's etcd, and kube-apiserver (HTTPS with a self-signed
 * certificate, one system:masters token), kube-controller-manager and
 * kube-scheduler built from Debian's Kubernetes source by
 * scripts/kubernetes/build.sh.
 */
const run = promisify(execFile);
const BUILD = fileURLToPath(new URL('../../scripts/kubernetes/build.sh', import.meta.url));
const BINARIES = ['kubelet', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy', 'kubectl'];

/** The directory of the Kubernetes binaries, built on first use (about 8 minutes on 2 cores for the cluster's). */
export async function kubernetesBinaries(names: string[] = BINARIES): Promise<string> {
  const { stdout } = await run(BUILD, names, { maxBuffer: 64 << 20, timeout: 60 * 60_000 });
  return stdout.trim().split('\n').pop()!;
}

export interface Supervised {
  name: string;
  child: ChildProcess;
  log: string;
}

/** Starts a process whose output goes to `<dir>/<name>.log`. */
export function supervise(dir: string, name: string, command: string, args: string[]): Supervised {
  const log = path.join(dir, `${name}.log`);
  const out = createWriteStream(log);
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.pipe(out);
  child.stderr!.pipe(out);
  return { name, child, log };
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function stopProcess(p: Supervised, graceMs = 10_000): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => p.child.once('exit', () => resolve()));
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export interface ControlPlane {
  dir: string;
  bin: string;
  server: string;
  /** The admin token (system:masters), for the nodes' kubeconfigs. */
  token: string;
  kubeconfig: string;
  processes: Supervised[];
  kubectl(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<{ stdout: string; stderr: string; code: number }>;
  stop(): Promise<void>;
}

async function selfSignedCertificate(dir: string, address: string): Promise<{ cert: string; key: string }> {
  const cert = path.join(dir, 'apiserver.crt');
  const key = path.join(dir, 'apiserver.key');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=berth-e2e-apiserver',
    '-addext',
    `subjectAltName=IP:127.0.0.1,IP:${address},IP:10.96.0.1,DNS:localhost,DNS:kubernetes.default.svc`,
    '-keyout',
    key,
    '-out',
    cert,
  ]);
  return { cert, key };
}

/**
 * Where the API server listens. On loopback (the default) its one node is
 * on the host, named localhost and reached by that name; on the address of
 * a network the test owns, its nodes are machines on that network, reached
 * by their InternalIP, and the kubernetes Service has that address.
 */
export interface ControlPlaneOptions {
  address?: string;
}

export async function startControlPlane(dir: string, bin: string, opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  await mkdir(dir, { recursive: true });
  const address = opts.address ?? '127.0.0.1';
  const onLoopback = address === '127.0.0.1';
  const processes: Supervised[] = [];
  const stop = async () => {
    for (const p of [...processes].reverse()) await stopProcess(p);
  };
  try {
    const { cert, key } = await selfSignedCertificate(dir, address);
    const saKey = path.join(dir, 'sa.key');
    await run('openssl', ['genrsa', '-out', saKey, '2048']);
    const token = `berth-e2e-${Math.random().toString(36).slice(2)}`;
    const tokens = path.join(dir, 'tokens.csv');
    await writeFile(tokens, `${token},berth-e2e-admin,berth-e2e-admin,system:masters\n`, { mode: 0o600 });

    const etcdClient = await freePort();
    const etcdPeer = await freePort();
    processes.push(
      supervise(dir, 'etcd', 'etcd', [
        '--data-dir',
        path.join(dir, 'etcd'),
        '--listen-client-urls',
        `http://127.0.0.1:${etcdClient}`,
        '--advertise-client-urls',
        `http://127.0.0.1:${etcdClient}`,
        '--listen-peer-urls',
        `http://127.0.0.1:${etcdPeer}`,
        '--initial-advertise-peer-urls',
        `http://127.0.0.1:${etcdPeer}`,
        '--initial-cluster',
        `default=http://127.0.0.1:${etcdPeer}`,
        '--name',
        'default',
      ]),
    );

    const port = await freePort();
    const server = `https://${address}:${port}`;
    processes.push(
      supervise(dir, 'kube-apiserver', path.join(bin, 'kube-apiserver'), [
        `--etcd-servers=http://127.0.0.1:${etcdClient}`,
        `--bind-address=${address}`,
        `--secure-port=${port}`,
        '--insecure-port=0',
        `--tls-cert-file=${cert}`,
        `--tls-private-key-file=${key}`,
        `--token-auth-file=${tokens}`,
        '--authorization-mode=RBAC',
        `--service-account-key-file=${saKey}`,
        `--service-account-signing-key-file=${saKey}`,
        '--service-account-issuer=https://kubernetes.default.svc',
        '--service-cluster-ip-range=10.96.0.0/24',
        ...(onLoopback
          ? [
              // One node on the host: it is named localhost and reached by that
              // name (a kubelet refuses a loopback node IP).
              '--kubelet-preferred-address-types=Hostname',
              // The kubernetes Service cannot have a loopback endpoint.
              '--endpoint-reconciler-type=none',
            ]
          : [`--advertise-address=${address}`, '--kubelet-preferred-address-types=InternalIP']),
        '--enable-admission-plugins=NamespaceLifecycle,ServiceAccount,DefaultStorageClass',
      ]),
    );
    const kubeconfig = path.join(dir, 'admin.kubeconfig');
    await writeFile(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        `- name: e2e\n  cluster:\n    server: ${server}\n    insecure-skip-tls-verify: true`,
        'users:',
        `- name: admin\n  user:\n    token: ${token}`,
        'contexts:',
        '- name: e2e\n  context:\n    cluster: e2e\n    user: admin',
        'current-context: e2e',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const kubectl: ControlPlane['kubectl'] = (args, opts = {}) =>
      new Promise((resolve) => {
        const child = execFile(
          path.join(bin, 'kubectl'),
          ['--kubeconfig', kubeconfig, ...args],
          { timeout: opts.timeoutMs ?? 60_000, maxBuffer: 16 << 20 },
          (err, stdout, stderr) => {
            const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code as number) : 1) : 0;
            resolve({ stdout, stderr, code });
          },
        );
        if (opts.input !== undefined) child.stdin!.end(opts.input);
        else child.stdin!.end();
      });
    await waitFor('the API server', async () => (await kubectl(['get', '--raw', '/readyz'])).stdout.trim() === 'ok', 90_000);

    processes.push(
      supervise(dir, 'kube-controller-manager', path.join(bin, 'kube-controller-manager'), [
        `--kubeconfig=${kubeconfig}`,
        `--service-account-private-key-file=${saKey}`,
        `--root-ca-file=${cert}`,
        '--leader-elect=false',
        '--port=0',
        '--secure-port=0',
        '--use-service-account-credentials=false',
        '--controllers=*,-nodeipam,-cloud-node-lifecycle,-service,-route',
      ]),
      supervise(dir, 'kube-scheduler', path.join(bin, 'kube-scheduler'), [`--kubeconfig=${kubeconfig}`, '--leader-elect=false', '--port=0', '--secure-port=0']),
    );
    await waitFor('the default service account', async () => (await kubectl(['get', 'serviceaccount', 'default', '-n', 'default'])).code === 0, 90_000);
    return { dir, bin, server, token, kubeconfig, processes, kubectl, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
