import type { StatusRequest__Output } from '../../generated/runtime/v1/StatusRequest.js';
import type { StatusResponse } from '../../generated/runtime/v1/StatusResponse.js';
import type { CallContext } from '../deps.js';

/**
 * RuntimeReady and NetworkReady: the kubelet needs both conditions (it
 * rejects fewer than two). Pod networking arrives with CNI support; until
 * then the network condition says so plainly.
 */
export async function status(ctx: CallContext, req: StatusRequest__Output): Promise<StatusResponse> {
  const info: Record<string, string> = {};
  if (req.verbose) info.config = JSON.stringify(ctx.deps.config);
  return {
    status: {
      conditions: [
        { type: 'RuntimeReady', status: true, reason: '', message: '' },
        {
          type: 'NetworkReady',
          status: false,
          reason: 'NetworkPluginNotReady',
          message: 'berth: pod networking (CNI) is not implemented in this version',
        },
      ],
    },
    info,
    // Features are stated honestly: runc 1.1 here cannot apply recursive
    // read-only mounts and berth does not set up user namespaces yet.
    runtimeHandlers: Object.keys(ctx.deps.config.runtimes).map((name) => ({
      name: name === ctx.deps.config.runtime.default_runtime ? '' : name,
      features: { recursiveReadOnlyMounts: false, userNamespaces: false },
    })).concat([{ name: ctx.deps.config.runtime.default_runtime, features: { recursiveReadOnlyMounts: false, userNamespaces: false } }]),
    features: { supplementalGroupsPolicy: true, userNamespacesHostNetwork: false },
  };
}
