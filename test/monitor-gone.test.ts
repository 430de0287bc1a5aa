import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Lifecycle, makeLifecycle } from './support/lifecycle-fakes.js';

let dir: string;
let lc: Lifecycle;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'berth-monitor-gone-'));
  lc = await makeLifecycle(dir);
});
afterEach(async () => {
  await lc.close();
  await rm(dir, { recursive: true, force: true });
});

/** Resolves once `check` holds, polling the event loop. */
async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const stateOf = (id: string) => lc.containers.get(id)?.status.state;

async function running(): Promise<string> {
  const pod = await lc.runPod();
  const id = await lc.createContainer(pod);
  await lc.containers.start(id);
  await until(() => lc.monitor.watched(id), "the watch on the container's conmon");
  return id;
}

describe('a container whose conmon dies', () => {
  it('is killed through the runtime and recorded exited with code 255 and reason Error', async () => {
    const id = await running();
    lc.monitor.dies(id);
    await until(() => stateOf(id) === 'CONTAINER_EXITED', 'the exit');
    expect(lc.containers.get(id)!.status).toMatchObject({ exitCode: 255, reason: 'Error', message: expect.stringMatching(/conmon \(pid 4242\)/) });
    expect(lc.runtime.calls).toContain(`kill ${id} SIGKILL`);
    await until(() => lc.runtime.calls.includes(`delete ${id}`), 'the release of the runtime container');
  });

  it('keeps the exit code conmon wrote before it exited (an ordinary exit)', async () => {
    const id = await running();
    await lc.runtime.exit(id, 3);
    lc.monitor.dies(id);
    await until(() => stateOf(id) === 'CONTAINER_EXITED', 'the exit');
    expect(lc.containers.get(id)!.status.exitCode).toBe(3);
    expect(lc.runtime.calls).not.toContain(`kill ${id} SIGKILL`);
  });

  it('ends a pending stop at once when conmon dies during the grace period', async () => {
    const id = await running();
    lc.runtime.ignored.add('SIGTERM');
    const started = Date.now();
    const stopping = lc.containers.stop(id, 5);
    await until(() => lc.runtime.calls.includes(`kill ${id} SIGTERM`), 'the stop signal');
    lc.monitor.dies(id);
    await stopping;
    expect(Date.now() - started).toBeLessThan(2000);
    expect(lc.containers.get(id)!.status).toMatchObject({ state: 'CONTAINER_EXITED', exitCode: 255 });
  });

  it('answers a stop after the death at once', async () => {
    const id = await running();
    lc.monitor.dies(id);
    const started = Date.now();
    await lc.containers.stop(id, 5);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(lc.containers.get(id)!.status).toMatchObject({ state: 'CONTAINER_EXITED', exitCode: 255 });
  });

  it('stops within its timeout and a little when nobody could watch its conmon', async () => {
    lc.monitor.unwatchable = true;
    lc.monitor.pid = 2 ** 22 + 3; // above pid_max: the process is never seen alive, the runtime decides
    const pod = await lc.runPod();
    const id = await lc.createContainer(pod);
    await lc.containers.start(id);
    lc.monitor.dies(id);
    const started = Date.now();
    await lc.containers.stop(id, 1); // SIGTERM ends it, but no exit file comes
    // The grace period, then the brief wait for an exit file of a process already gone.
    expect(Date.now() - started).toBeLessThan(1000 + 3500);
    expect(lc.containers.get(id)!.status).toMatchObject({ state: 'CONTAINER_EXITED', exitCode: 255, reason: 'Error' });
  });

  it('is found dead at restore when conmon died while berth was down', async () => {
    const id = await running();
    await lc.close();
    lc.monitor.dies(id);
    lc = await lc.restart();
    await until(() => stateOf(id) === 'CONTAINER_EXITED', 'the exit');
    expect(lc.containers.get(id)!.status).toMatchObject({ exitCode: 255, reason: 'Error' });
    expect(lc.runtime.containers.get(id)).not.toBe('running');
  });

  it('is not watched any more once removed', async () => {
    const id = await running();
    await lc.containers.remove(id);
    expect(lc.monitor.watched(id)).toBe(false);
  });
});

describe('restore of a container whose record cannot be read', () => {
  it('kills and deletes it through the runtime before its files go', async () => {
    const id = await running();
    await lc.close();
    await writeFile(path.join(dir, 'root', 'containers', id, 'status.json'), '{ torn');
    lc = await lc.restart();
    expect(lc.containers.get(id)).toBeUndefined();
    expect(lc.runtime.calls).toContain(`delete ${id}`);
    expect(lc.runtime.containers.has(id)).toBe(false);
    expect(await readdir(path.join(dir, 'root', 'containers'))).not.toContain(id);
    expect(await readdir(path.join(dir, 'run', 'containers'))).not.toContain(id);
  });

  it('kills and deletes a container the runtime holds in its root under the runroot with neither record nor bundle', async () => {
    const root = path.join(dir, 'run', 'runtimes', 'runc');
    lc.runtime.handler.root = root;
    await mkdir(path.join(root, 'untracked'), { recursive: true });
    lc.runtime.containers.set('untracked', 'running');
    lc = await lc.restart();
    expect(lc.runtime.calls).toContain('delete untracked');
    expect(lc.runtime.containers.has('untracked')).toBe(false);
  });

  it('leaves the containers of a runtime root outside the runroot alone (it may be shared)', async () => {
    const root = path.join(dir, 'shared-root');
    lc.runtime.handler.root = root;
    await mkdir(path.join(root, 'podmans'), { recursive: true });
    lc.runtime.containers.set('podmans', 'running');
    lc = await lc.restart();
    expect(lc.runtime.containers.get('podmans')).toBe('running');
  });

  it('asks the runtime about a bundle without a record too', async () => {
    await mkdir(path.join(dir, 'run', 'containers', 'stray'), { recursive: true });
    lc.runtime.containers.set('stray', 'running');
    lc = await lc.restart();
    expect(lc.runtime.containers.has('stray')).toBe(false);
    expect(await readdir(path.join(dir, 'run', 'containers'))).not.toContain('stray');
  });
});
