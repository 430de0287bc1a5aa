import { median } from './measure.js';
import { type BenchResults, RUNTIMES } from './results.js';
import { LIFECYCLE_CALLS } from './workloads.js';

/** SVG charts of the report: one colour per runtime, the same in every chart. */
const COLOURS: Record<(typeof RUNTIMES)[number], string> = { berth: '#2a7ab0', containerd: '#c07a2a', crio: '#3c8c3c' };
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '–');
const mib = (b: number) => (b / 1048576).toFixed(1);

function legend(names: readonly (typeof RUNTIMES)[number][]): string {
  return names.map((n) => `${n} (${COLOURS[n]})`).join(', ');
}

/** Life-cycle call medians, one bar per runtime present. */
export function lifecycleChart(r: BenchResults): string {
  const names = RUNTIMES.filter((n) => r.runtimes[n]);
  const value = (n: (typeof names)[number], k: string) => median(r.runtimes[n]?.lifecycle[k] ?? []);
  const max = Math.max(1, ...LIFECYCLE_CALLS.flatMap((k) => names.map((n) => value(n, k))).filter(Number.isFinite));
  const barH = 12;
  const rowH = names.length * (barH + 2) + 8;
  const width = 640;
  const left = 150;
  const rows = LIFECYCLE_CALLS.map((k, i) => {
    const y = 30 + i * rowH;
    const bars = names.map((n, j) => {
      const w = ((value(n, k) || 0) / max) * (width - left - 60);
      const by = y + j * (barH + 2);
      return `<rect x="${left}" y="${by}" width="${w.toFixed(1)}" height="${barH}" fill="${COLOURS[n]}"/><text x="${(left + w + 4).toFixed(1)}" y="${by + 10}">${f1(value(n, k))}</text>`;
    });
    return `<text x="${left - 6}" y="${y + rowH / 2}" text-anchor="end">${k}</text>${bars.join('')}`;
  });
  const height = 40 + LIFECYCLE_CALLS.length * rowH + 20;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">` +
    `<text x="10" y="16" font-size="13">Life-cycle call medians (ms): ${legend(names)}</text>${rows.join('')}</svg>\n`
  );
}

/** Daemon RSS over time (or cycles), every runtime on one axis. */
export function rssChart(title: string, series: Partial<Record<(typeof RUNTIMES)[number], { t: number; bytes: number }[]>>): string {
  const width = 640;
  const height = 260;
  const pad = 40;
  const names = RUNTIMES.filter((n) => series[n]);
  const all = names.flatMap((n) => series[n] ?? []);
  const maxT = Math.max(1, ...all.map((p) => p.t));
  const maxB = Math.max(1, ...all.map((p) => p.bytes)) * 1.1;
  const line = (d: { t: number; bytes: number }[], colour: string) =>
    `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${d
      .map((p) => `${(pad + (p.t / maxT) * (width - 2 * pad)).toFixed(1)},${(height - pad - (p.bytes / maxB) * (height - 2 * pad)).toFixed(1)}`)
      .join(' ')}"/>`;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">` +
    `<text x="10" y="16" font-size="13">Daemon RSS (MiB, top = ${mib(maxB)}) ${title} up to ${maxT.toFixed(0)}: ${legend(names)}</text>` +
    `<line x1="${pad}" y1="${height - pad}" x2="${width - pad}" y2="${height - pad}" stroke="#888"/><line x1="${pad}" y1="${pad}" x2="${pad}" y2="${height - pad}" stroke="#888"/>` +
    `${names.map((n) => line(series[n] ?? [], COLOURS[n])).join('')}</svg>\n`
  );
}
