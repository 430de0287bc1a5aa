/**
 * Whether CNI CHECK of one plugin can tell anything. The bandwidth plugin
 * without a rate (neither in its configuration nor from the pod's
 * annotations) configured nothing, so there is nothing to check; and
 * containernetworking-plugins before 1.2 (Debian 12 ships 1.1.1)
 * dereferences the missing rate and dies with a Go crash trace on every
 * such CHECK, which would make every pod of the default network report a
 * failure. CRI-O and containerd do not CHECK at all by default.
 */

import type { NetworkConfigList } from './types.js';

const BANDWIDTH_KEYS = ['ingressRate', 'ingressBurst', 'egressRate', 'egressBurst'];

export function checkApplies(plugin: NetworkConfigList['plugins'][number], runtimeConfig: Record<string, unknown>): boolean {
  if (plugin.type !== 'bandwidth') return true;
  const fields = plugin as Record<string, unknown>;
  return runtimeConfig.bandwidth !== undefined || BANDWIDTH_KEYS.some((k) => fields[k] !== undefined);
}
