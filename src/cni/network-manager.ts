/**
 * Pod networks through CNI: ADD runs the chain of plugins in order, each
 * given the previous one's result; DEL runs it in reverse with the result
 * kept from ADD and the configuration used then (even if the operator has
 * changed it since); CHECK verifies; GC (spec 1.1) frees what no live pod
 * holds.
 */

import { stat } from 'node:fs/promises';
import { failedPrecondition, messageOf, runtimeFailed } from '../errors.js';
import type { Logger } from '../log.js';
import type { CniConfigSource, NetworkSelection } from './config-source.js';
import type { PluginCall, PluginRunner } from './invoke.js';
import { convertResult } from './result.js';
import { checkApplies } from './check-applies.js';
import { type PodNetworkIdentity, type RuntimeInputs, cniArgs, runtimeConfig } from './runtime-args.js';
import type { CniResult, NetworkConfigList } from './types.js';
import { span } from '../tracing/tracing.js';

export interface PodNetwork {
  network: NetworkConfigList;
  identity: PodNetworkIdentity;
  netns: string;
  ifname: string;
  inputs: RuntimeInputs;
  result?: CniResult;
}

export const POD_IFNAME = 'eth0';

function versionAtLeast(version: string, min: string): boolean {
  const a = version.split('.').map(Number);
  const b = min.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  return true;
}

export class NetworkManager {
  private podCidr = '';

  constructor(
    private readonly source: CniConfigSource,
    private readonly runner: PluginRunner,
    private timeoutMs: number,
    private readonly log: Logger,
  ) {}

  /** How long one plugin call may take, from a reload on. */
  setPluginTimeout(ms: number): void {
    this.timeoutMs = ms;
  }

  status(): Promise<NetworkSelection> {
    return this.source.current();
  }

  setPodCidr(cidr: string): void {
    this.podCidr = cidr;
  }

  /**
   * Sets up the pod's network. `remember` is called with the plan before
   * the first plugin runs (so a crash leaves enough to tear it down) and
   * again with the result.
   */
  async setUp(
    identity: PodNetworkIdentity,
    netns: string,
    inputs: Omit<RuntimeInputs, 'podCidr'>,
    remember: (n: PodNetwork) => Promise<void>,
  ): Promise<PodNetwork> {
    const selection = await this.source.current();
    if (!selection.ready || !selection.network) throw failedPrecondition(`pod network is not ready: ${selection.message}`);
    const pod: PodNetwork = { network: selection.network, identity, netns, ifname: POD_IFNAME, inputs: { ...inputs, podCidr: this.podCidr } };
    await remember(pod);
    let prev: CniResult | undefined;
    for (const plugin of pod.network.plugins) {
      const result = (await this.call('ADD', pod, plugin, prev)) as CniResult | undefined;
      if (!result) throw runtimeFailed(`CNI plugin ${plugin.type} ADD returned no result`);
      prev = convertResult(result, pod.network.cniVersion);
    }
    pod.result = prev;
    await remember(pod);
    return pod;
  }

  /** Tears down with what ADD used; a namespace already gone is fine. */
  async tearDown(pod: PodNetwork): Promise<void> {
    const netnsExists = await stat(pod.netns).then(
      () => true,
      () => false,
    );
    const target = { ...pod, netns: netnsExists ? pod.netns : '' };
    const errors: string[] = [];
    for (const plugin of [...pod.network.plugins].reverse()) {
      const prev = versionAtLeast(pod.network.cniVersion, '0.4.0') ? pod.result : undefined;
      try {
        await this.call('DEL', target, plugin, prev);
      } catch (err) {
        errors.push(messageOf(err));
      }
    }
    if (errors.length > 0) throw runtimeFailed(`tearing down the network of pod ${pod.identity.namespace}/${pod.identity.name}: ${errors.join('; ')}`);
  }

  /** CNI CHECK, where the configuration allows it; undefined when it does not apply. */
  async check(pod: PodNetwork): Promise<string | undefined> {
    if (!versionAtLeast(pod.network.cniVersion, '0.4.0') || pod.network.disableCheck || !pod.result) return undefined;
    let prev = pod.result;
    for (const plugin of pod.network.plugins) {
      if (!checkApplies(plugin, runtimeConfig(plugin.capabilities, pod.inputs))) continue;
      try {
        await this.call('CHECK', pod, plugin, prev);
      } catch (err) {
        return messageOf(err);
      }
      prev = pod.result;
    }
    return 'ok';
  }

  /** CNI GC (spec 1.1): plugins release anything not held by these attachments. */
  async collectGarbage(attachments: { containerId: string; ifname: string }[]): Promise<void> {
    const selection = await this.source.current();
    const net = selection.network;
    if (!net || !versionAtLeast(net.cniVersion, '1.1.0') || net.disableGC) return;
    const valid = attachments.map((a) => ({ containerID: a.containerId, ifname: a.ifname }));
    for (const plugin of net.plugins) {
      const binary = await this.source.findPlugin(plugin.type);
      if (!binary) continue;
      try {
        await this.runner.run({
          binary,
          command: 'GC',
          containerId: '',
          netns: '',
          ifname: '',
          args: '',
          path: this.source.pluginPath,
          timeoutMs: this.timeoutMs,
          config: { ...plugin, cniVersion: net.cniVersion, name: net.name, 'cni.dev/valid-attachments': valid },
        });
      } catch (err) {
        this.log.warn({ plugin: plugin.type, err: messageOf(err) }, 'CNI GC failed');
      }
    }
  }

  private async call(
    command: PluginCall['command'],
    pod: PodNetwork,
    plugin: NetworkConfigList['plugins'][number],
    prev: CniResult | undefined,
  ): Promise<unknown> {
    const binary = await this.source.findPlugin(plugin.type);
    if (!binary) throw failedPrecondition(`CNI plugin "${plugin.type}" not found in ${this.source.pluginPath}`);
    const rc = runtimeConfig(plugin.capabilities, pod.inputs);
    const config: Record<string, unknown> = { ...plugin, cniVersion: pod.network.cniVersion, name: pod.network.name };
    if (Object.keys(rc).length > 0) config.runtimeConfig = rc;
    if (prev) config.prevResult = prev;
    const attributes = { 'cni.plugin': plugin.type, 'cni.network': pod.network.name, 'k8s.pod.sandbox.id': pod.identity.sandboxId };
    return span(`cni.${command.toLowerCase()}`, attributes, () =>
      this.runner.run({
        binary,
        command,
        containerId: pod.identity.sandboxId,
        netns: pod.netns,
        ifname: pod.ifname,
        args: cniArgs(pod.identity),
        path: this.source.pluginPath,
        config,
        timeoutMs: this.timeoutMs,
      }),
    );
  }
}
