import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DensityFigures } from './density.js';
import type { FloorFigures } from './floor.js';
import type { ChurnFigures } from './churn.js';
import type { PullFigures } from './pull.js';
import { median, quantile } from './measure.js';
import { LIFECYCLE_CALLS } from './workloads.js';
import { checkTargets, churnGrowthBytes } from './targets.js';

export interface RuntimeResults {
  startToVersionMs: number[];
  idleRssBytes: number;
  idleRssAnonBytes: number;
  busyRssBytes: number;
  pullMs: number;
  listImagesMs: number[];
  lifecycle: Record<string, number[]>;
  parallelStartMs: number;
  execProbeMs: number[];
  execProbeNodeCpuMs: number;
  execProbeDaemonCpuMs: number;
  density?: DensityFigures;
  /** Medians over the pull images, with each pull's wall time. */
  bigPull?: PullFigures & { samplesMs?: number[] };
  /** Restart with the density pods running, to every container listed running. */
  restartMs?: number;
  churn?: ChurnFigures;
}

export interface BenchResults {
  date: string;
  runs: number;
  probeSeconds: number;
  berth: RuntimeResults;
  containerd: RuntimeResults;
  floor: FloorFigures;
  cniAddDelMs: number[];
  bigImage: { compressedBytes: number; unpackedBytes: number; layers: number; tarFloorMs: number };
  /** An empty node process on this machine: the floor of any Node daemon's memory. */
  nodeBaseline: { rssBytes: number; rssAnonBytes: number };
}

