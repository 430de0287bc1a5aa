import { readFile } from 'node:fs/promises';
import { invalidArgument } from '../../errors.js';
import type { Capabilities } from '../../oci/spec-types.js';

/** Linux capabilities in number order (capability.h); the host may know fewer. */
export const ALL_CAPABILITIES = [
  'CHOWN',
  'DAC_OVERRIDE',
  'DAC_READ_SEARCH',
  'FOWNER',
  'FSETID',
  'KILL',
  'SETGID',
  'SETUID',
  'SETPCAP',
  'LINUX_IMMUTABLE',
  'NET_BIND_SERVICE',
  'NET_BROADCAST',
  'NET_ADMIN',
  'NET_RAW',
  'IPC_LOCK',
  'IPC_OWNER',
  'SYS_MODULE',
  'SYS_RAWIO',
  'SYS_CHROOT',
  'SYS_PTRACE',
  'SYS_PACCT',
  'SYS_ADMIN',
  'SYS_BOOT',
  'SYS_NICE',
  'SYS_RESOURCE',
  'SYS_TIME',
  'SYS_TTY_CONFIG',
  'MKNOD',
  'LEASE',
  'AUDIT_WRITE',
  'AUDIT_CONTROL',
  'SETFCAP',
  'MAC_OVERRIDE',
  'MAC_ADMIN',
  'SYSLOG',
  'WAKE_ALARM',
  'BLOCK_SUSPEND',
  'AUDIT_READ',
  'PERFMON',
  'BPF',
  'CHECKPOINT_RESTORE',
] as const;

let hostCaps: string[] | undefined;

/**
 * The capabilities a container can be given here: those this kernel knows
 * (/proc/sys/kernel/cap_last_cap) and that berth itself holds in its
 * bounding set. A capability berth lacks (CAP_SYS_RESOURCE on some hosts)
 * cannot be passed on: asking runc for it fails every privileged container.
 */
export async function hostCapabilities(): Promise<string[]> {
  if (hostCaps) return hostCaps;
  let last = ALL_CAPABILITIES.length - 1;
  let bounding = (1n << 64n) - 1n;
  try {
    last = Math.min(last, Number.parseInt(await readFile('/proc/sys/kernel/cap_last_cap', 'utf8'), 10));
    const status = await readFile('/proc/self/status', 'utf8');
    const m = /CapBnd:\s*([0-9a-f]+)/.exec(status);
    if (m) bounding = BigInt(`0x${m[1]}`);
  } catch {
    // Not Linux or no /proc: assume the full list.
  }
  hostCaps = ALL_CAPABILITIES.slice(0, last + 1)
    .filter((_c, i) => ((bounding >> BigInt(i)) & 1n) === 1n)
    .map((c) => `CAP_${c}`);
  return hostCaps;
}

function normalise(name: string): string {
  const upper = name.toUpperCase();
  return upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
}

/**
 * The capability sets of a container process. `ALL` in drop starts from
 * nothing; `ALL` in add grants everything the host knows; individual
 * names apply after. Privileged containers get everything.
 */
export function capabilitySets(opts: { defaults: string[]; add: string[]; drop: string[]; privileged: boolean; host: string[] }): Capabilities {
  const known = new Set(opts.host);
  const check = (list: string[]) => {
    for (const c of list) {
      if (c.toUpperCase() === 'ALL') continue;
      if (!ALL_CAPABILITIES.includes(normalise(c).slice(4) as (typeof ALL_CAPABILITIES)[number])) {
        throw invalidArgument(`unknown capability "${c}"`);
      }
    }
  };
  check(opts.add);
  check(opts.drop);
  let set: string[];
  if (opts.privileged) set = [...opts.host];
  else {
    const caps = new Set(opts.defaults.map(normalise));
    if (opts.drop.some((c) => c.toUpperCase() === 'ALL')) caps.clear();
    if (opts.add.some((c) => c.toUpperCase() === 'ALL')) for (const c of opts.host) caps.add(c);
    for (const c of opts.add) if (c.toUpperCase() !== 'ALL') caps.add(normalise(c));
    for (const c of opts.drop) if (c.toUpperCase() !== 'ALL') caps.delete(normalise(c));
    set = opts.host.filter((c) => caps.has(c));
    for (const c of caps) if (!known.has(c)) set.push(c);
  }
  // The kernel drops permitted and effective sets at exec for a non-root
  // user (no ambient set), so the same sets are right for every uid.
  return { bounding: set, permitted: [...set], effective: [...set], inheritable: [], ambient: [] };
}
