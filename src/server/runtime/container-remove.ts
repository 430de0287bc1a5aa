import type { RemoveContainerRequest__Output } from '../../generated/runtime/v1/RemoveContainerRequest.js';
import type { RemoveContainerResponse } from '../../generated/runtime/v1/RemoveContainerResponse.js';
import type { CallContext } from '../deps.js';

/** Forcibly removes, running or not. Idempotent (api.proto: "must not return an error if the container has already been removed"). */
export async function removeContainer(ctx: CallContext, req: RemoveContainerRequest__Output): Promise<RemoveContainerResponse> {
  await ctx.deps.containers.remove(req.containerId, ctx.log);
  return {};
}
