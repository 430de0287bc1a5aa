import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkApplies } from '../src/cni/check-applies.js';
import { CniConfigSource } from '../src/cni/config-source.js';
import type { PluginCall, PluginRunner } from '../src/cni/invoke.js';
import { NetworkManager, type PodNetwork } from '../src/cni/network-manager.js';
import { type CheckedPod, NetworkChecks, failureKind } from '../src/sandbox/network-checks.js';
import { silentLogger } from '../src/log.js';

const shipped = new URL('../conf/cni/99-berth-bridge.conflist', import.meta.url).pathname;

/** A logger whose lines a test can read. */
function recordingLogger() {
  const lines: { level: number; msg: string }[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as { level: number; msg: string }) });
  return { log, warnings: () => lines.filter((l) => l.level === 40).map((l) => l.msg), lines };
}

describe("berth's default network beside a cluster's", () => {
  let dir: string;
  let netd: string;
  let bin: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-cni-default-'));
    netd = path.join(dir, 'net.d');
    bin = path.join(dir, 'bin');
    await mkdir(netd);
    await mkdir(bin);
    for (const p of ['bridge', 'portmap', 'bandwidth', 'calico']) {
      await writeFile(path.join(bin, p), '#!/bin/sh\n');
      await chmod(path.join(bin, p), 0o755);
    }
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const calico = { cniVersion: '1.0.0', name: 'k8s-pod-network', plugins: [{ type: 'calico' }] };

  it('gives way to a cluster network installed later (10-calico.conflist)', async () => {
    await copyFile(shipped, path.join(netd, '99-berth-bridge.conflist'));
    const { log, warnings } = recordingLogger();
    const source = new CniConfigSource(netd, [bin], '', log);
    expect(await source.current()).toMatchObject({ ready: true, network: { name: 'berth' } });
    await writeFile(path.join(netd, '10-calico.conflist'), JSON.stringify(calico));
    const now = await source.current();
    expect(now).toMatchObject({ ready: true, network: { name: 'k8s-pod-network' } });
    expect(now.file).toMatch(/10-calico\.conflist$/);
    // The operator hears that berth's file is now unused, not that it shadows anything.
    expect(warnings()).toEqual([
      'berth\'s default network 99-berth-bridge.conflist is not used: 10-calico.conflist (network "k8s-pod-network") comes first; the default can be removed',
    ]);
  });

  it("warns when an older install's name still puts berth's default first", async () => {
    await copyFile(shipped, path.join(netd, '10-berth-bridge.conflist'));
    await writeFile(path.join(netd, '10-calico.conflist'), JSON.stringify(calico));
    const { log, warnings } = recordingLogger();
    const chosen = await new CniConfigSource(netd, [bin], '', log).current();
    expect(chosen.network?.name).toBe('berth');
    expect(warnings()).toEqual([expect.stringMatching(/10-berth-bridge\.conflist comes first, so 10-calico\.conflist .*not used/)]);
  });

  it("warns about a cluster network file that does not parse, which would leave pods on berth's", async () => {
    await copyFile(shipped, path.join(netd, '99-berth-bridge.conflist'));
    await writeFile(path.join(netd, '10-calico.conflist'), '{"cniVersion": "1.0.0", "name": ');
    const { log, warnings } = recordingLogger();
    expect((await new CniConfigSource(netd, [bin], '', log).current()).network?.name).toBe('berth');
    expect(warnings()).toEqual([expect.stringMatching(/^CNI configuration files skipped: 10-calico\.conflist: invalid JSON/)]);
  });

  it('does not warn when the operator named the network to use', async () => {
    await copyFile(shipped, path.join(netd, '10-berth-bridge.conflist'));
    await writeFile(path.join(netd, '10-calico.conflist'), JSON.stringify(calico));
    const { log, warnings } = recordingLogger();
    expect((await new CniConfigSource(netd, [bin], 'berth', log).current()).network?.name).toBe('berth');
    expect(warnings()).toEqual([]);
  });
});

