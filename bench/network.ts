import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { ExecPluginRunner } from '../src/cni/invoke.js';
import { timed } from './measure.js';

const sh = promisify(execFile);
const BRIDGE = 'berthbench0';
const PLUGIN_DIR = '/usr/lib/cni';

/** The one CNI network both runtimes are given: a bridge with host-local addresses. */
const BRIDGE_PLUGIN = {
  type: 'bridge',
  bridge: BRIDGE,
  isGateway: true,
  ipMasq: false,
  hairpinMode: true,
  ipam: { type: 'host-local', ranges: [[{ subnet: '10.233.0.0/16' }]], routes: [{ dst: '0.0.0.0/0' }] },
};
const NETWORK = { cniVersion: '1.0.0', name: 'berth-bench', plugins: [BRIDGE_PLUGIN, { type: 'portmap', capabilities: { portMappings: true } }] };

/** Writes the network into its own configuration directory; returns that directory. */
export async function writeBenchNetwork(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, '10-bench.conflist'), JSON.stringify(NETWORK));
  return dir;
}

/** Removes what the plugins leave on the host once every pod is gone. */
export async function removeBenchNetwork(): Promise<void> {
  await removeStrayNamespaces();
  await sh('ip', ['link', 'del', BRIDGE]).catch(() => undefined);
  await rm(`/var/lib/cni/networks/${NETWORK.name}`, { recursive: true, force: true });
}

/**
 * Pod namespaces an interrupted run left behind: any named namespace with
 * an address in the bench subnet is one of ours (no other network uses it).
 */
async function removeStrayNamespaces(): Promise<void> {
  const { stdout } = await sh('ip', ['netns', 'list']).catch(() => ({ stdout: '' }));
  const prefix = `inet ${BRIDGE_PLUGIN.ipam.ranges[0]![0]!.subnet.split('.').slice(0, 2).join('.')}.`;
  for (const name of stdout
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter((n): n is string => !!n)) {
    const { stdout: addrs } = await sh('ip', ['-n', name, '-4', '-o', 'addr']).catch(() => ({ stdout: '' }));
    if (addrs.includes(prefix)) await sh('ip', ['netns', 'del', name]).catch(() => undefined);
  }
}

/**
 * The bridge plugin's own ADD + DEL on a fresh network namespace: the part
 * of pod set-up and tear-down that neither runtime can avoid. Called the way
 * berth calls plugins, through the same runner.
 */
export async function measureCniFloor(runs: number): Promise<number[]> {
  const runner = new ExecPluginRunner();
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const ns = `berthbench-cni-${process.pid}-${i}`;
    await sh('ip', ['netns', 'add', ns]);
    try {
      const [, ms] = await timed(async () => {
        for (const command of ['ADD', 'DEL'] as const) {
          await runner.run({
            binary: path.join(PLUGIN_DIR, 'bridge'),
            command,
            containerId: ns,
            netns: `/run/netns/${ns}`,
            ifname: 'eth0',
            args: '',
            path: PLUGIN_DIR,
            config: { cniVersion: NETWORK.cniVersion, name: NETWORK.name, ...BRIDGE_PLUGIN },
            timeoutMs: 30_000,
          });
        }
      });
      out.push(ms);
    } finally {
      await sh('ip', ['netns', 'del', ns]).catch(() => undefined);
    }
  }
  return out;
}
