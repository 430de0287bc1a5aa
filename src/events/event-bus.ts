/**
 * Container and pod life-cycle events for GetContainerEvents. A pod's own
 * events carry its id as `containerId` too, as containerd sends them, so
 * an evented PLEG notices pods created, started, stopped and deleted
 * without polling. Every subscriber
 * has a bounded queue: publishing never waits, and a subscriber that
 * falls too far behind is dropped (the kubelet then relists) rather than
 * slowing the runtime down.
 */
export type ContainerEventType = 'CONTAINER_CREATED_EVENT' | 'CONTAINER_STARTED_EVENT' | 'CONTAINER_STOPPED_EVENT' | 'CONTAINER_DELETED_EVENT';

export interface ContainerEvent {
  containerId: string;
  sandboxId: string;
  type: ContainerEventType;
  createdAt: string;
  /** The pod's last status, for a pod's DELETED event (its record is gone by then). */
  podStatus?: unknown;
}

export const SUBSCRIBER_QUEUE = 1000;

export class Subscription {
  private readonly queue: ContainerEvent[] = [];
  private waiter: ((e: ContainerEvent | undefined) => void) | undefined;
  closed = false;
  overflowed = false;

  constructor(private readonly unsubscribe: (s: Subscription) => void) {}

  push(event: ContainerEvent): void {
    if (this.closed) return;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w(event);
      return;
    }
    if (this.queue.length >= SUBSCRIBER_QUEUE) {
      this.overflowed = true;
      this.close();
      return;
    }
    this.queue.push(event);
  }

  /** The next event, or undefined once closed. */
  next(): Promise<ContainerEvent | undefined> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => (this.waiter = resolve));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe(this);
    this.waiter?.(undefined);
    this.waiter = undefined;
  }
}

export class EventBus {
  private readonly subscribers = new Set<Subscription>();

  subscribe(): Subscription {
    const s = new Subscription((x) => this.subscribers.delete(x));
    this.subscribers.add(s);
    return s;
  }

  publish(event: ContainerEvent): void {
    for (const s of this.subscribers) s.push(event);
  }

  get size(): number {
    return this.subscribers.size;
  }
}
