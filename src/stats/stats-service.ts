/**
 * Container and pod statistics for ContainerStats, PodSandboxStats and
 * their list and stream forms: cgroup figures, a CPU rate over the time
 * since the previous sample, writable-layer usage (cached) and pod network
 * counters read from a process inside the pod's network namespace.
 */

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ContainerRecord, ContainerService } from '../container/container-service.js';
import { containerCgroupsPath } from '../cgroups/cgroup-parent.js';
import type { CgroupManager } from '../config/schema.js';
import type { ContainerStats } from '../generated/runtime/v1/ContainerStats.js';
import type { PodSandboxStats } from '../generated/runtime/v1/PodSandboxStats.js';
import type { PsiStats } from '../generated/runtime/v1/PsiStats.js';
import type { SandboxRecord, SandboxService } from '../sandbox/sandbox-service.js';
import { nowNs } from '../util/time.js';
import { parseNetDev, type PsiLine } from './cgroup-files.js';
import { type CgroupSample, cgroupPaths, readCgroup } from './cgroup-stats.js';
import { LayerUsageCache } from './layer-usage.js';

const u64 = (v: number | undefined) => (v === undefined ? null : { value: String(Math.max(0, Math.round(v))) });

export class StatsService {
  private readonly cpuSamples = new Map<string, { usage: number; at: number }>();
  private readonly layers = new LayerUsageCache();

  constructor(
    private readonly containers: ContainerService,
    private readonly sandboxes: SandboxService,
    private readonly cgroupManager: CgroupManager,
    private readonly containerFsMountpoint: () => string,
  ) {}

  private async sample(key: string, pid: number | undefined, fallbackPath: string): Promise<{ cg: CgroupSample; nanoCores?: number }> {
    const paths = await cgroupPaths(pid, fallbackPath);
    let cg = await readCgroup(paths);
    const now = performance.now();
    let prev = this.cpuSamples.get(key);
    if (cg.cpuUsageNs !== undefined && (!prev || now - prev.at > 60_000)) {
      // No recent sample to compare with: take a second one shortly after.
      prev = { usage: cg.cpuUsageNs, at: now };
      await new Promise((r) => setTimeout(r, 100));
      cg = await readCgroup(paths);
    }
    const at = performance.now();
    let nanoCores: number | undefined;
    if (cg.cpuUsageNs !== undefined && prev && at > prev.at) nanoCores = ((cg.cpuUsageNs - prev.usage) / ((at - prev.at) * 1e6)) * 1e9;
    if (cg.cpuUsageNs !== undefined) this.cpuSamples.set(key, { usage: cg.cpuUsageNs, at });
    return { cg, nanoCores };
  }

  async containerStats(record: ContainerRecord): Promise<ContainerStats> {
    const { meta, status } = record;
    const ts = nowNs();
    const running = status.state === 'CONTAINER_RUNNING';
    const sandbox = this.sandboxes.get(meta.sandboxId);
    const cgPath = containerCgroupsPath(this.cgroupManager, sandbox?.meta.cgroupParent ?? '', meta.id);
    // A container that is not running has no cgroup to read: zeroed stats, not an error.
    const { cg, nanoCores } = running ? await this.sample(meta.id, status.pid, cgPath) : { cg: {} as CgroupSample, nanoCores: 0 };
    const layer = await this.layers.get(meta.id, path.join(meta.persistDir, 'fs', 'upper'));
    return {
      attributes: { id: meta.id, metadata: meta.metadata, labels: meta.labels, annotations: meta.annotations },
      cpu: { timestamp: ts, usageCoreNanoSeconds: u64(cg.cpuUsageNs ?? 0), usageNanoCores: u64(nanoCores ?? 0), psi: psi(cg.cpuPressure) },
      memory: memory(ts, cg),
      writableLayer: { timestamp: ts, fsId: { mountpoint: this.containerFsMountpoint() }, usedBytes: u64(layer.bytes), inodesUsed: u64(layer.inodes) },
      swap: {
        timestamp: ts,
        swapUsageBytes: u64(cg.swapUsage ?? 0),
        swapAvailableBytes: u64(cg.swapLimit !== undefined ? Math.max(0, cg.swapLimit - (cg.swapUsage ?? 0)) : 0),
      },
      io: { timestamp: ts, psi: psi(cg.ioPressure) },
    };
  }

