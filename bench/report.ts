import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { lifecycleChart, rssChart } from './charts.js';
import { median, quantile } from './measure.js';
import { type BenchResults, bestAnchor, callMeasures, RUNTIMES, type RuntimeResults } from './results.js';
import { checkTargets, churnGrowthBytes, pollCpuPerPodMs, rssPerPodBytes } from './targets.js';
import { LIFECYCLE_CALLS } from './workloads.js';

export type { BenchResults, RuntimeResults } from './results.js';

const RESULTS = fileURLToPath(new URL('../../bench/results/', import.meta.url));
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '–');
const ratio = (a: number, b: number) => (Number.isFinite(a) && b > 0 ? `${(a / b).toFixed(2)}×` : '–');
const mib = (b: number) => (Number.isFinite(b) ? (b / 1048576).toFixed(1) : '–');

/** Markdown tables and SVG charts of one run, with its raw results. */
export async function writeReport(r: BenchResults, dir = path.join(RESULTS, r.date.replace(/[:.]/g, '-'))): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'results.json'), `${JSON.stringify(r, null, 2)}\n`);
  await writeFile(path.join(dir, 'lifecycle.svg'), lifecycleChart(r));
  const present = RUNTIMES.filter((n) => r.runtimes[n]);
  const biggest = r.runtimes.berth?.density.at(-1);
  if (biggest) {
    const series = Object.fromEntries(present.map((n) => [n, r.runtimes[n]?.density.at(-1)?.rss ?? []]));
    await writeFile(path.join(dir, 'rss.svg'), rssChart(`at ${biggest.pods} pods, by seconds`, series));
  }
  const churns = Object.fromEntries(
    present.flatMap((n) => (r.runtimes[n]?.churn ? [[n, r.runtimes[n].churn.rss.map((p) => ({ t: p.cycle, bytes: p.bytes }))]] : [])),
  );
  if (Object.keys(churns).length > 0) await writeFile(path.join(dir, 'churn.svg'), rssChart('under churn, by cycle', churns));
  await writeFile(path.join(dir, 'report.md'), markdown(r));
  return path.join(dir, 'report.md');
}

