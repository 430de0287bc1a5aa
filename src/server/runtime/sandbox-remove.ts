import type { RemovePodSandboxRequest__Output } from '../../generated/runtime/v1/RemovePodSandboxRequest.js';
import type { RemovePodSandboxResponse } from '../../generated/runtime/v1/RemovePodSandboxResponse.js';
import type { CallContext } from '../deps.js';

/** Idempotent (api.proto: "must not return an error if the sandbox has already been removed"). */
export async function removePodSandbox(ctx: CallContext, req: RemovePodSandboxRequest__Output): Promise<RemovePodSandboxResponse> {
  await ctx.deps.sandboxes.remove(req.podSandboxId, ctx.log);
  return {};
}
