/**
 * Everything an RPC handler may use. Only src/daemon.ts builds the real
 * one; unit tests build it from fakes.
 */

import type { BerthConfig } from '../config/schema.js';
import type { NetworkManager } from '../cni/network-manager.js';
import type { ContainerService } from '../container/container-service.js';
import type { ImageService } from '../image/image-service.js';
import type { SandboxService } from '../sandbox/sandbox-service.js';
import type { StreamingServer } from '../streaming/server.js';
import type { EventBus } from '../events/event-bus.js';
import type { StatsService } from '../stats/stats-service.js';
import type { BerthMetrics } from '../metrics/prometheus.js';
import type { Logger } from '../log.js';

export interface Deps {
  config: BerthConfig;
  log: Logger;
  images: ImageService;
  sandboxes: SandboxService;
  containers: ContainerService;
  network: NetworkManager;
  streaming: StreamingServer;
  stats: StatsService;
  events: EventBus;
  /** Absent when metrics are off. */
  metrics?: BerthMetrics;
  /** Set once start-up restore has finished; until then calls get UNAVAILABLE. */
  lifecycle: { ready: boolean };
  /** NRI's plugins, where NRI is on. */
  nri?: { plugins(): { name: string; index: string; events: number }[] };
}

export interface CallContext {
  deps: Deps;
  /** The CRI method being served. */
  rpc: string;
  log: Logger;
  /** Aborted when the client cancels the call or its deadline passes. */
  signal: AbortSignal;
}
