/**
 * The conmon watches of the live containers (conmon-watch.ts): at most
 * one per container, from its launch (or its restore) until its exit is
 * recorded or it is removed.
 */

import type { MonitorWatcher } from '../conmon/conmon-watch.js';
import type { Logger } from '../log.js';

export class MonitorWatches {
  /** What ends each watch; undefined while the watch is being set up. */
  private readonly stops = new Map<string, (() => void) | undefined>();

  constructor(
    private readonly watcher: MonitorWatcher | undefined,
    private readonly log: Logger,
  ) {}

  /** Watches the conmon of container `id` once; `onGone` gets conmon's pid when it exits. */
  async watch(id: string, bundle: string, onGone: (conmonPid: number) => void): Promise<void> {
    if (!this.watcher || this.stops.has(id)) return;
    this.stops.set(id, undefined);
    const stop = await this.watcher
      .watch(bundle, (pid) => {
        this.stops.delete(id);
        onGone(pid);
      })
      .catch((err: unknown) => {
        this.log.warn({ err, containerId: id }, "cannot watch the container's conmon");
        return undefined;
      });
    if (!this.stops.has(id)) return stop?.(); // gone, exited or removed meanwhile
    if (stop) this.stops.set(id, stop);
    else {
      this.stops.delete(id);
      this.log.warn({ containerId: id }, "the container's bundle names no conmon: its monitor is not watched");
    }
  }

  /** The container exited or is removed: its conmon is no longer of interest. */
  stop(id: string): void {
    this.stops.get(id)?.();
    this.stops.delete(id);
  }

  stopAll(): void {
    for (const stop of this.stops.values()) stop?.();
    this.stops.clear();
  }
}
