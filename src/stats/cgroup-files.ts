/**
 * Parsers for cgroup statistics files, v1 and v2. Pure functions over file
 * contents, so they are tested against recorded files.
 */
export function parseFlatKeyed(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out.set(k, Number(v));
  }
  return out;
}

export function parseNumber(text: string): number | undefined {
  const t = text.trim();
  if (t === 'max' || t === '') return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

export interface PsiLine {
  avg10: number;
  avg60: number;
  avg300: number;
  total: number;
}

/** cpu.pressure / memory.pressure / io.pressure: "some avg10=0.00 avg60=0.00 avg300=0.00 total=0". */
export function parsePressure(text: string): { some?: PsiLine; full?: PsiLine } {
  const out: { some?: PsiLine; full?: PsiLine } = {};
  for (const line of text.split('\n')) {
    const [kind, ...fields] = line.trim().split(/\s+/);
    if (kind !== 'some' && kind !== 'full') continue;
    const f = Object.fromEntries(fields.map((x) => x.split('=') as [string, string]));
    out[kind] = { avg10: Number(f.avg10 ?? 0), avg60: Number(f.avg60 ?? 0), avg300: Number(f.avg300 ?? 0), total: Number(f.total ?? 0) };
  }
  return out;
}

/** The cgroup of a process per hierarchy, from /proc/<pid>/cgroup: v1 controller → path, and "" → the v2 path. */
export function parseProcCgroup(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    for (const c of m[1]!.split(',')) out.set(c.replace(/^name=/, ''), m[2]!);
  }
  return out;
}

/** /proc/net/dev: per interface rx/tx bytes and errors. */
export function parseNetDev(text: string): { name: string; rxBytes: number; rxErrors: number; txBytes: number; txErrors: number }[] {
  const out = [];
  for (const line of text.split('\n').slice(2)) {
    const m = /^\s*([^:]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    out.push({ name: m[1]!.trim(), rxBytes: f[0] ?? 0, rxErrors: f[2] ?? 0, txBytes: f[8] ?? 0, txErrors: f[10] ?? 0 });
  }
  return out;
}
