import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import { SpdyConnection } from '../src/streaming/spdy/connection.js';
import { type BerthDaemon, startBerth } from './lib/berth-daemon.js';
import { call } from './lib/cri-client.js';
import { Cri, containerConfig, podConfig } from './lib/pods.js';
import { freePort } from './lib/ports.js';
import { testBerthConf, testRegistriesConf } from './lib/registries-conf.js';
import { upgrade } from './lib/stream-client.js';

/**
 * Streaming clients that stop reading while the container writes as fast
 * as it can (cat /dev/zero): over SPDY, the kubelet's transport, and over
 * WebSocket. The daemon buffers a bounded amount per stream and the
 * container waits; its memory stays where it was, and is where it was
 * after the clients go.
 */
const env = inject('env');
const IMAGE = `${env.openRegistry}/berth-test/busybox:run`;
const STALL_MS = 20_000;

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

describe('streaming clients that stop reading', () => {
  let berth: BerthDaemon;
  let cri: Cri;
  let podId: string;
  let ctr: string;
  const rt = () => berth.client.runtime;
  const execUrl = async (cmd: string[]) => (await call(rt(), rt().Exec, { containerId: ctr, cmd, tty: false, stdin: false, stdout: true, stderr: true })).url;

  beforeAll(async () => {
    berth = await startBerth({ registriesConf: testRegistriesConf(env, await freePort()), config: testBerthConf(env) });
    cri = new Cri(berth);
    await cri.pull(IMAGE);
    const pod = podConfig('backpressure', path.join(berth.dir, 'logs'));
    podId = await cri.runPod(pod);
    ctr = await cri.run(podId, containerConfig('main', IMAGE, { command: ['sleep', '600'] }), pod);
  });
  afterAll(async () => {
    await cri.removePod(podId);
    await berth.destroy();
  });

  it('holds the daemon within 64 MiB while an exec over SPDY and one over WebSocket stall for 20 s, and gives it back when they go', async () => {
    const pid = berth.process.pid!;
    const before = await rssMiB(pid);

    // SPDY: the streams are opened, then the client's socket is never read again.
    const spdy = await upgrade(await execUrl(['cat', '/dev/zero']), { Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': 'v4.channel.k8s.io' });
    expect(spdy.status).toBe(101);
    const conn = new SpdyConnection(spdy.socket!, 'client');
    (await conn.openStream({ streamtype: 'error' })).end();
    await conn.openStream({ streamtype: 'stdout' });
    await conn.openStream({ streamtype: 'stderr' });
    spdy.socket!.pause();

    // WebSocket: the first message arrives, then the client stops reading.
    const ws = new WebSocket((await execUrl(['cat', '/dev/zero'])).replace(/^http/, 'ws'), ['v5.channel.k8s.io']);
    await new Promise<void>((resolve, reject) => {
      ws.once('message', () => {
        ws.pause();
        resolve();
      });
      ws.once('error', reject);
    });

    let peak = before;
    const deadline = Date.now() + STALL_MS;
    while (Date.now() < deadline) {
      peak = Math.max(peak, await rssMiB(pid));
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(peak - before).toBeLessThan(64);
    // The daemon answers calls meanwhile.
    expect((await call(rt(), rt().Version, {})).runtimeName).toBe('berth');

    spdy.socket!.destroy();
    ws.terminate();
    await new Promise((r) => setTimeout(r, 3000));
    expect((await rssMiB(pid)) - before).toBeLessThan(64);
    // The execs ended with their clients: no cat is left in the container.
    const ps = await call(rt(), rt().ExecSync, { containerId: ctr, cmd: ['sh', '-c', 'ps -o args | grep -c "^cat /dev/zero" || true'], timeout: 10 });
    expect(ps.stdout.toString().trim()).toBe('0');
  }, 90_000);
});
