import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type BerthDaemon, startBerth } from './lib/berth-daemon.js';
import { call, codeOf } from './lib/cri-client.js';
import { Cri, containerConfig, podConfig } from './lib/pods.js';
import { freePort, waitFor } from './lib/ports.js';
import { testBerthConf, testRegistriesConf } from './lib/registries-conf.js';
import { spdyExec, spdyOpen, spdyPortForward, upgrade, wsExec } from './lib/stream-client.js';

const env = inject('env');
const IMAGE = `${env.openRegistry}/berth-test/busybox:run`;
const exitStatus = (code: number) => expect.stringContaining(`"causes":[{"reason":"ExitCode","message":"${code}"}]`);
const SUCCESS = '{"metadata":{},"status":"Success"}';

describe('streaming: exec, attach and port-forward', () => {
  let berth: BerthDaemon;
  let cri: Cri;
  let podId: string;
  let pod: ReturnType<typeof podConfig>;
  let ctr: string;

  const rt = () => berth.client.runtime;
  const execUrl = async (cmd: string[], o: { tty?: boolean; stdin?: boolean; stderr?: boolean } = {}) =>
    (await call(rt(), rt().Exec, { containerId: ctr, cmd, tty: o.tty ?? false, stdin: o.stdin ?? false, stdout: true, stderr: o.stderr ?? !o.tty })).url;

  beforeAll(async () => {
    berth = await startBerth({ registriesConf: testRegistriesConf(env, await freePort()), config: testBerthConf(env) });
    cri = new Cri(berth);
    await cri.pull(IMAGE);
    pod = podConfig('stream', path.join(berth.dir, 'logs'));
    podId = await cri.runPod(pod);
    ctr = await cri.run(podId, containerConfig('main', IMAGE, { command: ['sleep', '600'] }), pod);
  });
  afterAll(async () => {
    await cri.removePod(podId);
    await berth.destroy();
  });

  it('returns unguessable single-use URLs on the streaming server', async () => {
    const url = await execUrl(['true']);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/exec\/[A-Za-z0-9_-]{32}$/);
    expect((await spdyExec(url)).status).toBe(SUCCESS);
    const again = await upgrade(url, { Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': 'v4.channel.k8s.io' });
    expect(again.status).toBe(404);
    const unknown = await upgrade(url.replace(/exec\/.*/, 'exec/notatoken'), { Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': 'v4.channel.k8s.io' });
    expect(unknown.status).toBe(404);
  });

  it('refuses a protocol it does not speak, naming the ones it does', async () => {
    const res = await upgrade(await execUrl(['true']), { Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': 'v9.channel.k8s.io' });
    expect(res.status).toBe(400);
    expect(res.headers['x-accepted-stream-protocol-versions']).toContain('v4.channel.k8s.io');
  });

  it('execs over SPDY with separate stdout and stderr and the exit code', async () => {
    const res = await spdyExec(await execUrl(['sh', '-c', 'echo -n hello; echo oops >&2; exit 3']));
    expect(res).toEqual({ stdout: 'hello', stderr: 'oops\n', status: exitStatus(3) });
    expect(JSON.parse(res.status)).toMatchObject({ status: 'Failure', reason: 'NonZeroExitCode' });
    expect(await spdyExec(await execUrl(['echo', '-n', 'ok']), { protocol: ['channel.k8s.io'] })).toEqual({ stdout: 'ok', stderr: '', status: '' });
  });

  it('feeds stdin, 5 MB of it', async () => {
    const big = Buffer.alloc(5 * 1024 * 1024, 'x');
    const res = await spdyExec(await execUrl(['sh', '-c', 'wc -c'], { stdin: true }), { stdin: big });
    expect(res.stdout.trim()).toBe(String(big.length));
    expect(res.status).toBe(SUCCESS);
  });

  it('runs a terminal, sized by the client, and ends when the process exits', async () => {
    const url = await execUrl(['sh', '-c', 'stty size; echo tty-done; exit 2'], { tty: true, stdin: true });
    const res = await spdyExec(url, { tty: true, stdin: 'keep-open', resize: { width: 132, height: 43 } });
    expect(res.stdout).toContain('43 132\r\n');
    expect(res.stdout).toContain('tty-done');
    expect(res.status).toEqual(exitStatus(2));
  });

  it('speaks WebSocket v5 and v4 channels, terminal included', async () => {
    const plain = await wsExec(await execUrl(['sh', '-c', 'cat; echo err >&2; exit 4'], { stdin: true }), { stdin: Buffer.from('through ws\n') });
    expect(plain).toEqual({ stdout: 'through ws\n', stderr: 'err\n', status: exitStatus(4) });
    const tty = await wsExec(await execUrl(['sh', '-c', 'stty size'], { tty: true, stdin: true }), {
      tty: true,
      resize: { width: 100, height: 30 },
      stdin: Buffer.alloc(0),
    });
    expect(tty, JSON.stringify(tty)).toMatchObject({ stdout: expect.stringContaining('30 100') });
    const v4 = await wsExec(await execUrl(['echo', 'v4']), { protocol: ['v4.channel.k8s.io'] });
    expect(v4).toMatchObject({ stdout: 'v4\n', status: SUCCESS });
  });

  it('kills the process of a client that disconnects', async () => {
    const conn = await spdyOpen(await execUrl(['sleep', '1234']));
    await waitFor('the exec to run', async () => (await cri.exec(ctr, ['sh', '-c', 'ps -o args | grep -c "^sleep 1234"'])).stdout.trim() === '1');
    conn.close();
    await waitFor('the exec to be killed', async () => (await cri.exec(ctr, ['sh', '-c', 'ps -o args | grep -c "^sleep 1234" || true'])).stdout.trim() === '0');
  });

  it('attaches to a running shell, and the session ends with it', async () => {
    const shell = await cri.run(podId, containerConfig('shell', IMAGE, { command: ['sh'], stdin: true, stdinOnce: true }), pod);
    const url = (await call(rt(), rt().Attach, { containerId: shell, stdin: true, stdout: true, stderr: true, tty: false })).url;
    const res = await spdyExec(url, { stdin: Buffer.from('echo -n hello\necho to-err >&2\n') });
    expect(res).toEqual({ stdout: 'hello', stderr: 'to-err\n', status: SUCCESS });
    // stdin_once: the end of the client's stdin closed the shell's, so it exited.
    expect(await cri.waitExited(shell)).toMatchObject({ exitCode: 0 });
  });

  it('forwards a port to a web server inside the pod', async () => {
    await cri.run(
      podId,
      containerConfig('web', IMAGE, { command: ['sh', '-c', 'mkdir -p /www && echo forwarded > /www/index.html && exec httpd -f -p 8080 -h /www'] }),
      pod,
    );
    const url = async () => (await call(rt(), rt().PortForward, { podSandboxId: podId, port: [8080] })).url;
    let res = { data: '', error: '' };
    await waitFor('httpd', async () => {
      res = await spdyPortForward(await url(), 8080, 'GET / HTTP/1.0\r\n\r\n');
      return res.data.includes('forwarded');
    });
    expect(res.data).toMatch(/^HTTP\/1\.[01] 200/);
    const refused = await spdyPortForward(await url(), 9999, 'GET / HTTP/1.0\r\n\r\n');
    expect(refused.error).toContain('failed to connect to localhost:9999');
  });

  it('refuses bad stream requests', async () => {
    expect(await codeOf(call(rt(), rt().Exec, { containerId: ctr, cmd: ['sh'], tty: true, stdin: true, stdout: true, stderr: true }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(call(rt(), rt().Exec, { containerId: ctr, cmd: ['sh'], stdout: false, stderr: false, stdin: false }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(call(rt(), rt().Exec, { containerId: 'f'.repeat(64), cmd: ['sh'], stdout: true }))).toBe('NOT_FOUND');
    expect(await codeOf(call(rt(), rt().PortForward, { podSandboxId: 'f'.repeat(64), port: [80] }))).toBe('NOT_FOUND');
    const done = await cri.run(podId, containerConfig('done', IMAGE, { command: ['true'] }), pod);
    await cri.waitExited(done);
    expect(await codeOf(call(rt(), rt().Exec, { containerId: done, cmd: ['sh'], stdout: true }))).toBe('FAILED_PRECONDITION');
  });
});

describe('WebSocket port forwarding (channel protocol)', () => {
  let berth: BerthDaemon;
  let cri: Cri;
  let podId: string;
  beforeAll(async () => {
    berth = await startBerth({ registriesConf: testRegistriesConf(env, await freePort()), config: testBerthConf(env) });
    cri = new Cri(berth);
    await cri.pull(IMAGE);
    const pod = podConfig('wspf', path.join(berth.dir, 'logs'));
    podId = await cri.runPod(pod);
    await cri.run(
      podId,
      containerConfig('web', IMAGE, { command: ['sh', '-c', 'mkdir -p /www && echo over-ws > /www/index.html && exec httpd -f -p 8081 -h /www'] }),
      pod,
    );
  });
  afterAll(async () => {
    await cri.removePod(podId);
    await berth.destroy();
  });

  it('announces the port on both channels and carries the data', async () => {
    const WebSocket = (await import('ws')).default;
    const rt = berth.client.runtime;
    let reply = '';
    await waitFor('httpd over ws', async () => {
      const url = (await call(rt, rt.PortForward, { podSandboxId: podId, port: [8081] })).url.replace(/^http/, 'ws');
      reply = await new Promise<string>((resolve, reject) => {
        const ws = new WebSocket(url, ['v4.channel.k8s.io']);
        const seen: Buffer[] = [];
        let first = 0;
        ws.on('message', (m: Buffer) => {
          if ((m[0] === 0 || m[0] === 1) && first < 2) {
            expect(m.readUInt16LE(1)).toBe(8081);
            first++;
            if (first === 2) ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('GET / HTTP/1.0\r\n\r\n')]));
            return;
          }
          if (m[0] === 0) seen.push(m.subarray(1));
        });
        ws.on('close', () => resolve(Buffer.concat(seen).toString()));
        ws.on('error', reject);
      });
      return reply.includes('over-ws');
    });
    expect(reply).toMatch(/^HTTP\/1\.[01] 200/);
  });
});
