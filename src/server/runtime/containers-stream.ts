import type { StreamContainersRequest__Output } from '../../generated/runtime/v1/StreamContainersRequest.js';
import type { StreamContainersResponse } from '../../generated/runtime/v1/StreamContainersResponse.js';
import type { CallContext } from '../deps.js';
import { toCriContainer } from './container-message.js';
import { selectContainers, sendInBatches } from './select.js';

/** ListContainers in bounded batches (CRI 1.36). */
export async function streamContainers(
  ctx: CallContext,
  req: StreamContainersRequest__Output,
  send: (m: StreamContainersResponse) => Promise<void>,
): Promise<void> {
  await sendInBatches(selectContainers(ctx, req.filter), send, (batch) => ({ containers: batch.map(toCriContainer) }));
}
