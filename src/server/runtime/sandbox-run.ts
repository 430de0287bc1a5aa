import type { RunPodSandboxRequest__Output } from '../../generated/runtime/v1/RunPodSandboxRequest.js';
import type { RunPodSandboxResponse } from '../../generated/runtime/v1/RunPodSandboxResponse.js';
import type { CallContext } from '../deps.js';

export async function runPodSandbox(ctx: CallContext, req: RunPodSandboxRequest__Output): Promise<RunPodSandboxResponse> {
  return { podSandboxId: await ctx.deps.sandboxes.run(req.config, req.runtimeHandler, ctx.log) };
}
