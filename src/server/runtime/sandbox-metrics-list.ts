import type { ListPodSandboxMetricsRequest__Output } from '../../generated/runtime/v1/ListPodSandboxMetricsRequest.js';
import type { ListPodSandboxMetricsResponse } from '../../generated/runtime/v1/ListPodSandboxMetricsResponse.js';
import type { PodSandboxMetrics } from '../../generated/runtime/v1/PodSandboxMetrics.js';
import { podMetrics } from '../../stats/metrics.js';
import { nowNs } from '../../util/time.js';
import type { CallContext } from '../deps.js';
import { selectSandboxes } from './select.js';

/** Metrics of every ready pod, cAdvisor-style, for the kubelet's /metrics/cadvisor. */
export async function collectPodMetrics(ctx: CallContext): Promise<PodSandboxMetrics[]> {
  const ts = nowNs();
  const device = ctx.deps.images.fsUsage().mountpoint;
  const pods = selectSandboxes(ctx, { state: { state: 'SANDBOX_READY' } });
  return Promise.all(pods.map(async (p) => podMetrics(ctx.deps.config.stats.included_pod_metrics, await ctx.deps.stats.podStats(p), ts, device)));
}

export async function listPodSandboxMetrics(ctx: CallContext, _req: ListPodSandboxMetricsRequest__Output): Promise<ListPodSandboxMetricsResponse> {
  return { podMetrics: await collectPodMetrics(ctx) };
}
