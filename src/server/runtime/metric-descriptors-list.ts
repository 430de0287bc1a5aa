import type { ListMetricDescriptorsRequest__Output } from '../../generated/runtime/v1/ListMetricDescriptorsRequest.js';
import type { ListMetricDescriptorsResponse } from '../../generated/runtime/v1/ListMetricDescriptorsResponse.js';
import { metricDescriptors } from '../../stats/metrics.js';
import type { CallContext } from '../deps.js';

export async function listMetricDescriptors(ctx: CallContext, _req: ListMetricDescriptorsRequest__Output): Promise<ListMetricDescriptorsResponse> {
  return { descriptors: metricDescriptors(ctx.deps.config.stats.included_pod_metrics) };
}
