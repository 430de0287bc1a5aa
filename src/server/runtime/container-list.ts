import type { ListContainersRequest__Output } from '../../generated/runtime/v1/ListContainersRequest.js';
import type { ListContainersResponse } from '../../generated/runtime/v1/ListContainersResponse.js';
import type { CallContext } from '../deps.js';
import { toCriContainer } from './container-message.js';
import { selectContainers } from './select.js';

/** Served from memory: the kubelet's PLEG calls this every second. */
export async function listContainers(ctx: CallContext, req: ListContainersRequest__Output): Promise<ListContainersResponse> {
  return { containers: selectContainers(ctx, req.filter).map(toCriContainer) };
}
