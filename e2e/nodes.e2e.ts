import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type ClusterNode, type ClusterNodeSpec, prepareClusterNode } from './lib/cluster-node.js';
import { type ControlPlane, kubernetesBinaries, startControlPlane } from './lib/control-plane.js';
import { sleepers } from './lib/k8s-objects.js';
import { mountsUnder } from './lib/leftovers.js';
import { sh } from './lib/net-host.js';
import { ensureNodeRoot } from './lib/nspawn-node.js';
import { waitFor } from './lib/ports.js';
import { ROOT, buildRelease } from './lib/release.js';
import { type TcpForward, forwardTcp } from './lib/tcp-forward.js';

/**
 * berth as the runtime of a Kubernetes 1.20 cluster of two worker nodes:
 * each a Debian 12 machine booted with systemd (systemd-nspawn) with berth
 * installed from the project's .deb and the kubelet and kube-proxy as
 * systemd units, one with the systemd cgroup driver and one with cgroupfs.
 * The control plane runs on the host on the test's bridge; the nodes have
 * addresses of their own on it and route each other's pod subnets. The
 * test registries are reached through relays on the bridge.
 */
const env = inject('env');
const BRIDGE = 'berthe2enodes';
const GATEWAY = '10.94.0.1';
const NAMESPACE = `berth-e2e-nodes-${process.pid}`;
const run = promisify(execFile);

const SPECS: ClusterNodeSpec[] = [
  { name: 'berth-e2e-a', address: '10.94.0.2', podCidr: '10.95.1.0/24', routes: [{ cidr: '10.95.2.0/24', via: '10.94.0.3' }], cgroupDriver: 'systemd' },
  { name: 'berth-e2e-b', address: '10.94.0.3', podCidr: '10.95.2.0/24', routes: [{ cidr: '10.95.1.0/24', via: '10.94.0.2' }], cgroupDriver: 'cgroupfs' },
];

/**
 * How a node's processes and runc's records see the cgroup tree, for a
 * failure to read: an exec once failed on the systemd node because runc had
 * recorded the name=systemd path of a container relative to the host, not
 * to the node's cgroup namespace (issue 24's note).
 */
async function cgroupViews(node: ClusterNode): Promise<string> {
  const script = [
    'echo "pid 1:"; cat /proc/1/cgroup',
    'echo "berth:"; cat /proc/$(systemctl show -p MainPID --value berth)/cgroup',
    'echo "runc records:"; grep -ho \'"systemd":"[^"]*"\' /run/berth/runtimes/runc/*/state.json | head -4',
  ].join('; ');
  return (await node.exec(['sh', '-c', script]).catch((e: Error) => ({ stdout: e.message }))).stdout;
}

