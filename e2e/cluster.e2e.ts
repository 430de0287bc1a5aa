import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type BerthDaemon, type DaemonOptions, startBerth } from './lib/berth-daemon.js';
import { call } from './lib/cri-client.js';
import { type ControlPlane, type Supervised, kubernetesBinaries, startControlPlane, stopProcess } from './lib/control-plane.js';
import { type HostNodeNamespace, hostKubeletArgs, hostNodeNamespace } from './lib/host-node.js';
import { sleepers } from './lib/k8s-objects.js';
import { conmonProcessesFor } from './lib/leftovers.js';
import { removeIdlePortmapChains, sh } from './lib/net-host.js';
import { freePort, waitFor } from './lib/ports.js';
import { testBerthConf, testRegistriesConf } from './lib/registries-conf.js';

/**
 * berth under a real Kubernetes 1.20 (built from Debian's source): etcd, an
 * API server, the controller manager and the scheduler on the host, and a
 * kubelet that speaks CRI runtime.v1alpha2 to berth directly, no proxy. One
 * node on the host, named localhost (the kubelet refuses a loopback node
 * IP); kubectl reaches the node through the API server.
 */
const env = inject('env');
const IMAGE = `${env.openRegistry}/berth-test/busybox:run`;
const BRIDGE = 'berthe2ek8s';
const NAMESPACE = `berth-e2e-${process.pid}`;
const run = promisify(execFile);

