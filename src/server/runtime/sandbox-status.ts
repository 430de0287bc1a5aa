import type { PodSandboxStatusRequest__Output } from '../../generated/runtime/v1/PodSandboxStatusRequest.js';
import type { PodSandboxStatusResponse } from '../../generated/runtime/v1/PodSandboxStatusResponse.js';
import { nowNs } from '../../util/time.js';
import type { CallContext } from '../deps.js';
import { toCriContainerStatus } from './container-message.js';
import { toCriSandboxStatus } from './sandbox-message.js';
import { sandboxInfo } from './verbose-info.js';

export async function podSandboxStatus(ctx: CallContext, req: PodSandboxStatusRequest__Output): Promise<PodSandboxStatusResponse> {
  const record = ctx.deps.sandboxes.mustGet(req.podSandboxId);
  const info: Record<string, string> = {};
  if (req.verbose) {
    // The last CNI CHECK (after ADD and every network.check_interval), not a plugin run per call.
    const check = ctx.deps.sandboxes.lastNetworkCheck(record.meta.id);
    info.info = JSON.stringify({ ...(await sandboxInfo(ctx, record)), cniCheck: check?.result, cniCheckedAt: check?.checkedAt });
  }
  const containers = ctx.deps.containers.list().filter((c) => c.meta.sandboxId === record.meta.id);
  return { status: toCriSandboxStatus(record), info, containersStatuses: containers.map(toCriContainerStatus), timestamp: nowNs() };
}
