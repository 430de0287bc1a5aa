import type { UpdateContainerResourcesRequest__Output } from '../../generated/runtime/v1/UpdateContainerResourcesRequest.js';
import type { UpdateContainerResourcesResponse } from '../../generated/runtime/v1/UpdateContainerResourcesResponse.js';
import type { CriResources } from '../../container/spec/resources.js';
import type { CallContext } from '../deps.js';

export async function updateContainerResources(ctx: CallContext, req: UpdateContainerResourcesRequest__Output): Promise<UpdateContainerResourcesResponse> {
  await ctx.deps.containers.updateResources(req.containerId, req.linux as CriResources | null, ctx.log);
  return {};
}
