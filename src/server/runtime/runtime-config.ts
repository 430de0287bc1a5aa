import type { RuntimeConfigRequest__Output } from '../../generated/runtime/v1/RuntimeConfigRequest.js';
import type { RuntimeConfigResponse } from '../../generated/runtime/v1/RuntimeConfigResponse.js';
import type { CallContext } from '../deps.js';

/** Tells the kubelet which cgroup driver to use (KubeletCgroupDriverFromCRI). */
export async function runtimeConfig(ctx: CallContext, _req: RuntimeConfigRequest__Output): Promise<RuntimeConfigResponse> {
  return { linux: { cgroupDriver: ctx.deps.config.runtime.cgroup_manager === 'systemd' ? 'SYSTEMD' : 'CGROUPFS' } };
}
