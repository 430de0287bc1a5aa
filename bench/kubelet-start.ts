/**
 * Pod start latency as the kubelet reports it (`BENCH_MAIN=kubelet-start
 * make bench`): a Kubernetes 1.20 control plane on the host and two nodes
 * on it, one kubelet on berth and one on containerd 1.6 (Debian's), each
 * in a mount namespace of its own shared with its runtime. A round creates
 * BENCH_KUBELET_PODS pods (default 30) at once on one node (bound by
 * nodeName, so the scheduler is not measured) and times each from its
 * creation to the kubelet's report that it runs, both seen on one watch of
 * the API server; rounds alternate between the runtimes. Images are pulled
 * before the first round: the figure is the start, not the pull.
 */

import { execFile } from 'node:child_process';
import { request } from 'node:https';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { pushFixtures } from '../e2e/fixtures/test-images.js';
import { type BerthDaemon, startBerth } from '../e2e/lib/berth-daemon.js';
import { type CriClient, call } from '../e2e/lib/cri-client.js';
import { type ControlPlane, type Supervised, kubernetesBinaries, startControlPlane, stopProcess } from '../e2e/lib/control-plane.js';
import { type HostNodeNamespace, hostKubeletArgs, hostNodeNamespace } from '../e2e/lib/host-node.js';
import { removeIdlePortmapChains, sh } from '../e2e/lib/net-host.js';
import { freePort, waitFor } from '../e2e/lib/ports.js';
import { startRegistry } from '../e2e/lib/registry.js';
import { readHostFacts } from '../src/host/host-facts.js';
import { startContainerd, sweepContainerd } from './containerd.js';

const PODS = Number(process.env.BENCH_KUBELET_PODS ?? 30);
const ROUNDS = Number(process.env.BENCH_KUBELET_ROUNDS ?? 3);
const NAMESPACE = 'kubelet-start';
const run = promisify(execFile);

type Runtime = 'berth' | 'containerd';

interface BenchNode {
  runtime: Runtime;
  name: string;
  node: HostNodeNamespace;
  kubelet: Supervised;
  client: CriClient;
  stopRuntime(): Promise<void>;
  bridge: string;
}

/** What the kubelet left (it collects dead sandboxes only after a while), removed through the CRI. */
async function removeAllPods(client: CriClient): Promise<void> {
  const rt = client.runtime;
  for (const p of (await call(rt, rt.ListPodSandbox, {}).catch(() => ({ items: [] }))).items) {
    await call(rt, rt.StopPodSandbox, { podSandboxId: p.id }).catch(() => undefined);
    await call(rt, rt.RemovePodSandbox, { podSandboxId: p.id }).catch(() => undefined);
  }
}

function cniConfig(dir: string, bridge: string, subnet: string): string {
  return JSON.stringify({
    cniVersion: '1.0.0',
    name: `bench-${bridge}`,
    plugins: [
      {
        type: 'bridge',
        bridge,
        isGateway: true,
        ipMasq: false,
        ipam: { type: 'host-local', dataDir: path.join(dir, 'ipam'), ranges: [[{ subnet }]], routes: [] },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  });
}

function kubeletArgs(plane: ControlPlane, dir: string, name: string, socket: string, port: number): string[] {
  return [
    ...hostKubeletArgs({ kubeconfig: plane.kubeconfig, socket, name, dir: path.join(dir, 'kubelet'), port }),
    // The default (5 QPS, burst 10) would make the kubelet's own status
    // updates the bottleneck of 30 pods on either runtime.
    '--kube-api-qps=50',
    '--kube-api-burst=100',
    '--max-pods=250',
    '--v=1',
  ];
}

/** Pod name → [created, running] in ms, from one watch of the namespace. */
function watchPods(plane: ControlPlane, round: string): { times: Map<string, { created?: number; running?: number }>; close(): void } {
  const times = new Map<string, { created?: number; running?: number }>();
  const url = new URL(`/api/v1/namespaces/${NAMESPACE}/pods?watch=1&labelSelector=round%3D${round}`, plane.server);
  const req = request(url, { headers: { authorization: `Bearer ${plane.token}` }, rejectUnauthorized: false }, (res) => {
    let pending = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      const now = performance.now();
      pending += chunk;
      let nl = pending.indexOf('\n');
      while (nl >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        nl = pending.indexOf('\n');
        if (!line.trim()) continue;
        const event = JSON.parse(line) as { type: string; object: { metadata: { name: string }; status?: { phase?: string } } };
        const entry = times.get(event.object.metadata.name) ?? {};
        entry.created ??= now;
        if (event.object.status?.phase === 'Running') entry.running ??= now;
        times.set(event.object.metadata.name, entry);
      }
    });
  });
  req.end();
  return { times, close: () => req.destroy() };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function startRound(plane: ControlPlane, node: BenchNode, image: string, round: string): Promise<number[]> {
  const watch = watchPods(plane, round);
  try {
    // The watch is open before the first pod exists.
    await new Promise((r) => setTimeout(r, 500));
    const pods = Array.from({ length: PODS }, (_, i) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `${round}-${i}`, namespace: NAMESPACE, labels: { round } },
      spec: {
        nodeName: node.name,
        terminationGracePeriodSeconds: 0,
        automountServiceAccountToken: false,
        containers: [{ name: 'c', image, imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'] }],
      },
    }));
    const created = await plane.kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: pods }) });
    if (created.code !== 0) throw new Error(`creating the pods: ${created.stderr}`);
    await waitFor(`${PODS} pods running on ${node.runtime}`, async () => [...watch.times.values()].filter((t) => t.running).length === PODS, 300_000);
    return [...watch.times.values()].map((t) => t.running! - t.created!).sort((a, b) => a - b);
  } finally {
    watch.close();
    await plane.kubectl(['-n', NAMESPACE, 'delete', 'pods', '-l', `round=${round}`, '--wait=true', '--timeout=300s'], { timeoutMs: 330_000 });
  }
}