describe('a Kubernetes 1.20 node on berth', () => {
  let dir: string;
  let plane: ControlPlane;
  let node: HostNodeNamespace;
  let berth: BerthDaemon;
  let berthOptions: DaemonOptions;
  let kubelet: Supervised;
  let kubectl: ControlPlane['kubectl'];
  const ok = async (args: string[], input?: string) => {
    const r = await kubectl(args, input === undefined ? {} : { input });
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  beforeAll(async () => {
    const bin = await kubernetesBinaries();
    const base = await startBerth({ registriesConf: testRegistriesConf(env, await freePort()), config: testBerthConf(env) });
    await base.stop();
    dir = base.dir;
    plane = await startControlPlane(path.join(dir, 'control-plane'), bin);
    kubectl = plane.kubectl;
    node = await hostNodeNamespace(path.join(dir, 'node'));
    const cniDir = path.join(dir, 'cni', 'k8s.d');
    await mkdir(cniDir, { recursive: true });
    await writeFile(
      path.join(cniDir, '10-bridge.conflist'),
      JSON.stringify({
        cniVersion: '1.0.0',
        name: 'berth-e2e-k8s',
        plugins: [
          {
            type: 'bridge',
            bridge: BRIDGE,
            isGateway: true,
            ipMasq: false,
            ipam: { type: 'host-local', dataDir: path.join(dir, 'cni', 'ipam'), ranges: [[{ subnet: '10.93.0.0/24' }]], routes: [] },
          },
          { type: 'portmap', capabilities: { portMappings: true } },
        ],
      }),
    );
    berthOptions = {
      registriesConf: testRegistriesConf(env, await freePort()),
      config: testBerthConf(env),
      command: node.berthCommand,
      extraArgs: ['--cni-config-dir', cniDir, '--cni-plugin-dir', '/usr/lib/cni'],
    };
    berth = await startBerth({ ...berthOptions, reuse: { dir } });
    const kubeletDir = path.join(dir, 'kubelet');
    await mkdir(kubeletDir, { recursive: true });
    kubelet = node.spawnInside(dir, 'kubelet', path.join(bin, 'kubelet'), [
      ...hostKubeletArgs({ kubeconfig: plane.kubeconfig, socket: berth.socket, name: 'localhost', dir: kubeletDir, port: await freePort() }),
      '--v=2',
    ]);
    await waitFor(
      'the node to be Ready',
      async () => (await kubectl(['get', 'node', 'localhost', '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'])).stdout === 'True',
      120_000,
    ).catch(async (err: Error) => {
      // The kubelet's errors, not the goroutine dump a fatal one ends with.
      const lines = (await readFile(kubelet.log, 'utf8').catch(() => '')).split('\n');
      const errors = lines.filter((l) => /^[EF]\d{4} |^panic:|^goroutine 1 /.test(l)).slice(-30);
      throw new Error(`${err.message}; the kubelet's errors:\n${errors.join('\n')}`);
    });
    await ok(['create', 'namespace', NAMESPACE]);
    await waitFor('the namespace service account', async () => (await kubectl(['-n', NAMESPACE, 'get', 'serviceaccount', 'default'])).code === 0, 60_000);
  }, 60 * 60_000);

  afterAll(async () => {
    try {
      if (kubectl) {
        await kubectl(['delete', 'namespace', NAMESPACE, '--wait=true', '--timeout=120s'], { timeoutMs: 150_000 });
        await waitFor(
          'berth to have no pods',
          async () => (await call(berth.client.runtime, berth.client.runtime.ListPodSandbox, {})).items.length === 0,
          120_000,
        ).catch(() => undefined);
      }
      if (kubelet) await stopProcess(kubelet);
      // Pods the kubelet did not get to remove go with berth's own tools.
      if (berth) {
        const rt = berth.client.runtime;
        for (const p of (await call(rt, rt.ListPodSandbox, {}).catch(() => ({ items: [] }))).items) {
          await call(rt, rt.StopPodSandbox, { podSandboxId: p.id }).catch(() => undefined);
          await call(rt, rt.RemovePodSandbox, { podSandboxId: p.id }).catch(() => undefined);
        }
        expect(await conmonProcessesFor(berth.dir)).toEqual([]);
        await berth.stop();
      }
    } finally {
      await plane?.stop();
      await node?.close();
      await sh('ip', ['link', 'del', BRIDGE]).catch(() => '');
      await removeIdlePortmapChains();
      // The kubelet keeps pod logs under /var/log/pods/<namespace>_<pod>_<uid>.
      for (const entry of await readdir('/var/log/pods').catch(() => [] as string[])) {
        if (entry.startsWith(`${NAMESPACE}_`)) await rm(path.join('/var/log/pods', entry), { recursive: true, force: true });
      }
      if (dir) await rm(dir, { recursive: true, force: true });
    }
  }, 10 * 60_000);

  // kubelet 1.20 speaks only runtime.v1alpha2: a Ready node is berth answering it.
  it('registers the node Ready with berth as its runtime', async () => {
    const info = JSON.parse(await ok(['get', 'node', 'localhost', '-o', 'json'])) as {
      status: { nodeInfo: { containerRuntimeVersion: string; kubeletVersion: string } };
    };
    const version = (JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
    expect(info.status.nodeInfo).toMatchObject({ containerRuntimeVersion: `berth://${version}`, kubeletVersion: 'v1.20.2' });
  });

  it('runs a Deployment until Ready, and kubectl logs, exec (-i, -it) and port-forward reach it through the API server', async () => {
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'echo', namespace: NAMESPACE },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'echo' } },
        template: {
          metadata: { labels: { app: 'echo' } },
          spec: {
            terminationGracePeriodSeconds: 2,
            containers: [
              {
                name: 'echo',
                image: IMAGE,
                command: ['sh', '-c', 'echo started by berth; while true; do echo pong | nc -l -p 8080; done'],
                readinessProbe: { exec: { command: ['true'] }, periodSeconds: 1 },
                resources: { limits: { memory: '64Mi', cpu: '200m' } },
              },
            ],
          },
        },
      },
    };
    await ok(['apply', '-f', '-'], JSON.stringify(deployment));
    const rollout = await kubectl(['-n', NAMESPACE, 'rollout', 'status', 'deployment/echo', '--timeout=90s'], { timeoutMs: 120_000 });
    if (rollout.code !== 0) {
      const events = await kubectl([
        '-n',
        NAMESPACE,
        'get',
        'events',
        '--sort-by=.lastTimestamp',
        '-o',
        'custom-columns=OBJ:.involvedObject.name,REASON:.reason,MSG:.message',
      ]);
      throw new Error(`the rollout did not finish: ${rollout.stderr}\n${events.stdout}`);
    }
    const pods = (await ok(['-n', NAMESPACE, 'get', 'pods', '-l', 'app=echo', '-o', 'jsonpath={.items[*].metadata.name}'])).split(' ').filter(Boolean);
    expect(pods).toHaveLength(2);
    const pod = pods[0]!;
    await waitFor('the log line', async () => (await kubectl(['-n', NAMESPACE, 'logs', pod])).stdout.includes('started by berth'), 30_000);
    const exec = await kubectl(['-n', NAMESPACE, 'exec', pod, '--', 'sh', '-c', 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes; exit 3']);
    expect(exec.code).toBe(3);
    expect(exec.stdout.trim()).toBe(String(64 << 20));
    const echoed = await kubectl(['-n', NAMESPACE, 'exec', '-i', pod, '--', 'cat'], { input: 'through the API server\n' });
    expect(echoed.stdout).toBe('through the API server\n');
    // -t needs a terminal on kubectl's side: script(1) gives it one.
    const kubectlLine = [
      path.join(plane.bin, 'kubectl'),
      '--kubeconfig',
      plane.kubeconfig,
      '-n',
      NAMESPACE,
      'exec',
      '-it',
      pod,
      '--',
      'sh',
      '-c',
      'tty; exit 0',
    ].join(' ');
    const tty = await run('script', ['-qec', kubectlLine, '/dev/null'], { timeout: 30_000 });
    expect(tty.stdout).toMatch(/\/dev\/pts\/\d+/);
    const local = await freePort();
    const pf = run(path.join(plane.bin, 'kubectl'), ['--kubeconfig', plane.kubeconfig, '-n', NAMESPACE, 'port-forward', `pod/${pod}`, `${local}:8080`], {
      timeout: 30_000,
    }).catch(() => undefined);
    try {
      await waitFor(
        'a pong through port-forward',
        async () => {
          const { stdout } = await run('bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${local} || exit 1; cat <&3`], { timeout: 5000 });
          return stdout.includes('pong');
        },
        25_000,
      );
    } finally {
      await run('pkill', ['-f', `port-forward pod/${pod} ${local}:8080`]).catch(() => undefined);
      await pf;
    }
    await ok(['-n', NAMESPACE, 'delete', 'deployment', 'echo', '--wait=true']);
    await waitFor('the pods to go', async () => (await ok(['-n', NAMESPACE, 'get', 'pods', '-o', 'name'])).trim() === '', 60_000);
  }, 300_000);

  it('restarts a container its liveness probe fails, completes a Job, runs a DaemonSet, pulls with an imagePullSecret, copies with kubectl cp', async () => {
    const apply = (o: object) => ok(['apply', '-f', '-'], JSON.stringify(o));
    await ok([
      '-n',
      NAMESPACE,
      'create',
      'secret',
      'docker-registry',
      'regcred',
      `--docker-server=${env.authRegistry}`,
      `--docker-username=${env.credentials.username}`,
      `--docker-password=${env.credentials.password}`,
    ]);
    await apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'flaky', namespace: NAMESPACE },
      spec: {
        terminationGracePeriodSeconds: 1,
        imagePullSecrets: [{ name: 'regcred' }],
        containers: [
          {
            name: 'flaky',
            image: `${env.authRegistry}/berth-test/busybox:run`,
            command: ['sh', '-c', 'echo run $(cat /proc/sys/kernel/random/uuid); touch /tmp/alive; sleep 3; rm /tmp/alive; sleep 600'],
            livenessProbe: { exec: { command: ['test', '-f', '/tmp/alive'] }, initialDelaySeconds: 1, periodSeconds: 1, failureThreshold: 1 },
          },
        ],
      },
    });
    await apply({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'once', namespace: NAMESPACE },
      spec: {
        backoffLimit: 0,
        template: { spec: { restartPolicy: 'Never', containers: [{ name: 'once', image: IMAGE, command: ['sh', '-c', 'echo job done'] }] } },
      },
    });
    await apply(sleepers('DaemonSet', { name: 'everywhere', namespace: NAMESPACE, image: IMAGE, seconds: 600 }));
    await ok(['-n', NAMESPACE, 'wait', '--for=condition=complete', 'job/once', '--timeout=90s'], undefined);
    expect(await ok(['-n', NAMESPACE, 'logs', 'job/once'])).toBe('job done\n');
    await ok(['-n', NAMESPACE, 'rollout', 'status', 'daemonset/everywhere', '--timeout=90s']);
    const restarts = async () => Number(await ok(['-n', NAMESPACE, 'get', 'pod', 'flaky', '-o', 'jsonpath={.status.containerStatuses[0].restartCount}']));
    await waitFor('the liveness probe to restart the container', async () => (await restarts()) >= 1, 90_000);
    // The first run's log is still there as --previous; the new run wrote its own.
    await waitFor('the restarted container to run', async () => (await kubectl(['-n', NAMESPACE, 'logs', 'flaky'])).stdout.startsWith('run '), 30_000);
    const previous = (await ok(['-n', NAMESPACE, 'logs', 'flaky', '--previous'])).trim();
    const current = (await ok(['-n', NAMESPACE, 'logs', 'flaky'])).trim();
    expect(previous).toMatch(/^run [0-9a-f-]{36}$/);
    expect(current).toMatch(/^run [0-9a-f-]{36}$/);
    expect(current).not.toBe(previous);
    // kubectl cp is tar over exec, both ways; the test image has busybox but no tar link.
    await ok(['-n', NAMESPACE, 'exec', 'flaky', '--', 'sh', '-c', 'ln -s "$(command -v busybox)" /bin/tar']);
    const local = path.join(dir, 'cp-in.txt');
    await writeFile(local, 'copied by kubectl\n');
    await ok(['-n', NAMESPACE, 'cp', local, 'flaky:/tmp/copied.txt']);
    expect(await ok(['-n', NAMESPACE, 'exec', 'flaky', '--', 'cat', '/tmp/copied.txt'])).toBe('copied by kubectl\n');
    await ok(['-n', NAMESPACE, 'cp', 'flaky:/tmp/copied.txt', path.join(dir, 'cp-out.txt')]);
    expect(await readFile(path.join(dir, 'cp-out.txt'), 'utf8')).toBe('copied by kubectl\n');
    await ok(['-n', NAMESPACE, 'delete', 'pod/flaky', 'job/once', 'daemonset/everywhere', '--wait=true']);
  }, 300_000);

  it('keeps pods running and Ready across a restart of berth', async () => {
    await ok(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'steady', namespace: NAMESPACE },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [{ name: 's', image: IMAGE, command: ['sleep', '600'], readinessProbe: { exec: { command: ['true'] }, periodSeconds: 1 } }],
        },
      }),
    );
    await ok(['-n', NAMESPACE, 'wait', '--for=condition=Ready', 'pod/steady', '--timeout=90s']);
    const before = await ok(['-n', NAMESPACE, 'get', 'pod', 'steady', '-o', 'jsonpath={.status.containerStatuses[0].containerID}']);
    await berth.stop();
    berth = await startBerth({ ...berthOptions, reuse: { dir } });
    await ok(['-n', NAMESPACE, 'wait', '--for=condition=Ready', 'pod/steady', '--timeout=90s']);
    expect(await ok(['-n', NAMESPACE, 'exec', 'steady', '--', 'echo', 'still here'])).toBe('still here\n');
    const after = await ok([
      '-n',
      NAMESPACE,
      'get',
      'pod',
      'steady',
      '-o',
      'jsonpath={.status.containerStatuses[0].containerID} {.status.containerStatuses[0].restartCount}',
    ]);
    expect(after).toBe(`${before} 0`);
    await ok(['-n', NAMESPACE, 'delete', 'pod', 'steady', '--wait=true']);
  }, 300_000);
});
