import { type ChildProcess, spawn } from 'node:child_process';
import { access, chmod, copyFile, mkdir, mkdtemp, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { silentLogger } from '../src/log.js';
import { NriAdaptation } from '../src/nri/adaptation.js';
import { type BerthDaemon, startBerth } from './lib/berth-daemon.js';
import { call } from './lib/cri-client.js';
import { Cri, containerConfig, podConfig } from './lib/pods.js';
import { freePort, waitFor } from './lib/ports.js';
import { testBerthConf, testRegistriesConf } from './lib/registries-conf.js';

/**
 * berth's NRI transport against a plugin containerd/nri wrote: the
 * logger sample (v0.8.0, static build in ../shared/tools/nri), handed a
 * connection to berth's socket as its fd 3, as NRI hands one to a plugin
 * it starts. It must register, be configured and synchronized with the
 * pods and containers there are, and receive the events it asked for.
 */
const LOGGER = fileURLToPath(new URL('../../shared/tools/nri/nri-logger', import.meta.url));
const present = await access(LOGGER).then(
  () => true,
  () => false,
);
if (!present) console.warn(`e2e/nri.e2e.ts skipped: no NRI sample plugins at ${path.dirname(LOGGER)} (the shared tools are beside CI's clone, not a user's)`);

const pod = (id: string, name: string) => ({ id, name, uid: `uid-${id}`, namespace: 'default', labels: { app: name }, annotations: {}, runtimeHandler: '' });

describe.skipIf(!present)("NRI with containerd/nri's logger plugin", () => {
  let dir: string;
  let nri: NriAdaptation;
  let logger: ChildProcess;
  let output = '';

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-e2e-nri-'));
    nri = new NriAdaptation({
      socketPath: path.join(dir, 'nri', 'nri.sock'),
      runtimeName: 'berth',
      runtimeVersion: '0.1.0',
      registrationTimeoutMs: 5000,
      requestTimeoutMs: 2000,
      // Some 40 KB of pods: the message is cut into frames as Go's reader needs them.
      snapshot: () => ({
        pods: [pod('pod-one', 'before-the-plugin'), ...Array.from({ length: 300 }, (_, i) => pod(`pod-many-${i}`, `many-${i}`))],
        containers: [{ id: 'ctr-one', podSandboxId: 'pod-one', name: 'web', state: 'CONTAINER_RUNNING', args: ['sleep', '60'], env: ['A=1'] }],
      }),
      log: silentLogger(),
    });
    await nri.start();
    const socket = connect(path.join(dir, 'nri', 'nri.sock'));
    await new Promise((resolve) => socket.once('connect', resolve));
    logger = spawn(LOGGER, ['-name', 'logger', '-idx', '10'], { stdio: ['ignore', 'pipe', 'pipe', socket], env: { NRI_PLUGIN_SOCKET: '3' } });
    socket.destroy(); // the plugin holds its own copy
    logger.stdout!.on('data', (d: Buffer) => {
      output += d.toString();
    });
    logger.stderr!.on('data', (d: Buffer) => {
      output += d.toString();
    });
  });

  afterAll(async () => {
    logger?.kill('SIGKILL');
    await nri?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('registers, is configured and synchronized with the pods and containers there are', async () => {
    await waitFor('the logger to register', async () => nri.list().length === 1, 10_000);
    expect(nri.list()).toEqual([{ name: 'logger', index: '10', events: 0x7ff }]);
    await waitFor('the logger to print the synchronized pods', async () => output.includes('id: pod-many-299'), 5000);
    expect(output).toContain('Configuring plugin 10-logger for runtime berth/0.1.0');
    expect(output).toContain('name: before-the-plugin');
    expect(output).toMatch(/Synchronize: +id: ctr-one/);
  });

  it('receives the pod and container events it subscribed to', async () => {
    await nri.stateChange('RUN_POD_SANDBOX', pod('pod-two', 'after-the-plugin'));
    await nri.stateChange('START_CONTAINER', pod('pod-two', 'after-the-plugin'), {
      id: 'ctr-two',
      podSandboxId: 'pod-two',
      name: 'db',
      state: 'CONTAINER_RUNNING',
    });
    await waitFor('the logger to print both events', async () => /StartContainer: +id: ctr-two/.test(output), 5000);
    expect(output).toMatch(/RunPodSandbox: +id: pod-two/);
  });

  it('is dropped when it goes away, and events carry on without it', async () => {
    logger.kill('SIGKILL');
    await waitFor('berth to notice', async () => nri.list().length === 0, 5000);
    await nri.stateChange('REMOVE_POD_SANDBOX', pod('pod-two', 'after-the-plugin'));
  });
});

describe.skipIf(!present)('NRI in the daemon, with the logger plugin', () => {
  const env = inject('env');
  let berth: BerthDaemon;
  let cri: Cri;
  let logger: ChildProcess;
  let output = '';
  let socketPath: string;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-e2e-nri-daemon-'));
    socketPath = path.join(dir, 'nri.sock');
    berth = await startBerth({
      registriesConf: testRegistriesConf(env, await freePort()),
      config: `${testBerthConf(env)}\n[nri]\nenable_nri = true\nnri_listen = "${socketPath}"\n`,
    });
    cri = new Cri(berth);
  });

  const pods: string[] = [];
  afterAll(async () => {
    logger?.kill('SIGKILL');
    // A step that failed may have left pods: removed while berth runs.
    for (const id of pods) await cri?.removePod(id).catch(() => undefined);
    await berth?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('gives a plugin that connects the pods there are, then every pod and container event', async () => {
    const logs = path.join(dir, 'logs'); // removed with dir, whatever happens
    await mkdir(logs, { recursive: true });
    const before = podConfig('nri-before', logs);
    const beforeId = await cri.runPod(before);
    pods.push(beforeId);
    const socket = connect(socketPath);
    await new Promise((resolve) => socket.once('connect', resolve));
    logger = spawn(LOGGER, ['-name', 'logger', '-idx', '10'], { stdio: ['ignore', 'pipe', 'pipe', socket], env: { NRI_PLUGIN_SOCKET: '3' } });
    socket.destroy();
    const collect = (d: Buffer) => {
      output += d.toString();
    };
    logger.stdout!.on('data', collect);
    logger.stderr!.on('data', collect);
    await waitFor('the logger to be synchronized with the pod', async () => new RegExp(`Synchronize: +id: ${beforeId}"`).test(output), 10_000).catch(
      (err: unknown) => {
        throw new Error(`${(err as Error).message}; the logger said:\n${output}`);
      },
    );
    const status = await call(berth.client.runtime, berth.client.runtime.Status, { verbose: true });
    expect(JSON.parse(status.info.nri!)).toEqual({ plugins: [{ name: 'logger', index: '10', events: 0x7ff }] });

    const pod = podConfig('nri-after', logs);
    const podId = await cri.runPod(pod);
    pods.push(podId);
    const image = `${env.openRegistry}/berth-test/busybox:run`;
    await cri.pull(image);
    const ctrId = await cri.run(podId, containerConfig('sleeper', image, { command: ['sleep', '600'] }), pod);
    await cri.stop(ctrId, 0);
    await cri.removePod(podId);
    await cri.removePod(beforeId);
    for (const [event, id] of [
      ['RunPodSandbox', podId],
      ['PostCreateContainer', ctrId],
      ['PostStartContainer', ctrId],
      ['StopContainer', ctrId],
      ['RemoveContainer', ctrId],
      ['StopPodSandbox', podId],
      ['RemovePodSandbox', podId],
    ] as const) {
      await waitFor(`the logger to log ${event}`, async () => new RegExp(`${event}: +id: ${id}"`).test(output), 10_000);
    }
  });
});

describe.skipIf(!present)("NRI adjustments from containerd/nri's ulimit-adjuster and device-injector", () => {
  const env = inject('env');
  let berth: BerthDaemon;
  let cri: Cri;
  let dir: string;
  const plugins: ChildProcess[] = [];
  const pods: string[] = [];
  const tool = (name: string) => path.join(path.dirname(LOGGER), name);

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-e2e-nri-adjust-'));
    const socketPath = path.join(dir, 'nri.sock');
    berth = await startBerth({
      registriesConf: testRegistriesConf(env, await freePort()),
      config: `${testBerthConf(env)}\n[nri]\nenable_nri = true\nnri_listen = "${socketPath}"\n`,
    });
    cri = new Cri(berth);
    for (const [binary, name, idx] of [
      ['nri-ulimit-adjuster', 'ulimits', '20'],
      ['nri-device-injector', 'devices', '30'],
    ] as const) {
      const socket = connect(socketPath);
      await new Promise((resolve) => socket.once('connect', resolve));
      plugins.push(spawn(tool(binary), ['-name', name, '-idx', idx], { stdio: ['ignore', 'ignore', 'ignore', socket], env: { NRI_PLUGIN_SOCKET: '3' } }));
      socket.destroy();
    }
    await waitFor('both plugins to register', async () => {
      const status = await call(berth.client.runtime, berth.client.runtime.Status, { verbose: true });
      return (JSON.parse(status.info.nri!) as { plugins: unknown[] }).plugins.length === 2;
    });
  });

  afterAll(async () => {
    for (const p of plugins) p.kill('SIGKILL');
    for (const id of pods) await cri?.removePod(id).catch(() => undefined);
    await berth?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('runs a container with the rlimits and the device the pod annotations ask the plugins for', async () => {
    const pod = podConfig('nri-adjusted', path.join(dir, 'logs'), {
      annotations: {
        'ulimits.nri.containerd.io/container.c': '- type: RLIMIT_NOFILE\n  hard: 4096\n  soft: 2048\n',
        'devices.nri.io/container.c': '- path: /dev/berth-nri-null\n  type: c\n  major: 1\n  minor: 3\n  file_mode: 438\n',
      },
    });
    const podId = await cri.runPod(pod);
    pods.push(podId);
    const image = `${env.openRegistry}/berth-test/busybox:run`;
    await cri.pull(image);
    const id = await cri.run(podId, containerConfig('c', image, { command: ['sleep', '600'] }), pod);
    expect((await cri.exec(id, ['sh', '-c', 'ulimit -n; ulimit -Hn'])).stdout.trim().split('\n')).toEqual(['2048', '4096']);
    const device = await cri.exec(id, ['sh', '-c', 'stat -c "%F %t:%T" /dev/berth-nri-null && echo written > /dev/berth-nri-null && echo ok']);
    expect(device.stdout.trim().split('\n')).toEqual(['character special file 1:3', 'ok']);
    // Another container of the pod is not adjusted: the annotations name container c.
    const other = await cri.run(podId, containerConfig('other', image, { command: ['sleep', '600'] }), pod);
    expect((await cri.exec(other, ['sh', '-c', 'test -e /dev/berth-nri-null || echo absent'])).stdout.trim()).toBe('absent');
  });
});

describe.skipIf(!present)('NRI plugins berth starts from its plugin directory', () => {
  const env = inject('env');
  let berth: BerthDaemon | undefined;
  let cri: Cri;
  let dir: string;
  const pods: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-e2e-nri-dir-'));
    await mkdir(path.join(dir, 'plugins'));
    await mkdir(path.join(dir, 'conf.d'));
    await copyFile(LOGGER, path.join(dir, 'plugins', '10-logger'));
    await chmod(path.join(dir, 'plugins', '10-logger'), 0o755);
    // Not a plugin: a name NRI does not take is left alone.
    await copyFile(LOGGER, path.join(dir, 'plugins', 'logger-without-index'));
    await chmod(path.join(dir, 'plugins', 'logger-without-index'), 0o755);
    await writeFile(path.join(dir, 'conf.d', 'logger.conf'), `logFile: ${path.join(dir, 'logger.log')}\nevents: [runpodsandbox, removepodsandbox]\n`);
    berth = await startBerth({
      registriesConf: testRegistriesConf(env, await freePort()),
      config: `${testBerthConf(env)}\n[nri]\nenable_nri = true\nnri_disable_connections = true\nnri_listen = "${path.join(dir, 'unused.sock')}"\nnri_plugin_dir = "${path.join(dir, 'plugins')}"\nnri_plugin_config_dir = "${path.join(dir, 'conf.d')}"\n`,
    });
    cri = new Cri(berth);
  });

  afterAll(async () => {
    for (const id of pods) await cri?.removePod(id).catch(() => undefined);
    await berth?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const loggersRunning = () => pgrep(path.join(dir, 'plugins', '10-logger'));

  it('starts NN-name executables with their configuration, and they are gone once berth stops', async () => {
    const status = await call(berth!.client.runtime, berth!.client.runtime.Status, { verbose: true });
    // The configuration asked for two events: RunPodSandbox (bit 0) and RemovePodSandbox (bit 2).
    expect(JSON.parse(status.info.nri!)).toEqual({ plugins: [{ name: 'logger', index: '10', events: 0b101 }] });
    await expect(access(path.join(dir, 'unused.sock'))).rejects.toThrow(); // connections disabled: no socket
    const pod = podConfig('nri-launched', path.join(dir, 'logs'));
    const podId = await cri.runPod(pod);
    pods.push(podId);
    await cri.removePod(podId);
    const log = () => readFile(path.join(dir, 'logger.log'), 'utf8').catch(() => '');
    await waitFor('the launched logger to log both events', async () => (await log()).includes(`RemovePodSandbox:    id: ${podId}`), 10_000);
    expect(await log()).toContain(`RunPodSandbox:    id: ${podId}`);
    expect(await log()).not.toContain('StopPodSandbox:');
    expect(await loggersRunning()).toBe(1);
    await berth!.destroy();
    berth = undefined;
    await waitFor('berth to kill the plugin it started', async () => (await loggersRunning()) === 0, 10_000);
  });
});

/** Processes running `file`. */
async function pgrep(file: string): Promise<number> {
  let n = 0;
  for (const p of (await readdir('/proc')).filter((x) => /^\d+$/.test(x))) {
    const exe = await readlink(`/proc/${p}/exe`).catch(() => '');
    if (exe === file) n++;
  }
  return n;
}
