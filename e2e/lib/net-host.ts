import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/**
 * Host-side network helpers for the e2e tests: a client network namespace
 * joined to the host by a veth pair (so traffic to a published port comes
 * from "another machine"), and the clean-up of what the CNI plugins leave
 * on the host once every pod is gone.
 */
const run = promisify(execFile);

export async function sh(cmd: string, args: string[]): Promise<string> {
  return (await run(cmd, args)).stdout;
}

export interface ClientNamespace {
  name: string;
  hostAddress: string;
  exec(args: string[]): Promise<string>;
  remove(): Promise<void>;
}

export async function clientNamespace(name: string, hostCidr: string, nsCidr: string): Promise<ClientNamespace> {
  const hostIf = `${name}-h`.slice(0, 15);
  const nsIf = `${name}-n`.slice(0, 15);
  await sh('ip', ['netns', 'add', name]);
  await sh('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf]);
  await sh('ip', ['link', 'set', nsIf, 'netns', name]);
  await sh('ip', ['addr', 'add', hostCidr, 'dev', hostIf]);
  await sh('ip', ['link', 'set', hostIf, 'up']);
  await sh('ip', ['-n', name, 'addr', 'add', nsCidr, 'dev', nsIf]);
  await sh('ip', ['-n', name, 'link', 'set', nsIf, 'up']);
  await sh('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  return {
    name,
    hostAddress: hostCidr.split('/')[0]!,
    exec: (args) => sh('ip', ['netns', 'exec', name, ...args]),
    remove: async () => {
      await sh('ip', ['link', 'del', hostIf]).catch(() => '');
      await sh('ip', ['netns', 'del', name]).catch(() => '');
    },
  };
}

/** Veth interfaces enslaved to a bridge. */
export async function vethsOn(bridge: string): Promise<string[]> {
  const out = await sh('ip', ['-o', 'link', 'show', 'master', bridge]).catch(() => '');
  return out.split('\n').filter(Boolean);
}

/** NAT rules that mention a string (a port, a pod id). */
export async function natRulesWith(text: string): Promise<string[]> {
  return (await sh('iptables-save', ['-t', 'nat'])).split('\n').filter((l) => l.includes(text));
}

/**
 * Removes the chains the portmap plugin creates once and never deletes,
 * but only when no pod of anyone else still has a mapping in them.
 */
export async function removeIdlePortmapChains(): Promise<void> {
  const dnat = await sh('iptables', ['-t', 'nat', '-S', 'CNI-HOSTPORT-DNAT']).catch(() => '');
  if (dnat.split('\n').filter(Boolean).length > 1) return;
  const del = (args: string[]) => sh('iptables', ['-t', 'nat', ...args]).catch(() => '');
  await del(['-D', 'PREROUTING', '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'CNI-HOSTPORT-DNAT']);
  await del(['-D', 'OUTPUT', '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'CNI-HOSTPORT-DNAT']);
  await del(['-D', 'POSTROUTING', '-m', 'comment', '--comment', 'CNI portfwd requiring masquerade', '-j', 'CNI-HOSTPORT-MASQ']);
  for (const chain of ['CNI-HOSTPORT-DNAT', 'CNI-HOSTPORT-MASQ', 'CNI-HOSTPORT-SETMARK', 'CNI-HOSTPORT-SNAT']) {
    await del(['-F', chain]);
    await del(['-X', chain]);
  }
}
