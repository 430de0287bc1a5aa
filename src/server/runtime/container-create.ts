import type { CreateContainerRequest__Output } from '../../generated/runtime/v1/CreateContainerRequest.js';
import type { CreateContainerResponse } from '../../generated/runtime/v1/CreateContainerResponse.js';
import { invalidArgument } from '../../errors.js';
import type { CallContext } from '../deps.js';

export async function createContainer(ctx: CallContext, req: CreateContainerRequest__Output): Promise<CreateContainerResponse> {
  if (!req.podSandboxId) throw invalidArgument('CreateContainer: pod_sandbox_id is empty');
  return { containerId: await ctx.deps.containers.create(req.podSandboxId, req.config, ctx.log) };
}
