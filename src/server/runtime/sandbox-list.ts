import type { ListPodSandboxRequest__Output } from '../../generated/runtime/v1/ListPodSandboxRequest.js';
import type { ListPodSandboxResponse } from '../../generated/runtime/v1/ListPodSandboxResponse.js';
import type { CallContext } from '../deps.js';
import { toCriSandbox } from './sandbox-message.js';
import { selectSandboxes } from './select.js';

/** Served from memory: the kubelet's PLEG calls this every second. */
export async function listPodSandbox(ctx: CallContext, req: ListPodSandboxRequest__Output): Promise<ListPodSandboxResponse> {
  return { items: selectSandboxes(ctx, req.filter).map(toCriSandbox) };
}
