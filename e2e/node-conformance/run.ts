/**
 * Node conformance (`make node-conformance`): the Kubernetes 1.20 node e2e
 * suite built from Debian's source (test/e2e_node, focus [NodeConformance])
 * against berth and, as the reference, against Debian's containerd 1.6. The
 * suite starts its own etcd, API server and kubelet; the kubelet and the
 * runtime share a private mount namespace in which the kernel settings the
 * kubelet rewrites are copies. Images come from a loopback registry (see
 * images.ts), pulled into the runtime before the suite starts, since the
 * suite cannot pull offline. Results land in
 * build/node-conformance/<runtime>/ (junit XML, the suite's log, and
 * summary.md).
 *
 *   node dist-e2e/e2e/node-conformance/run.js [berth|containerd ...]
 */

import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, readdir, rm, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startContainerd, sweepContainerd } from '../../bench/containerd.js';
import { readHostFacts } from '../../src/host/host-facts.js';
import { startBerth } from '../lib/berth-daemon.js';
import { type CriClient, call } from '../lib/cri-client.js';
import { kubernetesBinaries } from '../lib/control-plane.js';
import { hostNodeNamespace } from '../lib/host-node.js';
import { removeIdlePortmapChains, sh } from '../lib/net-host.js';
import { startRegistry } from '../lib/registry.js';
import { pushConformanceImages } from './images.js';
import { summarize } from './summary.js';

type Runtime = 'berth' | 'containerd';
/** Run from the checkout (scripts/node-conformance.sh): outputs under its build/. */
const OUT = path.resolve('build', 'node-conformance');

/** CONFORMANCE_FOCUS narrows a run (say, to specs a fix is for); its results go to <runtime>-focused. */
const NARROWED = process.env.CONFORMANCE_FOCUS;
const FOCUS = NARROWED ? `(${NARROWED}).*\\[NodeConformance\\]|\\[NodeConformance\\].*(${NARROWED})` : '\\[NodeConformance\\]';
/**
 * Skipped: upstream's default skips ([Flaky], [Slow], [Serial]); GKE's
 * environment checks; pulls from gcr.io's authenticated registry and with
 * credentials, which need the internet.
 */
const SKIP =
  '\\[Flaky\\]|\\[Slow\\]|\\[Serial\\]|GKEEnv|private registry|credential provider|authenticated-image-pulling|should be able to pull from private registry';

/** The suite's system check, for a cgroup v1 host with any 4.x or later kernel. */
const SYSTEM_SPEC = `os: Linux
kernelSpec:
  versions: ['^[4-9]\\.|^[1-9][0-9]+\\.']
cgroups: [cpu, cpuacct, cpuset, devices, freezer, memory, pids]
cgroupsOptional: [hugetlb]
cgroupsV2: [cpu, cpuset, devices, freezer, memory, pids]
`;

function cniConfig(dir: string): string {
  return JSON.stringify({
    cniVersion: '1.0.0',
    name: 'berth-node-conformance',
    plugins: [
      {
        type: 'bridge',
        bridge: 'berthconform0',
        isGateway: true,
        ipMasq: false,
        ipam: { type: 'host-local', dataDir: path.join(dir, 'ipam'), ranges: [[{ subnet: '10.98.0.0/24' }]], routes: [{ dst: '0.0.0.0/0' }] },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  });
}

/** PATH without systemd-run: the suite would run the kubelet through it, and systemd is not PID 1 here. */
async function pathWithoutSystemdRun(): Promise<string> {
  const out: string[] = [];
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    const has = await readdir(dir).then(
      (names) => names.includes('systemd-run'),
      () => false,
    );
    if (!has) out.push(dir);
  }
  // The tools the suite calls (mount, iptables, ...) live there too: linked one by one.
  const tools = path.join(OUT, 'tools');
  await mkdir(tools, { recursive: true });
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (name === 'systemd-run') continue;
      await sh('ln', ['-sf', path.join(dir, name), path.join(tools, name)]).catch(() => '');
    }
  }
  return [tools, ...out.filter((d) => !['/usr/sbin', '/usr/bin', '/sbin', '/bin'].includes(d))].join(':');
}

