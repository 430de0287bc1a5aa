import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { type BenchResults, writeReport } from './report.js';

/**
 * Writes a run's report again from its results.json (BENCH_MAIN=rereport,
 * BENCH_RESULTS=bench/results/<date>): the tables and targets as the
 * current code draws them, without measuring anything again.
 */
const dir = process.env.BENCH_RESULTS;
if (!dir) throw new Error('set BENCH_RESULTS to a results directory (bench/results/<date>)');
const results = JSON.parse(await readFile(path.join(dir, 'results.json'), 'utf8')) as BenchResults;
console.error(`report: ${await writeReport(results, path.resolve(dir))}`);