describe('CNI CHECK of the bandwidth plugin', () => {
  it('applies only where a rate was configured', () => {
    expect(checkApplies({ type: 'bandwidth', capabilities: { bandwidth: true } }, {})).toBe(false);
    expect(checkApplies({ type: 'bandwidth', capabilities: { bandwidth: true } }, { bandwidth: { ingressRate: 1000 } })).toBe(true);
    expect(checkApplies({ type: 'bandwidth', egressRate: 1000 } as never, {})).toBe(true);
    expect(checkApplies({ type: 'bridge' }, {})).toBe(true);
  });

  it('is skipped for a pod without bandwidth annotations, run for one with them', async () => {
    const calls: PluginCall[] = [];
    const runner: PluginRunner = { run: async (c) => void calls.push(c) };
    const dir = await mkdtemp(path.join(tmpdir(), 'berth-cni-check-'));
    try {
      const mgr = new NetworkManager(new CniConfigSource(dir, [dir], '', silentLogger()), runner, 1000, silentLogger());
      const pod = (annotations: Record<string, string>): PodNetwork => ({
        identity: { name: 'p', namespace: 'ns', uid: 'u', sandboxId: 'id' },
        netns: '/x',
        ifname: 'eth0',
        network: {
          cniVersion: '1.0.0',
          name: 'berth',
          plugins: [{ type: 'bridge' }, { type: 'bandwidth', capabilities: { bandwidth: true } }],
        },
        inputs: { portMappings: [], annotations, dns: null, podCidr: '' },
        result: { cniVersion: '1.0.0' },
      });
      for (const p of ['bridge', 'bandwidth']) {
        await writeFile(path.join(dir, p), '#!/bin/sh\n');
        await chmod(path.join(dir, p), 0o755);
      }
      expect(await mgr.check(pod({}))).toBe('ok');
      expect(calls.map((c) => (c.config as { type: string }).type)).toEqual(['bridge']);
      calls.length = 0;
      expect(await mgr.check(pod({ 'kubernetes.io/ingress-bandwidth': '10M' }))).toBe('ok');
      expect(calls.map((c) => (c.config as { type: string }).type)).toEqual(['bridge', 'bandwidth']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('a failing CHECK', () => {
  const network: PodNetwork = {
    identity: { name: 'p', namespace: 'ns', uid: 'u', sandboxId: 'id' },
    netns: '/x',
    ifname: 'eth0',
    network: { cniVersion: '1.0.0', name: 'berth', plugins: [{ type: 'bandwidth' }] },
    inputs: { portMappings: [], annotations: {}, dns: null, podCidr: '' },
  };
  const record = (id: string): CheckedPod => ({ meta: { id, network }, status: { state: 'SANDBOX_READY' } });

  it('is logged as a warning once per kind of failure, the rest at debug level', async () => {
    const pods = new Map(['a', 'b', 'c'].map((id) => [id, record(id)]));
    const failure = 'CNI plugin bandwidth CHECK failed: stderr: panic: runtime error | [signal SIGSEGV] (40 more lines)';
    const { log, warnings, lines } = recordingLogger();
    const checks = new NetworkChecks({ check: async () => failure }, { list: () => [...pods.values()], get: (id) => pods.get(id) }, log);
    for (const r of pods.values()) await checks.run(r);
    expect(warnings()).toHaveLength(1);
    expect(lines.filter((l) => l.level === 20)).toHaveLength(2);
    expect(checks.last('c')?.result).toBe(failure);
    expect(failureKind('CHECK failed: CNI plugin portmap CHECK failed: x')).toBe('CNI plugin portmap CHECK');
  });
});

describe("a crashing plugin's error", () => {
  it('keeps the head of its stderr, not the whole trace', async () => {
    const { ExecPluginRunner } = await import('../src/cni/invoke.js');
    const dir = await mkdtemp(path.join(tmpdir(), 'berth-cni-crash-'));
    try {
      const plugin = path.join(dir, 'crasher');
      await writeFile(
        plugin,
        '#!/bin/sh\necho "panic: nil pointer" >&2\necho "[signal SIGSEGV]" >&2\nfor i in $(seq 40); do echo "goroutine frame $i" >&2; done\nexit 2\n',
      );
      await chmod(plugin, 0o755);
      const call = { binary: plugin, command: 'CHECK' as const, containerId: 'c', netns: '', ifname: 'eth0', args: '', path: dir, config: {}, timeoutMs: 5000 };
      const err = await new ExecPluginRunner().run(call).catch((e: unknown) => e as Error);
      expect((err as Error).message).toBe('CNI plugin crasher CHECK failed: stderr: panic: nil pointer | [signal SIGSEGV] (40 more lines)');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
