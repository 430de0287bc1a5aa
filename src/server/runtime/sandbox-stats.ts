import type { PodSandboxStatsRequest__Output } from '../../generated/runtime/v1/PodSandboxStatsRequest.js';
import type { PodSandboxStatsResponse } from '../../generated/runtime/v1/PodSandboxStatsResponse.js';
import type { CallContext } from '../deps.js';

export async function podSandboxStats(ctx: CallContext, req: PodSandboxStatsRequest__Output): Promise<PodSandboxStatsResponse> {
  const record = ctx.deps.sandboxes.mustGet(req.podSandboxId);
  return { stats: await ctx.deps.stats.podStats(record) };
}
