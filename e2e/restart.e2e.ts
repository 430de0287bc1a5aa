import { execFile } from 'node:child_process';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BERTH_BIN, type BerthDaemon, startBerth } from './lib/berth-daemon.js';
import { call } from './lib/cri-client.js';
import { cgroupDirs, conmonProcessesFor, mountsUnder, runcContainers } from './lib/leftovers.js';
import { Cri, containerConfig, podConfig } from './lib/pods.js';
import { freePort, waitFor } from './lib/ports.js';
import { testRegistriesConf } from './lib/registries-conf.js';

const env = inject('env');
const IMAGE = `${env.openRegistry}/berth-test/busybox:run`;
const run = promisify(execFile);

/**
 * One daemon killed (SIGKILL) while its containers are in every state a
 * restart must reconcile, then started again on the same directories;
 * each case below checks one branch of the restore.
 */
describe('berth killed and restarted while containers run', () => {
  let berth: BerthDaemon | undefined;
  let cri: Cri;
  let podId = '';
  const ids = { long: '', short: '', created: '', interrupted: '', torn: '', monitorless: '' };
  /** What `berth check` said while the daemon was down. */
  let checked = '';
  let orphanBundle = '';
  let orphanPod = '';

  beforeAll(async () => {
    const conf = testRegistriesConf(env, await freePort());
    const first = await startBerth({ registriesConf: conf });
    berth = first;
    cri = new Cri(first);
    await cri.pull(IMAGE);
    const pod = podConfig('survivor', path.join(first.dir, 'logs'));
    podId = await cri.runPod(pod);
    ids.long = await cri.run(podId, containerConfig('long', IMAGE, { command: ['sleep', '600'] }), pod);
    ids.short = await cri.run(podId, containerConfig('short', IMAGE, { command: ['sh', '-c', 'sleep 2; exit 5'] }), pod);
    ids.torn = await cri.run(podId, containerConfig('torn', IMAGE, { command: ['sleep', '600'] }), pod);
    ids.monitorless = await cri.run(podId, containerConfig('monitorless', IMAGE, { command: ['sleep', '600'] }), pod);
    ids.created = await cri.createContainer(podId, containerConfig('created', IMAGE, { command: ['true'] }), pod);
    // CreateContainer answers while the runtime creates the container: wait
    // until it has (a pid), then create one more that berth dies creating.
    const pidOf = async (id: string) =>
      (JSON.parse((await call(first.client.runtime, first.client.runtime.ContainerStatus, { containerId: id, verbose: true })).info.info!) as { pid: number })
        .pid;
    await waitFor('the runtime to create the container', async () => (await pidOf(ids.created)) > 0);
    ids.interrupted = await cri.createContainer(podId, containerConfig('interrupted', IMAGE, { command: ['true'] }), pod);

    first.process.kill('SIGKILL');
    await first.stop();
    await new Promise((r) => setTimeout(r, 2500)); // `short` exits while berth is down
    // Leftovers of a create that berth died in the middle of: a mounted
    // bundle and a pod run directory with its shm, neither with a record.
    orphanBundle = path.join(first.runroot, 'containers', 'a'.repeat(64));
    orphanPod = path.join(first.runroot, 'sandboxes', 'b'.repeat(64));
    await mkdir(path.join(orphanBundle, 'rootfs'), { recursive: true });
    await mkdir(path.join(orphanPod, 'shm'), { recursive: true });
    await run('mount', ['-t', 'tmpfs', 'tmpfs', path.join(orphanBundle, 'rootfs')]);
    await run('mount', ['-t', 'tmpfs', 'tmpfs', path.join(orphanPod, 'shm')]);
    // A record torn on disk while its container runs, and a conmon killed
    // while berth is down: neither container may go on untracked.
    await writeFile(path.join(first.root, 'containers', ids.torn, 'status.json'), '{ "version": 1, "state": ');
    const conmonPid = Number.parseInt(await readFile(path.join(first.runroot, 'containers', ids.monitorless, 'conmon-pidfile'), 'utf8'), 10);
    process.kill(conmonPid, 'SIGKILL');
    const checkArgs = [
      '--config',
      path.join(first.dir, 'berth.conf'),
      '--config-dir',
      path.join(first.dir, 'conf.d'),
      '--root',
      first.root,
      '--runroot',
      first.runroot,
    ];
    checked = await run(process.execPath, [BERTH_BIN, 'check', ...checkArgs, '--listen', first.socket]).then(
      (r) => r.stdout,
      (err: { stdout?: string }) => err.stdout ?? '',
    );

    berth = await startBerth({ registriesConf: conf, reuse: { dir: first.dir } });
    cri = new Cri(berth);
  }, 180_000);

  afterAll(async () => {
    await berth?.destroy();
  });

  it('keeps a running container running, and execs into it', async () => {
    expect(await cri.status(ids.long)).toMatchObject({ state: 'CONTAINER_RUNNING' });
    expect((await cri.exec(ids.long, ['echo', 'still here'])).stdout).toBe('still here\n');
  });

  it("records an exit that happened while it was down, from conmon's exit file", async () => {
    expect(await cri.status(ids.short)).toMatchObject({ state: 'CONTAINER_EXITED', exitCode: 5, reason: 'Error' });
  });

  it('keeps a created container, and can start it', async () => {
    expect(await cri.status(ids.created)).toMatchObject({ state: 'CONTAINER_CREATED' });
    await cri.start(ids.created);
    expect(await cri.waitExited(ids.created)).toMatchObject({ exitCode: 0, reason: 'Completed' });
  });

  it('settles a create it died in the middle of', async () => {
    // Either the runtime finished it under a live conmon, or it is reported as failed.
    const half = await cri.status(ids.interrupted);
    expect(half.state === 'CONTAINER_CREATED' || half.reason === 'CreateContainerError').toBe(true);
  });

  it('removes a bundle and a pod directory that have no record, mounts and all', async () => {
    await expect(stat(orphanBundle)).rejects.toThrow();
    await expect(stat(orphanPod)).rejects.toThrow();
    const pods = (await call(berth!.client.runtime, berth!.client.runtime.ListPodSandbox, {})).items;
    expect(pods).toEqual([expect.objectContaining({ id: podId, state: 'SANDBOX_READY' })]);
  });

  it('named the running container of a torn record in berth check, then killed and deleted it through runc at start-up', async () => {
    expect(checked).toContain(
      `${path.join(berth!.root, 'containers', ids.torn)}: unreadable container record; runc still holds container ${ids.torn.slice(0, 12)}`,
    );
    expect(await runcContainers(path.join(berth!.runroot, 'runtimes', 'runc'))).not.toContain(ids.torn);
    await expect(stat(path.join(berth!.root, 'containers', ids.torn))).rejects.toThrow();
    await expect(stat(path.join(berth!.runroot, 'containers', ids.torn))).rejects.toThrow();
  });

  it('finds a conmon that died while it was down, and ends its container: exited, code 255', async () => {
    expect(await cri.waitExited(ids.monitorless, 3000)).toMatchObject({ exitCode: 255, reason: 'Error' });
    expect(await runcContainers(path.join(berth!.runroot, 'runtimes', 'runc'))).not.toContain(ids.monitorless);
  });

  it('watches exits again, and leaves nothing behind once the pod is removed', async () => {
    await cri.stop(ids.long, 1);
    expect(await cri.status(ids.long)).toMatchObject({ state: 'CONTAINER_EXITED' });
    await cri.removePod(podId);
    expect(await mountsUnder(berth!.dir)).toEqual([]);
    expect(await conmonProcessesFor(berth!.dir)).toEqual([]);
    expect(await runcContainers(path.join(berth!.runroot, 'runtimes', 'runc'))).toEqual([]);
    // Conmon's cgroups too, those of containers whose record was lost included.
    expect(await cgroupDirs('berth')).toEqual([]);
  });
});
