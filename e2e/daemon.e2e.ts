import { execFile, spawn } from 'node:child_process';
import { lstat, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BERTH_BIN, type BerthDaemon, spawnBerth, startBerth } from './lib/berth-daemon.js';
import { call, codeOf } from './lib/cri-client.js';
import { Cri, containerConfig, podConfig } from './lib/pods.js';
import { freePort, waitFor } from './lib/ports.js';
import { testRegistriesConf } from './lib/registries-conf.js';

const env = inject('env');
const run = promisify(execFile);

function exitOf(child: ReturnType<typeof spawnBerth>): Promise<{ code: number | null; stderr: string }> {
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
}

describe('the berth daemon', () => {
  let berth: BerthDaemon;
  beforeAll(async () => {
    berth = await startBerth({ registriesConf: testRegistriesConf(env, await freePort()) });
  });
  afterAll(async () => {
    await berth.destroy();
  });

  it('answers Version as the kubelet requires', async () => {
    const v = await call(berth.client.runtime, berth.client.runtime.Version, { version: 'v1' });
    expect(v).toEqual({ version: '0.1.0', runtimeName: 'berth', runtimeVersion: '0.1.0', runtimeApiVersion: 'v1' });
  });

  it('reports both conditions in Status, and its configuration when verbose', async () => {
    const s = await call(berth.client.runtime, berth.client.runtime.Status, { verbose: true });
    const byType = Object.fromEntries(s.status!.conditions.map((c) => [c.type, c]));
    expect(byType.RuntimeReady!.status).toBe(true);
    expect(byType.NetworkReady).toMatchObject({ status: true });
    expect(JSON.parse(s.info.config!)).toMatchObject({ listen: berth.socket, root: berth.root });
  });

  it('answers every RPC with real work: unknown objects are NOT_FOUND, not UNIMPLEMENTED', async () => {
    expect(await codeOf(call(berth.client.runtime, berth.client.runtime.ContainerStats, { containerId: 'x' }))).toBe('NOT_FOUND');
    expect(await codeOf(call(berth.client.runtime, berth.client.runtime.PodSandboxStats, { podSandboxId: 'x' }))).toBe('NOT_FOUND');
  });

  it('serves on a 0660 socket in a directory others cannot list', async () => {
    expect((await lstat(berth.socket)).mode & 0o777).toBe(0o660);
    expect((await stat(path.dirname(berth.socket))).mode & 0o777).toBe(0o711);
  });

  it('answers `berth status` with its version, conditions and configuration, as `crio status` does', async () => {
    const args = ['status', '--config', '/dev/null', '--config-dir', path.join(berth.dir, 'none.d'), '--listen', berth.socket];
    const { stdout } = await run(process.execPath, [BERTH_BIN, ...args]);
    expect(stdout).toMatch(/^berth 0\.1\.0 \(CRI v1\) on /);
    expect(stdout).toContain('RuntimeReady: true');
    expect(stdout).toContain(`root: ${berth.root}`);
    const json = JSON.parse((await run(process.execPath, [BERTH_BIN, ...args, '--json'])).stdout) as { config: { listen: string } };
    expect(json.config.listen).toBe(berth.socket);
    const down = await run(process.execPath, [BERTH_BIN, 'status', '--config', '/dev/null', '--listen', path.join(berth.dir, 'nothing.sock')]).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(down).toMatchObject({ code: 1, stderr: expect.stringMatching(/^berth: cannot reach the daemon on .*nothing\.sock: /) });
  });

  it('reloads on SIGHUP what can change at run time, and survives a broken file', async () => {
    const conf = path.join(berth.dir, 'conf.d', '90-reload.conf');
    const configOf = async () =>
      JSON.parse((await call(berth.client.runtime, berth.client.runtime.Status, { verbose: true })).info.config!) as {
        runtime: { default_capabilities: string[] };
      };
    try {
      const pause = `${env.openRegistry}/berth-test/busybox:plain`;
      await call(berth.client.image, berth.client.image.PullImage, { image: { image: pause } });
      const pinned = async () => (await call(berth.client.image, berth.client.image.ImageStatus, { image: { image: pause } })).image?.pinned;
      expect(await pinned()).toBe(false);
      await writeFile(conf, `[runtime]\ndefault_capabilities = ["CHOWN", "KILL"]\n[image]\npause_image = "${pause}"\n`);
      berth.process.kill('SIGHUP');
      await waitFor('the reload', async () => (await configOf()).runtime.default_capabilities.join() === 'CHOWN,KILL');
      expect(await pinned()).toBe(true); // the new pause image is the one kept from garbage collection
      await writeFile(conf, '[runtime\n');
      berth.process.kill('SIGHUP');
      await waitFor('the refusal', async () => (await berth.logs()).includes('reload refused: the configuration is invalid'));
      expect((await configOf()).runtime.default_capabilities).toEqual(['CHOWN', 'KILL']);
    } finally {
      await rm(conf, { force: true });
      berth.process.kill('SIGHUP');
    }
    await waitFor('the defaults again', async () => (await configOf()).runtime.default_capabilities.length > 2);
  });

  it('reloads the signature policy, the CDI spec directories and the hooks directories', async () => {
    const conf = path.join(berth.dir, 'conf.d', '80-images.conf');
    const image = `${env.openRegistry}/berth-test/busybox:plain`;
    const pull = () => call(berth.client.image, berth.client.image.PullImage, { image: { image } });
    const cdiDir = path.join(berth.dir, 'cdi-reloaded');
    await mkdir(cdiDir, { recursive: true });
    await writeFile(
      path.join(cdiDir, 'x.json'),
      JSON.stringify({ cdiVersion: '0.6.0', kind: 'berth.test/reload', devices: [{ name: 'r0', containerEdits: { env: ['R=1'] } }] }),
    );
    await writeFile(path.join(berth.dir, 'reject.json'), JSON.stringify({ default: [{ type: 'reject' }] }));
    try {
      await writeFile(
        conf,
        `[image]\nsignature_policy = "${path.join(berth.dir, 'reject.json')}"\n[runtime]\ncdi_spec_dirs = ["${cdiDir}"]\nhooks_dirs = ["${path.join(berth.dir, 'no-hooks')}"]\n`,
      );
      berth.process.kill('SIGHUP');
      await waitFor('the new policy', async () => (await codeOf(pull())) === 'FAILED_PRECONDITION');
      const logs = await berth.logs();
      expect(logs).toMatch(/"applied":\[[^\]]*"image.signature_policy"[^\]]*\]/);
      expect(logs).toMatch(/"applied":\[[^\]]*"runtime.cdi_spec_dirs"[^\]]*\]/);
      expect(logs).toMatch(/"applied":\[[^\]]*"runtime.hooks_dirs"[^\]]*\]/);
    } finally {
      await rm(conf, { force: true });
      berth.process.kill('SIGHUP');
    }
    await waitFor('the default policy again', async () => (await codeOf(pull())) === 'OK');
  });

  it('reloads the runtimes table and the CNI settings, refusing a runtime it cannot run', async () => {
    const conf = path.join(berth.dir, 'conf.d', '90-runtimes.conf');
    const handlers = async () => (await call(berth.client.runtime, berth.client.runtime.Status, {})).runtimeHandlers.map((h) => h.name).sort();
    const network = async () => (await call(berth.client.runtime, berth.client.runtime.Status, {})).status!.conditions.find((c) => c.type === 'NetworkReady')!;
    const pod = podConfig('reloaded-handler', path.join(berth.dir, 'pod-logs', 'reloaded'), {
      linux: { securityContext: { namespaceOptions: { network: 'NODE' } } },
    });
    expect(await codeOf(call(berth.client.runtime, berth.client.runtime.RunPodSandbox, { config: pod, runtimeHandler: 'second' }))).toBe('INVALID_ARGUMENT');
    try {
      // The pod shares its PID namespace: its infra container runs on the new handler.
      await writeFile(
        conf,
        `[runtimes.second]\nruntime_path = "/usr/sbin/runc"\n[runtimes.broken]\nruntime_path = "/nonexistent/runc"\n` +
          `[network]\ndefault_network = "elsewhere"\n[image]\npause_image = "${env.openRegistry}/berth-test/pause:1"\n`,
      );
      berth.process.kill('SIGHUP');
      await waitFor('the new handler', async () => (await handlers()).includes('second'));
      expect(await handlers()).not.toContain('broken');
      expect(await berth.logs()).toContain('runtime handler not reloaded: /nonexistent/runc does not exist');
      expect(await network()).toMatchObject({ status: false, message: expect.stringContaining('no network named "elsewhere"') });
      const id = (await call(berth.client.runtime, berth.client.runtime.RunPodSandbox, { config: pod, runtimeHandler: 'second' })).podSandboxId;
      const status = await call(berth.client.runtime, berth.client.runtime.PodSandboxStatus, { podSandboxId: id });
      expect(status.status!.runtimeHandler).toBe('second');
      expect((await run('runc', ['--root', path.join(berth.runroot, 'runtimes', 'second'), 'list'])).stdout).toMatch(/\srunning\s/);
      await call(berth.client.runtime, berth.client.runtime.RemovePodSandbox, { podSandboxId: id });
    } finally {
      await rm(conf, { force: true });
      berth.process.kill('SIGHUP');
    }
    await waitFor('the network again', async () => (await network()).status);
    // The handler stays until a restart: its pods and containers may still need it.
    expect(await handlers()).toContain('second');
  });

  it('refuses to start on a socket another berth answers on', async () => {
    const child = spawnBerth([
      '--config',
      path.join(berth.dir, 'berth.conf'),
      '--config-dir',
      path.join(berth.dir, 'conf.d'),
      '--listen',
      berth.socket,
      '--root',
      path.join(berth.dir, 'root2'),
      '--runroot',
      path.join(berth.dir, 'run2'),
    ]);
    const { code, stderr } = await exitOf(child);
    expect(code).toBe(1);
    expect(stderr).toContain('is serving on');
    // The first daemon is unharmed.
    await call(berth.client.runtime, berth.client.runtime.Version, {});
  });
});

