import type { UpdatePodSandboxResourcesRequest__Output } from '../../generated/runtime/v1/UpdatePodSandboxResourcesRequest.js';
import type { UpdatePodSandboxResourcesResponse } from '../../generated/runtime/v1/UpdatePodSandboxResourcesResponse.js';
import type { CallContext } from '../deps.js';

/**
 * The kubelet tells the runtime about new pod-level resources after it
 * resized the pod cgroup itself (in-place resize); berth records them so
 * PodSandboxStatus can report them.
 */
export async function updatePodSandboxResources(ctx: CallContext, req: UpdatePodSandboxResourcesRequest__Output): Promise<UpdatePodSandboxResourcesResponse> {
  await ctx.deps.sandboxes.recordResources(req.podSandboxId, { overhead: req.overhead, resources: req.resources });
  return {};
}
