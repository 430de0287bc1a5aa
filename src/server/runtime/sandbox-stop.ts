import type { StopPodSandboxRequest__Output } from '../../generated/runtime/v1/StopPodSandboxRequest.js';
import type { StopPodSandboxResponse } from '../../generated/runtime/v1/StopPodSandboxResponse.js';
import type { CallContext } from '../deps.js';

/** Idempotent (api.proto: "must not return an error if all relevant resources have already been reclaimed"). */
export async function stopPodSandbox(ctx: CallContext, req: StopPodSandboxRequest__Output): Promise<StopPodSandboxResponse> {
  await ctx.deps.sandboxes.stop(req.podSandboxId, ctx.log);
  return {};
}
