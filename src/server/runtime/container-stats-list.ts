import type { ListContainerStatsRequest__Output } from '../../generated/runtime/v1/ListContainerStatsRequest.js';
import type { ListContainerStatsResponse } from '../../generated/runtime/v1/ListContainerStatsResponse.js';
import type { CallContext } from '../deps.js';
import { selectContainers } from './select.js';

/** Stats of running containers matching the filter (the kubelet's summary and eviction inputs). */
export function statsTargets(ctx: CallContext, f: ListContainerStatsRequest__Output['filter']) {
  return selectContainers(ctx, { id: f?.id, podSandboxId: f?.podSandboxId, labelSelector: f?.labelSelector, state: { state: 'CONTAINER_RUNNING' } });
}

export async function listContainerStats(ctx: CallContext, req: ListContainerStatsRequest__Output): Promise<ListContainerStatsResponse> {
  return { stats: await Promise.all(statsTargets(ctx, req.filter).map((r) => ctx.deps.stats.containerStats(r))) };
}
