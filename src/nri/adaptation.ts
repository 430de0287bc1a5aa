/**
 * The runtime's side of NRI: a unix socket (0600, its directory 0700)
 * where plugins connect, each registered, configured and synchronized
 * before the next is taken (as containerd/nri does, so none misses a pod),
 * then kept in index order. Events go to the subscribed plugins one at a
 * time in that order; a plugin that fails or times out is dropped.
 */

import { chmod, mkdir, rm } from 'node:fs/promises';
import { type Server, type Socket, createServer } from 'node:net';
import path from 'node:path';
import type { Container } from '../generated/nri/nri/pkg/api/v1alpha1/Container.js';
import type { PodSandbox } from '../generated/nri/nri/pkg/api/v1alpha1/PodSandbox.js';
import type { ContainerAdjustment__Output } from '../generated/nri/nri/pkg/api/v1alpha1/ContainerAdjustment.js';
import type { Logger } from '../log.js';
import { NriPlugin, type NriEvent, type PluginOptions } from './plugin.js';

/** Plugins connected at once; more are refused rather than held. */
const MAX_PLUGINS = 32;

export interface NriSnapshot {
  pods: PodSandbox[];
  containers: Container[];
}

export interface AdaptationOptions {
  socketPath: string;
  runtimeName: string;
  runtimeVersion: string;
  registrationTimeoutMs: number;
  requestTimeoutMs: number;
  /** What a plugin is given when it connects. */
  snapshot(): NriSnapshot;
  log: Logger;
}

export interface PluginInfo {
  name: string;
  index: string;
  events: number;
}

export class NriAdaptation {
  private server: Server | undefined;
  private stopped = false;
  private plugins: NriPlugin[] = [];
  private accepting: Promise<void> = Promise.resolve();
  private waiting = 0;

  constructor(private readonly opts: AdaptationOptions) {}

  async start(): Promise<void> {
    const dir = path.dirname(this.opts.socketPath);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await rm(this.opts.socketPath, { force: true });
    const server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.socketPath, () => resolve());
    });
    await chmod(this.opts.socketPath, 0o600);
    this.server = server;
    this.opts.log.info({ socket: this.opts.socketPath }, 'NRI: listening for plugins');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const server = this.server;
    this.server = undefined;
    for (const p of this.plugins) p.close('berth is stopping');
    this.plugins = [];
    if (!server) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    // Only a socket berth made is removed.
    await rm(this.opts.socketPath, { force: true });
  }

  list(): PluginInfo[] {
    return this.live().map((p) => ({ name: p.name, index: p.index, events: p.events }));
  }

  /** An event without adjustments, to each subscribed plugin in index order. */
  async stateChange(event: NriEvent, pod: PodSandbox, container?: Container): Promise<void> {
    for (const plugin of this.live()) await plugin.stateChange(event, pod, container);
  }

  /**
   * Asks each subscribed plugin, in index order, how to adjust a container
   * being created; `describe` gives the container as the adjustments so
   * far made it, `apply` applies one plugin's (and throws on a conflict).
   */
  async createContainer(pod: PodSandbox, describe: () => Container, apply: (adjust: ContainerAdjustment__Output, plugin: string) => void): Promise<string[]> {
    const adjusted: string[] = [];
    for (const plugin of this.live()) {
      const reply = await plugin.createContainer(pod, describe());
      if (!reply?.adjust) continue;
      apply(reply.adjust, plugin.name);
      adjusted.push(plugin.name);
    }
    return adjusted;
  }

  async stopContainer(pod: PodSandbox, container: Container): Promise<void> {
    for (const plugin of this.live()) await plugin.stopContainer(pod, container);
  }

  private live(): NriPlugin[] {
    this.plugins = this.plugins.filter((p) => !p.closed);
    return this.plugins;
  }

  /** One plugin at a time: registered and synchronized before the next is taken. */
  private accept(socket: Socket): void {
    if (this.live().length + this.waiting >= MAX_PLUGINS) {
      this.opts.log.warn({ max: MAX_PLUGINS }, 'NRI: too many plugins; connection refused');
      socket.destroy();
      return;
    }
    this.waiting++;
    this.accepting = this.accepting.then(async () => {
      try {
        await this.connect(socket, {});
      } finally {
        this.waiting--;
      }
    });
  }

  /** Connects one plugin on `socket` (accepted, or one end of a pair for a plugin berth started). */
  async connect(socket: Socket, launched: Pick<PluginOptions, 'name' | 'index'> & { config?: string }): Promise<NriPlugin | undefined> {
    const plugin = new NriPlugin(socket, {
      ...launched,
      config: launched.config ?? '',
      runtimeName: this.opts.runtimeName,
      runtimeVersion: this.opts.runtimeVersion,
      registrationTimeoutMs: this.opts.registrationTimeoutMs,
      requestTimeoutMs: this.opts.requestTimeoutMs,
    });
    const { pods, containers } = this.opts.snapshot();
    try {
      await plugin.start(pods, containers);
    } catch (err) {
      this.opts.log.warn({ plugin: plugin.name || undefined, err: (err as Error).message }, 'NRI: a plugin could not be started; disconnected');
      return undefined;
    }
    if (this.stopped) {
      // Its start outlasted berth's: it would be kept by no one.
      plugin.close('berth is stopping');
      return undefined;
    }
    this.plugins = [...this.live(), plugin].sort((a, b) => a.index.localeCompare(b.index) || a.name.localeCompare(b.name));
    plugin.onClose(() => this.opts.log.warn({ plugin: plugin.name, reason: plugin.closed }, 'NRI: plugin disconnected'));
    this.opts.log.info(
      { plugin: plugin.name, index: plugin.index, events: plugin.events, pods: pods.length, containers: containers.length },
      'NRI: plugin registered',
    );
    return plugin;
  }
}