function markdown(r: BenchResults): string {
  const names = RUNTIMES.filter((n) => r.runtimes[n]);
  const b = r.runtimes.berth;
  const lines = [
    `# berth benchmark, ${r.date}`,
    '',
    `Machine: ${os.cpus().length} cores, Linux ${os.release()}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB. Runtimes: ${names.join(', ')}. ` +
      `Medians unless noted; ${r.runs} interleaved life cycles and ${r.imageRuns} image rounds per runtime.`,
    ...r.notes.map((n) => `\n> ${n}`),
    '',
    '## Every call against the best anchor (median, ms)',
    '',
    `| call | ${names.join(' | ')} | best anchor | berth / best |`,
    `|---|${names.map(() => '---|').join('')}---|---|`,
  ];
  for (const m of callMeasures(r)) {
    const values = names.map((n) => median(m.samples(r.runtimes[n]!)));
    const best = bestAnchor(r, (x) => median(m.samples(x)));
    const mine = b ? median(m.samples(b)) : NaN;
    lines.push(`| ${m.call} | ${values.map(f1).join(' | ')} | ${best ? `${best.name} ${f1(best.value)}` : '–'} | ${best ? ratio(mine, best.value) : '–'} |`);
  }
  const total = (x: RuntimeResults) => median(x.lifecycle.total ?? []);
  const bestTotal = bestAnchor(r, total);
  lines.push(
    `| **summed life cycle** | ${names.map((n) => f1(total(r.runtimes[n]!))).join(' | ')} | ${bestTotal ? `${bestTotal.name} ${f1(bestTotal.value)}` : '–'} | ${b && bestTotal ? ratio(total(b), bestTotal.value) : '–'} |`,
  );

  lines.push(
    '',
    '## Life cycle spread (ms)',
    '',
    `| call | ${names.map((n) => `${n} p50 | p90 | p99`).join(' | ')} |`,
    `|---|${names.map(() => '---|---|---|').join('')}`,
  );
  for (const k of [...LIFECYCLE_CALLS, 'total']) {
    const cells = names.map((n) => {
      const v = r.runtimes[n]?.lifecycle[k] ?? [];
      return `${f1(median(v))} | ${f1(quantile(v, 0.9))} | ${f1(quantile(v, 0.99))}`;
    });
    lines.push(`| ${k} | ${cells.join(' | ')} |`);
  }
  const floorOverlay = median(r.floor.overlay);
  const cni = median(r.cniAddDelMs);
  lines.push(
    '',
    `Floor: raw runc create + start + kill + delete ${f1(median(r.floor.plain))} ms (${f1(floorOverlay)} ms on overlayfs); CNI bridge ADD + DEL ${f1(cni)} ms.`,
    b ? `berth's whole life cycle / (overlay floor + CNI): ${ratio(total(b), floorOverlay + cni)}.` : '',
    `The small image's manifest, config and layers fetched over HTTP one after another: ${f1(median(r.smallPullHttpMs))} ms` +
      (r.smallPullUnpackMs ? `; with each layer streamed into GNU tar as well: ${f1(median(r.smallPullUnpackMs))} ms.` : '.'),
    '',
    '![life cycle medians](lifecycle.svg)',
    '',
    '## Other workloads',
    '',
    `| measure | ${names.join(' | ')} | berth / best anchor |`,
    `|---|${names.map(() => '---|').join('')}---|`,
  );
  const row = (name: string, value: (x: RuntimeResults) => number, fmt: (n: number) => string = f1) => {
    const best = bestAnchor(r, value);
    lines.push(`| ${name} | ${names.map((n) => fmt(value(r.runtimes[n]!))).join(' | ')} | ${b && best ? ratio(value(b), best.value) : '–'} |`);
  };
  row('parallel start of 20 pods (ms)', (x) => x.parallelStartMs);
  row(`node CPU during ${r.probeSeconds} s of exec probes (ms)`, (x) => x.execProbeNodeCpuMs);
  row('daemon CPU during the probes (ms)', (x) => x.execProbeDaemonCpuMs);
  row('daemon RSS idle (MiB)', (x) => x.idleRssBytes, mib);
  row('… of which anonymous (MiB)', (x) => x.idleRssAnonBytes, mib);
  row('daemon RSS with 10 pods after probes (MiB)', (x) => x.busyRssBytes, mib);
  for (const [i, d] of (b?.density ?? []).entries()) {
    const at = (x: RuntimeResults) => x.density[i];
    row(`daemon RSS at ${d.pods} pods (MiB)`, (x) => at(x)?.rss.at(-1)?.bytes ?? NaN, mib);
    row('… of which anonymous (MiB)', (x) => at(x)?.rss.at(-1)?.anonBytes ?? NaN, mib);
    row(`daemon CPU during ${d.rss.length} s of polling at ${d.pods} pods (ms)`, (x) => at(x)?.daemonCpuMs ?? NaN);
    row(`restart with ${d.pods} running containers to ready (ms)`, (x) => at(x)?.restartMs ?? NaN);
  }
  if ((b?.density.length ?? 0) > 1) {
    row('daemon RSS per added pod (KiB)', rssPerPodBytes, (n) => (Number.isFinite(n) ? (n / 1024).toFixed(0) : '–'));
    row('daemon CPU per pod per minute of polling, largest size (ms)', pollCpuPerPodMs);
  }
  lines.push(
    '',
    `An empty \`node\` process on this machine: ${mib(r.nodeBaseline.rssBytes)} MiB resident, ${mib(r.nodeBaseline.rssAnonBytes)} MiB of it anonymous; ` +
      `${f1(r.nodeBaseline.startMs)} ms from spawn to exit` +
      (r.nodeBaseline.firstLineMs === undefined ? '' : `, its first line of JavaScript ${f1(r.nodeBaseline.firstLineMs)} ms after its process started`) +
      ". What berth's memory and start-up cost beyond Node itself is the difference.",
  );
  if (biggestChart(r)) lines.push('', '![daemon RSS at density](rss.svg)');
  bigPullSection(r, names, lines);
  churnSection(r, names, lines);
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

function biggestChart(r: BenchResults): boolean {
  return (r.runtimes.berth?.density.length ?? 0) > 0;
}

function bigPullSection(r: BenchResults, names: readonly (typeof RUNTIMES)[number][], lines: string[]): void {
  const img = r.bigImage;
  const pulls = names.map((n) => r.runtimes[n]?.bigPull);
  if (!pulls[0]) return;
  const n = pulls[0].samplesMs?.length ?? 1;
  const cells = (v: (p: NonNullable<(typeof pulls)[number]>) => number) => pulls.map((p) => (p ? f1(v(p)) : '–')).join(' | ');
  lines.push(
    '',
    `## Cold pull of a ${img.layers}-layer gzip image (${(img.compressedBytes / 1e6).toFixed(1)} MB compressed, ${(img.unpackedBytes / 1e6).toFixed(1)} MB of tar), median of ${n} images`,
    '',
    `| measure | ${names.join(' | ')} |`,
    `|---|${names.map(() => '---|').join('')}`,
    `| wall (ms) | ${cells((p) => p.ms)} |`,
    `| daemon CPU (ms) | ${cells((p) => p.daemonCpuMs)} |`,
    `| … of which in the kernel (ms) | ${cells((p) => p.daemonSysCpuMs ?? NaN)} |`,
    `| node CPU (ms) | ${cells((p) => p.nodeCpuMs)} |`,
    '',
    `Floor: GNU \`tar -xzpf\` of the same layers in order, from local files: ${f1(img.tarFloorMs)} ms.`,
  );
}

function churnSection(r: BenchResults, names: readonly (typeof RUNTIMES)[number][], lines: string[]): void {
  const churns = names.map((n) => r.runtimes[n]?.churn);
  if (!churns[0]) return;
  const cells = (v: (c: NonNullable<(typeof churns)[number]>) => number) => churns.map((c) => (c ? mib(v(c)) : '–')).join(' | ');
  lines.push(
    '',
    `## Churn: ${churns[0].cycles} container create/start/stop/remove cycles in one pod`,
    '',
    `| measure | ${names.join(' | ')} |`,
    `|---|${names.map(() => '---|').join('')}`,
    `| RSS after warm-up (MiB) | ${cells((c) => c.rss[0]?.bytes ?? NaN)} |`,
    `| RSS at the end (MiB) | ${cells((c) => c.rss.at(-1)?.bytes ?? NaN)} |`,
    `| growth, last tenth over first tenth (MiB) | ${cells(churnGrowthBytes)} |`,
    '',
    '![daemon RSS under churn](churn.svg)',
  );
}
