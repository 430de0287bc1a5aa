import type { CniResult } from './types.js';

/**
 * Pod IPs from a CNI result. Results of every supported version (0.3.0 to
 * 1.1.0) list `ips` with CIDR addresses; only those on the pod's interface
 * (or not tied to one) count. The first is the primary IP, as the
 * kubelet expects; the rest are additional (dual-stack).
 */
export function podIps(result: CniResult | undefined, ifname = 'eth0'): string[] {
  if (!result?.ips) return [];
  const sandboxIfaces = new Set(
    (result.interfaces ?? [])
      .map((iface, i) => ({ iface, i }))
      .filter(({ iface }) => iface.sandbox && iface.name === ifname)
      .map(({ i }) => i),
  );
  const out: string[] = [];
  for (const ip of result.ips) {
    if (typeof ip.address !== 'string') continue;
    if (ip.interface !== undefined && sandboxIfaces.size > 0 && !sandboxIfaces.has(ip.interface)) continue;
    const address = ip.address.split('/')[0]!;
    // A loopback address is never how anyone reaches a pod.
    if (address.startsWith('127.') || address === '::1') continue;
    if (!out.includes(address)) out.push(address);
  }
  return out;
}

/**
 * Brings a result to the version of the configuration it is passed along
 * in as prevResult. Between 0.3.0 and 1.1.0 the shape is the same but for
 * the per-IP `version` field, which 1.0.0 removed.
 */
export function convertResult(result: CniResult, toVersion: string): CniResult {
  const ips = result.ips?.map((ip) => {
    const { version: _v, ...rest } = ip as typeof ip & { version?: string };
    if (toVersion.startsWith('0.')) return { ...rest, version: rest.address.includes(':') ? '6' : '4' };
    return rest;
  });
  return { ...result, cniVersion: toVersion, ...(ips ? { ips } : {}) };
}
