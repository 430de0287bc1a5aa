import type { StreamPodSandboxesRequest__Output } from '../../generated/runtime/v1/StreamPodSandboxesRequest.js';
import type { StreamPodSandboxesResponse } from '../../generated/runtime/v1/StreamPodSandboxesResponse.js';
import type { CallContext } from '../deps.js';
import { toCriSandbox } from './sandbox-message.js';
import { selectSandboxes, sendInBatches } from './select.js';

/** ListPodSandbox in bounded batches (CRI 1.36). */
export async function streamPodSandboxes(
  ctx: CallContext,
  req: StreamPodSandboxesRequest__Output,
  send: (m: StreamPodSandboxesResponse) => Promise<void>,
): Promise<void> {
  await sendInBatches(selectSandboxes(ctx, req.filter), send, (batch) => ({ podSandboxes: batch.map(toCriSandbox) }));
}
