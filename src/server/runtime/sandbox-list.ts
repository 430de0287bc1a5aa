import type { ListPodSandboxRequest__Output } from '../../generated/runtime/v1/ListPodSandboxRequest.js';
import type { ListPodSandboxResponse } from '../../generated/runtime/v1/ListPodSandboxResponse.js';
import type { CallContext } from '../deps.js';
import { GenerationCache } from './answer-cache.js';
import { toCriSandbox } from './sandbox-message.js';
import { isEmptyFilter, selectSandboxes } from './select.js';

const unfiltered = new GenerationCache<ListPodSandboxResponse>();

/** Served from memory: the kubelet's PLEG calls this (unfiltered) every second. */
export async function listPodSandbox(ctx: CallContext, req: ListPodSandboxRequest__Output): Promise<ListPodSandboxResponse> {
  const build = () => ({ items: selectSandboxes(ctx, req.filter).map(toCriSandbox) });
  return isEmptyFilter(req.filter) ? unfiltered.get(ctx.deps.sandboxes.store, ctx.deps.sandboxes.store.generation, build) : build();
}
