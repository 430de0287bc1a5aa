/**
 * One call of one CNI plugin: configuration on stdin, parameters in the
 * environment, a result or an error object on stdout. A plugin that runs
 * too long is killed; its error text (message, details and stderr) goes
 * into the error berth returns.
 */

import { spawnChild } from '../util/spawn.js';
import { deadlineExceeded, failedPrecondition, runtimeFailed } from '../errors.js';

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'GC' | 'STATUS' | 'VERSION';

export interface PluginCall {
  binary: string;
  command: CniCommand;
  containerId: string;
  netns: string;
  ifname: string;
  args: string;
  path: string;
  config: object;
  timeoutMs: number;
}

export interface PluginRunner {
  run(call: PluginCall): Promise<unknown>;
}

export class ExecPluginRunner implements PluginRunner {
  run(call: PluginCall): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const child = spawnChild(call.binary, [], {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: {
          CNI_COMMAND: call.command,
          CNI_CONTAINERID: call.containerId,
          CNI_NETNS: call.netns,
          CNI_IFNAME: call.ifname,
          CNI_ARGS: call.args,
          CNI_PATH: call.path,
          PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
        },
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout!.on('data', (d: Buffer) => out.push(d));
      child.stderr!.on('data', (d: Buffer) => {
        if (err.length < 64) err.push(d);
      });
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, call.timeoutMs);
      const plugin = call.binary.split('/').pop();
      child.once('error', (e: Error) => {
        clearTimeout(timer);
        reject(failedPrecondition(`CNI plugin ${plugin}: cannot run ${call.binary}: ${e.message}`));
      });
      child.once('close', (code: number | null) => {
        clearTimeout(timer);
        const stdout = Buffer.concat(out).toString('utf8').trim();
        const stderr = Buffer.concat(err).toString('utf8').trim();
        if (timedOut) {
          reject(deadlineExceeded(`CNI plugin ${plugin} ${call.command} did not finish within ${call.timeoutMs} ms`));
          return;
        }
        if (code !== 0) {
          reject(runtimeFailed(`CNI plugin ${plugin} ${call.command} failed: ${describeError(stdout, stderr, code)}`));
          return;
        }
        if (stdout === '') {
          resolve(undefined);
          return;
        }
        try {
          resolve(JSON.parse(stdout));
        } catch {
          reject(runtimeFailed(`CNI plugin ${plugin} ${call.command} printed something that is not JSON: ${stdout.slice(0, 200)}`));
        }
      });
      child.stdin!.on('error', () => undefined);
      child.stdin!.end(JSON.stringify(call.config));
    });
  }
}

/** The plugin's JSON error (code, msg, details) if it printed one, plus its stderr. */
function describeError(stdout: string, stderr: string, code: number | null): string {
  let text = '';
  try {
    const e = JSON.parse(stdout) as { code?: number; msg?: string; details?: string };
    text = [e.msg, e.details].filter(Boolean).join(': ');
    if (e.code !== undefined) text += ` (CNI error ${e.code})`;
  } catch {
    text = stdout.slice(0, 500);
  }
  if (stderr) text += `${text ? '; ' : ''}stderr: ${firstLines(stderr)}`;
  return text || `exit status ${code}`;
}

/**
 * The head of a plugin's stderr: a Go panic's first two lines say what
 * happened; its goroutine trace would fill a log line and a verbose pod
 * status for every pod.
 */
function firstLines(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  const head = lines.slice(0, 2).join(' | ').slice(0, 500);
  return lines.length > 2 ? `${head} (${lines.length - 2} more lines)` : head;
}
