import { execFile } from 'node:child_process';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { KUBELET_SYSCTLS } from './host-node.js';
import { type BootedNode, bootNode } from './nspawn-node.js';

/**
 * A Kubernetes worker node for the cluster test: a Debian 12 machine booted
 * with systemd by systemd-nspawn, on the test's bridge with an address of
 * its own, in a cgroup subtree of its own, with berth installed from the
 * project's .deb and the kubelet and kube-proxy as systemd units. Its root
 * is an overlay over the cached node root that lasts the whole test, so the
 * node can be powered off and booted again as it was.
 */
const run = promisify(execFile);

export interface ClusterNodeSpec {
  name: string;
  /** The node's address on the test bridge. */
  address: string;
  /** The subnet of this node's pods. */
  podCidr: string;
  /** Routes to the other nodes' pod subnets. */
  routes: { cidr: string; via: string }[];
  cgroupDriver: 'systemd' | 'cgroupfs';
}

export interface ClusterContext {
  /** The cached Debian root the node's overlay lies over. */
  baseRoot: string;
  /** A directory of the test's for this node's files. */
  dir: string;
  bridge: string;
  gateway: string;
  prefixLength: number;
  kubeBin: string;
  releaseDir: string;
  apiServer: string;
  token: string;
  /** registries.conf and the berth.conf drop-in the node's berth runs with. */
  registriesConf: string;
  berthConf: string;
}

export interface ClusterNode {
  spec: ClusterNodeSpec;
  exec(cmd: string[], timeoutMs?: number): Promise<{ stdout: string; stderr: string }>;
  boot(): Promise<void>;
  /** Powers the node off (every process in it ends, its containers too). */
  powerOff(): Promise<void>;
  /** Powers off if need be and removes the node's root and mounts. */
  destroy(): Promise<void>;
  console: string[];
}

const unit = (lines: string[]) => `${lines.join('\n')}\n`;

