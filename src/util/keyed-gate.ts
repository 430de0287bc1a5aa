/**
 * A shared/exclusive gate per key (a pod id): any number of shared holders
 * at once, or one exclusive holder alone. CreateContainer and
 * StartContainer hold their pod's gate shared while they check that the
 * pod is ready and act on it; StopPodSandbox holds it exclusive, so it
 * never tears a pod down under a create or start that has just found it
 * ready. An exclusive request that waits stops new shared holders from
 * entering (writer preference): a stop is not starved by a stream of
 * creates, and the creates that come after it find the pod stopped.
 */

interface GateState {
  shared: number;
  exclusive: boolean;
  /** Exclusive requests waiting, in order. */
  writers: (() => void)[];
  /** Shared requests waiting for the writers ahead of them. */
  readers: (() => void)[];
}

export class KeyedGate {
  private readonly gates = new Map<string, GateState>();

  async shared<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const gate = this.gateOf(key);
    if (gate.exclusive || gate.writers.length > 0) await new Promise<void>((resolve) => gate.readers.push(resolve));
    else gate.shared++;
    try {
      return await fn();
    } finally {
      gate.shared--;
      this.next(key, gate);
    }
  }

  async exclusive<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const gate = this.gateOf(key);
    if (gate.exclusive || gate.shared > 0 || gate.writers.length > 0) await new Promise<void>((resolve) => gate.writers.push(resolve));
    else gate.exclusive = true;
    try {
      return await fn();
    } finally {
      gate.exclusive = false;
      this.next(key, gate);
    }
  }

  /** Whether anyone holds or waits for the key's gate (for tests). */
  busy(key: string): boolean {
    return this.gates.has(key);
  }

  private gateOf(key: string): GateState {
    let gate = this.gates.get(key);
    if (!gate) {
      gate = { shared: 0, exclusive: false, writers: [], readers: [] };
      this.gates.set(key, gate);
    }
    return gate;
  }

  /** Hands the gate on once it is free: to the first waiting writer, else to every waiting reader. */
  private next(key: string, gate: GateState): void {
    if (gate.exclusive || gate.shared > 0) return;
    const writer = gate.writers.shift();
    if (writer) {
      gate.exclusive = true;
      writer();
      return;
    }
    const readers = gate.readers.splice(0);
    gate.shared += readers.length;
    for (const reader of readers) reader();
    if (gate.shared === 0) this.gates.delete(key);
  }
}
