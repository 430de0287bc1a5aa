import { createHash, randomBytes } from 'node:crypto';

/** A new 64-hex id for a sandbox or container. */
export function newId(): string {
  return randomBytes(32).toString('hex');
}

/** A stable digest of a request, so an identical retry can be recognised. */
export function requestKey(request: unknown): string {
  const json = JSON.stringify(request, (_k, v: unknown) => {
    if (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) {
      return Buffer.from((v as { data: number[] }).data).toString('base64');
    }
    return v;
  });
  return createHash('sha256').update(json).digest('hex');
}

/** `k8s_` names, unique per object, as CRI-O and dockershim build them. */
export function sandboxName(m: { name: string; namespace: string; uid: string; attempt: number }): string {
  return `k8s_${m.name}_${m.namespace}_${m.uid}_${m.attempt}`;
}

export function containerName(c: { name: string; attempt: number }, pod: { name: string; namespace: string; uid: string }): string {
  return `k8s_${c.name}_${pod.name}_${pod.namespace}_${pod.uid}_${c.attempt}`;
}