async function removeAllPods(client: CriClient): Promise<void> {
  const rt = client.runtime;
  for (const p of (await call(rt, rt.ListPodSandbox, {}).catch(() => ({ items: [] }))).items) {
    await call(rt, rt.StopPodSandbox, { podSandboxId: p.id }).catch(() => undefined);
    await call(rt, rt.RemovePodSandbox, { podSandboxId: p.id }).catch(() => undefined);
  }
}

/** Empty cgroup directories the suite's kubelet made at the roots (kubepods and its QoS tiers). */
async function removeKubeletCgroups(): Promise<void> {
  const remove = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) if (e.isDirectory()) await remove(path.join(dir, e.name));
    await rmdir(dir).catch(() => undefined);
  };
  for (const h of await readdir('/sys/fs/cgroup')) await remove(path.join('/sys/fs/cgroup', h, 'kubepods'));
}

async function conform(runtime: Runtime, bin: string): Promise<string> {
  const out = path.join(OUT, NARROWED ? `${runtime}-focused` : runtime);
  await rm(out, { recursive: true, force: true });
  const work = path.join(out, 'work');
  await mkdir(work, { recursive: true });
  const registry = await startRegistry(path.join(work, 'registry'));
  const node = await hostNodeNamespace(path.join(work, 'node'));
  const cniDir = path.join(work, 'cni');
  await mkdir(cniDir, { recursive: true });
  await writeFile(path.join(cniDir, '10-bridge.conflist'), cniConfig(work));
  let client: CriClient | undefined;
  let stopRuntime = async () => undefined as unknown;
  // What the suite's kubelet and API server write on the host, to remove
  // afterwards: their directories where they were not there before, and
  // the pod log directories of this run.
  const exists = (dir: string) =>
    readdir(dir).then(
      () => true,
      () => false,
    );
  const hostDirs = ['/var/lib/kubelet', '/var/run/kubernetes', '/var/log/containers'];
  const hadDirs = await Promise.all(hostDirs.map(exists));
  const podLogsBefore = new Set(await readdir('/var/log/pods').catch(() => [] as string[]));
  try {
    const images = await pushConformanceImages(registry, path.join(bin, 'agnhost'), path.join(OUT, 'cache'));
    const repoList = path.join(work, 'repo-list.yaml');
    await writeFile(
      repoList,
      `${Object.entries(images.repoList)
        .map(([k, v]) => `${k}: ${v}`)
        .join('\n')}\n`,
    );
    // The one image the suite names outright (a static pod's busybox:1.31.1) comes through a docker.io mirror.
    const hardCoded = 'docker.io/library/busybox:1.31.1';
    let socket: string;
    if (runtime === 'berth') {
      const berth = await startBerth({
        registriesConf: `unqualified-search-registries = ["docker.io"]\n\n[[registry]]\nlocation = "${registry.host}"\ninsecure = true\n\n[[registry]]\nlocation = "docker.io"\n[[registry.mirror]]\nlocation = "${registry.host}"\ninsecure = true\n`,
        config: `[image]\npause_image = "${registry.host}/pause:3.2"\n`,
        command: node.berthCommand,
        extraArgs: ['--cni-config-dir', cniDir, '--cni-plugin-dir', '/usr/lib/cni'],
      });
      socket = berth.socket;
      client = berth.client;
      // berth's own log goes beside the kubelet's: a failure is read from both.
      stopRuntime = async () => {
        await writeFile(path.join(out, 'report', 'berth.log'), await berth.logs()).catch(() => undefined);
        await berth.destroy();
      };
    } else {
      const dir = path.join(work, 'containerd');
      const containerd = await startContainerd(
        dir,
        {
          registry: registry.host,
          pauseImage: `${registry.host}/pause:3.2`,
          cniConfDir: cniDir,
          restrictOom: !(await readHostFacts()).hasSysResource,
          mirroredHosts: ['docker.io'],
        },
        (config) => node.spawnInside(work, 'containerd', 'containerd', ['--config', config]).child,
      );
      socket = containerd.socket;
      client = containerd.client;
      stopRuntime = async () => {
        await containerd.stop();
        await sweepContainerd(dir);
      };
    }
    for (const ref of [...images.references, hardCoded]) await call(client.image, client.image.PullImage, { image: { image: ref } }, 120_000);

    const specFile = path.join(work, 'system-spec.yaml');
    await writeFile(specFile, SYSTEM_SPEC);
    const report = path.join(out, 'report');
    await mkdir(report, { recursive: true });
    const kubeletFlags = [
      // Without systemd-run the suite asks the kubelet to move the host's
      // processes into cgroups of its own naming: not on a shared machine.
      '--system-cgroups=',
      '--kubelet-cgroups=',
      '--runtime-cgroups=',
      '--cgroup-driver=cgroupfs',
      '--fail-swap-on=false',
      '--runtime-request-timeout=2m',
      '--image-gc-high-threshold=100',
      '--image-gc-low-threshold=99',
      '--make-iptables-util-chains=false',
    ];
    const args = [
      '--container-runtime=remote',
      `--container-runtime-endpoint=unix://${socket}`,
      `--image-service-endpoint=unix://${socket}`,
      '--node-name=localhost',
      `--k8s-bin-dir=${bin}`,
      `--report-dir=${report}`,
      '--prepull-images=false',
      `--system-spec-file=${specFile}`,
      `--kubelet-flags=${kubeletFlags.join(' ')}`,
      `--ginkgo.focus=${FOCUS}`,
      `--ginkgo.skip=${SKIP}`,
      '--ginkgo.noColor',
      '--test-timeout=110m',
      '--v=2',
      '--logtostderr',
    ];
    const log = path.join(out, 'e2e_node.log');
    const started = Date.now();
    // The suite's output goes to its log as it comes: a run takes a while.
    const logStream = createWriteStream(log);
    const suite = spawn(
      'nsenter',
      [
        '-t',
        String(node.pid),
        '-m',
        '--',
        'env',
        `PATH=${await pathWithoutSystemdRun()}`,
        `KUBE_TEST_REPO_LIST=${repoList}`,
        `TMPDIR=${work}`,
        path.join(bin, 'e2e_node.test'),
        ...args,
      ],
      { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    suite.stdout!.pipe(logStream);
    suite.stderr!.pipe(logStream);
    const code = await new Promise<number>((resolve) => suite.once('exit', (c) => resolve(c ?? 1)));
    await new Promise<void>((resolve) => logStream.end(() => resolve()));
    const result = { code };
    const summary = await summarize(runtime, report, (Date.now() - started) / 1000, result.code);
    await writeFile(path.join(out, 'summary.md'), summary);
    return summary;
  } finally {
    if (client) await removeAllPods(client);
    await stopRuntime();
    await node.close();
    await registry.stop();
    await sh('ip', ['link', 'del', 'berthconform0']).catch(() => '');
    await removeIdlePortmapChains();
    await removeKubeletCgroups();
    for (const [i, dir] of hostDirs.entries()) if (!hadDirs[i]) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    for (const entry of await readdir('/var/log/pods').catch(() => [] as string[])) {
      if (!podLogsBefore.has(entry)) await rm(path.join('/var/log/pods', entry), { recursive: true, force: true });
    }
    await rm(work, { recursive: true, force: true }).catch(() => undefined);
  }
}

async function main(): Promise<void> {
  const runtimes = (process.argv.slice(2).length ? process.argv.slice(2) : ['berth', 'containerd']) as Runtime[];
  const bin = await kubernetesBinaries(['kubelet', 'e2e_node.test', 'agnhost']);
  const summaries: string[] = [];
  for (const r of runtimes) summaries.push(await conform(r, bin));
  console.log(summaries.join('\n'));
  const text = await readFile(path.join(OUT, NARROWED ? `${runtimes[0]}-focused` : runtimes[0]!, 'summary.md'), 'utf8').catch(() => '');
  if (!text) process.exitCode = 1;
}

await main();
