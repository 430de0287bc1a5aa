import type { StopContainerRequest__Output } from '../../generated/runtime/v1/StopContainerRequest.js';
import type { StopContainerResponse } from '../../generated/runtime/v1/StopContainerResponse.js';
import type { CallContext } from '../deps.js';

/** Idempotent (api.proto: "must not return an error if the container has already been stopped"). */
export async function stopContainer(ctx: CallContext, req: StopContainerRequest__Output): Promise<StopContainerResponse> {
  await ctx.deps.containers.stop(req.containerId, Math.max(0, Number(req.timeout)));
  return {};
}
