import { chmod, mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CniConfigSource, parseNetworkConfig } from '../src/cni/config-source.js';
import type { PluginCall, PluginRunner } from '../src/cni/invoke.js';
import { NetworkManager } from '../src/cni/network-manager.js';
import { convertResult, podIps } from '../src/cni/result.js';
import { cniArgs, parseBandwidth, runtimeConfig } from '../src/cni/runtime-args.js';
import { silentLogger } from '../src/log.js';

describe('CNI configuration discovery', () => {
  let dir: string;
  let bin: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-cni-'));
    bin = path.join(dir, 'bin');
    await mkdir(path.join(dir, 'net.d'));
    await mkdir(bin);
    for (const p of ['bridge', 'portmap']) {
      await writeFile(path.join(bin, p), '#!/bin/sh\n');
      await chmod(path.join(bin, p), 0o755);
    }
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const source = (preferred = '') => new CniConfigSource(path.join(dir, 'net.d'), ['/nonexistent', bin], preferred, silentLogger());
  const write = (name: string, body: object | string) => writeFile(path.join(dir, 'net.d', name), typeof body === 'string' ? body : JSON.stringify(body));

  it('takes the first valid file in lexical order, reporting the broken ones', async () => {
    await write('30-b.conflist', { cniVersion: '1.0.0', name: 'b', plugins: [{ type: 'bridge' }] });
    await write('20-a.conf', { cniVersion: '0.4.0', name: 'a', type: 'bridge', bridge: 'x' });
    await write('10-broken.json', '{');
    await write('05-ignored.txt', 'whatever');
    const s = await source().current();
    expect(s).toMatchObject({ ready: true, network: { name: 'a', cniVersion: '0.4.0', plugins: [{ type: 'bridge', bridge: 'x' }] } });
    expect(s.file).toMatch(/20-a\.conf$/);
  });

  it('honours the configured network name and notices changes', async () => {
    await write('10-a.conflist', { cniVersion: '1.0.0', name: 'a', plugins: [{ type: 'bridge' }] });
    const src = source('b');
    expect((await src.current()).ready).toBe(false);
    await write('20-b.conflist', { cniVersion: '1.1.0', name: 'b', plugins: [{ type: 'portmap' }] });
    expect(await src.current()).toMatchObject({ ready: true, network: { name: 'b' } });
    await rm(path.join(dir, 'net.d', '20-b.conflist'));
    expect((await src.current()).message).toContain('no network named "b"');
  });

  it('is not ready when a plugin is missing or the version unknown', async () => {
    await write('10-a.conflist', { cniVersion: '1.0.0', name: 'a', plugins: [{ type: 'bridge' }, { type: 'flannel' }] });
    expect((await source().current()).message).toContain('flannel');
    expect(() => parseNetworkConfig('x.conflist', JSON.stringify({ cniVersion: '0.2.0', name: 'a', plugins: [{ type: 'b' }] }))).toThrow(
      /unsupported cniVersion/,
    );
    expect(() => parseNetworkConfig('x.conflist', JSON.stringify({ cniVersion: '1.0.0', name: 'a', plugins: [] }))).toThrow(/non-empty/);
    expect(() => parseNetworkConfig('x.conf', JSON.stringify({ cniVersion: '1.0.0', name: 'a', type: '../evil' }))).toThrow(/type/);
  });
});

describe('CNI results and arguments', () => {
  it('finds pod IPs on the pod interface, primary first', () => {
    expect(
      podIps({
        cniVersion: '1.0.0',
        interfaces: [{ name: 'cni0' }, { name: 'veth1' }, { name: 'eth0', sandbox: '/ns' }],
        ips: [
          { address: '10.0.0.5/24', interface: 2 },
          { address: 'fd00::5/64', interface: 2 },
          { address: '10.1.0.1/24', interface: 0 },
        ],
      }),
    ).toEqual(['10.0.0.5', 'fd00::5']);
    expect(podIps({ cniVersion: '0.3.1', ips: [{ address: '10.0.0.9/16' }] })).toEqual(['10.0.0.9']);
    expect(podIps(undefined)).toEqual([]);
  });

  it('converts results between versions for prevResult', () => {
    const r = { cniVersion: '0.3.1', ips: [{ address: '10.0.0.5/24', version: '4' } as never] };
    expect(convertResult(r, '1.0.0')).toEqual({ cniVersion: '1.0.0', ips: [{ address: '10.0.0.5/24' }] });
    expect(convertResult({ cniVersion: '1.0.0', ips: [{ address: 'fd00::1/64' }] }, '0.4.0').ips).toEqual([{ address: 'fd00::1/64', version: '6' }]);
  });

  it('builds CNI_ARGS and the runtimeConfig for declared capabilities only', () => {
    expect(cniArgs({ name: 'web', namespace: 'prod', uid: 'u-1', sandboxId: 'abc' })).toBe(
      'IgnoreUnknown=1;K8S_POD_NAMESPACE=prod;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u-1',
    );
    const inputs = {
      portMappings: [
        { protocol: 'TCP', containerPort: 80, hostPort: 8080, hostIp: '' },
        { protocol: 'UDP', containerPort: 53, hostPort: 0, hostIp: '' },
      ],
      annotations: { 'kubernetes.io/ingress-bandwidth': '10M', 'kubernetes.io/egress-bandwidth': '1Mi' },
      dns: { servers: ['1.1.1.1'], searches: [], options: [] },
      podCidr: '10.244.0.0/24',
    };
    expect(runtimeConfig({ portMappings: true, bandwidth: true, ipRanges: true }, inputs)).toEqual({
      portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }],
      bandwidth: { ingressRate: 10_000_000, ingressBurst: 2147483647, egressRate: 1048576, egressBurst: 2147483647 },
      ipRanges: [[{ subnet: '10.244.0.0/24' }]],
    });
    expect(runtimeConfig(undefined, inputs)).toEqual({});
    expect(parseBandwidth('nonsense')).toBeUndefined();
  });
});

