/**
 * Names of sandboxes and containers (`k8s_<name>_<namespace>_<uid>_<attempt>`).
 * A name belongs to one object. When a client times out and sends the very
 * same request again, the retry must not fail with "name is reserved" (the
 * pain of other runtimes): it waits for, or receives, the first call's
 * result. A different request for a taken name is ALREADY_EXISTS.
 */

import { alreadyExists } from '../errors.js';

interface Reservation {
  key: string;
  /** Settles with the object id when the first call finishes. */
  result: Promise<string>;
  id?: string;
}

export class NameRegistry {
  private readonly names = new Map<string, Reservation>();

  /**
   * Runs `create` under `name` unless the name is taken. `requestKey`
   * identifies the request; an identical retry shares the first result.
   */
  async reserve(name: string, requestKey: string, create: () => Promise<string>): Promise<string> {
    const existing = this.names.get(name);
    if (existing) {
      if (existing.key === requestKey) return existing.result;
      throw alreadyExists(`name "${name}" is already in use by ${existing.id ?? 'an object being created'}`);
    }
    const reservation: Reservation = { key: requestKey, result: Promise.resolve('') };
    reservation.result = (async () => {
      try {
        const id = await create();
        reservation.id = id;
        return id;
      } catch (err) {
        // A failed create frees the name: nothing of it was kept.
        if (this.names.get(name) === reservation) this.names.delete(name);
        throw err;
      }
    })();
    this.names.set(name, reservation);
    return reservation.result;
  }

  /** Records a name for an object restored from disk. */
  restore(name: string, id: string, requestKey: string): void {
    this.names.set(name, { key: requestKey, result: Promise.resolve(id), id });
  }

  release(name: string): void {
    this.names.delete(name);
  }

  has(name: string): boolean {
    return this.names.has(name);
  }
}
