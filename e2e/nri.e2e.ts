import { type ChildProcess, spawn } from 'node:child_process';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/log.js';
import { NriAdaptation } from '../src/nri/adaptation.js';
import { waitFor } from './lib/ports.js';

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