describe('a two-node Kubernetes 1.20 cluster on berth installed from its package', () => {
  let dir: string;
  let plane: ControlPlane;
  let kubectl: ControlPlane['kubectl'];
  const nodes: ClusterNode[] = [];
  const forwards: TcpForward[] = [];
  let image = '';
  let otherImage = '';
  const ok = async (args: string[], input?: string, timeoutMs?: number) => {
    const r = await kubectl(args, { ...(input === undefined ? {} : { input }), ...(timeoutMs ? { timeoutMs } : {}) });
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const ns = (...args: string[]) => ok(['-n', NAMESPACE, ...args]);
  const apply = (o: object) => ok(['apply', '-f', '-'], JSON.stringify(o));
  const ready = async (name: string) =>
    (await kubectl(['get', 'node', name, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'])).stdout === 'True';
  const events = async () =>
    (await kubectl(['-n', NAMESPACE, 'get', 'events', '--sort-by=.lastTimestamp', '-o', 'custom-columns=OBJ:.involvedObject.name,REASON:.reason,MSG:.message']))
      .stdout;
  const rollout = async (what: string) => {
    const r = await kubectl(['-n', NAMESPACE, 'rollout', 'status', what, '--timeout=150s'], { timeoutMs: 180_000 });
    if (r.code !== 0) throw new Error(`the rollout of ${what} did not finish: ${r.stderr}\n${await events()}`);
  };
  /** Pod name → node name, for the pods a selector picks. */
  const placement = async (selector: string) => {
    const out = await ns('get', 'pods', '-l', selector, '-o', 'jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName} {.status.podIP}{"\\n"}{end}');
    return out
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [name, node, ip] = l.split(' ');
        return { name: name!, node: node!, ip: ip ?? '' };
      });
  };

  beforeAll(async () => {
    const bin = await kubernetesBinaries();
    const release = await buildRelease();
    const baseRoot = path.join(ROOT, 'build', 'node-root');
    await ensureNodeRoot(baseRoot);
    dir = await mkdtemp(path.join(tmpdir(), 'berth-e2e-nodes-'));
    await sh('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
    await sh('ip', ['addr', 'add', `${GATEWAY}/24`, 'dev', BRIDGE]);
    await sh('ip', ['link', 'set', BRIDGE, 'up']);
    const relay = async (registry: string) => {
      const f = await forwardTcp(GATEWAY, { host: '127.0.0.1', port: Number(registry.split(':')[1]) });
      forwards.push(f);
      return f.address;
    };
    const open = await relay(env.openRegistry);
    const authed = await relay(env.authRegistry);
    image = `${open}/berth-test/busybox:run`;
    otherImage = `${open}/berth-test/layers:130`;
    plane = await startControlPlane(path.join(dir, 'control-plane'), bin, { address: GATEWAY });
    kubectl = plane.kubectl;
    const registriesConf = [open, authed].map((r) => `[[registry]]\nlocation = "${r}"\ninsecure = true\n`).join('\n');
    for (const spec of SPECS) {
      nodes.push(
        await prepareClusterNode(spec, {
          baseRoot,
          dir: path.join(dir, spec.name),
          bridge: BRIDGE,
          gateway: GATEWAY,
          prefixLength: 24,
          kubeBin: bin,
          releaseDir: path.dirname(release.deb),
          apiServer: plane.server,
          token: plane.token,
          registriesConf,
          berthConf: `[image]\npause_image = "${open}/berth-test/pause:1"\n`,
        }),
      );
    }
    await Promise.all(
      nodes.map(async (node) => {
        await node.boot();
        await node.exec(['sh', '-c', `DEBIAN_FRONTEND=noninteractive apt-get install -y -q /mnt/release/${path.basename(release.deb)} 2>&1`], 300_000);
        await node.exec(['systemctl', 'enable', '--now', 'kubelet', 'kube-proxy']);
      }),
    );
    for (const node of nodes) {
      await waitFor(`${node.spec.name} to be Ready`, () => ready(node.spec.name), 180_000).catch(async (err: Error) => {
        const journal = await node.exec(['journalctl', '-u', 'kubelet', '-u', 'berth', '--no-pager', '-o', 'cat', '-n', '60']).catch(() => ({ stdout: '' }));
        throw new Error(`${err.message}; the node's journal:\n${journal.stdout}`);
      });
    }
    await ok(['create', 'namespace', NAMESPACE]);
    await waitFor('the namespace service account', async () => (await kubectl(['-n', NAMESPACE, 'get', 'serviceaccount', 'default'])).code === 0, 60_000);
  }, 60 * 60_000);

  afterAll(async () => {
    try {
      if (kubectl && nodes.every((n) => n.console)) {
        await kubectl(['delete', 'namespace', NAMESPACE, '--wait=true', '--timeout=120s'], { timeoutMs: 150_000 }).catch(() => undefined);
      }
      // Powering a node off ends every process in it, its containers too.
      for (const node of nodes) await node.powerOff();
    } finally {
      await plane?.stop();
      for (const f of forwards) await f.close();
      for (const node of nodes) await node.destroy();
      await sh('ip', ['link', 'del', BRIDGE]).catch(() => '');
      if (dir) {
        expect(await mountsUnder(dir)).toEqual([]);
        await rm(dir, { recursive: true, force: true });
      }
      // The nodes' subtrees, and nspawn's sub-cgroups had they escaped them.
      const ours = (e: string) => e.startsWith('berth-e2e-berth-e2e-') || e === 'payload' || e === 'supervisor';
      for (const h of await readdir('/sys/fs/cgroup')) {
        expect((await readdir(`/sys/fs/cgroup/${h}`).catch(() => [] as string[])).filter(ours)).toEqual([]);
      }
    }
  }, 10 * 60_000);

  it('has both nodes Ready, with berth as their runtime and their own addresses', async () => {
    const version = (JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    for (const spec of SPECS) {
      const node = JSON.parse(await ok(['get', 'node', spec.name, '-o', 'json'])) as {
        status: { nodeInfo: { containerRuntimeVersion: string; kubeletVersion: string }; addresses: { type: string; address: string }[] };
      };
      expect(node.status.nodeInfo).toMatchObject({ containerRuntimeVersion: `berth://${version}`, kubeletVersion: 'v1.20.2' });
      expect(node.status.addresses).toContainEqual({ type: 'InternalIP', address: spec.address });
    }
  });

  it('spreads 6 replicas over both nodes, with pod traffic across nodes, a ClusterIP Service, a NodePort from the host and a rolling update', async () => {
    const deployment = (img: string) => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: NAMESPACE },
      spec: {
        replicas: 6,
        selector: { matchLabels: { app: 'web' } },
        strategy: { rollingUpdate: { maxUnavailable: 2, maxSurge: 2 } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            terminationGracePeriodSeconds: 1,
            topologySpreadConstraints: [
              { maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: 'web' } } },
            ],
            containers: [
              {
                name: 'web',
                image: img,
                command: ['sh', '-c', 'mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www'],
                readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
                resources: { limits: { memory: '48Mi', cpu: '250m' } },
              },
            ],
          },
        },
      },
    });
    await apply(deployment(image));
    await rollout('deployment/web');
    const pods = await placement('app=web');
    expect(pods).toHaveLength(6);
    for (const spec of SPECS) expect(pods.filter((p) => p.node === spec.name)).toHaveLength(3);

    // Limits in the container's own cgroup, on both cgroup drivers.
    for (const spec of SPECS) {
      const pod = pods.find((p) => p.node === spec.name)!;
      const limits = await ns('exec', pod.name, '--', 'sh', '-c', 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us').catch(
        async (err: Error) => {
          throw new Error(`${err.message}\n${await cgroupViews(nodes[SPECS.indexOf(spec)]!)}`);
        },
      );
      expect(limits.split('\n').slice(0, 2)).toEqual([String(48 << 20), '25000']);
    }

    // Pod to pod across nodes: each pod on a fetches from a pod on b and back.
    const [onA, onB] = SPECS.map((s) => pods.find((p) => p.node === s.name)!);
    expect(await ns('exec', onA!.name, '--', 'wget', '-qO-', `http://${onB!.ip}:8080/`)).toBe(`${onB!.name}\n`);
    expect(await ns('exec', onB!.name, '--', 'wget', '-qO-', `http://${onA!.ip}:8080/`)).toBe(`${onA!.name}\n`);

    // A ClusterIP Service whose endpoints are all on a, called from b; a
    // NodePort of the same pods, called from the host through b.
    await ns('label', 'pod', onA!.name, 'pinned=a');
    await apply({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'on-a', namespace: NAMESPACE },
      spec: { type: 'NodePort', selector: { pinned: 'a' }, ports: [{ port: 80, targetPort: 8080 }] },
    });
    const [clusterIp, nodePort] = (await ns('get', 'service', 'on-a', '-o', 'jsonpath={.spec.clusterIP} {.spec.ports[0].nodePort}')).split(' ');
    await waitFor(
      'the ClusterIP from a pod on the other node',
      // (busybox's wget -T crashes; kubectl's own timeout bounds each try.)
      async () =>
        (await kubectl(['-n', NAMESPACE, 'exec', onB!.name, '--', 'wget', '-qO-', `http://${clusterIp}/`], { timeoutMs: 10_000 })).stdout === `${onA!.name}\n`,
      60_000,
    ).catch(async (err: Error) => {
      const b = nodes[1]!;
      const rules = await b.exec(['sh', '-c', 'iptables-save -t nat | grep -e on-a -e KUBE-SERVICES | head -20; conntrack -L 2>&1 | grep 10.96 | head']);
      const last = await kubectl(['-n', NAMESPACE, 'exec', onB!.name, '--', 'wget', '-qO-', `http://${clusterIp}/`], { timeoutMs: 10_000 });
      throw new Error(`${err.message}: ${last.stdout} ${last.stderr}\n${rules.stdout}`);
    });
    await waitFor(
      'the NodePort from the host',
      async () =>
        (
          await run('bash', ['-c', `exec 3<>/dev/tcp/${SPECS[1]!.address}/${nodePort} && printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3`], {
            timeout: 5000,
          }).then(
            (r) => r.stdout,
            () => '',
          )
        ).endsWith(`${onA!.name}\n`),
      60_000,
    );

    // A rolling update to another image.
    await apply(deployment(otherImage));
    await rollout('deployment/web');
    const updated = JSON.parse(await ns('get', 'pods', '-l', 'app=web', '-o', 'json')) as {
      items: { metadata: { deletionTimestamp?: string }; spec: { containers: { image: string }[] } }[];
    };
    const live = updated.items.filter((p) => !p.metadata.deletionTimestamp);
    expect(live).toHaveLength(6);
    for (const p of live) expect(p.spec.containers[0]!.image).toBe(otherImage);
    await ns('delete', 'deployment/web', 'service/on-a', '--wait=true');
  }, 600_000);

  it('streams kubectl logs -f and attach -i through the API server, and lands a DaemonSet on both nodes', async () => {
    await apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'talker', namespace: NAMESPACE },
      spec: {
        restartPolicy: 'Never',
        containers: [
          {
            name: 'talker',
            image,
            stdin: true,
            stdinOnce: true,
            command: ['sh', '-c', 'read line; for i in 1 2 3; do echo "$line $i"; sleep 1; done'],
          },
        ],
      },
    });
    await apply(sleepers('DaemonSet', { name: 'everywhere', namespace: NAMESPACE, image, seconds: 3600 }));
    await ns('wait', '--for=condition=Ready', 'pod/talker', '--timeout=90s');
    const attach = await kubectl(['-n', NAMESPACE, 'attach', '-i', 'talker'], { input: 'hello\n', timeoutMs: 30_000 });
    expect(attach.stdout).toContain('hello 1');
    const follow = await ok(['-n', NAMESPACE, 'logs', '-f', 'talker'], undefined, 30_000);
    expect(follow).toBe('hello 1\nhello 2\nhello 3\n');
    await rollout('daemonset/everywhere');
    expect(new Set((await placement('app=everywhere')).map((p) => p.node))).toEqual(new Set(SPECS.map((s) => s.name)));
    await ns('delete', 'pod/talker', '--wait=true');
  }, 300_000);

  it('keeps pods running and Ready through systemctl restart berth on a node', async () => {
    const node = nodes[0]!;
    const pod = (await placement('app=everywhere')).find((p) => p.node === node.spec.name)!;
    const before = await ns('get', 'pod', pod.name, '-o', 'jsonpath={.status.containerStatuses[0].containerID}');
    await node.exec(['systemctl', 'restart', 'berth']);
    await ns('wait', '--for=condition=Ready', `pod/${pod.name}`, '--timeout=90s');
    // The kubelet's connection to berth comes back with gRPC's reconnect back-off.
    let last = { stdout: '', stderr: '' };
    await waitFor(
      'an exec after the restart',
      async () => {
        last = await kubectl(['-n', NAMESPACE, 'exec', pod.name, '--', 'echo', 'still here']);
        return last.stdout === 'still here\n';
      },
      30_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}: ${last.stderr}`);
    });
    expect(await ns('get', 'pod', pod.name, '-o', 'jsonpath={.status.containerStatuses[0].containerID} {.status.containerStatuses[0].restartCount}')).toBe(
      `${before} 0`,
    );
  }, 180_000);

  it('brings a node powered off and booted again back Ready, with its pods recreated', async () => {
    const node = nodes[1]!;
    const pod = (await placement('app=everywhere')).find((p) => p.node === node.spec.name)!;
    const before = await ns('get', 'pod', pod.name, '-o', 'jsonpath={.status.containerStatuses[0].containerID}');
    await node.powerOff();
    await waitFor(`${node.spec.name} to be seen down`, async () => !(await ready(node.spec.name)), 120_000);
    await node.boot();
    await waitFor(`${node.spec.name} to be Ready again`, () => ready(node.spec.name), 180_000);
    await waitFor(
      'the DaemonSet pod to run again',
      async () => {
        const status = await kubectl([
          '-n',
          NAMESPACE,
          'get',
          'pod',
          pod.name,
          '-o',
          'jsonpath={.status.containerStatuses[0].containerID} {.status.containerStatuses[0].ready}',
        ]);
        const [id, isReady] = status.stdout.split(' ');
        return Boolean(id) && id !== before && isReady === 'true';
      },
      180_000,
    );
    expect(await ns('exec', pod.name, '--', 'echo', 'back')).toBe('back\n');
  }, 600_000);

  it('empties a node with kubectl drain', async () => {
    const node = SPECS[0]!.name;
    await apply(sleepers('Deployment', { name: 'movable', namespace: NAMESPACE, image, seconds: 3600, replicas: 2 }));
    await rollout('deployment/movable');
    await ok(['drain', node, '--ignore-daemonsets', '--delete-emptydir-data', '--timeout=120s'], undefined, 150_000);
    await rollout('deployment/movable');
    const left = (await ns('get', 'pods', '-o', `jsonpath={range .items[?(@.spec.nodeName=="${node}")]}{.metadata.ownerReferences[0].kind}{"\\n"}{end}`))
      .split('\n')
      .filter(Boolean);
    expect(left.every((kind) => kind === 'DaemonSet')).toBe(true);
    for (const p of await placement('app=movable')) expect(p.node).toBe(SPECS[1]!.name);
    await ok(['uncordon', node]);
  }, 300_000);
});