/** A runner that records calls and answers from a script, no processes involved. */
class FakeRunner implements PluginRunner {
  readonly calls: PluginCall[] = [];
  constructor(private readonly answer: (c: PluginCall) => unknown) {}
  async run(call: PluginCall): Promise<unknown> {
    this.calls.push(call);
    return this.answer(call);
  }
}

describe('network manager', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-netmgr-'));
    await mkdir(path.join(dir, 'net.d'));
    for (const p of ['bridge', 'portmap']) {
      await writeFile(path.join(dir, p), '#!/bin/sh\n');
      await chmod(path.join(dir, p), 0o755);
    }
    await writeFile(
      path.join(dir, 'net.d', '10.conflist'),
      JSON.stringify({
        cniVersion: '1.0.0',
        name: 'n',
        plugins: [{ type: 'bridge' }, { type: 'portmap', capabilities: { portMappings: true } }],
      }),
    );
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('chains ADD with prevResult and tears down in reverse with the result kept from ADD', async () => {
    const result = { cniVersion: '1.0.0', ips: [{ address: '10.0.0.2/24' }] };
    const runner = new FakeRunner((c) => (c.command === 'ADD' ? result : undefined));
    const mgr = new NetworkManager(new CniConfigSource(path.join(dir, 'net.d'), [dir], '', silentLogger()), runner, 1000, silentLogger());
    const remembered: unknown[] = [];
    const pod = await mgr.setUp(
      { name: 'p', namespace: 'ns', uid: 'u', sandboxId: 'id1' },
      '/missing/netns',
      { portMappings: [{ protocol: 'TCP', containerPort: 80, hostPort: 81, hostIp: '' }], annotations: {}, dns: null },
      async (n) => void remembered.push(structuredClone(n)),
    );
    expect(remembered).toHaveLength(2); // once before ADD, once with the result
    expect(runner.calls.map((c) => `${c.command} ${(c.config as { type: string }).type}`)).toEqual(['ADD bridge', 'ADD portmap']);
    expect((runner.calls[1]!.config as { prevResult?: unknown }).prevResult).toEqual(result);
    expect((runner.calls[1]!.config as { runtimeConfig?: unknown }).runtimeConfig).toEqual({
      portMappings: [{ hostPort: 81, containerPort: 80, protocol: 'tcp' }],
    });
    expect(runner.calls[0]!.config).not.toHaveProperty('runtimeConfig');
    // The operator replaces the configuration; DEL still uses the one from ADD.
    await writeFile(path.join(dir, 'net.d', '10.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'other', plugins: [{ type: 'bridge' }] }));
    runner.calls.length = 0;
    await mgr.tearDown(pod);
    expect(runner.calls.map((c) => `${c.command} ${(c.config as { type: string }).type} ${(c.config as { name: string }).name}`)).toEqual([
      'DEL portmap n',
      'DEL bridge n',
    ]);
    expect(runner.calls[0]!.netns).toBe(''); // the namespace is gone
    expect((runner.calls[0]!.config as { prevResult?: unknown }).prevResult).toEqual(result);
  });

  it('refuses to set up while the network is not ready', async () => {
    await rm(path.join(dir, 'net.d', '10.conflist'));
    const mgr = new NetworkManager(
      new CniConfigSource(path.join(dir, 'net.d'), [dir], '', silentLogger()),
      new FakeRunner(() => undefined),
      1000,
      silentLogger(),
    );
    await expect(
      mgr.setUp({ name: 'p', namespace: 'ns', uid: 'u', sandboxId: 'id1' }, '/x', { portMappings: [], annotations: {}, dns: null }, async () => undefined),
    ).rejects.toMatchObject({ kind: 'failed-precondition' });
  });
});

describe('the default pod network', () => {
  it('is a valid configuration, installed only into a directory without one', async () => {
    const { execFile } = await import('node:child_process');
    const { promisify } = await import('node:util');
    const { readFile, readdir } = await import('node:fs/promises');
    const shipped = await readFile(new URL('../conf/cni/99-berth-bridge.conflist', import.meta.url), 'utf8');
    expect(parseNetworkConfig('99-berth-bridge.conflist', shipped)).toMatchObject({ name: 'berth', cniVersion: '1.0.0' });
    const dir = await mkdtemp(path.join(tmpdir(), 'berth-cni-default-'));
    const script = new URL('../scripts/install-cni-default.sh', import.meta.url).pathname;
    await promisify(execFile)('sh', [script, dir]);
    expect(await readdir(dir)).toEqual(['99-berth-bridge.conflist']);
    await writeFile(path.join(dir, '99-berth-bridge.conflist'), '{"operator": "changed"}');
    await promisify(execFile)('sh', [script, dir]);
    expect(await readFile(path.join(dir, '99-berth-bridge.conflist'), 'utf8')).toBe('{"operator": "changed"}');
    await rm(dir, { recursive: true, force: true });
  });

  it('never reports a loopback address as the pod IP', () => {
    expect(podIps({ cniVersion: '1.0.0', ips: [{ address: '127.0.0.1/8' }, { address: '::1/128' }] })).toEqual([]);
  });
});
