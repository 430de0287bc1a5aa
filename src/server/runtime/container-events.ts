import type { ContainerEventResponse } from '../../generated/runtime/v1/ContainerEventResponse.js';
import type { GetEventsRequest__Output } from '../../generated/runtime/v1/GetEventsRequest.js';
import { resourceExhausted } from '../../errors.js';
import type { CallContext } from '../deps.js';
import { toCriContainerStatus } from './container-message.js';
import { toCriSandboxStatus } from './sandbox-message.js';
import type { SandboxRecord } from '../../sandbox/sandbox-service.js';

/**
 * GetContainerEvents: a long-lived stream of CREATED, STARTED, STOPPED and
 * DELETED events of containers and of pods (whose events carry the pod's
 * id as container_id, as containerd sends them), each with the pod's
 * status and its containers' statuses at that moment, as the kubelet's
 * evented PLEG expects.
 */
export async function getContainerEvents(ctx: CallContext, _req: GetEventsRequest__Output, send: (m: ContainerEventResponse) => Promise<void>): Promise<void> {
  const sub = ctx.deps.events.subscribe();
  const onAbort = () => sub.close();
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      const event = await sub.next();
      if (!event) break;
      const pod = ctx.deps.sandboxes.get(event.sandboxId) ?? (event.podStatus as SandboxRecord | undefined);
      const containers = ctx.deps.containers.list().filter((c) => c.meta.sandboxId === event.sandboxId);
      await send({
        containerId: event.containerId,
        containerEventType: event.type,
        createdAt: event.createdAt,
        podSandboxStatus: pod ? toCriSandboxStatus(pod) : null,
        containersStatuses: containers.map(toCriContainerStatus),
      });
    }
    if (sub.overflowed) throw resourceExhausted('event subscriber fell too far behind; relist and subscribe again');
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    sub.close();
  }
}
