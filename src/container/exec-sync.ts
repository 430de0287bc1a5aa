/**
 * ExecSync runs `runc exec` in the foreground with pipes, straight from
 * berth. That is the cheapest correct path for probes, which the kubelet
 * runs every few seconds in every container: one runtime process and no
 * monitor, temporary log file or log parsing (CRI-O's conmon route costs
 * an extra process and a file per probe). Nothing outlives the call, so
 * the process needs no supervisor that survives a berth restart.
 */

import { spawnChild } from '../util/spawn.js';
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { deadlineExceeded, failedPrecondition, canceled } from '../errors.js';
import type { OciRuntime } from '../oci/runtime.js';
import type { Process } from '../oci/spec-types.js';
import { ExecProcess } from './exec-process.js';

export const EXEC_OUTPUT_LIMIT = 16 << 20;
/**
 * How long output is still read after the process ended or was killed.
 * runc exec itself does not return while something the command left in
 * the background holds its output (`sleep 365d &`): the call answers at
 * its deadline plus this, whatever is left.
 */
export const EXEC_DRAIN_MS = 500;

export interface ExecSyncResult {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number;
}

export async function execSync(opts: {
  runtime: OciRuntime;
  id: string;
  bundle: string;
  process: Process;
  cmd: string[];
  timeoutSeconds: number;
  signal: AbortSignal;
}): Promise<ExecSyncResult> {
  const tag = randomBytes(6).toString('hex');
  const processFile = path.join(opts.bundle, `exec-${tag}.json`);
  const pidFile = path.join(opts.bundle, `exec-${tag}.pid`);
  // The process spec holds the container's environment: readable by root only.
  await writeFile(processFile, JSON.stringify({ ...opts.process, args: opts.cmd, terminal: false }), { mode: 0o600 });
  try {
    return await new Promise<ExecSyncResult>((resolve, reject) => {
      const child = spawnChild(opts.runtime.handler.path, [...opts.runtime.globalArgs(), 'exec', '--process', processFile, '--pid-file', pidFile, opts.id], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: process.env,
      });
      const execProcess = new ExecProcess(pidFile);
      child.once('exit', () => execProcess.done());
      const out = collector();
      const err = collector();
      child.stdout!.on('data', out.add);
      child.stderr!.on('data', err.add);
      let timedOut = false;
      let exit: { code: number | null; sig: NodeJS.Signals | null } | undefined;
      let drain: NodeJS.Timeout | undefined;
      let finished = false;
      // The answer: once the output is drained, or a bounded time after the
      // process ended or was killed, whatever it left holding the pipes
      // (`sleep 365d &` keeps stdout open for ever).
      const finish = () => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        clearTimeout(drain);
        opts.signal.removeEventListener('abort', onAbort);
        child.stdout?.destroy();
        child.stderr?.destroy();
        // runc exec waits for whatever holds the process's output: it must not outlive the call.
        if (!exit) child.kill('SIGKILL');
        if (timedOut) reject(deadlineExceeded(`command timed out after ${opts.timeoutSeconds}s and was killed`));
        else if (opts.signal.aborted) reject(canceled('ExecSync cancelled'));
        else resolve({ stdout: out.value(), stderr: err.value(), exitCode: exit?.code ?? (exit?.sig ? 128 + 9 : -1) });
      };
      const drainThenFinish = () => {
        clearTimeout(drain);
        drain = setTimeout(finish, EXEC_DRAIN_MS);
      };
      const killProcess = async () => {
        // Killing runc would leave the exec'd process running: kill the process.
        if (!(await execProcess.kill('SIGKILL')) && !exit) child.kill('SIGKILL');
        drainThenFinish();
      };
      const timer =
        opts.timeoutSeconds > 0
          ? setTimeout(() => {
              if (exit) return; // only its output is pending: drainThenFinish runs
              timedOut = true;
              void killProcess();
            }, opts.timeoutSeconds * 1000)
          : undefined;
      const onAbort = () => void killProcess();
      opts.signal.addEventListener('abort', onAbort, { once: true });
      child.once('error', (e: Error) => {
        finished = true;
        clearTimeout(timer);
        opts.signal.removeEventListener('abort', onAbort);
        reject(failedPrecondition(`cannot run ${opts.runtime.handler.path}: ${e.message}`));
      });
      child.once('exit', (code: number | null, sig: NodeJS.Signals | null) => {
        exit = { code, sig };
        drainThenFinish();
      });
      child.once('close', (code: number | null, sig: NodeJS.Signals | null) => {
        exit ??= { code, sig };
        finish();
      });
    });
  } finally {
    await Promise.all([rm(processFile, { force: true }), rm(pidFile, { force: true })]);
  }
}

function collector() {
  const chunks: Buffer[] = [];
  let size = 0;
  return {
    add: (d: Buffer) => {
      if (size >= EXEC_OUTPUT_LIMIT) return;
      const take = d.subarray(0, EXEC_OUTPUT_LIMIT - size);
      chunks.push(take);
      size += take.length;
    },
    value: () => Buffer.concat(chunks),
  };
}
