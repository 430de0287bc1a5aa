import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';

/** Timing and process figures for the benchmark. */
export async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const value = await fn();
  return [value, performance.now() - t0];
}

export function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

/**
 * Resident memory of a process, the anonymous part of it (what the
 * process allocated, as opposed to pages of its executable and libraries),
 * and its CPU time so far (user + system, ms).
 */
export async function processFigures(pid: number): Promise<{ rssBytes: number; rssAnonBytes: number; cpuMs: number; sysCpuMs: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const anonKb = Number(/RssAnon:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
  // utime + stime; stime alone is the kernel's share (file system work, mostly).
  return { rssBytes: rssKb * 1024, rssAnonBytes: anonKb * 1024, cpuMs: ticks * 10, sysCpuMs: Number(fields[12] ?? 0) * 10 };
}

/** Busy CPU time of the whole node so far (all cores, ms), from /proc/stat. */
export async function nodeBusyMs(): Promise<number> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!;
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) * 10;
}

export function median(values: number[]): number {
  return quantile(values, 0.5);
}
