import { execFile } from 'node:child_process';
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { type BerthDaemon, startBerth } from './lib/berth-daemon.js';
import { call } from './lib/cri-client.js';
import { conmonProcessesFor, mountsUnder, runcContainers } from './lib/leftovers.js';
import { Cri, containerConfig, podConfig } from './lib/pods.js';
import { freePort, waitFor } from './lib/ports.js';
import { testRegistriesConf } from './lib/registries-conf.js';

const env = inject('env');
const IMAGE = `${env.openRegistry}/berth-test/busybox:run`;
const run = promisify(execFile);

describe('berth killed and restarted while containers run', () => {
  let berth: BerthDaemon | undefined;
  afterAll(async () => {
    await berth?.destroy();
  });

  it('keeps containers running, and records exits that happened while it was down', async () => {
    const conf = testRegistriesConf(env, await freePort());
    const first = await startBerth({ registriesConf: conf });
    berth = first;
    let cri = new Cri(first);
    await cri.pull(IMAGE);
    const pod = podConfig('survivor', path.join(first.dir, 'logs'));
    const podId = await cri.runPod(pod);
    const long = await cri.run(podId, containerConfig('long', IMAGE, { command: ['sleep', '600'] }), pod);
    const short = await cri.run(podId, containerConfig('short', IMAGE, { command: ['sh', '-c', 'sleep 2; exit 5'] }), pod);
    const created = await cri.createContainer(podId, containerConfig('created', IMAGE, { command: ['true'] }), pod);
    // CreateContainer answers while the runtime creates the container: wait
    // until it has (a pid), then create one more that berth dies creating.
    const pidOf = async (id: string) =>
      (JSON.parse((await call(first.client.runtime, first.client.runtime.ContainerStatus, { containerId: id, verbose: true })).info.info!) as { pid: number })
        .pid;
    await waitFor('the runtime to create the container', async () => (await pidOf(created)) > 0);
    const interrupted = await cri.createContainer(podId, containerConfig('interrupted', IMAGE, { command: ['true'] }), pod);

    first.process.kill('SIGKILL');
    await first.stop();
    await new Promise((r) => setTimeout(r, 2500)); // `short` exits while berth is down
    // Leftovers of a create that berth died in the middle of: a mounted
    // bundle and a pod run directory with its shm, neither with a record.
    const orphanBundle = path.join(first.runroot, 'containers', 'a'.repeat(64));
    const orphanPod = path.join(first.runroot, 'sandboxes', 'b'.repeat(64));
    await mkdir(path.join(orphanBundle, 'rootfs'), { recursive: true });
    await mkdir(path.join(orphanPod, 'shm'), { recursive: true });
    await run('mount', ['-t', 'tmpfs', 'tmpfs', path.join(orphanBundle, 'rootfs')]);
    await run('mount', ['-t', 'tmpfs', 'tmpfs', path.join(orphanPod, 'shm')]);

    const second = await startBerth({ registriesConf: conf, reuse: { dir: first.dir } });
    berth = second;
    cri = new Cri(second);
    expect(await cri.status(long)).toMatchObject({ state: 'CONTAINER_RUNNING' });
    expect(await cri.status(short)).toMatchObject({ state: 'CONTAINER_EXITED', exitCode: 5, reason: 'Error' });
    expect(await cri.status(created)).toMatchObject({ state: 'CONTAINER_CREATED' });
    // Either the runtime finished it under a live conmon, or it is reported as failed.
    const half = await cri.status(interrupted);
    expect(half.state === 'CONTAINER_CREATED' || half.reason === 'CreateContainerError').toBe(true);
    expect((await cri.exec(long, ['echo', 'still here'])).stdout).toBe('still here\n');
    await expect(stat(orphanBundle)).rejects.toThrow();
    await expect(stat(orphanPod)).rejects.toThrow();
    const pods = (await call(second.client.runtime, second.client.runtime.ListPodSandbox, {})).items;
    expect(pods).toEqual([expect.objectContaining({ id: podId, state: 'SANDBOX_READY' })]);

    // The restarted berth watches exits again, and can start what was only created.
    await cri.start(created);
    expect(await cri.waitExited(created)).toMatchObject({ exitCode: 0, reason: 'Completed' });
    await cri.stop(long, 1);
    expect(await cri.status(long)).toMatchObject({ state: 'CONTAINER_EXITED' });

    await cri.removePod(podId);
    expect(await mountsUnder(second.dir)).toEqual([]);
    expect(await conmonProcessesFor(second.dir)).toEqual([]);
    expect(await runcContainers(path.join(second.runroot, 'runtimes', 'runc'))).toEqual([]);
  });
});