async function main(): Promise<void> {
  const work = await mkdtemp(path.join(tmpdir(), 'berth-kubelet-start-'));
  const registry = await startRegistry(path.join(work, 'registry'));
  const nodes: BenchNode[] = [];
  let plane: ControlPlane | undefined;
  try {
    const bin = await kubernetesBinaries();
    const fixtures = await pushFixtures(registry);
    const image = `${registry.host}/${fixtures.run.repo}:${fixtures.run.tag}`;
    const pause = `${registry.host}/${fixtures.pause.repo}:${fixtures.pause.tag}`;
    plane = await startControlPlane(path.join(work, 'control-plane'), bin);
    await plane.kubectl(['create', 'namespace', NAMESPACE]);
    const restrictOom = !(await readHostFacts()).hasSysResource;

    for (const [i, runtime] of (['berth', 'containerd'] as const).entries()) {
      const dir = path.join(work, runtime);
      const cniDir = path.join(dir, 'cni');
      const bridge = `berthbenchk${i}`;
      await mkdir(cniDir, { recursive: true });
      await writeFile(path.join(cniDir, '10-bridge.conflist'), cniConfig(dir, bridge, `10.97.${i}.0/24`));
      const node = await hostNodeNamespace(path.join(dir, 'node'));
      let socket: string;
      let stopRuntime: () => Promise<void>;
      let client: CriClient;
      if (runtime === 'berth') {
        const berth: BerthDaemon = await startBerth({
          registriesConf: `[[registry]]\nlocation = "${registry.host}"\ninsecure = true\n`,
          config: `[image]\npause_image = "${pause}"\n`,
          command: node.berthCommand,
          extraArgs: ['--log-level', 'warn', '--cni-config-dir', cniDir, '--cni-plugin-dir', '/usr/lib/cni'],
        });
        socket = berth.socket;
        client = berth.client;
        stopRuntime = () => berth.destroy();
      } else {
        const containerd = await startContainerd(
          path.join(dir, 'containerd'),
          { registry: registry.host, pauseImage: pause, cniConfDir: cniDir, restrictOom },
          (config) => node.spawnInside(dir, 'containerd', 'containerd', ['--config', config]).child,
        );
        socket = containerd.socket;
        client = containerd.client;
        stopRuntime = async () => {
          await containerd.stop();
          await sweepContainerd(path.join(dir, 'containerd'));
        };
      }
      await call(client.image, client.image.PullImage, { image: { image } }, 120_000);
      await call(client.image, client.image.PullImage, { image: { image: pause } }, 120_000);
      const name = `bench-${runtime}`;
      const kubelet = node.spawnInside(dir, 'kubelet', path.join(bin, 'kubelet'), kubeletArgs(plane, dir, name, socket, await freePort()));
      nodes.push({ runtime, name, node, kubelet, client, stopRuntime, bridge });
      await waitFor(
        `${name} to be Ready`,
        async () => (await plane!.kubectl(['get', 'node', name, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'])).stdout === 'True',
        120_000,
      );
    }

    const samples: Record<Runtime, number[]> = { berth: [], containerd: [] };
    for (let r = 0; r < ROUNDS; r++) {
      for (const node of r % 2 === 0 ? nodes : [...nodes].reverse()) {
        const ms = await startRound(plane, node, image, `${node.runtime}-${r}`);
        samples[node.runtime].push(...ms);
        console.log(`round ${r} ${node.runtime}: p50 ${percentile(ms, 50).toFixed(0)} ms, p99 ${percentile(ms, 99).toFixed(0)} ms`);
      }
    }
    console.log(`\npod start as the kubelet reports it, ${PODS} pods at once, ${ROUNDS} rounds (ms)`);
    console.log('runtime       p50      p99      max');
    for (const runtime of ['berth', 'containerd'] as const) {
      const all = samples[runtime].sort((a, b) => a - b);
      console.log(
        `${runtime.padEnd(10)} ${percentile(all, 50).toFixed(0).padStart(6)} ${percentile(all, 99).toFixed(0).padStart(8)} ${all[all.length - 1]!.toFixed(0).padStart(8)}`,
      );
    }
    const ratio = (p: number) => percentile(samples.berth, p) / percentile(samples.containerd, p);
    console.log(`berth/containerd: p50 ${ratio(50).toFixed(2)}, p99 ${ratio(99).toFixed(2)}`);
  } finally {
    if (plane) await plane.kubectl(['delete', 'namespace', NAMESPACE, '--wait=true', '--timeout=300s'], { timeoutMs: 330_000 }).catch(() => undefined);
    for (const n of nodes) {
      await stopProcess(n.kubelet);
      await removeAllPods(n.client);
      await n.stopRuntime();
      await n.node.close();
      await sh('ip', ['link', 'del', n.bridge]).catch(() => '');
    }
    await removeIdlePortmapChains();
    await plane?.stop();
    await registry.stop();
    await run('rm', ['-rf', work]).catch(() => rm(work, { recursive: true, force: true }));
  }
}

await main();
