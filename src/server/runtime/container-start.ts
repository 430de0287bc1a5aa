import type { StartContainerRequest__Output } from '../../generated/runtime/v1/StartContainerRequest.js';
import type { StartContainerResponse } from '../../generated/runtime/v1/StartContainerResponse.js';
import type { CallContext } from '../deps.js';

export async function startContainer(ctx: CallContext, req: StartContainerRequest__Output): Promise<StartContainerResponse> {
  await ctx.deps.containers.start(req.containerId, ctx.log);
  return {};
}
