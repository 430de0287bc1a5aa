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
import { failedPrecondition } from '../errors.js';
import type { Spec } from '../oci/spec-types.js';
import { NriAdaptation, type PluginInfo } from './adaptation.js';
import { AdjustmentError, Owners, applyAdjustment } from './adjust.js';
import { type DescribedContainer, type DescribedPod, describeContainer, describeCreating, describePod } from './describe.js';
import { NriForwarder } from './forwarder.js';
import { launchPlugins } from './launch.js';

export interface NriParts {
  events: Pick<EventBus, 'subscribe'>;
  pods: { get(id: string): DescribedPod | undefined; list(): DescribedPod[] };
  containers: { get(id: string): DescribedContainer | undefined; list(): DescribedContainer[] };
  runtimeVersion: string;
  log: Logger;
}

export interface RunningNri {
  plugins(): PluginInfo[];
  /** Lets the plugins adjust a container's spec before it is written; a conflict between them fails the creation. */
  adjustContainer(
    pod: DescribedPod['meta'],
    spec: Spec,
    container: { id: string; sandboxId: string; name: string; labels: Record<string, string>; annotations: Record<string, string> },
  ): Promise<void>;
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
  // Installed plugins first, as containerd/nri does: they see the node before anyone else connects.
  const killLaunched = config.nri_plugin_dir
    ? await launchPlugins(adaptation, config.nri_plugin_dir, config.nri_plugin_config_dir, parts.log)
    : () => undefined;
  try {
    if (!config.nri_disable_connections) await adaptation.start();
    else parts.log.info('NRI: connections from plugins that start by themselves are disabled (nri_disable_connections)');
  } catch (err) {
    killLaunched();
    await adaptation.stop();
    throw err;
  }
  const forwarder = new NriForwarder({ events: parts.events, pods: parts.pods, containers: parts.containers, nri: adaptation, log: parts.log });
  forwarder.start();
  return {
    plugins: () => adaptation.list(),
    adjustContainer: async (pod, spec, container) => {
      const owners = new Owners();
      try {
        const adjusted = await adaptation.createContainer(
          describePod({ meta: pod }),
          () => describeCreating(container, spec),
          (adjust, plugin) => applyAdjustment(spec, adjust, plugin, owners),
        );
        if (adjusted.length > 0) parts.log.debug({ containerId: container.id, plugins: adjusted }, 'NRI: container adjusted');
      } catch (err) {
        if (err instanceof AdjustmentError) throw failedPrecondition(err.message);
        throw err;
      }
    },
    stop: async () => {
      forwarder.stop();
      await adaptation.stop();
      killLaunched();
    },
  };
}