const RESULTS = fileURLToPath(new URL('../../bench/results/', import.meta.url));
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '–');
const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}×` : '–');
const mib = (b: number) => (b / 1048576).toFixed(1);

/** Markdown tables and an SVG chart of the life-cycle medians. */
export async function writeReport(r: BenchResults): Promise<string> {
  const dir = path.join(RESULTS, r.date.replace(/[:.]/g, '-'));
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'results.json'), `${JSON.stringify(r, null, 2)}\n`);
  await writeFile(path.join(dir, 'lifecycle.svg'), lifecycleChart(r));
  if (r.berth.density && r.containerd.density)
    await writeFile(path.join(dir, 'rss.svg'), rssChart(`at ${r.berth.density.pods} pods, by seconds`, r.berth.density.rss, r.containerd.density.rss));
  if (r.berth.churn && r.containerd.churn) {
    const points = (c: ChurnFigures) => c.rss.map((p) => ({ t: p.cycle, bytes: p.bytes }));
    await writeFile(path.join(dir, 'churn.svg'), rssChart('under churn, by cycle', points(r.berth.churn), points(r.containerd.churn)));
  }
  await writeFile(path.join(dir, 'report.md'), markdown(r));
  return path.join(dir, 'report.md');
}

function markdown(r: BenchResults): string {
  const b = r.berth;
  const c = r.containerd;
  const floorPlain = median(r.floor.plain);
  const floorOverlay = median(r.floor.overlay);
  const cni = median(r.cniAddDelMs);
  const lines = [
    `# berth benchmark, ${r.date}`,
    '',
    `Machine: ${os.cpus().length} cores, Linux ${os.release()}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB. Medians unless noted; ${r.runs} interleaved life cycles per runtime.`,
    '',
    '## Life cycle (ms)',
    '',
    '| call | berth p50 | p90 | p99 | containerd p50 | p90 | p99 | berth/containerd |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const k of [...LIFECYCLE_CALLS, 'total'] as const) {
    const bv = b.lifecycle[k] ?? [];
    const cv = c.lifecycle[k] ?? [];
    lines.push(
      `| ${k} | ${f1(median(bv))} | ${f1(quantile(bv, 0.9))} | ${f1(quantile(bv, 0.99))} | ${f1(median(cv))} | ${f1(quantile(cv, 0.9))} | ${f1(quantile(cv, 0.99))} | ${ratio(median(bv), median(cv))} |`,
    );
  }
  const total = median(b.lifecycle.total ?? []);
  lines.push(
    '',
    `Floor: raw runc create + start + kill + delete ${f1(floorPlain)} ms (${f1(floorOverlay)} ms on overlayfs); CNI bridge ADD + DEL ${f1(cni)} ms.`,
    `berth's whole life cycle / (overlay floor + CNI): ${ratio(total, floorOverlay + cni)}.`,
    '',
    '![life cycle medians](lifecycle.svg)',
    '',
    '## Other workloads',
    '',
    '| measure | berth | containerd | berth/containerd |',
    '|---|---|---|---|',
  );
  const row = (name: string, bv: number, cv: number, fmt: (n: number) => string = f1) => lines.push(`| ${name} | ${fmt(bv)} | ${fmt(cv)} | ${ratio(bv, cv)} |`);
  row('daemon start to first Version (ms)', median(b.startToVersionMs), median(c.startToVersionMs));
  row('pull of the 3 MB busybox image, cold (ms)', b.pullMs, c.pullMs);
  row('ListImages (ms)', median(b.listImagesMs), median(c.listImagesMs));
  row('parallel start of 20 pods (ms)', b.parallelStartMs, c.parallelStartMs);
  row('ExecSync probe p50 (ms)', median(b.execProbeMs), median(c.execProbeMs));
  row(`node CPU during ${r.probeSeconds} s of probes (ms)`, b.execProbeNodeCpuMs, c.execProbeNodeCpuMs);
  row('daemon CPU during probes (ms)', b.execProbeDaemonCpuMs, c.execProbeDaemonCpuMs);
  row('daemon RSS idle (MiB)', b.idleRssBytes, c.idleRssBytes, mib);
  row('… of which anonymous (MiB)', b.idleRssAnonBytes, c.idleRssAnonBytes, mib);
  row('daemon RSS with 10 pods after probes (MiB)', b.busyRssBytes, c.busyRssBytes, mib);
  if (b.density && c.density) {
    const bd = b.density;
    const cd = c.density;
    const last = (d: DensityFigures) => d.rss.at(-1)?.bytes ?? NaN;
    row(`ListPodSandbox at ${bd.pods} pods (ms)`, median(bd.listPodsMs), median(cd.listPodsMs));
    row(`ListContainers at ${bd.pods} pods (ms)`, median(bd.listContainersMs), median(cd.listContainersMs));
    row('ContainerStatus (ms)', median(bd.containerStatusMs), median(cd.containerStatusMs));
    row(`daemon RSS at ${bd.pods} pods (MiB)`, last(bd), last(cd), mib);
    row('… of which anonymous (MiB)', bd.rss.at(-1)?.anonBytes ?? NaN, cd.rss.at(-1)?.anonBytes ?? NaN, mib);
    row(`daemon CPU during ${bd.rss.length} s of polling (ms)`, bd.daemonCpuMs, cd.daemonCpuMs);
    if (b.restartMs !== undefined && c.restartMs !== undefined) row(`restart with ${bd.pods} running containers to ready (ms)`, b.restartMs, c.restartMs);
    lines.push('', '![daemon RSS at density](rss.svg)');
  }
  if (b.bigPull && c.bigPull) {
    const img = r.bigImage;
    const n = b.bigPull.samplesMs?.length ?? 1;
    lines.push(
      '',
      `## Cold pull of a ${img.layers}-layer gzip image (${(img.compressedBytes / 1e6).toFixed(1)} MB compressed, ${(img.unpackedBytes / 1e6).toFixed(1)} MB of tar), median of ${n} images`,
      '',
      '| measure | berth | containerd | berth/containerd | berth/tar floor |',
      '|---|---|---|---|---|',
      `| wall (ms) | ${f1(b.bigPull.ms)} | ${f1(c.bigPull.ms)} | ${ratio(b.bigPull.ms, c.bigPull.ms)} | ${ratio(b.bigPull.ms, img.tarFloorMs)} |`,
      `| daemon CPU (ms) | ${f1(b.bigPull.daemonCpuMs)} | ${f1(c.bigPull.daemonCpuMs)} | ${ratio(b.bigPull.daemonCpuMs, c.bigPull.daemonCpuMs)} | |`,
      `| node CPU (ms) | ${f1(b.bigPull.nodeCpuMs)} | ${f1(c.bigPull.nodeCpuMs)} | ${ratio(b.bigPull.nodeCpuMs, c.bigPull.nodeCpuMs)} | |`,
      '',
      `Floor: GNU \`tar -xzpf\` of the same layers in order, from local files: ${f1(img.tarFloorMs)} ms.`,
    );
  }
  if (b.churn && c.churn) {
    lines.push(
      '',
      `## Churn: ${b.churn.cycles} container create/start/stop/remove cycles in one pod`,
      '',
      '| measure | berth | containerd |',
      '|---|---|---|',
      `| RSS after warm-up (MiB) | ${mib(b.churn.rss[0]?.bytes ?? NaN)} | ${mib(c.churn.rss[0]?.bytes ?? NaN)} |`,
      `| RSS at the end (MiB) | ${mib(b.churn.rss.at(-1)?.bytes ?? NaN)} | ${mib(c.churn.rss.at(-1)?.bytes ?? NaN)} |`,
      `| growth, last tenth over first tenth (MiB) | ${mib(churnGrowthBytes(b.churn))} | ${mib(churnGrowthBytes(c.churn))} |`,
      '',
      '![daemon RSS under churn](churn.svg)',
    );
  }
  lines.push('', '## Targets', '', '| target | berth | bound | met |', '|---|---|---|---|');
  const checks = checkTargets(r);
  for (const t of checks) lines.push(`| ${t.target} | ${t.measured} | ${t.bound} | ${t.met === undefined ? '?' : t.met ? 'yes' : '**no**'} |`);
  const missed = checks.filter((t) => t.met === false);
  if (missed.length > 0) {
    lines.push('', '### Missed targets and what this run measured about them', '');
    for (const t of missed) lines.push(`- **${t.target}** (${t.measured} against ${t.bound}): ${t.cause ?? 'no measured cause recorded'}.`);
  }
  return `${lines.join('\n')}\n`;
}

