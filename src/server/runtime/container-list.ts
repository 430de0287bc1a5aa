import type { ListContainersRequest__Output } from '../../generated/runtime/v1/ListContainersRequest.js';
import type { ListContainersResponse } from '../../generated/runtime/v1/ListContainersResponse.js';
import type { CallContext } from '../deps.js';
import { GenerationCache } from './answer-cache.js';
import { toCriContainer } from './container-message.js';
import { isEmptyFilter, selectContainers } from './select.js';

const unfiltered = new GenerationCache<ListContainersResponse>();

/** Served from memory: the kubelet's PLEG calls this (unfiltered) every second. */
export async function listContainers(ctx: CallContext, req: ListContainersRequest__Output): Promise<ListContainersResponse> {
  const build = () => ({ containers: selectContainers(ctx, req.filter).map(toCriContainer) });
  return isEmptyFilter(req.filter) ? unfiltered.get(ctx.deps.containers.store, ctx.deps.containers.store.generation, build) : build();
}
