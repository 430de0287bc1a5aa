/**
 * Tells NRI plugins of what happens to pods and containers, from the
 * events berth publishes for GetContainerEvents: a pod started, stopped,
 * removed; a container created, started, stopped, removed. One event at a
 * time in order, on a bounded subscription: a plugin slower than the
 * node's events makes berth drop events (and say so), never wait.
 */

import type { Container } from '../generated/nri/nri/pkg/api/v1alpha1/Container.js';
import type { PodSandbox } from '../generated/nri/nri/pkg/api/v1alpha1/PodSandbox.js';
import type { ContainerEvent, EventBus } from '../events/event-bus.js';
import type { Logger } from '../log.js';
import type { NriAdaptation } from './adaptation.js';
import { type DescribedContainer, type DescribedPod, describeContainer, describePod } from './describe.js';
import type { NriEvent } from './plugin.js';

export interface ForwarderDeps {
  events: Pick<EventBus, 'subscribe'>;
  pods: { get(id: string): DescribedPod | undefined };
  containers: { get(id: string): DescribedContainer | undefined };
  nri: Pick<NriAdaptation, 'stateChange' | 'stopContainer'>;
  log: Logger;
}

const POD_EVENTS: Partial<Record<ContainerEvent['type'], NriEvent>> = {
  CONTAINER_STARTED_EVENT: 'RUN_POD_SANDBOX',
  CONTAINER_STOPPED_EVENT: 'STOP_POD_SANDBOX',
  CONTAINER_DELETED_EVENT: 'REMOVE_POD_SANDBOX',
};
const CONTAINER_EVENTS: Record<ContainerEvent['type'], NriEvent> = {
  CONTAINER_CREATED_EVENT: 'POST_CREATE_CONTAINER',
  CONTAINER_STARTED_EVENT: 'POST_START_CONTAINER',
  CONTAINER_STOPPED_EVENT: 'STOP_CONTAINER',
  CONTAINER_DELETED_EVENT: 'REMOVE_CONTAINER',
};

export class NriForwarder {
  private stopped = false;
  /** The last description of each live pod and container: a removed one is told as it was. */
  private readonly known = new Map<string, PodSandbox | Container>();

  constructor(private readonly deps: ForwarderDeps) {}

  start(): void {
    void this.loop();
  }

  stop(): void {
    this.stopped = true;
    this.subscription?.close();
  }

  private subscription: ReturnType<EventBus['subscribe']> | undefined;

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const subscription = this.deps.events.subscribe();
      this.subscription = subscription;
      for (;;) {
        const event = await subscription.next();
        if (!event) break;
        await this.forward(event).catch((err: unknown) => this.deps.log.warn({ err, event: event.type }, 'NRI: an event could not be forwarded'));
      }
      if (subscription.overflowed) this.deps.log.warn('NRI: plugins fell behind the events; some were not forwarded');
    }
  }

  private async forward(event: ContainerEvent): Promise<void> {
    const podRecord = this.deps.pods.get(event.sandboxId);
    const pod = podRecord ? describePod(podRecord) : (this.known.get(event.sandboxId) as PodSandbox | undefined);
    if (!pod) return;
    this.known.set(pod.id!, pod);
    if (event.containerId === event.sandboxId) {
      const nriEvent = POD_EVENTS[event.type];
      if (event.type === 'CONTAINER_DELETED_EVENT') this.known.delete(pod.id!);
      if (nriEvent) await this.deps.nri.stateChange(nriEvent, pod);
      return;
    }
    const record = this.deps.containers.get(event.containerId);
    const container = record ? describeContainer(record) : (this.known.get(event.containerId) as Container | undefined);
    if (!container) return;
    if (event.type === 'CONTAINER_DELETED_EVENT') this.known.delete(event.containerId);
    else this.known.set(event.containerId, container);
    const nriEvent = CONTAINER_EVENTS[event.type];
    if (nriEvent === 'STOP_CONTAINER') await this.deps.nri.stopContainer(pod, container);
    else await this.deps.nri.stateChange(nriEvent, pod, container);
  }
}
