import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';

/**
 * A node conformance run's result from the suite's junit reports: how many
 * specs ran, passed, failed and were skipped, and each failure with the
 * first lines of its message.
 */
export interface SpecResult {
  name: string;
  outcome: 'passed' | 'failed' | 'skipped';
  message: string;
}

const xmlText = (s: string) =>
  s
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&#34;', '"')
    .replaceAll('&#xA;', '\n')
    .replaceAll('&amp;', '&');

export function parseJunit(xml: string): SpecResult[] {
  const out: SpecResult[] = [];
  const testcase = /<testcase\b([^>]*?)(?:\/>|>([\s\S]*?)<\/testcase>)/g;
  for (const m of xml.matchAll(testcase)) {
    const name = xmlText(/\bname="([^"]*)"/.exec(m[1] ?? '')?.[1] ?? '');
    const body = m[2] ?? '';
    const failure = /<(failure|error)\b[^>]*?(?:\/>|>([\s\S]*?)<\/\1>)/.exec(body);
    if (failure) out.push({ name, outcome: 'failed', message: xmlText(failure[2] ?? '').trim() });
    else if (/<skipped\b/.test(body)) out.push({ name, outcome: 'skipped', message: '' });
    else out.push({ name, outcome: 'passed', message: '' });
  }
  return out;
}

export async function summarize(runtime: string, reportDir: string, seconds: number, exitCode: number): Promise<string> {
  const results: SpecResult[] = [];
  for (const f of (await readdir(reportDir).catch(() => [] as string[])).filter((f) => f.endsWith('.xml')).sort()) {
    results.push(...parseJunit(await readFile(path.join(reportDir, f), 'utf8')));
  }
  const count = (o: SpecResult['outcome']) => results.filter((r) => r.outcome === o).length;
  const lines = [
    `## ${runtime}`,
    '',
    `${count('passed')} passed, ${count('failed')} failed, ${count('skipped')} skipped (of ${results.length} in the report); ${Math.round(seconds)} s; exit code ${exitCode}`,
    '',
  ];
  for (const r of results.filter((r) => r.outcome === 'failed')) {
    lines.push(`- FAILED ${r.name}`);
    for (const l of r.message.split('\n').filter(Boolean).slice(0, 4)) lines.push(`    ${l.slice(0, 300)}`);
  }
  return `${lines.join('\n')}\n`;
}
