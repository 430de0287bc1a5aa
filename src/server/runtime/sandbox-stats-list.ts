import type { ListPodSandboxStatsRequest__Output } from '../../generated/runtime/v1/ListPodSandboxStatsRequest.js';
import type { ListPodSandboxStatsResponse } from '../../generated/runtime/v1/ListPodSandboxStatsResponse.js';
import type { CallContext } from '../deps.js';
import { selectSandboxes } from './select.js';

/** Stats of ready pods matching the filter. */
export function podStatsTargets(ctx: CallContext, f: ListPodSandboxStatsRequest__Output['filter']) {
  return selectSandboxes(ctx, { id: f?.id, labelSelector: f?.labelSelector, state: { state: 'SANDBOX_READY' } });
}

export async function listPodSandboxStats(ctx: CallContext, req: ListPodSandboxStatsRequest__Output): Promise<ListPodSandboxStatsResponse> {
  return { stats: await Promise.all(podStatsTargets(ctx, req.filter).map((r) => ctx.deps.stats.podStats(r))) };
}