export async function prepareClusterNode(spec: ClusterNodeSpec, ctx: ClusterContext): Promise<ClusterNode> {
  const dir = ctx.dir;
  const merged = path.join(dir, 'root');
  const varLibBerth = path.join(dir, 'var-lib-berth');
  for (const d of ['upper', 'work', 'root', 'var-lib-berth']) await mkdir(path.join(dir, d), { recursive: true });
  await run('mount', [
    '-t',
    'overlay',
    'berth-e2e-node',
    '-o',
    `lowerdir=${ctx.baseRoot},upperdir=${path.join(dir, 'upper')},workdir=${path.join(dir, 'work')}`,
    merged,
  ]);
  const put = async (file: string, content: string, mode = 0o644) => {
    const target = path.join(merged, file);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, content, { mode });
  };
  const enable = async (name: string) => {
    const link = path.join(merged, 'etc/systemd/system/multi-user.target.wants', name);
    await mkdir(path.dirname(link), { recursive: true });
    await symlink(`/etc/systemd/system/${name}`, link);
  };

  // The node's network, brought up at every boot: its address, a default
  // route through the test's bridge, and routes to the other nodes' pods.
  const network = [
    `ip addr add ${spec.address}/${ctx.prefixLength} dev host0`,
    'ip link set host0 up',
    `ip route add default via ${ctx.gateway}`,
    ...spec.routes.map((r) => `ip route add ${r.cidr} via ${r.via}`),
    'echo 1 > /proc/sys/net/ipv4/ip_forward',
  ];
  await put('usr/local/sbin/berth-e2e-network', `#!/bin/sh\nset -e\n${network.join('\n')}\n`, 0o755);
  await put(
    'etc/systemd/system/berth-e2e-network.service',
    unit([
      '[Unit]',
      'Description=the cluster test network',
      'Before=berth.service kubelet.service kube-proxy.service',
      '[Service]',
      'Type=oneshot',
      'RemainAfterExit=yes',
      'ExecStart=/usr/local/sbin/berth-e2e-network',
      '[Install]',
      'WantedBy=multi-user.target',
    ]),
  );
  await enable('berth-e2e-network.service');

  // Copies of the kernel settings the kubelet writes (/proc/sys is
  // read-only in the node, and these are the host's), bound over the real
  // ones in the node's mount namespace: the kubelet's writes stay there.
  const copies = KUBELET_SYSCTLS.map((key) => {
    const copy = `/run/berth-e2e-sysctl/${key.replaceAll('/', '.')}`;
    return `mountpoint -q /proc/sys/${key} || { cat /proc/sys/${key} > ${copy}; mount --bind ${copy} /proc/sys/${key}; }`;
  });
  await put('usr/local/sbin/berth-e2e-sysctl-copies', `#!/bin/sh\nset -e\nmkdir -p /run/berth-e2e-sysctl\n${copies.join('\n')}\n`, 0o755);

  await put(
    'etc/kubernetes/kubeconfig',
    [
      'apiVersion: v1',
      'kind: Config',
      `clusters:\n- name: e2e\n  cluster:\n    server: ${ctx.apiServer}\n    insecure-skip-tls-verify: true`,
      `users:\n- name: node\n  user:\n    token: ${ctx.token}`,
      'contexts:\n- name: e2e\n  context:\n    cluster: e2e\n    user: node',
      'current-context: e2e',
      '',
    ].join('\n'),
    0o600,
  );
  const kubelet = [
    '/opt/kubernetes/bin/kubelet',
    '--kubeconfig=/etc/kubernetes/kubeconfig',
    '--container-runtime=remote',
    '--container-runtime-endpoint=unix:///run/berth/berth.sock',
    '--image-service-endpoint=unix:///run/berth/berth.sock',
    `--node-ip=${spec.address}`,
    `--hostname-override=${spec.name}`,
    `--cgroup-driver=${spec.cgroupDriver}`,
    '--fail-swap-on=false',
    // The host's disk and memory are shared with everything else on it.
    '--eviction-hard=memory.available<1Ki,nodefs.available<1Ki,imagefs.available<1Ki',
    '--image-gc-high-threshold=100',
    '--image-gc-low-threshold=99',
    '--read-only-port=0',
    '--runtime-request-timeout=2m',
    '--resolv-conf=/etc/resolv.conf',
    '--v=2',
  ];
  await put(
    'etc/systemd/system/kubelet.service',
    unit([
      '[Unit]',
      'Description=the Kubernetes node agent',
      'After=berth.service berth-e2e-network.service',
      '[Service]',
      'ExecStartPre=/usr/local/sbin/berth-e2e-sysctl-copies',
      `ExecStart=${kubelet.join(' ')}`,
      'Restart=always',
      'RestartSec=2',
      '[Install]',
      'WantedBy=multi-user.target',
    ]),
  );
  const proxy = [
    '/opt/kubernetes/bin/kube-proxy',
    '--kubeconfig=/etc/kubernetes/kubeconfig',
    '--proxy-mode=iptables',
    `--hostname-override=${spec.name}`,
    `--bind-address=${spec.address}`,
    '--cluster-cidr=10.95.0.0/16',
    // The conntrack table's size is the host's to set, not a node's.
    '--conntrack-max-per-core=0',
    '--v=2',
  ];
  await put(
    'etc/systemd/system/kube-proxy.service',
    unit([
      '[Unit]',
      'Description=the Kubernetes Service proxy',
      'After=berth-e2e-network.service',
      '[Service]',
      `ExecStart=${proxy.join(' ')}`,
      'Restart=always',
      'RestartSec=2',
      '[Install]',
      'WantedBy=multi-user.target',
    ]),
  );
  // The node's pod network: a bridge with this node's subnet; the other
  // nodes' subnets are reached through the routes above.
  await put(
    'etc/cni/net.d/05-berth-e2e-cluster.conflist',
    JSON.stringify({
      cniVersion: '1.0.0',
      name: 'berth-e2e-cluster',
      plugins: [
        {
          type: 'bridge',
          bridge: 'cni0',
          isGateway: true,
          ipMasq: false,
          ipam: { type: 'host-local', ranges: [[{ subnet: spec.podCidr }]], routes: [{ dst: '0.0.0.0/0' }] },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    }),
  );
  await put('etc/containers/registries.conf', ctx.registriesConf);
  const driver = spec.cgroupDriver === 'systemd' ? '\n[runtime]\ncgroup_manager = "systemd"\n' : '';
  await put('etc/berth/berth.conf.d/50-berth-e2e.conf', `${ctx.berthConf}${driver}`);

  // The cached root has the host's name in /etc/hostname, which the node's
  // systemd would set at boot over nspawn's.
  await put('etc/hostname', `${spec.name}\n`);

  const consoleLog: string[] = [];
  let booted: BootedNode | undefined;
  const node: ClusterNode = {
    spec,
    console: consoleLog,
    exec: (cmd, timeoutMs) => {
      if (!booted) throw new Error(`${spec.name} is not running`);
      return booted.exec(cmd, timeoutMs);
    },
    boot: async () => {
      booted = await bootNode(
        merged,
        [
          { host: varLibBerth, node: '/var/lib/berth' },
          { host: ctx.kubeBin, node: '/opt/kubernetes/bin', readOnly: true },
          { host: ctx.releaseDir, node: '/mnt/release', readOnly: true },
          // The kubelet's OOM watcher reads the kernel log.
          { host: '/dev/kmsg', node: '/dev/kmsg', readOnly: true },
        ],
        consoleLog,
        { ownRoot: true, machine: spec.name, bridge: ctx.bridge, cgroup: { name: `berth-e2e-${spec.name}`, stage: path.join(dir, 'cgroup') } },
      );
    },
    powerOff: async () => {
      const b = booted;
      booted = undefined;
      await b?.stop();
    },
    destroy: async () => {
      await node.powerOff();
      await run('umount', [merged]).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
  return node;
}
