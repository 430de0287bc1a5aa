import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnBerth } from '../e2e/lib/berth-daemon.js';
import { median } from './measure.js';
import { stopChild, timeToReady } from './startup.js';

/**
 * berth's start to first answered Version alone, on fresh paths, N times
 * (BENCH_RUNS, default 10): the quick loop for start-up work. With
 * BENCH_CPU_PROF set, each start writes a CPU profile into that directory.
 */
const runs = Number(process.env.BENCH_RUNS ?? 10);
const prof = process.env.BENCH_CPU_PROF;
const times: number[] = [];
for (let i = 0; i < runs; i++) {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-start-'));
  try {
    await mkdir(path.join(dir, 'conf.d'));
    const socket = path.join(dir, 'run', 'berth.sock');
    const args = [
      'serve',
      '--config',
      '/dev/null',
      '--config-dir',
      path.join(dir, 'conf.d'),
      '--listen',
      socket,
      '--root',
      path.join(dir, 'root'),
      '--runroot',
      path.join(dir, 'run'),
      '--log-level',
      'warn',
    ];
    const { ms, child } = await timeToReady(() => spawnBerth(args, undefined, prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : []), socket);
    times.push(ms);
    await stopChild(child);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
console.log(`start to first Version: median ${median(times).toFixed(1)} ms, min ${Math.min(...times).toFixed(1)} ms (${runs} starts)`);