  async podStats(record: SandboxRecord): Promise<PodSandboxStats> {
    const ts = nowNs();
    const containers = this.containers.store.list().filter((c) => c.meta.sandboxId === record.meta.id);
    const running = containers.filter((c) => c.status.state === 'CONTAINER_RUNNING' && c.status.pid);
    const stats = await Promise.all(containers.filter((c) => !c.meta.infra).map((c) => this.containerStats(c)));
    let cg: CgroupSample = {};
    let nanoCores: number | undefined;
    if (record.meta.cgroupParent && record.status.state === 'SANDBOX_READY') {
      ({ cg, nanoCores } = await this.sample(`pod:${record.meta.id}`, undefined, record.meta.cgroupParent));
    } else {
      // No pod cgroup of its own: the pod is the sum of its containers.
      cg = { cpuUsageNs: 0, memoryUsage: 0, workingSet: 0, rss: 0, pids: 0 };
      nanoCores = 0;
      for (const s of stats) {
        cg.cpuUsageNs! += Number(s.cpu?.usageCoreNanoSeconds?.value ?? 0);
        nanoCores += Number(s.cpu?.usageNanoCores?.value ?? 0);
        cg.memoryUsage! += Number(s.memory?.usageBytes?.value ?? 0);
        cg.workingSet! += Number(s.memory?.workingSetBytes?.value ?? 0);
        cg.rss! += Number(s.memory?.rssBytes?.value ?? 0);
      }
      cg.pids = undefined;
    }
    const processCount = cg.pids ?? (await Promise.all(running.map((c) => countPids(c.status.pid!)))).reduce((a, b) => a + b, 0);
    const net = running[0]?.status.pid && record.meta.namespaces.network ? await netUsage(running[0].status.pid) : [];
    const iface = (n: (typeof net)[number]) => ({
      name: n.name,
      rxBytes: u64(n.rxBytes),
      rxErrors: u64(n.rxErrors),
      txBytes: u64(n.txBytes),
      txErrors: u64(n.txErrors),
    });
    const primary = net.find((n) => n.name === 'eth0');
    return {
      attributes: { id: record.meta.id, metadata: record.meta.config.metadata, labels: record.meta.config.labels, annotations: record.meta.config.annotations },
      linux: {
        cpu: { timestamp: ts, usageCoreNanoSeconds: u64(cg.cpuUsageNs ?? 0), usageNanoCores: u64(nanoCores ?? 0), psi: psi(cg.cpuPressure) },
        memory: memory(ts, cg),
        network: { timestamp: ts, defaultInterface: primary ? iface(primary) : null, interfaces: net.filter((n) => n.name !== 'lo').map(iface) },
        process: { timestamp: ts, processCount: u64(processCount) },
        containers: stats,
        io: { timestamp: ts, psi: psi(cg.ioPressure) },
      },
      windows: null,
    };
  }

  /** The writable layers of all containers together (ImageFsInfo.container_filesystems). */
  async containerFilesystem(): Promise<{ mountpoint: string; bytes: number; inodes: number }> {
    let bytes = 0;
    let inodes = 0;
    for (const c of this.containers.store.list()) {
      const u = await this.layers.get(c.meta.id, path.join(c.meta.persistDir, 'fs', 'upper'));
      bytes += u.bytes;
      inodes += u.inodes;
    }
    return { mountpoint: this.containerFsMountpoint(), bytes, inodes };
  }

  forget(id: string): void {
    this.cpuSamples.delete(id);
    this.layers.forget(id);
  }
}

function memory(ts: string, cg: CgroupSample) {
  return {
    timestamp: ts,
    workingSetBytes: u64(cg.workingSet ?? 0),
    availableBytes: u64(cg.memoryLimit !== undefined ? Math.max(0, cg.memoryLimit - (cg.workingSet ?? 0)) : 0),
    usageBytes: u64(cg.memoryUsage ?? 0),
    rssBytes: u64(cg.rss ?? 0),
    pageFaults: u64(cg.pageFaults ?? 0),
    majorPageFaults: u64(cg.majorPageFaults ?? 0),
    psi: psi(cg.memoryPressure),
  };
}

/** PSI from the kernel (totals in microseconds) as the CRI wants it (nanoseconds). */
function psi(p: { some?: PsiLine; full?: PsiLine } | undefined): PsiStats | null {
  if (!p) return null;
  const data = (l: PsiLine | undefined) => (l ? { Total: String(l.total * 1000), Avg10: l.avg10, Avg60: l.avg60, Avg300: l.avg300 } : null);
  return { Full: data(p.full), Some: data(p.some) };
}

/** Interface counters of the network namespace a process lives in. */
async function netUsage(pid: number) {
  const text = await readFile(`/proc/${pid}/net/dev`, 'utf8').catch(() => '');
  return parseNetDev(text);
}

async function countPids(pid: number): Promise<number> {
  const cg = await readFile(`/proc/${pid}/cgroup`, 'utf8').catch(() => '');
  const line = cg.split('\n').find((l) => /:pids:/.test(l));
  if (!line) return 1;
  const text = await readFile(path.join('/sys/fs/cgroup/pids', line.split(':')[2]!, 'pids.current'), 'utf8').catch(() => '1');
  return Number(text.trim()) || 1;
}
