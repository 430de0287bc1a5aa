import type { ListContainersRequest__Output } from '../../generated/runtime/v1/ListContainersRequest.js';
import type { ListContainersResponse } from '../../generated/runtime/v1/ListContainersResponse.js';
import type { CallContext } from '../deps.js';
import { toCriContainer } from './container-message.js';
import { matchesLabels } from './label-filter.js';

/** Served from memory: the kubelet's PLEG calls this every second. */
export async function listContainers(ctx: CallContext, req: ListContainersRequest__Output): Promise<ListContainersResponse> {
  const f = req.filter;
  let records = ctx.deps.containers.list();
  if (f?.id) records = records.filter((r) => r.meta.id.startsWith(f.id));
  if (f?.podSandboxId) records = records.filter((r) => r.meta.sandboxId.startsWith(f.podSandboxId));
  if (f?.state) records = records.filter((r) => r.status.state === f.state!.state);
  if (f?.labelSelector) records = records.filter((r) => matchesLabels(r.meta.labels, f.labelSelector));
  return { containers: records.map(toCriContainer) };
}
