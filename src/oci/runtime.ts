/**
 * The OCI runtime seam: everything berth asks of runc (or crun...) besides
 * `create`, which conmon runs so that it owns the container's stdio.
 */

import { classifyRuntimeFailure } from './runtime-errors.js';
import { RuntimeError, runtimeFailed } from '../errors.js';
import type { Logger } from '../log.js';
import { failureText, runCommand } from '../util/exec.js';
import type { LinuxResources } from './spec-types.js';

export interface OciState {
  id: string;
  pid: number;
  status: 'creating' | 'created' | 'running' | 'paused' | 'stopped';
  bundle: string;
}

export interface RuntimeHandler {
  name: string;
  /** Path of the runtime binary. */
  path: string;
  /** The runtime's state directory (`--root`). */
  root: string;
  type: 'oci';
}

export interface OciRuntime {
  readonly handler: RuntimeHandler;
  start(id: string): Promise<void>;
  /** Sends a signal; resolves false when the container was not running. */
  kill(id: string, signal: string, all?: boolean): Promise<boolean>;
  delete(id: string, force: boolean): Promise<void>;
  /** The runtime's view, or undefined when it does not know the container. */
  state(id: string): Promise<OciState | undefined>;
  update(id: string, resources: LinuxResources): Promise<void>;
  /** Global arguments conmon must pass before the verb (`--root=...`). */
  globalArgs(): string[];
}

export class RuncRuntime implements OciRuntime {
  constructor(
    readonly handler: RuntimeHandler,
    private readonly systemdCgroup: boolean,
    private readonly log: Logger,
    /** Each call's time limit: a hung runtime must not hold a container's lock for ever. */
    private readonly timeoutMs = 0,
  ) {}

  globalArgs(): string[] {
    return [`--root=${this.handler.root}`, ...(this.systemdCgroup ? ['--systemd-cgroup'] : [])];
  }

  private async run(args: string[], input?: string) {
    try {
      return await runCommand(this.handler.path, [...this.globalArgs(), ...args], { input, timeoutMs: this.timeoutMs });
    } catch (err) {
      if (err instanceof RuntimeError && err.kind === 'deadline-exceeded') this.log.warn({ runtime: this.handler.name, args }, err.message);
      throw err;
    }
  }

  async start(id: string): Promise<void> {
    const res = await this.run(['start', id]);
    if (res.code !== 0) throw runtimeFailed(`${this.handler.name} start ${id}: ${failureText(res)}`);
  }

  async kill(id: string, signal: string, all = false): Promise<boolean> {
    const res = await this.run(['kill', ...(all ? ['--all'] : []), id, signal]);
    if (res.code === 0) return true;
    const text = failureText(res);
    // Not running, or not there at all: nothing was signalled.
    if (classifyRuntimeFailure(text) !== 'failed') return false;
    throw runtimeFailed(`${this.handler.name} kill ${id} ${signal}: ${text}`);
  }

  async delete(id: string, force: boolean): Promise<void> {
    const res = await this.run(['delete', ...(force ? ['--force'] : []), id]);
    if (res.code === 0) return;
    const text = failureText(res);
    if (classifyRuntimeFailure(text) === 'gone') return;
    throw runtimeFailed(`${this.handler.name} delete ${id}: ${text}`);
  }

  async state(id: string): Promise<OciState | undefined> {
    const res = await this.run(['state', id]);
    if (res.code !== 0) {
      if (classifyRuntimeFailure(failureText(res)) === 'gone') return undefined;
      this.log.warn({ id, err: failureText(res) }, 'runtime state failed');
      return undefined;
    }
    return JSON.parse(res.stdout) as OciState;
  }

  async update(id: string, resources: LinuxResources): Promise<void> {
    const res = await this.run(['update', '--resources', '-', id], JSON.stringify(resources));
    if (res.code !== 0) throw runtimeFailed(`${this.handler.name} update ${id}: ${failureText(res)}`);
  }
}
