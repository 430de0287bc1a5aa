import { spawnChild } from './spawn.js';
import { RuntimeError } from '../errors.js';

/**
 * Runs a helper program (runc, conmon, berth-pinns...) without blocking the
 * event loop, collecting its output up to a cap and honouring cancellation.
 */
export interface RunOptions {
  input?: string | Buffer;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Bytes kept of each of stdout and stderr (default 1 MiB). */
  maxOutput?: number;
}

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
      if ((e as { code?: string }).code === 'ENOENT') reject(new RuntimeError('failed-precondition', `cannot run ${file}: not installed`, { cause: e }));
      else reject(e);
    });
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).subarray(0, max).toString('utf8'),
        stderr: Buffer.concat(err).subarray(0, max).toString('utf8'),
      });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

/** The text a failed helper wrote, trimmed to what a person should read. */
export function failureText(result: RunResult): string {
  const text = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-5).join('\n');
  return text || (result.signal ? `killed by ${result.signal}` : `exit status ${result.code}`);
}
