/**
 * Spawning helper programs (runc, conmon, CNI plugins) the cheap way.
 * Node's spawn forks, and fork(2) copies the daemon's page tables while
 * the event loop waits, some 2-3 ms per process for a daemon of 100 MB,
 * paid for every runc call of every container. The native module spawns
 * with posix_spawn (vfork semantics, a cost independent of the daemon's
 * size) and watches the exit through a pidfd. Where pidfds are missing
 * (Linux before 5.4), Node's own spawn is used.
 *
 * The child looks like the part of ChildProcess berth uses: `pid`,
 * `stdio` streams for 'pipe' entries, `kill`, and the 'error', 'exit' and
 * 'close' events with the same meanings.
 */

import { type ChildProcess, spawn as nodeSpawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { Socket } from 'node:net';
import { constants as osConstants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { spawnOps } from '../native/index.js';

export type StdioEntry = 'pipe' | 'ignore';

export interface SpawnOptions {
  /** One entry per child descriptor (0, 1, 2, and more for conmon's pipes). */
  stdio: StdioEntry[];
  /** The child's whole environment. */
  env: Record<string, string | undefined>;
  cwd?: string;
  /** A new session, not killed with berth, not keeping the event loop alive. */
  detached?: boolean;
  /** Killed with SIGTERM on abort; 'error' then carries an AbortError. */
  signal?: AbortSignal;
}

export interface Child extends EventEmitter {
  readonly pid: number | undefined;
  readonly stdio: (Socket | null)[];
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  exitCode: number | null;
  signalCode: NodeJS.Signals | null;
  kill(signal?: NodeJS.Signals | number): boolean;
}

const SIGNAL_NAMES = new Map<number, NodeJS.Signals>(Object.entries(osConstants.signals).map(([name, n]) => [n, name as NodeJS.Signals]));

class SpawnedChild extends EventEmitter implements Child {
  pid: number | undefined;
  readonly stdio: (Socket | null)[];
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  private exited = false;
  private openStreams = 0;

  constructor(file: string, args: string[], opts: SpawnOptions) {
    super();
    const ops = spawnOps()!;
    const pairs = opts.stdio.map((entry) => (entry === 'pipe' ? ops.socketPair() : null));
    this.stdio = pairs.map((pair, i) => {
      if (!pair) return null;
      const socket = new Socket({ fd: pair[0], readable: true, writable: true, allowHalfOpen: false });
      // The child's stdin is only written; reading it notices the child's end.
      if (i === 0) socket.on('data', () => undefined);
      socket.on('error', () => undefined);
      this.openStreams++;
      socket.once('close', () => {
        this.openStreams--;
        this.maybeClose();
      });
      return socket;
    });
    const env = Object.entries(opts.env)
      .filter((e): e is [string, string] => e[1] !== undefined)
      .map(([k, v]) => `${k}=${v}`);
    try {
      this.pid = ops.spawnProcess(
        file,
        args,
        env,
        opts.cwd ?? null,
        pairs.map((p) => (p ? p[1] : -1)),
        opts.detached ?? false,
      );
    } catch (err) {
      for (const s of this.stdio) s?.destroy();
      process.nextTick(() => this.emit('error', err));
      return;
    } finally {
      for (const p of pairs) if (p) ops.closeFd(p[1]);
    }
    ops.watchExit(this.pid, !opts.detached, (code, signal) => {
      this.exited = true;
      this.exitCode = code;
      this.signalCode = signal === null ? null : (SIGNAL_NAMES.get(signal) ?? null);
      this.emit('exit', this.exitCode, this.signalCode);
      this.maybeClose();
    });
    if (opts.detached) for (const s of this.stdio) s?.unref();
    if (opts.signal) {
      const onAbort = () => {
        this.kill('SIGTERM');
        const err = new Error('The operation was aborted', { cause: opts.signal!.reason });
        err.name = 'AbortError';
        (err as Error & { code: string }).code = 'ABORT_ERR';
        this.emit('error', err);
      };
      if (opts.signal.aborted) process.nextTick(onAbort);
      else {
        opts.signal.addEventListener('abort', onAbort, { once: true });
        this.once('exit', () => opts.signal!.removeEventListener('abort', onAbort));
      }
    }
  }

  get stdin(): Writable | null {
    return this.stdio[0] ?? null;
  }

  get stdout(): Readable | null {
    return this.stdio[1] ?? null;
  }

  get stderr(): Readable | null {
    return this.stdio[2] ?? null;
  }

  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    // After the exit is collected the pid may belong to someone else.
    if (this.exited || this.pid === undefined) return false;
    try {
      process.kill(this.pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  private maybeClose(): void {
    if (this.exited && this.openStreams === 0) this.emit('close', this.exitCode, this.signalCode);
  }
}

/** Spawns through posix_spawn when the native module can watch the exit, else through Node. */
export function spawnChild(file: string, args: string[], opts: SpawnOptions): Child {
  if (spawnOps()) return new SpawnedChild(file, args, opts);
  const child = nodeSpawn(file, args, {
    stdio: opts.stdio,
    env: opts.env,
    cwd: opts.cwd,
    detached: opts.detached,
    signal: opts.signal,
  }) as ChildProcess;
  if (opts.detached) child.unref();
  return child as unknown as Child;
}
