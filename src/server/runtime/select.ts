/**
 * The filters of the list RPCs, shared by their unary and streaming forms
 * so both return exactly the same items.
 */

import type { ContainerRecord } from '../../container/container-service.js';
import type { SandboxRecord } from '../../sandbox/sandbox-service.js';
import type { CallContext } from '../deps.js';
import { matchesLabels } from './label-filter.js';

export interface SandboxFilterLike {
  id?: string;
  state?: { state: string } | null;
  labelSelector?: Record<string, string>;
}

export interface ContainerFilterLike {
  id?: string;
  podSandboxId?: string;
  state?: { state: string } | null;
  labelSelector?: Record<string, string>;
}

/** A filter that lets everything through (absent, or with no field set). */
export function isEmptyFilter(f: ContainerFilterLike | SandboxFilterLike | null | undefined): boolean {
  if (!f) return true;
  const c = f as ContainerFilterLike;
  return !c.id && !c.podSandboxId && !c.state && Object.keys(c.labelSelector ?? {}).length === 0;
}

export function selectSandboxes(ctx: CallContext, f: SandboxFilterLike | null | undefined): SandboxRecord[] {
  let records = ctx.deps.sandboxes.list();
  if (f?.id) {
    const one = ctx.deps.sandboxes.get(f.id);
    records = one ? [one] : [];
  }
  if (f?.state) records = records.filter((r) => r.status.state === f.state!.state);
  if (f?.labelSelector) records = records.filter((r) => matchesLabels(r.meta.config.labels, f.labelSelector));
  return records;
}

export function selectContainers(ctx: CallContext, f: ContainerFilterLike | null | undefined): ContainerRecord[] {
  let records = ctx.deps.containers.list();
  if (f?.id) records = records.filter((r) => r.meta.id.startsWith(f.id!));
  if (f?.podSandboxId) records = records.filter((r) => r.meta.sandboxId.startsWith(f.podSandboxId!));
  if (f?.state) records = records.filter((r) => r.status.state === f.state!.state);
  if (f?.labelSelector) records = records.filter((r) => matchesLabels(r.meta.labels, f.labelSelector));
  return records;
}

/** Items per streamed message: well below the kubelet's 16 MiB message limit. */
export const STREAM_BATCH = 200;

export async function sendInBatches<T, M>(items: T[], send: (m: M) => Promise<void>, wrap: (batch: T[]) => M): Promise<void> {
  for (let i = 0; i < items.length; i += STREAM_BATCH) await send(wrap(items.slice(i, i + STREAM_BATCH)));
}
