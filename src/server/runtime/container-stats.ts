import type { ContainerStatsRequest__Output } from '../../generated/runtime/v1/ContainerStatsRequest.js';
import type { ContainerStatsResponse } from '../../generated/runtime/v1/ContainerStatsResponse.js';
import type { CallContext } from '../deps.js';

export async function containerStats(ctx: CallContext, req: ContainerStatsRequest__Output): Promise<ContainerStatsResponse> {
  const record = ctx.deps.containers.mustGet(req.containerId);
  return { stats: await ctx.deps.stats.containerStats(record) };
}
