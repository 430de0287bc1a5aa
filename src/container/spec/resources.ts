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
export function ociResources(
  cri: CriResources | null,
  facts: Pick<HostFacts, 'swapAccounting' | 'cgroupControllers' | 'cgroupV2Only'>,
  pidsLimit: number,
  onDropped?: (what: string[]) => void,
): LinuxResources {
  const res = requestedResources(cri, facts, pidsLimit);
  const dropped = fitToHost(res, facts);
  if (dropped.length > 0) onDropped?.(dropped);
  return res;
}

function requestedResources(cri: CriResources | null, facts: Pick<HostFacts, 'swapAccounting'>, pidsLimit: number): LinuxResources {
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

/**
 * Drops the limits a host cannot enforce, as containerd does by default
 * (tolerate_missing_hugetlb_controller): the kubelet sends a hugepage limit
 * of 0 for every page size in /sys/kernel/mm/hugepages whether or not the
 * hugetlb controller is there, and runc fails a container it cannot place
 * in such a cgroup. Returns what was dropped, for a debug line.
 */
export function fitToHost(res: LinuxResources, host: Pick<HostFacts, 'cgroupControllers' | 'cgroupV2Only'>): string[] {
  const has = (c: string) => host.cgroupControllers.has(c);
  const dropped: string[] = [];
  if (res.hugepageLimits && !has('hugetlb')) {
    delete res.hugepageLimits;
    dropped.push('hugepage limits (no hugetlb controller)');
  }
  if (res.pids && !has('pids')) {
    delete res.pids;
    dropped.push('pids limit (no pids controller)');
  }
  if (res.cpu && (res.cpu.cpus !== undefined || res.cpu.mems !== undefined) && !has('cpuset')) {
    delete res.cpu.cpus;
    delete res.cpu.mems;
    dropped.push('cpuset (no cpuset controller)');
  }
  if (res.cpu && (res.cpu.shares !== undefined || res.cpu.quota !== undefined || res.cpu.period !== undefined) && !has('cpu')) {
    delete res.cpu.shares;
    delete res.cpu.quota;
    delete res.cpu.period;
    dropped.push('cpu shares and quota (no cpu controller)');
  }
  if (res.cpu && Object.keys(res.cpu).length === 0) delete res.cpu;
  if (res.memory && !has('memory')) {
    delete res.memory;
    dropped.push('memory limit (no memory controller)');
  }
  if (res.unified) {
    // Keys name their controller ("memory.high", "hugetlb.2MB.max"); v1
    // hosts take none of them (runc refuses unified resources on v1).
    for (const key of Object.keys(res.unified)) {
      const controller = key.split('.')[0]!;
      if (host.cgroupV2Only && (has(controller) || controller === 'cgroup')) continue;
      delete res.unified[key];
      dropped.push(`unified ${key} (${host.cgroupV2Only ? `no ${controller} controller` : 'not a cgroup v2 host'})`);
    }
    if (Object.keys(res.unified).length === 0) delete res.unified;
  }
  return dropped;
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
