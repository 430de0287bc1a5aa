/**
 * Runs a helper program (runc, conmon, berth-pinns...) without blocking the
 * event loop, collecting its output up to a cap and honouring cancellation.
 */

import path from 'node:path';
import { spawnChild } from './spawn.js';
import { RuntimeError, failedPrecondition } from '../errors.js';

export interface RunOptions {
  input?: string | Buffer;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Bytes kept of each of stdout and stderr (default 1 MiB). */
  maxOutput?: number;
  /**
   * Time limit: past it the helper is killed (SIGKILL) and the call fails
   * with DEADLINE_EXCEEDED, quoting what the helper had written.
   */
  timeoutMs?: number;
}

/** How long a killed helper's pipes may stay open (held by its children) before berth stops waiting. */
const KILLED_GRACE_MS = 1000;

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function runCommand(file: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const max = opts.maxOutput ?? 1 << 20;
  return new Promise((resolve, reject) => {
    const child = spawnChild(file, args, {
      stdio: [opts.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      signal: opts.signal,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    child.stdout!.on('data', (d: Buffer) => {
      if (outLen < max) out.push(d);
      outLen += d.length;
    });
    child.stderr!.on('data', (d: Buffer) => {
      if (errLen < max) err.push(d);
      errLen += d.length;
    });
    child.once('error', (e: Error) => {
      if ((e as { code?: string }).code === 'ENOENT') reject(failedPrecondition(`cannot run ${file}: not installed`, e));
      else reject(e);
    });
    const result = (code: number | null, signal: NodeJS.Signals | null): RunResult => ({
      code,
      signal,
      stdout: Buffer.concat(out).subarray(0, max).toString('utf8'),
      stderr: Buffer.concat(err).subarray(0, max).toString('utf8'),
    });
    let timer: NodeJS.Timeout | undefined;
    let expired: RuntimeError | undefined;
    if (opts.timeoutMs && opts.timeoutMs > 0) {
      timer = setTimeout(() => {
        child.kill('SIGKILL');
        const words = failureText(result(null, 'SIGKILL'));
        const verb = (args.find((a) => !a.startsWith('-')) ?? '').slice(0, 40);
        expired = new RuntimeError(
          'deadline-exceeded',
          `${path.basename(file)} ${verb} did not finish within ${opts.timeoutMs! / 1000}s and was killed (${words})`,
        );
        // Its children may hold the pipes open: do not wait on them for long.
        const giveUp = setTimeout(() => {
          child.stdout?.destroy();
          child.stderr?.destroy();
          reject(expired);
        }, KILLED_GRACE_MS);
        giveUp.unref();
      }, opts.timeoutMs);
    }
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
      if (timer) clearTimeout(timer);
      if (expired) reject(expired);
      else resolve(result(code, signal));
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

/** The text a failed helper wrote, trimmed to what a person should read. */
export function failureText(result: RunResult): string {
  const text = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-5).join('\n');
  return text || (result.signal ? `killed by ${result.signal}` : `exit status ${result.code}`);
}
