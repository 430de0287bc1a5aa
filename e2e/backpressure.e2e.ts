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
import { spdyChannels, upgrade } from './lib/stream-client.js';

/**
 * Streaming clients that stop reading while the container writes as fast
 * as it can (cat /dev/zero): over SPDY, the kubelet's transport, and over
 * WebSocket. The daemon buffers a bounded amount per stream and the
 * container waits; its memory stays where it was, and is where it was
 * after the clients go. The same for attach (the container's main process
 * writing at full speed; conmon's log, kept small here, is what it waits
 * on) and for port-forward (a server in the pod sending endless zeros).
 * The other way, clients sending stdin to a process that never reads it
 * are made to wait; the daemon does not buffer what they send.
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

  let writer: string;

  beforeAll(async () => {
    // conmon keeps each log under 1 MiB: the writer's output goes to the
    // log at full speed for the whole test without filling the disk.
    berth = await startBerth({
      registriesConf: testRegistriesConf(env, await freePort()),
      config: `${testBerthConf(env)}[runtime]\nlog_size_max = ${1 << 20}\n`,
    });
    cri = new Cri(berth);
    await cri.pull(IMAGE);
    const pod = podConfig('backpressure', path.join(berth.dir, 'logs'));
    podId = await cri.runPod(pod);
    ctr = await cri.run(podId, containerConfig('main', IMAGE, { command: ['sleep', '600'] }), pod);
    // A main process that writes as fast as it can, to attach to, and a
    // server that sends endless zeros to whoever connects, to forward to.
    writer = await cri.run(podId, containerConfig('writer', IMAGE, { command: ['cat', '/dev/zero'] }), pod);
    await cri.run(podId, containerConfig('zeros', IMAGE, { command: ['nc', '-ll', '-p', '8090', '-e', 'cat', '/dev/zero'] }), pod);
  });
  afterAll(async () => {
    await cri.removePod(podId);
    await berth.destroy();
  });

  it('holds the daemon within 64 MiB while an exec over SPDY and one over WebSocket stall for 20 s, and gives it back when they go', async () => {
    const pid = berth.process.pid!;
    const before = await rssMiB(pid);

    // SPDY: the streams are opened, then the client's socket is never read again.
    const spdy = await spdyChannels(await execUrl(['cat', '/dev/zero']));
    spdy.socket.pause();

    // WebSocket: the first message arrives, then the client stops reading.
    const ws = new WebSocket((await execUrl(['cat', '/dev/zero'])).replace(/^http/, 'ws'), ['v5.channel.k8s.io']);
    await firstMessageThenPause(ws);

    expect((await peakDuring(pid, STALL_MS)) - before).toBeLessThan(64);
    // The daemon answers calls meanwhile.
    expect((await call(rt(), rt().Version, {})).runtimeName).toBe('berth');

    spdy.socket.destroy();
    ws.terminate();
    await new Promise((r) => setTimeout(r, 3000));
    expect((await rssMiB(pid)) - before).toBeLessThan(64);
    // The execs ended with their clients: no cat is left in the container.
    const ps = await call(rt(), rt().ExecSync, { containerId: ctr, cmd: ['sh', '-c', 'ps -o args | grep -c "^cat /dev/zero" || true'], timeout: 10 });
    expect(ps.stdout.toString().trim()).toBe('0');
  }, 90_000);

  it('holds the daemon within 64 MiB while clients over SPDY and WebSocket send stdin to a process that never reads it, and makes them wait', async () => {
    const pid = berth.process.pid!;
    const before = await rssMiB(pid);
    const stdinUrl = async () =>
      (await call(rt(), rt().Exec, { containerId: ctr, cmd: ['sleep', '601'], tty: false, stdin: true, stdout: true, stderr: true })).url;
    const chunk = Buffer.alloc(64 << 10, 0x61);
    const bound = 1 << 30; // what an unthrottled client would reach in seconds on loopback
    let sending = true;

    const spdy = await spdyChannels(await stdinUrl(), true);
    const stdin = spdy.stdin!;
    let sentSpdy = 0;
    const spdyPump = (async () => {
      while (sending && sentSpdy < bound) {
        await new Promise<void>((resolve) => stdin.write(chunk, () => resolve()));
        sentSpdy += chunk.length;
      }
    })();

    const ws = new WebSocket((await stdinUrl()).replace(/^http/, 'ws'), ['v5.channel.k8s.io']);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const message = Buffer.concat([Buffer.from([0]), chunk]);
    let sentWs = 0;
    const wsPump = (async () => {
      while (sending && sentWs < bound) {
        await new Promise<void>((resolve, reject) => ws.send(message, (err) => (err ? reject(err) : resolve())));
        sentWs += chunk.length;
      }
    })().catch(() => undefined); // the socket is terminated under a waiting send

    expect((await peakDuring(pid, STALL_MS / 2)) - before).toBeLessThan(64);
    expect((await call(rt(), rt().Version, {})).runtimeName).toBe('berth');
    // The clients were made to wait: what they got through is the sockets' and pipes' buffers.
    expect(sentSpdy).toBeLessThan(64 << 20);
    expect(sentWs).toBeLessThan(64 << 20);

    sending = false;
    spdy.socket.destroy();
    ws.terminate();
    await Promise.all([spdyPump, wsPump]);
    // berth's sockets were paused, so it learns the clients went away from
    // its probes failing: the processes are killed within a few seconds.
    const left = async () =>
      (await call(rt(), rt().ExecSync, { containerId: ctr, cmd: ['sh', '-c', 'ps -o args | grep -c "^sleep 601" || true'], timeout: 10 })).stdout
        .toString()
        .trim();
    const deadline = Date.now() + 15_000;
    while ((await left()) !== '0' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
    expect(await left()).toBe('0');
    expect((await rssMiB(pid)) - before).toBeLessThan(64);
  }, 90_000);

  it('holds the daemon within 64 MiB while an attach over SPDY and one over WebSocket stall for 20 s, and gives it back when they go', async () => {
    const pid = berth.process.pid!;
    const before = await rssMiB(pid);
    const attachUrl = async () => (await call(rt(), rt().Attach, { containerId: writer, stdin: false, stdout: true, stderr: true, tty: false })).url;

    const spdy = await spdyChannels(await attachUrl());
    await new Promise<void>((resolve) => spdy.stdout.once('data', () => resolve()));
    spdy.socket.pause();

    const ws = new WebSocket((await attachUrl()).replace(/^http/, 'ws'), ['v5.channel.k8s.io']);
    await firstMessageThenPause(ws);

    expect((await peakDuring(pid, STALL_MS)) - before).toBeLessThan(64);
    expect((await call(rt(), rt().Version, {})).runtimeName).toBe('berth');

    spdy.socket.destroy();
    ws.terminate();
    await new Promise((r) => setTimeout(r, 3000));
    expect((await rssMiB(pid)) - before).toBeLessThan(64);
    // The writer was only held back, never stopped: it is still running.
    const status = await call(rt(), rt().ContainerStatus, { containerId: writer });
    expect(status.status?.state).toBe('CONTAINER_RUNNING');
  }, 90_000);

  it('holds the daemon within 64 MiB while a port-forward over SPDY and one over WebSocket stall for 20 s, and gives it back when they go', async () => {
    const pid = berth.process.pid!;
    const before = await rssMiB(pid);
    const forwardUrl = async () => (await call(rt(), rt().PortForward, { podSandboxId: podId, port: [8090] })).url;

    // SPDY: one forwarded connection; the first bytes arrive, then the client stops reading.
    const spdy = await upgrade(await forwardUrl(), { Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': 'portforward.k8s.io' });
    expect(spdy.status).toBe(101);
    const conn = new SpdyConnection(spdy.socket!, 'client');
    (await conn.openStream({ streamtype: 'error', port: '8090', requestid: '0' })).end();
    const data = await conn.openStream({ streamtype: 'data', port: '8090', requestid: '0' });
    await new Promise<void>((resolve) => data.once('data', () => resolve()));
    spdy.socket!.pause();

    // WebSocket: the two port announcements, then the zeros, then nothing is read.
    const ws = new WebSocket((await forwardUrl()).replace(/^http/, 'ws'), ['v4.channel.k8s.io']);
    await new Promise<void>((resolve, reject) => {
      let seen = 0;
      ws.on('message', () => {
        if (++seen === 3) {
          ws.pause();
          resolve();
        }
      });
      ws.once('error', reject);
    });

    expect((await peakDuring(pid, STALL_MS)) - before).toBeLessThan(64);
    expect((await call(rt(), rt().Version, {})).runtimeName).toBe('berth');

    spdy.socket!.destroy();
    ws.terminate();
    await new Promise((r) => setTimeout(r, 3000));
    expect((await rssMiB(pid)) - before).toBeLessThan(64);
    // The forwarded connections ended with their clients: nc serves a new one.
    const probe = await call(rt(), rt().ExecSync, { containerId: ctr, cmd: ['sh', '-c', 'nc 127.0.0.1 8090 | head -c 4096 | wc -c'], timeout: 10 });
    expect(probe.stdout.toString().trim()).toBe('4096');
  }, 90_000);
});

/** Resolves at the first message, after which the client reads nothing more. */
function firstMessageThenPause(ws: WebSocket): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    ws.once('message', () => {
      ws.pause();
      resolve();
    });
    ws.once('error', reject);
  });
}

/** The daemon's largest RSS over `ms`, sampled twice a second. */
async function peakDuring(pid: number, ms: number): Promise<number> {
  let peak = await rssMiB(pid);
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    peak = Math.max(peak, await rssMiB(pid));
    await new Promise((r) => setTimeout(r, 500));
  }
  return peak;
}
