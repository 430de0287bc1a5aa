import type { StatusRequest__Output } from '../../generated/runtime/v1/StatusRequest.js';
import type { StatusResponse } from '../../generated/runtime/v1/StatusResponse.js';
import { rroSupported } from '../../container/rro.js';
import type { CallContext } from '../deps.js';

/**
 * RuntimeReady and NetworkReady: the kubelet needs both conditions (it
 * rejects fewer than two). The network is ready once a valid CNI
 * configuration whose plugins are all installed is found.
 */
export async function status(ctx: CallContext, req: StatusRequest__Output): Promise<StatusResponse> {
  const info: Record<string, string> = {};
  const network = await ctx.deps.network.status();
  if (req.verbose) info.config = JSON.stringify(ctx.deps.config);
  if (req.verbose && ctx.deps.nri) info.nri = JSON.stringify({ plugins: ctx.deps.nri.plugins() });
  return {
    status: {
      conditions: [
        { type: 'RuntimeReady', status: true, reason: '', message: '' },
        network.ready
          ? { type: 'NetworkReady', status: true, reason: '', message: '' }
          : { type: 'NetworkReady', status: false, reason: 'NetworkPluginNotReady', message: `berth: network plugin not ready: ${network.message}` },
      ],
    },
    info,
    // Features are stated honestly: recursive read-only mounts where the
    // kernel has mount_setattr (berth prepares them, not runc); berth does
    // gives pods user namespaces (without idmapped mounts yet).
    runtimeHandlers: Object.keys(ctx.deps.config.runtimes)
      .map((name) => ({
        name: name === ctx.deps.config.runtime.default_runtime ? '' : name,
        features: { recursiveReadOnlyMounts: rroSupported(), userNamespaces: true },
      }))
      .concat([{ name: ctx.deps.config.runtime.default_runtime, features: { recursiveReadOnlyMounts: rroSupported(), userNamespaces: true } }]),
    features: { supplementalGroupsPolicy: true, userNamespacesHostNetwork: false },
  };
}
