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
    runtimeHandlers: [],
  };
}
