import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ContainerConfig } from '../src/generated/runtime/v1/ContainerConfig.js';
import type { PodSandboxConfig } from '../src/generated/runtime/v1/PodSandboxConfig.js';
import { type CriClient, call, connectCri } from './lib/cri-client.js';
import { mountsUnder } from './lib/leftovers.js';
import { removeIdlePortmapChains, sh } from './lib/net-host.js';
import { type BootedNode, bootNode, ensureNodeRoot } from './lib/nspawn-node.js';
import { waitFor } from './lib/ports.js';
import { ROOT, type Release, buildRelease } from './lib/release.js';

/**
 * berth as an operator installs it: the .deb on a clean Debian 12 node
 * booted with systemd as PID 1 (systemd-nspawn), started by systemd as a
 * Type=notify service, reloaded, restarted, reinstalled, stopped and
 * purged, with a pod on the package's own CNI network throughout. The
 * node's /run/berth and /var/lib/berth are host directories, so the test
 * talks to the node's berth over its socket with its own CRI client
 * (Debian 12 has no crictl package).
 */
const env = inject('env');
// biome-ignore lint/suspicious/noTemplateCurlyInString: ${c%/comm} is the shell's parameter expansion
const CONMON_CGROUPS = 'for c in /proc/[0-9]*/comm; do if [ "$(cat $c 2>/dev/null)" = conmon ]; then grep :pids: "${c%/comm}/cgroup"; fi; done';
const IMAGE = `${env.openRegistry}/berth-test/busybox:run`;

