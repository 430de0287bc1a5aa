import { spawn } from 'node:child_process';
import { chmod, copyFile, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RuntimeError } from '../src/errors.js';
import { type Lifecycle, latch, makeLifecycle } from './support/lifecycle-fakes.js';

let dir: string;
let lc: Lifecycle;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'berth-lifecycle-'));
  lc = await makeLifecycle(dir);
});
afterEach(async () => {
  await lc.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the container life cycle, against fakes of runc and conmon', () => {
  it('creates, starts, stops and removes a container', async () => {
    const pod = await lc.runPod();
    const id = await lc.createContainer(pod);
    expect(lc.containers.get(id)!.status.state).toBe('CONTAINER_CREATED');
    await lc.containers.start(id);
    expect(lc.containers.get(id)!.status).toMatchObject({ state: 'CONTAINER_RUNNING', pid: process.pid });
    await lc.containers.stop(id, 10);
    expect(lc.containers.get(id)!.status).toMatchObject({ state: 'CONTAINER_EXITED', exitCode: 143 });
    await lc.containers.remove(id);
    expect(lc.containers.get(id)).toBeUndefined();
    expect([...lc.native.mounts].map((m) => path.basename(m))).toEqual(['shm']); // the pod's, until it goes
    await lc.sandboxes.remove(pod);
    expect(lc.native.mounts.size).toBe(0);
  });
});

/** Resolves once `check` holds, polling the event loop (no timers to tune). */
async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const stateOf = (id: string) => lc.containers.get(id)?.status.state;

describe('container exits and failures', () => {
  it('records an exit by itself with its code and keeps when it started', async () => {
    const pod = await lc.runPod();
    const id = await lc.createContainer(pod);
    await lc.containers.start(id);
    await lc.runtime.exit(id, 3);
    await until(() => stateOf(id) === 'CONTAINER_EXITED', 'the exit');
    const s = lc.containers.get(id)!.status;
    expect(s).toMatchObject({ exitCode: 3, reason: 'Error' });
    expect(Number(s.startedAt)).toBeGreaterThan(0);
    expect(Number(s.finishedAt)).toBeGreaterThanOrEqual(Number(s.startedAt));
  });

  it('keeps startedAt when the process exits while runc start is still answering', async () => {
    const pod = await lc.runPod();
    const id = await lc.createContainer(pod);
    const hold = latch();
    lc.runtime.startHold = hold.promise;
    const starting = lc.containers.start(id);
    await until(() => lc.runtime.calls.includes(`start ${id}`), 'runc start');
    await lc.runtime.exit(id, 0);
    await new Promise((resolve) => setTimeout(resolve, 20)); // the exit file is seen and handled meanwhile
    hold.release();
    await starting;
    await until(() => stateOf(id) === 'CONTAINER_EXITED', 'the exit');
    const s = lc.containers.get(id)!.status;
    expect(s.exitCode).toBe(0);
    expect(Number(s.startedAt)).toBeGreaterThan(0);
  });

  it('keeps startedAt when a start is recorded while the exit is being read (the exit applies to the status as it is then)', async () => {
    const pod = await lc.runPod();
    const id = await lc.createContainer(pod);
    const startHold = latch();
    lc.runtime.startHold = startHold.promise;
    const starting = lc.containers.start(id);
    await until(() => lc.runtime.calls.includes(`start ${id}`), 'runc start');
    // The process ends at once; conmon reports it while runc start is still answering.
    const exitHold = latch();
    lc.exitHold.current = exitHold.promise;
    await lc.runtime.exit(id, 0);
    await new Promise((resolve) => setTimeout(resolve, 30)); // the exit is being read, its snapshot taken
    startHold.release();
    await starting; // the start is recorded meanwhile
    exitHold.release();
    await until(() => stateOf(id) === 'CONTAINER_EXITED', 'the exit');
    expect(Number(lc.containers.get(id)!.status.startedAt)).toBeGreaterThan(0);
  });

  it('reports a runtime that could not create the container at StartContainer, and removes it', async () => {
    const pod = await lc.runPod();
    lc.monitor.createError = new Error('runc create failed: no such file');
    const id = await lc.createContainer(pod);
    await expect(lc.containers.start(id)).rejects.toMatchObject({ kind: 'failed-precondition', message: expect.stringContaining('no such file') });
    expect(lc.containers.get(id)!.status).toMatchObject({ state: 'CONTAINER_EXITED', reason: 'CreateContainerError' });
    await lc.containers.remove(id);
    expect(lc.containers.get(id)).toBeUndefined();
  });

  it('records a failed runc start as ContainerCannotRun', async () => {
    const pod = await lc.runPod();
    const id = await lc.createContainer(pod);
    lc.runtime.startError = new Error('exec: "nope": executable file not found');
    await expect(lc.containers.start(id)).rejects.toThrow('executable file not found');
    expect(lc.containers.get(id)!.status).toMatchObject({ state: 'CONTAINER_EXITED', exitCode: 128, reason: 'ContainerCannotRun' });
  });

  it('escalates to SIGKILL when the stop signal is ignored past the grace period', async () => {
    const pod = await lc.runPod();
    const id = await lc.createContainer(pod);
    await lc.containers.start(id);
    lc.runtime.ignored.add('SIGTERM');
    await lc.containers.stop(id, 1);
    expect(lc.runtime.calls.filter((c) => c.startsWith(`kill ${id}`))).toEqual([`kill ${id} SIGTERM`, `kill ${id} SIGKILL`]);
    expect(lc.containers.get(id)!.status.exitCode).toBe(137);
  });

  it('kills a running container before removing it, and stops and removes are idempotent', async () => {
    const pod = await lc.runPod();
    const id = await lc.createContainer(pod);
    await lc.containers.start(id);
    await lc.containers.remove(id);
    expect(lc.runtime.calls).toContain(`kill ${id} SIGKILL`);
    expect(lc.containers.get(id)).toBeUndefined();
    await lc.containers.stop(id, 0);
    await lc.containers.remove(id);
  });

  it('waits for a launch still in flight before stopping the container', async () => {
    const pod = await lc.runPod();
    const hold = latch();
    lc.monitor.createHold = hold.promise;
    const id = await lc.createContainer(pod); // answered before conmon has finished
    const stopping = lc.containers.stop(id, 0);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(stateOf(id)).toBe('CONTAINER_CREATED');
    hold.release();
    await stopping;
    expect(stateOf(id)).toBe('CONTAINER_EXITED');
  });
});

