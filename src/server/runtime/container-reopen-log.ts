import type { ReopenContainerLogRequest__Output } from '../../generated/runtime/v1/ReopenContainerLogRequest.js';
import type { ReopenContainerLogResponse } from '../../generated/runtime/v1/ReopenContainerLogResponse.js';
import type { CallContext } from '../deps.js';

export async function reopenContainerLog(ctx: CallContext, req: ReopenContainerLogRequest__Output): Promise<ReopenContainerLogResponse> {
  await ctx.deps.containers.reopenLog(req.containerId);
  return {};
}
