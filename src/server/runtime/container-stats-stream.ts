import type { StreamContainerStatsRequest__Output } from '../../generated/runtime/v1/StreamContainerStatsRequest.js';
import type { StreamContainerStatsResponse } from '../../generated/runtime/v1/StreamContainerStatsResponse.js';
import type { CallContext } from '../deps.js';
import { statsTargets } from './container-stats-list.js';
import { STREAM_BATCH } from './select.js';

/** ListContainerStats in bounded batches (CRI 1.36). */
export async function streamContainerStats(
  ctx: CallContext,
  req: StreamContainerStatsRequest__Output,
  send: (m: StreamContainerStatsResponse) => Promise<void>,
): Promise<void> {
  const targets = statsTargets(ctx, req.filter);
  for (let i = 0; i < targets.length; i += STREAM_BATCH) {
    await send({ containerStats: await Promise.all(targets.slice(i, i + STREAM_BATCH).map((r) => ctx.deps.stats.containerStats(r))) });
  }
}