describe('helpers that time out', () => {
  it('answers DEADLINE_EXCEEDED for a stop whose runc kill timed out, and frees the container for the next call', async () => {
    const pod = await lc.runPod();
    const id = await lc.createContainer(pod);
    await lc.containers.start(id);
    lc.runtime.killError = new RuntimeError('deadline-exceeded', 'runc kill: no answer within 1m0s');
    await expect(lc.containers.stop(id, 0)).rejects.toMatchObject({ kind: 'deadline-exceeded' });
    expect(stateOf(id)).toBe('CONTAINER_RUNNING');
    lc.runtime.killError = undefined;
    await lc.containers.stop(id, 0);
    expect(stateOf(id)).toBe('CONTAINER_EXITED');
  });

  it('does not let a wedged runtime keep restore from finishing', async () => {
    const pod = await lc.runPod();
    lc.monitor.pid = 2 ** 22 + 1; // the recorded process is gone: restore must ask the runtime
    const id = await lc.createContainer(pod);
    await lc.containers.start(id);
    lc.runtime.stateHold = new Promise(() => undefined);
    const restarted = await lc.restart(); // resolves: the reconcile goes on in the background
    lc = restarted;
    expect(stateOf(id)).toBe('CONTAINER_RUNNING');
  });
});

describe('concurrent requests', () => {
  it('answers identical concurrent creates with one container', async () => {
    const pod = await lc.runPod();
    const [a, b] = await Promise.all([lc.createContainer(pod), lc.createContainer(pod)]);
    expect(a).toBe(b);
    expect(lc.containers.list()).toHaveLength(1);
    await expect(lc.createContainer(pod, 'main', { command: ['other'] } as never)).rejects.toMatchObject({ kind: 'already-exists' });
  });

  it("does not let a pod stop slip between CreateContainer's readiness check and the new record", async () => {
    const pod = await lc.runPod();
    const hold = latch();
    lc.images.hold = hold.promise;
    const creating = lc.createContainer(pod);
    await new Promise((resolve) => setTimeout(resolve, 10)); // the create has found the pod ready
    let stopped = false;
    const stopping = lc.sandboxes.stop(pod).then(() => {
      stopped = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(stopped).toBe(false); // the stop waits for the create
    hold.release();
    const id = await creating;
    await stopping;
    // The stop saw the new container and stopped it with the rest.
    expect(stateOf(id)).toBe('CONTAINER_EXITED');
    await expect(lc.containers.start(id)).rejects.toMatchObject({ kind: 'failed-precondition' });
    await expect(lc.createContainer(pod, 'late')).rejects.toMatchObject({ kind: 'failed-precondition', message: expect.stringContaining('is not ready') });
  });

  it('stops a container whose start a pod stop waited for', async () => {
    const pod = await lc.runPod();
    const id = await lc.createContainer(pod);
    const hold = latch();
    lc.runtime.startHold = hold.promise;
    const starting = lc.containers.start(id);
    await until(() => lc.runtime.calls.includes(`start ${id}`), 'runc start');
    const stopping = lc.sandboxes.stop(pod);
    hold.release();
    await starting;
    await stopping;
    expect(stateOf(id)).toBe('CONTAINER_EXITED');
    expect(lc.sandboxes.get(pod)!.status.state).toBe('SANDBOX_NOTREADY');
  });
});

describe('restart reconciliation, one branch at a time', () => {
  it('keeps a container whose process still runs', async () => {
    const pod = await lc.runPod();
    const id = await lc.createContainer(pod);
    await lc.containers.start(id);
    lc = await lc.restart();
    expect(lc.containers.get(id)!.status).toMatchObject({ state: 'CONTAINER_RUNNING', pid: process.pid });
    await lc.containers.stop(id, 0); // and its exit is still seen
    expect(lc.containers.get(id)!.status.exitCode).toBe(137);
  });

  it("records an exit that happened while berth was down, from conmon's exit file", async () => {
    const pod = await lc.runPod();
    const id = await lc.createContainer(pod);
    await lc.containers.start(id);
    await lc.close();
    await lc.runtime.exit(id, 7);
    lc = await lc.restart();
    expect(lc.containers.get(id)!.status).toMatchObject({ state: 'CONTAINER_EXITED', exitCode: 7 });
  });

  it('marks a running container whose process is gone and that the runtime no longer knows as exited, code unknown', async () => {
    const pod = await lc.runPod();
    lc.monitor.pid = 2 ** 22 + 1; // above pid_max: never a live process
    const id = await lc.createContainer(pod);
    await lc.containers.start(id);
    lc.runtime.containers.delete(id);
    lc = await lc.restart();
    expect(lc.containers.get(id)!.status).toMatchObject({ state: 'CONTAINER_EXITED', exitCode: 255, reason: 'Error' });
  });

  it('keeps a container the runtime still runs though its recorded process is gone', async () => {
    const pod = await lc.runPod();
    lc.monitor.pid = 2 ** 22 + 1;
    const id = await lc.createContainer(pod);
    await lc.containers.start(id);
    lc = await lc.restart();
    expect(stateOf(id)).toBe('CONTAINER_RUNNING');
  });

  it('fails a create that berth died in the middle of, when the runtime has nothing', async () => {
    const pod = await lc.runPod();
    lc.monitor.createHold = new Promise(() => undefined); // conmon never answers this berth
    const id = await lc.createContainer(pod);
    lc = await lc.restart();
    expect(lc.containers.get(id)!.status).toMatchObject({ state: 'CONTAINER_EXITED', reason: 'CreateContainerError' });
    expect(lc.runtime.calls).toContain(`delete ${id}`);
  });

  it('keeps a create that the runtime finished while berth was down, with conmon watching it', async () => {
    const pod = await lc.runPod();
    lc.monitor.createHold = new Promise(() => undefined);
    const id = await lc.createContainer(pod);
    lc.runtime.containers.set(id, 'created');
    // A live process named conmon, as berth checks the pid file's process by name.
    const conmon = path.join(lc.dir, 'conmon');
    await copyFile('/bin/sleep', conmon);
    await chmod(conmon, 0o755);
    const watcher = spawn(conmon, ['60'], { stdio: 'ignore' });
    try {
      await writeFile(path.join(lc.dir, 'run', 'containers', id, 'conmon-pidfile'), String(watcher.pid));
      lc.monitor.createHold = undefined;
      lc = await lc.restart();
      expect(lc.containers.get(id)!.status).toMatchObject({ state: 'CONTAINER_CREATED', pid: process.pid });
      await lc.containers.start(id);
      expect(stateOf(id)).toBe('CONTAINER_RUNNING');
    } finally {
      watcher.kill('SIGKILL');
    }
  });
});

describe('image volumes', () => {
  const volume = (image: string, subPath = '') =>
    ({
      mounts: [{ containerPath: '/data', hostPath: '', readonly: false, image: { image }, imageSubPath: subPath, propagation: 'PROPAGATION_PRIVATE' }],
    }) as never;

  it('mounts the image read-only and noexec, keeps it in use while the container exists, and leaves nothing mounted', async () => {
    const pod = await lc.runPod();
    const id = await lc.createContainer(pod, 'reader', volume('data:v1'));
    const meta = lc.containers.get(id)!.meta;
    expect(meta.imageVolumes).toEqual([{ containerPath: '/data', imageId: `sha256:${'d'.repeat(64)}`, chainIds: [`sha256:${'e'.repeat(64)}`] }]);
    expect(meta.mounts).toEqual([expect.objectContaining({ containerPath: '/data', readonly: true, image: 'data:v1' })]);
    const spec = JSON.parse(await readFile(path.join(meta.bundle, 'config.json'), 'utf8')) as {
      mounts: { destination: string; source: string; options: string[] }[];
    };
    const bind = spec.mounts.find((m) => m.destination === '/data')!;
    expect(bind.source).toBe(path.join(meta.bundle, 'image-volumes', '0'));
    expect(bind.options).toEqual(expect.arrayContaining(['ro', 'noexec', 'nosuid', 'nodev']));
    expect(lc.containers.layersInUse()).toContain(`sha256:${'e'.repeat(64)}`);
    expect(lc.containers.imageVolumeUsers()).toEqual(new Map([[`sha256:${'d'.repeat(64)}`, [id]]]));
    await lc.containers.start(id); // waits for the launch, which detaches the host's copy
    expect([...lc.native.mounts].filter((m) => m.includes('image-volumes'))).toEqual([]);
    await lc.containers.remove(id);
    expect(lc.containers.imageVolumeUsers().size).toBe(0);
  });

  it('refuses a missing image, a sub-path outside the image or absent from it, and a host path beside an image, creating nothing', async () => {
    const pod = await lc.runPod();
    await expect(lc.createContainer(pod, 'a', volume('missing:v1'))).rejects.toMatchObject({
      kind: 'not-found',
      message: expect.stringContaining('image "missing:v1" is not present'),
    });
    await expect(lc.createContainer(pod, 'b', volume('data:v1', '../etc'))).rejects.toMatchObject({ kind: 'invalid-argument' });
    await expect(lc.createContainer(pod, 'c', volume('data:v1', '/etc'))).rejects.toMatchObject({ kind: 'invalid-argument' });
    await expect(lc.createContainer(pod, 'd', volume('data:v1', 'no/such/dir'))).rejects.toMatchObject({
      kind: 'not-found',
      message: expect.stringContaining('does not exist'),
    });
    const both = {
      mounts: [{ containerPath: '/data', hostPath: '/tmp', image: { image: 'data:v1' }, imageSubPath: '', propagation: 'PROPAGATION_PRIVATE' }],
    } as never;
    await expect(lc.createContainer(pod, 'e', both)).rejects.toMatchObject({
      kind: 'invalid-argument',
      message: expect.stringContaining('takes no host_path'),
    });
    expect(lc.containers.list()).toEqual([]);
    expect([...lc.native.mounts].filter((m) => m.includes('image-volumes'))).toEqual([]);
  });
});

describe('the pod life cycle', () => {
  it('undoes everything a failed RunPodSandbox made', async () => {
    lc.pinner.pinError = new Error('berth-pinns: sysctl refused');
    await expect(lc.runPod('failing')).rejects.toThrow('sysctl refused');
    expect(lc.sandboxes.list()).toEqual([]);
    expect(lc.native.mounts.size).toBe(0); // the shm mount made before the namespaces was undone
    expect(await readdir(path.join(lc.dir, 'run', 'sandboxes')).catch(() => [])).toEqual([]);
    lc.pinner.pinError = undefined;
    expect(await lc.runPod('failing')).toMatch(/^[0-9a-f]{64}$/); // the name is free again
  });

  it('removes a pod with its containers, and stops and removes idempotently', async () => {
    const pod = await lc.runPod();
    const a = await lc.createContainer(pod, 'a');
    await lc.containers.start(a);
    await lc.createContainer(pod, 'b');
    await lc.sandboxes.remove(pod);
    expect(lc.containers.list()).toEqual([]);
    expect(lc.sandboxes.get(pod)).toBeUndefined();
    expect(lc.native.mounts.size).toBe(0);
    await lc.sandboxes.stop(pod);
    await lc.sandboxes.remove(pod);
  });

  it('marks a pod whose namespaces are gone (a reboot) not ready at restore, and its containers exited', async () => {
    const pod = await lc.runPod();
    lc.monitor.pid = 2 ** 22 + 1;
    const id = await lc.createContainer(pod);
    await lc.containers.start(id);
    await lc.close();
    await rm(path.join(lc.dir, 'run', 'sandboxes', pod, 'ns'), { recursive: true, force: true });
    lc.runtime.containers.clear(); // the runtime's state went with the reboot
    lc = await lc.restart();
    expect(lc.sandboxes.get(pod)!.status.state).toBe('SANDBOX_NOTREADY');
    expect(lc.containers.get(id)!.status.state).toBe('CONTAINER_EXITED');
    await lc.sandboxes.remove(pod);
  });
});
