/**
 * Starts one conmon per container. conmon runs `<runtime> create`, keeps
 * the container's stdio, writes the CRI log and, when the container exits,
 * the exit file; it outlives berth, so berth can restart at any time.
 *
 * Protocol (conmon's `--sync-pipe`/`--start-pipe`): fds 3 and 4 are socketpairs (libuv makes
 * 'pipe' stdio entries that way). conmon waits for one byte on fd 4 (the
 * start pipe), then reports `{"pid": N}` (or `{"pid": -1, "message": ...}`
 * with the runtime's stderr) on fd 3 (the sync pipe).
 */

import type { Readable, Writable } from 'node:stream';
import { internal, deadlineExceeded, failedPrecondition, runtimeFailed } from '../errors.js';
import type { OciRuntime } from '../oci/runtime.js';
import { spawnChild } from '../util/spawn.js';

export interface ConmonCreateOptions {
  id: string;
  /** Name for conmon's own diagnostics. */
  name: string;
  bundle: string;
  exitDir: string;
  persistDir: string;
  /** Absolute CRI log path, or '' for none. */
  logPath: string;
  socketDir: string;
  runtime: OciRuntime;
  tty: boolean;
  stdin: boolean;
  stdinOnce: boolean;
  logSizeMax: number;
  timeoutMs: number;
  /**
   * Runs once conmon exists and before it starts the runtime: where conmon
   * is moved out of berth's own cgroup (see conmon-cgroup.ts).
   */
  beforeStart?: (conmonPid: number) => Promise<void>;
}

export interface ConmonCreated {
  /** The container's init process, as the host sees it. */
  pid: number;
}

export interface Monitor {
  create(opts: ConmonCreateOptions): Promise<ConmonCreated>;
}

const MONITOR_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export class Conmon implements Monitor {
  constructor(
    private readonly conmonPath: string,
    private readonly logLevel: string,
  ) {}

  args(o: ConmonCreateOptions): string[] {
    const args = [
      '-b',
      o.bundle,
      '-c',
      o.id,
      '-u',
      o.id,
      '-n',
      o.name,
      '--exit-dir',
      o.exitDir,
      '--persist-dir',
      o.persistDir,
      '-P',
      `${o.bundle}/conmon-pidfile`,
      '-p',
      `${o.bundle}/pidfile`,
      '-r',
      o.runtime.handler.path,
      '--socket-dir-path',
      o.socketDir,
      '--log-level',
      this.logLevel,
      '--syslog',
    ];
    for (const arg of o.runtime.globalArgs()) {
      if (arg === '--systemd-cgroup') args.push('-s');
      else args.push('--runtime-arg', arg);
    }
    args.push('-l', o.logPath || 'none');
    if (o.logSizeMax >= 0) args.push('--log-size-max', String(o.logSizeMax));
    if (o.tty) args.push('-t');
    if (o.stdin) args.push('-i');
    if (o.stdin && !o.stdinOnce) args.push('--leave-stdin-open');
    return args;
  }

  create(o: ConmonCreateOptions): Promise<ConmonCreated> {
    return new Promise((resolve, reject) => {
      const child = spawnChild(this.conmonPath, this.args(o), {
        cwd: o.bundle, // conmon writes its `oom` file relative to its working directory
        detached: true, // outlives berth, and does not keep it running
        stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
        env: { PATH: MONITOR_PATH, _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4' },
      });
      const sync = child.stdio[3] as Readable;
      const start = child.stdio[4] as Writable;
      let stderr = '';
      let buffer = '';
      let settled = false;
      const finish = (err: Error | null, value?: ConmonCreated) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        sync.destroy();
        start.destroy();
        child.stderr?.destroy();
        if (err) reject(err);
        else resolve(value!);
      };
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        finish(deadlineExceeded(`creating container ${o.id}: conmon gave no answer within ${o.timeoutMs} ms`));
      }, o.timeoutMs);
      child.stderr?.on('data', (d: Buffer) => {
        if (stderr.length < 8192) stderr += d.toString();
      });
      child.once('error', (err: Error) => finish(failedPrecondition(`cannot run conmon (${this.conmonPath}): ${err.message}`, err)));
      sync.on('data', (d: Buffer) => {
        buffer += d.toString();
        const nl = buffer.indexOf('\n');
        if (nl < 0) return;
        let msg: { pid?: number; message?: string };
        try {
          msg = JSON.parse(buffer.slice(0, nl)) as { pid?: number; message?: string };
        } catch {
          finish(internal(`conmon sent an unreadable message: ${buffer.slice(0, nl)}`));
          return;
        }
        if (typeof msg.pid === 'number' && msg.pid > 0) finish(null, { pid: msg.pid });
        else finish(runtimeFailed(`creating container ${o.id}: ${(msg.message ?? 'the OCI runtime failed').trim()}`));
      });
      sync.on('error', () => undefined);
      start.on('error', () => undefined);
      sync.once('end', () => {
        // conmon closed the sync pipe without a word: it failed before forking.
        setTimeout(() => finish(runtimeFailed(`creating container ${o.id}: conmon exited: ${stderr.trim() || 'no message'}`)), 50);
      });
      // conmon waits on its start pipe: place it first, then let it go.
      const place = o.beforeStart && child.pid ? o.beforeStart(child.pid) : Promise.resolve();
      void place
        .catch(() => undefined)
        .then(() => {
          if (!settled) start.write(Buffer.from([0]));
        });
    });
  }
}
