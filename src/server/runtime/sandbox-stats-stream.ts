import type { StreamPodSandboxStatsRequest__Output } from '../../generated/runtime/v1/StreamPodSandboxStatsRequest.js';
import type { StreamPodSandboxStatsResponse } from '../../generated/runtime/v1/StreamPodSandboxStatsResponse.js';
import type { CallContext } from '../deps.js';
import { podStatsTargets } from './sandbox-stats-list.js';
import { STREAM_BATCH } from './select.js';

/** ListPodSandboxStats in bounded batches (CRI 1.36). */
export async function streamPodSandboxStats(
  ctx: CallContext,
  req: StreamPodSandboxStatsRequest__Output,
  send: (m: StreamPodSandboxStatsResponse) => Promise<void>,
): Promise<void> {
  const targets = podStatsTargets(ctx, req.filter);
  for (let i = 0; i < targets.length; i += STREAM_BATCH) {
    await send({ podSandboxStats: await Promise.all(targets.slice(i, i + STREAM_BATCH).map((r) => ctx.deps.stats.podStats(r))) });
  }
}
