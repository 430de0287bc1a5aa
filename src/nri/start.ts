/**
 * NRI in the daemon: the socket plugins connect to, given every pod and
 * container berth knows when they register, and the forwarder of pod and
 * container events. Started after the restore phase, so that the first
 * plugin's Synchronize has the node's whole state; stopped before the
 * services it reads.
 */

import type { NriConfig } from '../config/schema.js';
import type { EventBus } from '../events/event-bus.js';
import type { Logger } from '../log.js';
import { NriAdaptation, type PluginInfo } from './adaptation.js';
import { type DescribedContainer, type DescribedPod, describeContainer, describePod } from './describe.js';
import { NriForwarder } from './forwarder.js';

export interface NriParts {
  events: Pick<EventBus, 'subscribe'>;
  pods: { get(id: string): DescribedPod | undefined; list(): DescribedPod[] };
  containers: { get(id: string): DescribedContainer | undefined; list(): DescribedContainer[] };
  runtimeVersion: string;
  log: Logger;
}

export interface RunningNri {
  plugins(): PluginInfo[];
  stop(): Promise<void>;
}

export async function startNri(config: NriConfig, parts: NriParts): Promise<RunningNri> {
  const adaptation = new NriAdaptation({
    socketPath: config.nri_listen,
    runtimeName: 'berth',
    runtimeVersion: parts.runtimeVersion,
    registrationTimeoutMs: config.nri_plugin_registration_timeout,
    requestTimeoutMs: config.nri_plugin_request_timeout,
    snapshot: () => ({ pods: parts.pods.list().map(describePod), containers: parts.containers.list().map(describeContainer) }),
    log: parts.log,
  });
  if (!config.nri_disable_connections) await adaptation.start();
  else parts.log.info('NRI: on, but connections from plugins are disabled (nri_disable_connections)');
  const forwarder = new NriForwarder({ events: parts.events, pods: parts.pods, containers: parts.containers, nri: adaptation, log: parts.log });
  forwarder.start();
  return {
    plugins: () => adaptation.list(),
    stop: async () => {
      forwarder.stop();
      await adaptation.stop();
    },
  };
}