function lifecycleChart(r: BenchResults): string {
  const calls = [...LIFECYCLE_CALLS];
  const values = calls.flatMap((k) => [median(r.berth.lifecycle[k] ?? []), median(r.containerd.lifecycle[k] ?? [])]);
  const max = Math.max(1, ...values.filter(Number.isFinite));
  const rowH = 34;
  const width = 640;
  const left = 150;
  const bars = calls.map((k, i) => {
    const y = 30 + i * rowH;
    const bw = ((median(r.berth.lifecycle[k] ?? []) || 0) / max) * (width - left - 60);
    const cw = ((median(r.containerd.lifecycle[k] ?? []) || 0) / max) * (width - left - 60);
    return (
      `<text x="${left - 6}" y="${y + 18}" text-anchor="end">${k}</text>` +
      `<rect x="${left}" y="${y}" width="${bw.toFixed(1)}" height="12" fill="#2a7ab0"/><text x="${(left + bw + 4).toFixed(1)}" y="${y + 10}">${f1(median(r.berth.lifecycle[k] ?? []))}</text>` +
      `<rect x="${left}" y="${y + 14}" width="${cw.toFixed(1)}" height="12" fill="#c07a2a"/><text x="${(left + cw + 4).toFixed(1)}" y="${y + 24}">${f1(median(r.containerd.lifecycle[k] ?? []))}</text>`
    );
  });
  const height = 40 + calls.length * rowH + 20;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">` +
    `<text x="10" y="16" font-size="13">Life-cycle call medians (ms): berth (blue) vs containerd (orange)</text>${bars.join('')}</svg>\n`
  );
}

/** Daemon RSS over time (or cycles), both runtimes on one axis. */
function rssChart(title: string, b: { t: number; bytes: number }[], c: { t: number; bytes: number }[]): string {
  const width = 640;
  const height = 260;
  const pad = 40;
  const maxT = Math.max(1, ...b.map((p) => p.t), ...c.map((p) => p.t));
  const maxB = Math.max(1, ...b.map((p) => p.bytes), ...c.map((p) => p.bytes)) * 1.1;
  const line = (d: { t: number; bytes: number }[], color: string) =>
    `<polyline fill="none" stroke="${color}" stroke-width="2" points="${d
      .map((p) => `${(pad + (p.t / maxT) * (width - 2 * pad)).toFixed(1)},${(height - pad - (p.bytes / maxB) * (height - 2 * pad)).toFixed(1)}`)
      .join(' ')}"/>`;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">` +
    `<text x="10" y="16" font-size="13">Daemon RSS (MiB, top = ${mib(maxB)}) ${title} up to ${maxT.toFixed(0)}: berth (blue), containerd (orange)</text>` +
    `<line x1="${pad}" y1="${height - pad}" x2="${width - pad}" y2="${height - pad}" stroke="#888"/><line x1="${pad}" y1="${pad}" x2="${pad}" y2="${height - pad}" stroke="#888"/>` +
    `${line(b, '#2a7ab0')}${line(c, '#c07a2a')}</svg>\n`
  );
}
