import type { ContainerStatusRequest__Output } from '../../generated/runtime/v1/ContainerStatusRequest.js';
import type { ContainerStatusResponse } from '../../generated/runtime/v1/ContainerStatusResponse.js';
import type { CallContext } from '../deps.js';
import type { ContainerStatus } from '../../container/container.js';
import { IdentityCache } from './answer-cache.js';
import { toCriContainerStatus } from './container-message.js';

/** Plain answers by status object: the kubelet asks for every container every second. */
const plain = new IdentityCache<ContainerStatus, ContainerStatusResponse>();

export async function containerStatus(ctx: CallContext, req: ContainerStatusRequest__Output): Promise<ContainerStatusResponse> {
  const record = ctx.deps.containers.mustGet(req.containerId);
  if (!req.verbose) return plain.get(record.status, () => ({ status: toCriContainerStatus(record), info: {} }));
  const info: Record<string, string> = {};
  {
    info.info = JSON.stringify({
      sandboxID: record.meta.sandboxId, pid: record.status.pid ?? 0, name: record.meta.name, runtimeHandler: record.meta.runtimeHandler,
      bundle: record.meta.bundle, runtimeSpec: `${record.meta.bundle}/config.json`, persistDir: record.meta.persistDir,
    });
  }
  return { status: toCriContainerStatus(record), info };
}
