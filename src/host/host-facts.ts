/**
 * Facts about the host that decide what berth may ask of runc: whether it
 * holds CAP_SYS_RESOURCE (without it a lower oom_score_adj or a higher
 * rlimit than its own makes runc fail), its own limits, and which cgroup
 * hierarchy and features the kernel offers. Read once at start-up.
 */

import { access, readFile } from 'node:fs/promises';

export interface HostFacts {
  hasSysResource: boolean;
  ownOomScoreAdj: number;
  /** Hard limits of this process, by RLIMIT_* name; undefined = unlimited. */
  hardLimits: Map<string, number | undefined>;
  cgroupV2Only: boolean;
  /**
   * cgroup controllers the OCI runtime can use for containers: on cgroup v2
   * the root's cgroup.controllers; on v1 (and hybrid hosts, whose v2
   * hierarchy runc does not use for limits) the mounted v1 hierarchies.
   */
  cgroupControllers: Set<string>;
  swapAccounting: boolean;
  apparmor: boolean;
  selinux: boolean;
}

const LIMIT_NAMES: Record<string, string> = {
  'Max cpu time': 'RLIMIT_CPU',
  'Max file size': 'RLIMIT_FSIZE',
  'Max data size': 'RLIMIT_DATA',
  'Max stack size': 'RLIMIT_STACK',
  'Max core file size': 'RLIMIT_CORE',
  'Max resident set': 'RLIMIT_RSS',
  'Max processes': 'RLIMIT_NPROC',
  'Max open files': 'RLIMIT_NOFILE',
  'Max locked memory': 'RLIMIT_MEMLOCK',
  'Max address space': 'RLIMIT_AS',
  'Max file locks': 'RLIMIT_LOCKS',
  'Max pending signals': 'RLIMIT_SIGPENDING',
  'Max msgqueue size': 'RLIMIT_MSGQUEUE',
  'Max nice priority': 'RLIMIT_NICE',
  'Max realtime priority': 'RLIMIT_RTPRIO',
  'Max realtime timeout': 'RLIMIT_RTTIME',
};

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

export async function readHostFacts(): Promise<HostFacts> {
  const status = await readFile('/proc/self/status', 'utf8');
  const capEff = BigInt(`0x${/CapEff:\s*([0-9a-f]+)/.exec(status)?.[1] ?? '0'}`);
  const CAP_SYS_RESOURCE = 24n;
  const hardLimits = new Map<string, number | undefined>();
  for (const line of (await readFile('/proc/self/limits', 'utf8')).split('\n').slice(1)) {
    const label = Object.keys(LIMIT_NAMES).find((l) => line.startsWith(l));
    if (!label) continue;
    const fields = line.slice(label.length).trim().split(/\s+/);
    hardLimits.set(LIMIT_NAMES[label]!, fields[1] === 'unlimited' ? undefined : Number(fields[1]));
  }
  const cgroupV2Only = await exists('/sys/fs/cgroup/cgroup.controllers');
  return {
    cgroupControllers: await cgroupControllers(cgroupV2Only),
    hasSysResource: ((capEff >> CAP_SYS_RESOURCE) & 1n) === 1n,
    ownOomScoreAdj: Number.parseInt(await readFile('/proc/self/oom_score_adj', 'utf8'), 10),
    hardLimits,
    cgroupV2Only,
    swapAccounting: cgroupV2Only || (await exists('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes')),
    apparmor: (await readFile('/sys/module/apparmor/parameters/enabled', 'utf8').catch(() => 'N')).trim() === 'Y',
    selinux: await exists('/sys/fs/selinux/enforce'),
  };
}

async function cgroupControllers(v2: boolean): Promise<Set<string>> {
  if (v2) return new Set((await readFile('/sys/fs/cgroup/cgroup.controllers', 'utf8')).trim().split(/\s+/).filter(Boolean));
  // /proc/cgroups: name, hierarchy id (0: not a v1 hierarchy), cgroups, enabled.
  const lines = (await readFile('/proc/cgroups', 'utf8').catch(() => '')).split('\n').filter((l) => l && !l.startsWith('#'));
  return new Set(
    lines
      .map((l) => l.split(/\s+/))
      .filter((f) => f[1] !== '0' && f[3] === '1')
      .map((f) => f[0]!),
  );
}
