import type { ContainerStatusRequest__Output } from '../../generated/runtime/v1/ContainerStatusRequest.js';
import type { ContainerStatusResponse } from '../../generated/runtime/v1/ContainerStatusResponse.js';
import type { CallContext } from '../deps.js';
import type { ContainerStatus } from '../../container/container.js';
import { IdentityCache } from './answer-cache.js';
import { toCriContainerStatus } from './container-message.js';
import { containerInfo } from './verbose-info.js';

/** Plain answers by status object: the kubelet asks for every container every second. */
const plain = new IdentityCache<ContainerStatus, ContainerStatusResponse>();

export async function containerStatus(ctx: CallContext, req: ContainerStatusRequest__Output): Promise<ContainerStatusResponse> {
  const record = ctx.deps.containers.mustGet(req.containerId);
  if (!req.verbose) return plain.get(record.status, () => ({ status: toCriContainerStatus(record), info: {} }));
  return { status: toCriContainerStatus(record), info: { info: JSON.stringify(await containerInfo(ctx, record)) } };
}
