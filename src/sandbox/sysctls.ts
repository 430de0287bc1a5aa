/**
 * Which sysctls a pod may set: only those the kernel keeps per namespace,
 * and only when the pod has that namespace of its own. Anything else
 * would change the node for everyone.
 */

import { invalidArgument } from '../errors.js';

const IPC_SYSCTLS = [
  'kernel.shmmax',
  'kernel.shmall',
  'kernel.shmmni',
  'kernel.shm_rmid_forced',
  'kernel.msgmax',
  'kernel.msgmnb',
  'kernel.msgmni',
  'kernel.sem',
];

export function sysctlNamespace(key: string): 'ipc' | 'net' | 'uts' | undefined {
  if (IPC_SYSCTLS.includes(key) || key.startsWith('fs.mqueue.')) return 'ipc';
  if (key.startsWith('net.')) return 'net';
  if (key === 'kernel.hostname' || key === 'kernel.domainname') return 'uts';
  return undefined;
}

export function checkSysctls(sysctls: Record<string, string>, hostNetwork: boolean, hostIpc: boolean): string[] {
  const out: string[] = [];
  for (const [rawKey, value] of Object.entries(sysctls)) {
    const key = rawKey.replace(/\//g, '.');
    const ns = sysctlNamespace(key);
    if (!ns) throw invalidArgument(`sysctl "${rawKey}" is not namespaced: a pod may not set it`);
    if (ns === 'net' && hostNetwork) throw invalidArgument(`sysctl "${rawKey}" needs the pod's own network namespace, but the pod uses the host's`);
    if (ns === 'ipc' && hostIpc) throw invalidArgument(`sysctl "${rawKey}" needs the pod's own IPC namespace, but the pod uses the host's`);
    if (ns === 'uts' && hostNetwork) throw invalidArgument(`sysctl "${rawKey}" needs the pod's own UTS namespace`);
    if (/[\n\0]/.test(value)) throw invalidArgument(`sysctl "${rawKey}" has an invalid value`);
    out.push(`${key}=${value}`);
  }
  return out;
}