describe('berth start-up and shutdown', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-e2e-start-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('replaces a stale socket, keeps images across a restart, and exits 0 on SIGTERM', async () => {
    const conf = testRegistriesConf(env, await freePort());
    const first = await startBerth({ registriesConf: conf });
    try {
      const ref = `${env.openRegistry}/berth-test/busybox:plain`;
      await call(first.client.image, first.client.image.PullImage, { image: { image: ref } });
      // A crash leaves the socket file behind.
      first.process.kill('SIGKILL');
      await first.stop();
      expect((await lstat(first.socket)).isSocket()).toBe(true);
      const second = await startBerth({ registriesConf: conf, reuse: { dir: first.dir } });
      const { image } = await call(second.client.image, second.client.image.ImageStatus, { image: { image: ref } });
      expect(image?.id).toBe(env.fixtures.plain.id);
      expect(await second.stop()).toBe(0);
    } finally {
      await first.destroy();
    }
  });

  it('exits on SIGTERM within shutdown_timeout while a long stop is pending, leaving the container running', async () => {
    const conf = testRegistriesConf(env, await freePort());
    const first = await startBerth({ registriesConf: conf, config: `shutdown_timeout = "2s"\n` });
    const cri = new Cri(first);
    let second: BerthDaemon | undefined;
    try {
      const image = `${env.openRegistry}/berth-test/busybox:run`;
      await cri.pull(image);
      const pod = podConfig('shutdown', path.join(first.dir, 'logs'));
      const podId = await cri.runPod(pod);
      const id = await cri.run(podId, containerConfig('sleeper', image, { command: ['sleep', '3600'] }), pod);
      const pending = codeOf(call(first.client.runtime, first.client.runtime.StopContainer, { containerId: id, timeout: 3600 }, 120_000));
      await new Promise((r) => setTimeout(r, 300));
      const signalled = Date.now();
      expect(await first.stop()).toBe(0);
      expect(Date.now() - signalled).toBeLessThan(8000);
      expect(await pending).toMatch(/UNAVAILABLE|CANCELLED/);
      second = await startBerth({ registriesConf: conf, reuse: { dir: first.dir } });
      expect((await new Cri(second).status(id)).state).toBe('CONTAINER_RUNNING');
      await new Cri(second).removePod(podId);
    } finally {
      await second?.stop();
      await first.destroy();
    }
  });

  it('refuses a path that is not a socket', async () => {
    const notSocket = path.join(dir, 'file.sock');
    await writeFile(notSocket, 'x');
    const { code, stderr } = await exitOf(
      spawnBerth([
        '--config',
        '/dev/null',
        '--config-dir',
        path.join(dir, 'empty.d'),
        '--listen',
        notSocket,
        '--root',
        path.join(dir, 'root'),
        '--runroot',
        path.join(dir, 'run'),
      ]),
    );
    expect(code).toBe(1);
    expect(stderr).toContain('is not a socket');
  });

  it('exits 2 naming the file and key of a bad configuration', async () => {
    const bad = path.join(dir, 'bad.conf');
    await writeFile(bad, '[image]\nmax_concurrent_downloads = "many"\n');
    const { code, stderr } = await exitOf(spawnBerth(['--config', bad]));
    expect(code).toBe(2);
    expect(stderr).toContain(`${bad}: image.max_concurrent_downloads: expected an integer`);
  });

  it('exits 2 on an unknown flag', async () => {
    const { code, stderr } = await exitOf(spawnBerth(['--no-such-flag']));
    expect(code).toBe(2);
    expect(stderr).toContain('no-such-flag');
  });

  it('prints its configuration and version', async () => {
    const dropins = path.join(dir, 'conf.d');
    await run('mkdir', ['-p', dropins]);
    await writeFile(path.join(dropins, '50-root.conf'), 'root = "/srv/berth"\n');
    const { stdout } = await run(process.execPath, [BERTH_BIN, 'config', '--config', '/dev/null', '--config-dir', dropins, '--log-level', 'debug']);
    expect(stdout).toContain('root = "/srv/berth"');
    expect(stdout).toContain('log_level = "debug"');
    const version = JSON.parse((await run(process.execPath, [BERTH_BIN, 'version', '--json'])).stdout) as Record<string, string>;
    expect(version).toMatchObject({ version: '0.1.0', criApiVersion: expect.stringContaining('v1') });
    expect(version.gitCommit).toMatch(/^([0-9a-f]{40}(-dirty)?|unknown)$/);
  });

  it('tells systemd when it is ready and when it stops (sd_notify)', async () => {
    // Node has no unix datagram sockets: python3 listens as systemd would.
    const sock = path.join(dir, 'notify.sock');
    const listener = spawn(
      'python3',
      [
        '-u',
        '-c',
        [
          'import socket, sys',
          's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
          `s.bind(${JSON.stringify(sock)})`,
          'print("listening")',
          'while True: print(s.recv(4096).decode().replace("\\n", " "))',
        ].join('\n'),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let heard = '';
    listener.stdout!.on('data', (d: Buffer) => (heard += d.toString()));
    await waitFor('the listener', async () => heard.includes('listening'));
    process.env.NOTIFY_SOCKET = sock;
    let notified: BerthDaemon | undefined;
    try {
      notified = await startBerth({ registriesConf: testRegistriesConf(env, await freePort()) });
      await waitFor('READY=1', async () => heard.includes('READY=1'));
      expect(heard).toMatch(new RegExp(`READY=1 STATUS=serving on \\S+ MAINPID=${notified.process.pid}`));
      expect(await notified.stop()).toBe(0);
      await waitFor('STOPPING=1', async () => heard.includes('STOPPING=1'));
    } finally {
      delete process.env.NOTIFY_SOCKET;
      listener.kill();
      await notified?.destroy();
    }
  });

  it('finds the state a real daemon leaves consistent with `berth check`, and refuses --repair while it runs', async () => {
    const daemon = await startBerth({ registriesConf: testRegistriesConf(env, await freePort()) });
    try {
      const cri = new Cri(daemon);
      const image = `${env.openRegistry}/berth-test/busybox:run`;
      await cri.pull(image);
      const pod = podConfig('checked', path.join(daemon.dir, 'logs'));
      const podId = await cri.runPod(pod);
      await cri.waitExited(await cri.run(podId, containerConfig('done', image, { command: ['true'] }), pod));
      const args = [
        BERTH_BIN,
        'check',
        '--config',
        '/dev/null',
        '--config-dir',
        path.join(dir, 'empty.d'),
        '--root',
        daemon.root,
        '--runroot',
        daemon.runroot,
        '--listen',
        daemon.socket,
      ];
      const refused = await run(process.execPath, [...args, '--repair']).catch((e: { code: number; stdout: string }) => e);
      expect(refused).toMatchObject({ code: 2, stdout: expect.stringContaining('stop it before --repair') });
      expect(await daemon.stop()).toBe(0);
      const { stdout } = await run(process.execPath, args);
      expect(stdout).toBe(`the state under ${daemon.root} and ${daemon.runroot} is consistent\n`);
      // Back up, to remove the pod (its namespaces and shm are mounted).
      const again = await startBerth({ registriesConf: testRegistriesConf(env, await freePort()), reuse: { dir: daemon.dir } });
      await new Cri(again).removePod(podId);
      await again.stop();
    } finally {
      await daemon.destroy();
    }
  });

  it('checks the host with `berth doctor`, one line per prerequisite, failing on a missing runtime', async () => {
    const { stdout } = await run(process.execPath, [BERTH_BIN, 'doctor', '--config', '/dev/null', '--config-dir', path.join(dir, 'empty.d')]);
    expect(stdout).toMatch(/^ok {4}running as root/m);
    expect(stdout).toMatch(/^ok {4}runtime runc: \/usr\/sbin\/runc \(runc version /m);
    expect(stdout).toMatch(/^ok {4}CNI plugin bridge: /m);
    expect(stdout.trimEnd().split('\n').pop()).toBe('every required check passed');
    const conf = path.join(dir, 'doctor.conf');
    await writeFile(conf, '[image]\nsignature_policy = "/no/such/policy.json"\n[runtimes.runc]\nruntime_path = "/no/such/runc"\n');
    const failed = await run(process.execPath, [BERTH_BIN, 'doctor', '--config', conf, '--config-dir', path.join(dir, 'empty.d')]).catch(
      (e: { code: number; stdout: string }) => e,
    );
    expect(failed).toMatchObject({ code: 1, stdout: expect.stringMatching(/^fail {2}runtime runc: \/no\/such\/runc is missing$/m) });
    expect(failed).toMatchObject({ stdout: expect.stringMatching(/^fail {2}signature policy \/no\/such\/policy.json is absent: every pull will be refused/m) });
  });

  it('answers -h, --help, help, -v and --version', async () => {
    for (const flag of ['-h', '--help', 'help']) {
      const { stdout } = await run(process.execPath, [BERTH_BIN, flag]);
      expect(stdout, flag).toMatch(/^usage: berth \[serve\] \[flags\]/);
    }
    for (const flag of ['-v', '--version']) expect((await run(process.execPath, [BERTH_BIN, flag])).stdout, flag).toMatch(/^berth 0\.1\.0\ncommit: /);
  });

  it('says in one line that it must run as root', async () => {
    // Paths it may read as nobody: it must stop before touching any of them.
    const child = spawn(
      process.execPath,
      [
        BERTH_BIN,
        '--config',
        '/dev/null',
        '--config-dir',
        '/nonexistent/berth.conf.d',
        '--root',
        '/nonexistent/root',
        '--runroot',
        '/nonexistent/run',
        '--listen',
        '/nonexistent/run/b.sock',
      ],
      { uid: 65534, gid: 65534, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const { code, stderr } = await exitOf(child);
    expect(code).toBe(1);
    expect(stderr).toBe('berth: the daemon must run as root (it creates namespaces, mounts and cgroups); try sudo\n');
  });

  it('refuses to start without its runtime, naming the key and the path', async () => {
    const conf = path.join(dir, 'no-runtime.conf');
    await writeFile(conf, '[image]\nsignature_policy = "/no/such/policy.json"\n[runtimes.runc]\nruntime_path = "/no/such/runc"\n');
    const { code, stderr } = await exitOf(
      spawnBerth([
        '--config',
        conf,
        '--config-dir',
        path.join(dir, 'empty.d'),
        '--root',
        path.join(dir, 'nr-root'),
        '--runroot',
        path.join(dir, 'nr-run'),
        '--listen',
        path.join(dir, 'nr-run', 'b.sock'),
      ]),
    );
    expect(code).toBe(1);
    expect(stderr).toContain('runtimes.runc.runtime_path: /no/such/runc does not exist');
  });

  it('is built as one bundle whose V8 code cache this node accepts', async () => {
    const { readFileSync } = await import('node:fs');
    const { CODE_CACHE, compileBundle } = (await import(pathToFileURL(path.join(path.dirname(BERTH_BIN), 'bundle-loader.js')).href)) as {
      CODE_CACHE: string;
      compileBundle(cachedData: Buffer | undefined): { cachedDataRejected?: boolean };
    };
    expect(compileBundle(readFileSync(CODE_CACHE)).cachedDataRejected).toBe(false);
  });

  it('refuses to replace a socket another program answers on', async () => {
    const sock = path.join(dir, 'live.sock');
    const srv = createServer(() => undefined).listen(sock);
    await new Promise((r) => srv.once('listening', r));
    const { code } = await exitOf(
      spawnBerth([
        '--config',
        '/dev/null',
        '--config-dir',
        path.join(dir, 'empty.d'),
        '--listen',
        sock,
        '--root',
        path.join(dir, 'root'),
        '--runroot',
        path.join(dir, 'run'),
      ]),
    );
    srv.close();
    expect(code).toBe(1);
  });
});
