import type { ListPodSandboxRequest__Output } from '../../generated/runtime/v1/ListPodSandboxRequest.js';
import type { ListPodSandboxResponse } from '../../generated/runtime/v1/ListPodSandboxResponse.js';
import type { CallContext } from '../deps.js';
import { matchesLabels } from './label-filter.js';
import { toCriSandbox } from './sandbox-message.js';

/** Served from memory: the kubelet's PLEG calls this every second. */
export async function listPodSandbox(ctx: CallContext, req: ListPodSandboxRequest__Output): Promise<ListPodSandboxResponse> {
  const f = req.filter;
  let records = ctx.deps.sandboxes.list();
  if (f?.id) {
    const one = ctx.deps.sandboxes.get(f.id);
    records = one ? [one] : [];
  }
  if (f?.state) records = records.filter((r) => r.status.state === f.state!.state);
  if (f?.labelSelector) records = records.filter((r) => matchesLabels(r.meta.config.labels, f.labelSelector));
  return { items: records.map(toCriSandbox) };
}
