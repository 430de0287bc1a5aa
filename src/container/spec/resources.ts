import type { HostFacts } from '../../host/host-facts.js';
import type { LinuxResources, Rlimit } from '../../oci/spec-types.js';
import { invalidArgument } from '../../errors.js';

/** LinuxContainerResources as decoded from the CRI (int64 as strings). */
export interface CriResources {
  cpuPeriod: string;
  cpuQuota: string;
  cpuShares: string;
  memoryLimitInBytes: string;
  oomScoreAdj: string;
  cpusetCpus: string;
  cpusetMems: string;
  hugepageLimits: { pageSize: string; limit: string }[];
  unified: Record<string, string>;
  memorySwapLimitInBytes: string;
}

const n = (s: string | undefined) => (s ? Number(s) : 0);

/**
 * OCI cgroup resources from the CRI's. A memory limit without an explicit
 * swap limit also caps swap (no swap use), where the kernel accounts swap.
 */
export function ociResources(cri: CriResources | null, facts: Pick<HostFacts, 'swapAccounting'>, pidsLimit: number): LinuxResources {
  const res: LinuxResources = { devices: [{ allow: false, access: 'rwm' }] };
  if (pidsLimit > 0) res.pids = { limit: pidsLimit };
  if (!cri) return res;
  const cpu: NonNullable<LinuxResources['cpu']> = {};
  if (n(cri.cpuShares) > 0) cpu.shares = n(cri.cpuShares);
  if (n(cri.cpuQuota) !== 0) cpu.quota = n(cri.cpuQuota);
  if (n(cri.cpuPeriod) > 0) cpu.period = n(cri.cpuPeriod);
  if (cri.cpusetCpus) cpu.cpus = cri.cpusetCpus;
  if (cri.cpusetMems) cpu.mems = cri.cpusetMems;
  if (Object.keys(cpu).length > 0) res.cpu = cpu;
  const limit = n(cri.memoryLimitInBytes);
  if (limit < 0) throw invalidArgument('memory_limit_in_bytes must not be negative');
  if (limit > 0) {
    res.memory = { limit };
    const swap = n(cri.memorySwapLimitInBytes);
    if (facts.swapAccounting) res.memory.swap = swap > 0 ? swap : limit;
  }
  if (cri.hugepageLimits.length > 0) res.hugepageLimits = cri.hugepageLimits.map((h) => ({ pageSize: h.pageSize, limit: n(h.limit) }));
  if (Object.keys(cri.unified).length > 0) res.unified = { ...cri.unified };
  return res;
}

/** oom_score_adj, clamped to berth's own when lowering it needs CAP_SYS_RESOURCE berth lacks. */
export function oomScoreAdj(requested: number, facts: Pick<HostFacts, 'hasSysResource' | 'ownOomScoreAdj'>): number {
  if (requested < -1000 || requested > 1000) throw invalidArgument(`oom_score_adj ${requested} is outside -1000..1000`);
  return facts.hasSysResource ? requested : Math.max(requested, facts.ownOomScoreAdj);
}

/**
 * Rlimits from `default_ulimits` ("nofile=1048576:1048576"), clamped to
 * berth's own hard limits when raising them needs CAP_SYS_RESOURCE.
 */
export function rlimits(ulimits: string[], facts: Pick<HostFacts, 'hasSysResource' | 'hardLimits'>): Rlimit[] {
  return ulimits.map((u) => {
    const [name, values] = u.split('=') as [string, string];
    const [softText, hardText] = values.split(':');
    const type = `RLIMIT_${name.toUpperCase()}`;
    let soft = Number(softText);
    let hard = hardText !== undefined ? Number(hardText) : soft;
    const own = facts.hardLimits.get(type);
    if (!facts.hasSysResource && own !== undefined) {
      hard = Math.min(hard, own);
      soft = Math.min(soft, hard);
    }
    return { type, soft, hard };
  });
}
