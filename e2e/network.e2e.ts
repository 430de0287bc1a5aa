import { chmod, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type BerthDaemon, startBerth } from './lib/berth-daemon.js';
import { call, codeOf } from './lib/cri-client.js';
import { mountsUnder } from './lib/leftovers.js';
import { type ClientNamespace, clientNamespace, natRulesWith, removeIdlePortmapChains, sh, vethsOn } from './lib/net-host.js';
import { Cri, containerConfig, podConfig } from './lib/pods.js';
import { freePort, waitFor } from './lib/ports.js';
import { testBerthConf, testRegistriesConf } from './lib/registries-conf.js';

const env = inject('env');
const IMAGE = `${env.openRegistry}/berth-test/busybox:run`;
// Private names and addresses: this bridge and these subnets exist only for this test.
const BRIDGE = 'berthe2e0';
const SUBNET = '10.89.0.0/24';
const GATEWAY = '10.89.0.1';
const HOST_PORT = 12090;
// Pods get no default route: only the bridge subnet and the test's client subnet are reachable.
const CLIENT_SUBNET = '10.90.0.0/30';

function conflist(ipamDir: string, extraPlugins: object[] = [], name = 'berth-e2e'): string {
  return JSON.stringify({
    cniVersion: '1.0.0',
    name,
    plugins: [
      {
        type: 'bridge',
        bridge: BRIDGE,
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: { type: 'host-local', dataDir: ipamDir, ranges: [[{ subnet: SUBNET }]], routes: [{ dst: CLIENT_SUBNET, gw: GATEWAY }] },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
      // As in berth's default network: Debian's bandwidth plugin (1.1.1)
      // crashes on a CHECK without a rate, which berth must not run.
      { type: 'bandwidth', capabilities: { bandwidth: true } },
      ...extraPlugins,
    ],
  });
}

describe('pod networking through real CNI plugins', () => {
  let berth: BerthDaemon;
  let cri: Cri;
  let confDir: string;
  let pluginDir: string;
  let ipamDir: string;
  let client: ClientNamespace | undefined;
  let ipForward = '';
  const pods: string[] = [];

  const networkReady = async () => {
    const s = await call(berth.client.runtime, berth.client.runtime.Status, {});
    return s.status!.conditions.find((c) => c.type === 'NetworkReady')!;
  };
  const podIp = async (id: string) => (await call(berth.client.runtime, berth.client.runtime.PodSandboxStatus, { podSandboxId: id })).status!.network!.ip;
  const allocations = async () =>
    (await readdir(path.join(ipamDir, 'berth-e2e')).catch(() => [] as string[])).filter((f) => /^\d/.test(f) && !f.startsWith('last_reserved'));

  beforeAll(async () => {
    const port = await freePort();
    berth = await startBerth({
      registriesConf: testRegistriesConf(env, port),
      config: `${testBerthConf(env)}[network]\nplugin_timeout = "3s"\n`,
      extraArgs: [],
    });
    // Restart with private CNI directories: the config dir starts empty.
    await berth.stop();
    confDir = path.join(berth.dir, 'cni', 'net.d');
    pluginDir = path.join(berth.dir, 'cni', 'bin');
    ipamDir = path.join(berth.dir, 'cni', 'ipam');
    await mkdir(confDir, { recursive: true });
    await mkdir(pluginDir, { recursive: true });
    await writeFile(
      path.join(pluginDir, 'berth-test-fail'),
      '#!/bin/sh\ncat >/dev/null\nif [ "$CNI_COMMAND" = ADD ]; then echo \'{"cniVersion":"1.0.0","code":999,"msg":"berth test plugin refuses","details":"on purpose"}\'; exit 1; fi\nexit 0\n',
    );
    await writeFile(
      path.join(pluginDir, 'berth-test-garbage'),
      '#!/bin/sh\ncat >/dev/null\nif [ "$CNI_COMMAND" = ADD ]; then echo "this is not json"; fi\nexit 0\n',
    );
    await writeFile(path.join(pluginDir, 'berth-test-hang'), '#!/bin/sh\ncat >/dev/null\nif [ "$CNI_COMMAND" = ADD ]; then exec sleep 60; fi\nexit 0\n');
    for (const p of ['berth-test-fail', 'berth-test-garbage', 'berth-test-hang']) await chmod(path.join(pluginDir, p), 0o755);
    berth = await startBerth({
      registriesConf: testRegistriesConf(env, port),
      reuse: { dir: berth.dir },
      config: `${testBerthConf(env)}[network]\nplugin_timeout = "3s"\ncni_conf_template = "${path.join(berth.dir, 'cni', 'template.conflist')}"\n`,
      extraArgs: ['--cni-config-dir', confDir, '--cni-plugin-dir', pluginDir, '--cni-plugin-dir', '/usr/lib/cni'],
    });
    cri = new Cri(berth);
    await cri.pull(IMAGE);
  });

  afterAll(async () => {
    for (const id of pods) await cri.removePod(id).catch(() => undefined);
    await client?.remove();
    await berth.destroy();
    await sh('ip', ['link', 'del', BRIDGE]).catch(() => '');
    await removeIdlePortmapChains();
    if (ipForward) await sh('sysctl', ['-q', '-w', `net.ipv4.ip_forward=${ipForward}`]);
  });

  it('is not ready without a valid configuration, and notices one added at run time', async () => {
    expect(await networkReady()).toMatchObject({
      status: false,
      reason: 'NetworkPluginNotReady',
      message: expect.stringContaining('no valid network configuration'),
    });
    // Pods on the pod network wait; host-network pods work regardless.
    expect(await codeOf(cri.runPod(podConfig('too-early', path.join(berth.dir, 'logs'))))).toBe('FAILED_PRECONDITION');
    const hostNs = { namespaceOptions: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' } } as const;
    const early = await cri.runPod(podConfig('host-early', path.join(berth.dir, 'logs'), { linux: { securityContext: hostNs } }));
    await cri.removePod(early);
    await writeFile(path.join(confDir, '05-broken.conf'), '{ not json');
    expect((await networkReady()).message).toContain('05-broken.conf: invalid JSON');
    await writeFile(path.join(confDir, '06-missing.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'x', plugins: [{ type: 'no-such-plugin' }] }));
    expect((await networkReady()).message).toContain('no-such-plugin');
    await rm(path.join(confDir, '06-missing.conflist'));
    await writeFile(path.join(confDir, '10-berth-e2e.conflist'), conflist(ipamDir));
    expect(await networkReady()).toMatchObject({ status: true });
  });

  it('gives pods addresses on which they reach each other and the gateway', async () => {
    const podA = podConfig('net-a', path.join(berth.dir, 'logs'));
    const a = await cri.runPod(podA);
    pods.push(a);
    const podB = podConfig('net-b', path.join(berth.dir, 'logs'));
    const b = await cri.runPod(podB);
    pods.push(b);
    const ipA = await podIp(a);
    expect(ipA).toMatch(/^10\.89\.0\.\d+$/);
    expect(await podIp(b)).toMatch(/^10\.89\.0\.\d+$/);
    const web = await cri.run(
      a,
      containerConfig('web', IMAGE, { command: ['sh', '-c', 'mkdir -p /www && echo "hello from a" > /www/index.html && exec httpd -f -p 80 -h /www'] }),
      podA,
    );
    const probe = await cri.run(
      b,
      containerConfig('probe', IMAGE, { command: ['sleep', '600'], linux: { securityContext: { capabilities: { addCapabilities: ['NET_RAW'] } } } }),
      podB,
    );
    await waitFor('httpd in pod a', async () => (await cri.exec(probe, ['wget', '-q', '-O', '-', `http://${ipA}/`])).stdout === 'hello from a\n');
    expect((await cri.exec(probe, ['ping', '-c', '1', '-W', '2', GATEWAY])).exitCode).toBe(0);
    expect((await cri.exec(web, ['ip', '-o', 'addr', 'show', 'eth0'])).stdout).toContain(ipA);
    expect((await cri.exec(web, ['ip', '-o', 'link', 'show', 'lo'])).stdout).toContain('UP');
    // The traffic shows in pod A's network counters.
    const stats = (await call(berth.client.runtime, berth.client.runtime.PodSandboxStats, { podSandboxId: a })).stats!;
    expect(Number(stats.linux!.network!.defaultInterface!.rxBytes!.value)).toBeGreaterThan(0);
    const rx = Number(stats.linux!.network!.defaultInterface!.txBytes!.value);
    await cri.exec(probe, ['wget', '-q', '-O', '-', `http://${ipA}/`]);
    const later = (await call(berth.client.runtime, berth.client.runtime.PodSandboxStats, { podSandboxId: a })).stats!;
    expect(Number(later.linux!.network!.defaultInterface!.txBytes!.value)).toBeGreaterThan(rx);
  });

  it('publishes a host port to another machine and to the host itself', async () => {
    const pod = podConfig('net-port', path.join(berth.dir, 'logs'), { portMappings: [{ protocol: 'TCP', containerPort: 80, hostPort: HOST_PORT }] });
    const id = await cri.runPod(pod);
    pods.push(id);
    await cri.run(
      id,
      containerConfig('web', IMAGE, { command: ['sh', '-c', 'mkdir -p /www && echo published > /www/index.html && exec httpd -f -p 80 -h /www'] }),
      pod,
    );
    ipForward = (await readFile('/proc/sys/net/ipv4/ip_forward', 'utf8')).trim();
    await sh('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
    client = await clientNamespace('berthe2e-cl', '10.90.0.1/30', '10.90.0.2/30');
    await waitFor(
      'the published port from the client namespace',
      async () =>
        // busybox-static's wget crashes with -T: bound it with timeout(1) instead.
        (await client!.exec(['timeout', '5', 'busybox', 'wget', '-q', '-O', '-', `http://${client!.hostAddress}:${HOST_PORT}/`])) === 'published\n',
    );
    const res = await fetch(`http://127.0.0.1:${HOST_PORT}/`);
    expect(await res.text()).toBe('published\n');
    expect(await natRulesWith(String(HOST_PORT))).not.toEqual([]);
  });

  it("lets host-network pods see the host's interfaces, without CNI", async () => {
    const ns = { namespaceOptions: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' } } as const;
    const pod = podConfig('net-host', path.join(berth.dir, 'logs'), { linux: { securityContext: ns } });
    const id = await cri.runPod(pod);
    pods.push(id);
    expect(await podIp(id)).toBe('');
    const c = await cri.run(id, containerConfig('c', IMAGE, { command: ['sleep', '600'], linux: { securityContext: ns } }), pod);
    expect((await cri.exec(c, ['ip', '-o', 'link'])).stdout).toContain(BRIDGE);
  });

  it('shows a verbose status with the CNI result and the CHECK run after ADD, without running plugins per call', async () => {
    const verbose = async () =>
      JSON.parse((await call(berth.client.runtime, berth.client.runtime.PodSandboxStatus, { podSandboxId: pods[0]!, verbose: true })).info.info!) as Record<
        string,
        unknown
      >;
    await waitFor('the CHECK after ADD', async () => (await verbose()).cniCheck !== undefined);
    const first = await verbose();
    expect(first).toMatchObject({ cniNetwork: 'berth-e2e', cniCheck: 'ok', cniCheckedAt: expect.any(String) });
    expect((await verbose()).cniCheckedAt).toBe(first.cniCheckedAt);
  });

  it.each([
    ['a plugin that fails', 'berth-test-fail', 'berth test plugin refuses: on purpose'],
    ['a plugin that prints garbage', 'berth-test-garbage', 'not JSON'],
    ['a plugin that hangs', 'berth-test-hang', 'did not finish'],
  ])('leaves nothing behind after %s', async (_label, plugin, message) => {
    const allocated = await allocations();
    const veths = await vethsOn(BRIDGE);
    const mounts = await mountsUnder(berth.dir);
    await writeFile(path.join(confDir, '01-failing.conflist'), conflist(ipamDir, [{ type: plugin }], 'berth-e2e'));
    try {
      const err = await cri.runPod(podConfig(`fail-${plugin}`, path.join(berth.dir, 'logs'))).catch((e: { details: string }) => e);
      expect((err as { details: string }).details).toContain(message);
    } finally {
      await rm(path.join(confDir, '01-failing.conflist'));
    }
    expect(await allocations()).toEqual(allocated);
    expect(await vethsOn(BRIDGE)).toEqual(veths);
    expect(await mountsUnder(berth.dir)).toEqual(mounts);
    expect((await readdir(path.join(berth.runroot, 'sandboxes'))).length).toBe(pods.length);
  });

  it('writes the CNI configuration template on UpdateRuntimeConfig', async () => {
    await writeFile(path.join(berth.dir, 'cni', 'template.conflist'), conflist(ipamDir).replace(SUBNET, '{{.PodCIDR}}').replace('"berth-e2e"', '"templated"'));
    await call(berth.client.runtime, berth.client.runtime.UpdateRuntimeConfig, { runtimeConfig: { networkConfig: { podCidr: '10.89.0.0/25' } } });
    const written = JSON.parse(await readFile(path.join(confDir, '10-berth-template.conflist'), 'utf8')) as {
      plugins: { ipam?: { ranges: { subnet: string }[][] } }[];
    };
    expect(written.plugins[0]!.ipam!.ranges[0]![0]!.subnet).toBe('10.89.0.0/25');
    await rm(path.join(confDir, '10-berth-template.conflist'));
    expect(
      await codeOf(call(berth.client.runtime, berth.client.runtime.UpdateRuntimeConfig, { runtimeConfig: { networkConfig: { podCidr: 'nonsense' } } })),
    ).toBe('INVALID_ARGUMENT');
  });

  it('releases addresses, interfaces and port rules on stop and remove', async () => {
    for (const id of pods.splice(0)) {
      await cri.stopPod(id);
      await cri.stopPod(id);
      await cri.removePod(id);
    }
    expect(await allocations()).toEqual([]);
    // The kernel tears down a namespace's interfaces asynchronously.
    await waitFor('veth pairs to go', async () => (await vethsOn(BRIDGE)).length === 0, 5000).catch(async () => {
      expect(await vethsOn(BRIDGE)).toEqual([]);
    });
    expect(await natRulesWith(String(HOST_PORT))).toEqual([]);
    expect(await mountsUnder(berth.dir)).toEqual([]);
  });
});
