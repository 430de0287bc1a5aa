/**
 * CPU, memory, swap, process and pressure figures of one cgroup, read from
 * cgroup v1 controllers or the v2 unified hierarchy, whichever holds each
 * controller on this host (this machine is a v1/v2 hybrid).
 */

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { type PsiLine, parseFlatKeyed, parseNumber, parsePressure, parseProcCgroup } from './cgroup-files.js';

export interface CgroupSample {
  cpuUsageNs?: number;
  memoryUsage?: number;
  memoryLimit?: number;
  workingSet?: number;
  rss?: number;
  pageFaults?: number;
  majorPageFaults?: number;
  swapUsage?: number;
  swapLimit?: number;
  pids?: number;
  cpuPressure?: { some?: PsiLine; full?: PsiLine };
  memoryPressure?: { some?: PsiLine; full?: PsiLine };
  ioPressure?: { some?: PsiLine; full?: PsiLine };
}

export const CGROUP_ROOT = '/sys/fs/cgroup';
const UNLIMITED = 2 ** 62;

const read = (file: string) => readFile(file, 'utf8').catch(() => undefined);

/** Where each hierarchy of a cgroup is: from a process's /proc/<pid>/cgroup, else the same path everywhere. */
export async function cgroupPaths(pid: number | undefined, fallback: string): Promise<Map<string, string>> {
  if (pid) {
    const text = await read(`/proc/${pid}/cgroup`);
    if (text) return parseProcCgroup(text);
  }
  return new Map([
    ['cpuacct', fallback],
    ['memory', fallback],
    ['pids', fallback],
    ['', fallback],
  ]);
}

export async function readCgroup(paths: Map<string, string>): Promise<CgroupSample> {
  const s: CgroupSample = {};
  const v1 = (controller: string, file: string) => {
    const p = paths.get(controller);
    return p === undefined ? Promise.resolve(undefined) : read(path.join(CGROUP_ROOT, controller, p, file));
  };
  const v2path = paths.get('');
  const v2 = (file: string) =>
    v2path === undefined
      ? Promise.resolve(undefined)
      : read(path.join(CGROUP_ROOT, 'unified', v2path, file)).then((t) => t ?? read(path.join(CGROUP_ROOT, v2path, file)));

  const cpuacct = (await v1('cpuacct', 'cpuacct.usage')) ?? (await v1('cpu,cpuacct', 'cpuacct.usage'));
  if (cpuacct !== undefined) s.cpuUsageNs = parseNumber(cpuacct);
  else {
    const stat = await v2('cpu.stat');
    if (stat) s.cpuUsageNs = (parseFlatKeyed(stat).get('usage_usec') ?? 0) * 1000;
  }
  const memUsage = await v1('memory', 'memory.usage_in_bytes');
  if (memUsage !== undefined) {
    s.memoryUsage = parseNumber(memUsage);
    const limit = parseNumber((await v1('memory', 'memory.limit_in_bytes')) ?? '');
    s.memoryLimit = limit !== undefined && limit < UNLIMITED ? limit : undefined;
    const stat = parseFlatKeyed((await v1('memory', 'memory.stat')) ?? '');
    const inactive = stat.get('total_inactive_file') ?? stat.get('inactive_file') ?? 0;
    s.workingSet = Math.max(0, (s.memoryUsage ?? 0) - inactive);
    s.rss = stat.get('total_rss') ?? stat.get('rss');
    s.pageFaults = stat.get('total_pgfault') ?? stat.get('pgfault');
    s.majorPageFaults = stat.get('total_pgmajfault') ?? stat.get('pgmajfault');
    const memsw = parseNumber((await v1('memory', 'memory.memsw.usage_in_bytes')) ?? '');
    if (memsw !== undefined && s.memoryUsage !== undefined) s.swapUsage = Math.max(0, memsw - s.memoryUsage);
  } else {
    const current = await v2('memory.current');
    if (current !== undefined) {
      s.memoryUsage = parseNumber(current);
      s.memoryLimit = parseNumber((await v2('memory.max')) ?? '');
      const stat = parseFlatKeyed((await v2('memory.stat')) ?? '');
      s.workingSet = Math.max(0, (s.memoryUsage ?? 0) - (stat.get('inactive_file') ?? 0));
      s.rss = stat.get('anon');
      s.pageFaults = stat.get('pgfault');
      s.majorPageFaults = stat.get('pgmajfault');
      s.swapUsage = parseNumber((await v2('memory.swap.current')) ?? '');
      s.swapLimit = parseNumber((await v2('memory.swap.max')) ?? '');
    }
  }
  s.pids = parseNumber((await v1('pids', 'pids.current')) ?? (await v2('pids.current')) ?? '');
  for (const [key, file] of [
    ['cpuPressure', 'cpu.pressure'],
    ['memoryPressure', 'memory.pressure'],
    ['ioPressure', 'io.pressure'],
  ] as const) {
    const text = await v2(file);
    if (text) s[key] = parsePressure(text);
  }
  return s;
}