describe('berth installed from its package on a node booted with systemd', () => {
  let release: Release;
  let node: BootedNode;
  let dir: string;
  let client: CriClient | undefined;
  const console: string[] = [];

  const socket = () => path.join(dir, 'run-berth', 'berth.sock');
  const cri = async () => {
    client ??= await connectCri(socket());
    return client;
  };
  const reconnect = () => {
    client?.close();
    client = undefined;
  };
  const systemctl = (...args: string[]) => node.exec(['systemctl', ...args]);
  const isActive = () =>
    systemctl('is-active', 'berth').then(
      (r) => r.stdout.trim(),
      (e: { stdout?: string }) => (e.stdout ?? '').trim(),
    );
  /** The pids-controller cgroup of each conmon in the node: conmon must not be in berth.service's. */
  const conmonCgroups = async () => (await node.exec(['sh', '-c', CONMON_CGROUPS])).stdout;
  /** The files under /etc that the package's postinst recorded as written. */
  const written = async () =>
    (await node.exec(['cat', '/var/lib/berth-package/written'])).stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(/\s+/)[1])
      .sort();
  const containerRunning = async (id: string) => (await call((await cri()).runtime, (await cri()).runtime.ContainerStatus, { containerId: id })).status!.state;

  beforeAll(async () => {
    release = await buildRelease();
    const nodeRoot = path.join(ROOT, 'build', 'node-root');
    await ensureNodeRoot(nodeRoot);
    dir = await mkdtemp(path.join(tmpdir(), 'berth-e2e-node-'));
    for (const d of ['run-berth', 'var-lib-berth']) await mkdir(path.join(dir, d));
    node = await bootNode(
      nodeRoot,
      [
        { host: path.join(dir, 'run-berth'), node: '/run/berth' },
        { host: path.join(dir, 'var-lib-berth'), node: '/var/lib/berth' },
        { host: path.dirname(release.deb), node: '/mnt/release', readOnly: true },
      ],
      console,
    );
    // The test registry, as an operator would add a mirror.
    await node.exec([
      'sh',
      '-c',
      `mkdir -p /etc/containers && printf '[[registry]]\\nlocation = "${env.openRegistry}"\\ninsecure = true\\n' > /etc/containers/registries.conf`,
    ]);
  }, 600_000);

  afterAll(async () => {
    // Pods a failed step left behind: CNI DEL must run before the node goes,
    // or their NAT rules stay in the host's tables (the node shares its network).
    if (node && (await isActive()) === 'active') {
      const c = await cri();
      for (const p of (await call(c.runtime, c.runtime.ListPodSandbox, {}).catch(() => ({ items: [] }))).items) {
        await call(c.runtime, c.runtime.RemovePodSandbox, { podSandboxId: p.id }).catch(() => undefined);
      }
    }
    reconnect();
    await node?.stop();
    await sh('ip', ['link', 'del', 'berth0']).catch(() => '');
    await removeIdlePortmapChains();
    if (dir) {
      expect(await mountsUnder(dir)).toEqual([]);
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);

  let podId = '';
  let ctrId = '';

  it('installs with apt, and systemd starts it as a notify service', async () => {
    const { stdout } = await node.exec(
      ['sh', '-c', `DEBIAN_FRONTEND=noninteractive apt-get install -y -q /mnt/release/${path.basename(release.deb)} 2>&1`],
      300_000,
    );
    expect(stdout).toContain('berth: installed the default pod network in /etc/cni/net.d/99-berth-bridge.conflist');
    expect(stdout).toContain('berth: wrote /etc/crictl.yaml');
    // What it wrote into /etc, recorded for purge, as it is now.
    expect(await written()).toEqual(['/etc/cni/net.d/99-berth-bridge.conflist', '/etc/crictl.yaml']);
    await node.exec(['sh', '-c', 'cd / && sha256sum --check --quiet /var/lib/berth-package/written']);
    expect((await node.exec(['sh', '-c', 'command -v node || echo none'])).stdout.trim()).toBe('none');
    await waitFor('berth to be active', async () => (await isActive()) === 'active', 30_000);
    expect((await systemctl('show', 'berth', '-p', 'StatusText')).stdout).toContain('StatusText=serving on /run/berth/berth.sock');
    expect((await node.exec(['berth', 'status'])).stdout).toContain('RuntimeReady: true');
    expect(
      (await node.exec(['ls', '/usr/share/man/man5/berth.conf.5.gz', '/usr/share/man/man8/berth.8.gz', '/usr/share/bash-completion/completions/berth'])).stdout
        .split('\n')
        .filter(Boolean),
    ).toHaveLength(3);
  });

  it("pulls from the test registry and runs a pod on the package's CNI network, with exec and logs", async () => {
    const c = await cri();
    await call(c.image, c.image.PullImage, { image: { image: IMAGE } });
    const pod: PodSandboxConfig = {
      metadata: { name: 'node-pod', namespace: 'default', uid: 'node-pod-uid', attempt: 0 },
      hostname: 'nodepod',
      logDirectory: '/var/log/pods/node-pod',
    };
    podId = (await call(c.runtime, c.runtime.RunPodSandbox, { config: pod })).podSandboxId;
    const ip = (await call(c.runtime, c.runtime.PodSandboxStatus, { podSandboxId: podId })).status!.network!.ip;
    expect(ip).toMatch(/^10\.85\./);
    const config: ContainerConfig = {
      metadata: { name: 'main', attempt: 0 },
      image: { image: IMAGE },
      command: ['sh', '-c', 'echo hello from the node; exec sleep 3600'],
      logPath: 'main/0.log',
    };
    ctrId = (await call(c.runtime, c.runtime.CreateContainer, { podSandboxId: podId, config, sandboxConfig: pod })).containerId;
    await call(c.runtime, c.runtime.StartContainer, { containerId: ctrId });
    const res = await call(c.runtime, c.runtime.ExecSync, { containerId: ctrId, cmd: ['hostname'], timeout: 10 });
    expect(res.stdout.toString().trim()).toBe('nodepod');
    await waitFor('the log', async () => (await node.exec(['cat', '/var/log/pods/node-pod/main/0.log'])).stdout.includes('stdout F hello from the node'));
  });

  it('reloads a changed log level and registries.conf with systemctl reload', async () => {
    await node.exec(['sh', '-c', `mkdir -p /etc/berth/berth.conf.d && printf 'log_level = "debug"\\n' > /etc/berth/berth.conf.d/50-debug.conf`]);
    await node.exec(['sh', '-c', `printf '[aliases]\\n"nodebox" = "${env.openRegistry}/berth-test/busybox"\\n' >> /etc/containers/registries.conf`]);
    await systemctl('reload', 'berth');
    await waitFor(
      'the reload in the journal',
      async () => (await node.exec(['journalctl', '-u', 'berth', '--no-pager', '-o', 'cat'])).stdout.includes('"applied":["log_level"]'),
      20_000,
    );
    const c = await cri();
    await call(c.image, c.image.PullImage, { image: { image: 'nodebox:plain' } });
    expect((await call(c.image, c.image.ImageStatus, { image: { image: `${env.openRegistry}/berth-test/busybox:plain` } })).image?.id).toBe(
      env.fixtures.plain.id,
    );
  });

  it("keeps the container running through systemctl restart and a reinstall of the package, which renames an older install's default network", async () => {
    const pidOf = async () =>
      (
        JSON.parse((await call((await cri()).runtime, (await cri()).runtime.ContainerStatus, { containerId: ctrId, verbose: true })).info.info!) as {
          pid: number;
        }
      ).pid;
    const before = await pidOf();
    expect(await conmonCgroups()).toContain(`/berth-conmon-${ctrId}\n`);
    expect(await conmonCgroups()).not.toContain('berth.service');
    await systemctl('restart', 'berth');
    reconnect();
    await waitFor('berth to be active again', async () => (await isActive()) === 'active', 30_000);
    expect(await containerRunning(ctrId)).toBe('CONTAINER_RUNNING');
    expect(await pidOf()).toBe(before);
    // The default network under the name berth gave it before 99-: the
    // reinstall's configure renames it (unchanged) and writes nothing else.
    await node.exec(['mv', '/etc/cni/net.d/99-berth-bridge.conflist', '/etc/cni/net.d/10-berth-bridge.conflist']);
    const { stdout } = await node.exec(
      ['sh', '-c', `DEBIAN_FRONTEND=noninteractive apt-get install -y -q --reinstall /mnt/release/${path.basename(release.deb)} 2>&1`],
      300_000,
    );
    expect(stdout).toContain(
      "berth: renamed the default pod network /etc/cni/net.d/10-berth-bridge.conflist to 99-berth-bridge.conflist, to sort after a cluster's network",
    );
    expect(stdout).not.toContain('berth: installed');
    expect(stdout).not.toContain('berth: wrote');
    expect((await node.exec(['ls', '/etc/cni/net.d'])).stdout.trim()).toBe('99-berth-bridge.conflist');
    expect(await written()).toEqual(['/etc/cni/net.d/99-berth-bridge.conflist', '/etc/crictl.yaml']);
    reconnect();
    await waitFor('berth to be active after the reinstall', async () => (await isActive()) === 'active', 30_000);
    expect(await containerRunning(ctrId)).toBe('CONTAINER_RUNNING');
    expect(await pidOf()).toBe(before);
  });

  it('leaves containers running when stopped, and removes them when asked', async () => {
    await systemctl('stop', 'berth');
    reconnect();
    expect(await isActive()).not.toBe('active');
    const { stdout } = await node.exec(['runc', '--root', '/run/berth/runtimes/runc', 'list']);
    expect(stdout).toMatch(new RegExp(`${ctrId}\\s+\\d+\\s+running`));
    await systemctl('start', 'berth');
    await waitFor('berth to be active', async () => (await isActive()) === 'active', 30_000);
    const c = await cri();
    await call(c.runtime, c.runtime.StopPodSandbox, { podSandboxId: podId });
    await call(c.runtime, c.runtime.RemovePodSandbox, { podSandboxId: podId });
    expect((await call(c.runtime, c.runtime.ListPodSandbox, {})).items).toEqual([]);
  });

  it('places pods in slices and containers in scopes with the systemd cgroup driver, as the kubelet expects', async () => {
    await node.exec(['sh', '-c', `printf '[runtime]\ncgroup_manager = "systemd"\n' > /etc/berth/berth.conf.d/60-systemd.conf`]);
    await systemctl('restart', 'berth');
    reconnect();
    await waitFor('berth to be active', async () => (await isActive()) === 'active', 30_000);
    const c = await cri();
    const pod: PodSandboxConfig = {
      metadata: { name: 'sliced', namespace: 'default', uid: 'sliced-uid', attempt: 0 },
      hostname: 'sliced',
      logDirectory: '/var/log/pods/sliced',
      linux: { cgroupParent: 'kubepods-besteffort-podsliced.slice' },
    };
    const sliced = (await call(c.runtime, c.runtime.RunPodSandbox, { config: pod })).podSandboxId;
    let id = '';
    try {
      const config: ContainerConfig = {
        metadata: { name: 'scoped', attempt: 0 },
        image: { image: IMAGE },
        command: ['sleep', '3600'],
        logPath: 'scoped/0.log',
      };
      id = (await call(c.runtime, c.runtime.CreateContainer, { podSandboxId: sliced, config, sandboxConfig: pod })).containerId;
      await call(c.runtime, c.runtime.StartContainer, { containerId: id });
      const units = (await systemctl('list-units', '--no-pager', '--plain', `berth-${id}.scope`, 'kubepods-besteffort-podsliced.slice')).stdout;
      expect(units).toMatch(new RegExp(`berth-${id}[.]scope +loaded active running`));
      expect(units).toMatch(/kubepods-besteffort-podsliced[.]slice +loaded active active/);
      const pid = (JSON.parse((await call(c.runtime, c.runtime.ContainerStatus, { containerId: id, verbose: true })).info.info!) as { pid: number }).pid;
      expect((await node.exec(['cat', `/proc/${pid}/cgroup`])).stdout).toContain(
        `:pids:/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podsliced.slice/berth-${id}.scope`,
      );
      // conmon in a transient scope of its own beside it, outside berth.service:
      // a restart keeps the container and its conmon.
      expect(await conmonCgroups()).toContain(`:pids:/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podsliced.slice/berth-conmon-${id}.scope\n`);
      await systemctl('restart', 'berth');
      reconnect();
      await waitFor('berth to be active', async () => (await isActive()) === 'active', 30_000);
      expect(await containerRunning(id)).toBe('CONTAINER_RUNNING');
    } finally {
      const after = await cri(); // a new connection after the restart
      await call(after.runtime, after.runtime.StopPodSandbox, { podSandboxId: sliced });
      await call(after.runtime, after.runtime.RemovePodSandbox, { podSandboxId: sliced });
    }
    await waitFor(
      'the scopes to go',
      async () =>
        !/running|failed/.test((await systemctl('list-units', '--all', '--no-pager', '--plain', `berth-${id}.scope`, `berth-conmon-${id}.scope`)).stdout),
      20_000,
    );
  });

  it('purges its configuration and what it wrote into /etc unless changed since, but keeps container data', async () => {
    reconnect();
    // An operator's edit: purge keeps that file, and says so.
    await node.exec(['sh', '-c', "echo '# the operator was here' >> /etc/crictl.yaml"]);
    const { stdout } = await node.exec(['sh', '-c', 'DEBIAN_FRONTEND=noninteractive apt-get purge -y -q berth 2>&1'], 120_000);
    expect(stdout).toContain('berth: kept /etc/crictl.yaml: it changed since berth wrote it');
    expect((await node.exec(['tail', '-n', '1', '/etc/crictl.yaml'])).stdout).toBe('# the operator was here\n');
    await node.exec(['rm', '/etc/crictl.yaml']);
    // Nothing else of berth's in /etc (the drop-ins the steps above added
    // included, and the unit's enablement), nor its record of what it wrote.
    const left = await node.exec([
      'sh',
      '-c',
      'ls -d /etc/berth /etc/cni/net.d/*berth* /var/lib/berth-package /usr/bin/berth /usr/lib/berth 2>/dev/null; find /etc/systemd/system -name "*berth*"; true',
    ]);
    expect(left.stdout.trim()).toBe('');
    expect(await readdir(path.join(dir, 'var-lib-berth'))).toContain('storage');
  });
});
