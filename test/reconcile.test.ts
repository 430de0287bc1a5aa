import { describe, expect, it } from 'vitest';
import type { ContainerMeta, ContainerStatus } from '../src/container/container.js';
import { type ReconcileDeps, deleteFromRuntimes, reconcileRestored } from '../src/container/reconcile.js';
import { silentLogger } from '../src/log.js';
import type { OciRuntime, OciState } from '../src/oci/runtime.js';
import type { StoredRecord } from '../src/state/record-store.js';

/** A running container as a restored record: its pid is long gone, so the runtime's state decides. */
function record(id: string): StoredRecord<ContainerMeta, ContainerStatus> {
  return {
    meta: { id, runtimeHandler: 'runc', persistDir: `/nonexistent/${id}`, bundle: `/nonexistent/${id}` } as ContainerMeta,
    status: { state: 'CONTAINER_RUNNING', pid: 2 ** 22 + 7, pidStartTime: '1' },
  };
}

function deps(hangFor: Set<string>) {
  const statuses = new Map<string, ContainerStatus>();
  const runtime = {
    state: (id: string) => (hangFor.has(id) ? new Promise<OciState | undefined>(() => undefined) : Promise.resolve(undefined)),
    delete: async () => undefined,
  } as unknown as OciRuntime;
  const d: ReconcileDeps = {
    store: {
      update: async (id: string, f: (s: ContainerStatus) => ContainerStatus) => statuses.set(id, f({ state: 'CONTAINER_RUNNING' })).get(id)!,
    } as unknown as ReconcileDeps['store'],
    native: {} as ReconcileDeps['native'],
    log: silentLogger(),
    runtimeFor: () => runtime,
    runtimes: () => [runtime],
    handleExit: async () => undefined,
  };
  return { d, statuses };
}

describe('reconciling restored containers', () => {
  it('marks containers the runtime no longer knows as exited', async () => {
    const { d, statuses } = deps(new Set());
    await reconcileRestored(d, ['a', 'b', 'c'].map(record), (_id, fn) => fn());
    expect([...statuses.values()].map((s) => s.state)).toEqual(['CONTAINER_EXITED', 'CONTAINER_EXITED', 'CONTAINER_EXITED']);
  });

  it('does not let one hung runtime call keep start-up waiting', async () => {
    const { d, statuses } = deps(new Set(['stuck']));
    const started = Date.now();
    await reconcileRestored(d, ['stuck', 'a', 'b', 'c', 'd', 'e'].map(record), (_id, fn) => fn(), 200);
    expect(Date.now() - started).toBeLessThan(1000);
    expect([...statuses.keys()].sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
  });
});

describe('a container no record describes', () => {
  it('is killed and deleted in every runtime root that holds it, each root asked once', async () => {
    const calls: string[] = [];
    const runtime = (name: string, root: string, holds: boolean) =>
      ({
        handler: { name, path: `/bin/${name}`, root, type: 'oci' },
        state: async (id: string) => {
          calls.push(`${name} state ${id}`);
          return holds ? ({ id, pid: 1, status: 'running', bundle: '' } as OciState) : undefined;
        },
        delete: async (id: string, force: boolean) => void calls.push(`${name} delete ${id} ${force}`),
      }) as unknown as OciRuntime;
    const runtimes = [runtime('runc', '/r/runc', true), runtime('alias', '/r/runc', true), runtime('crun', '/r/crun', false)];
    await deleteFromRuntimes({ runtimes: () => runtimes, log: silentLogger() }, 'x');
    expect(calls).toEqual(['runc state x', 'runc delete x true', 'crun state x']);
  });
});
