import type { StreamPodSandboxMetricsRequest__Output } from '../../generated/runtime/v1/StreamPodSandboxMetricsRequest.js';
import type { StreamPodSandboxMetricsResponse } from '../../generated/runtime/v1/StreamPodSandboxMetricsResponse.js';
import type { CallContext } from '../deps.js';
import { collectPodMetrics } from './sandbox-metrics-list.js';
import { sendInBatches } from './select.js';

/** ListPodSandboxMetrics in bounded batches (CRI 1.36). */
export async function streamPodSandboxMetrics(
  ctx: CallContext,
  _req: StreamPodSandboxMetricsRequest__Output,
  send: (m: StreamPodSandboxMetricsResponse) => Promise<void>,
): Promise<void> {
  await sendInBatches(await collectPodMetrics(ctx), send, (batch) => ({ podSandboxMetrics: batch }));
}
