import { execFileSync } from 'node:child_process';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SPDY3_DICTIONARY } from '../src/streaming/spdy/dictionary.js';
import { FrameType, controlFrame, u32 } from '../src/streaming/spdy/frames.js';
import type { ContainerConfig } from '../src/generated/runtime/v1/ContainerConfig.js';
import type { PodSandboxConfig } from '../src/generated/runtime/v1/PodSandboxConfig.js';
import { HOSTILE_REPO, type HostileTag, mountLinkTarget, pushHostileImages } from './fixtures/hostile-images.js';
import { type BerthDaemon, startBerth } from './lib/berth-daemon.js';
import { call, codeOf } from './lib/cri-client.js';
import { conmonProcessesFor, mountsUnder, runcContainers } from './lib/leftovers.js';
import { type LyingRegistry, PRIVATE_CREDENTIALS, startLyingRegistry } from './lib/lying-registry.js';
import { Cri, containerConfig, podConfig } from './lib/pods.js';
import { freePort } from './lib/ports.js';
import { testBerthConf, testRegistriesConf } from './lib/registries-conf.js';
import { upgrade } from './lib/stream-client.js';

/**
 * berth against input built to hurt it: images, a registry that lies, CRI
 * requests with the worst values a client can send, and streaming clients.
 * Every case must answer with a precise status within seconds, leave the
 * host untouched, and keep the daemon's memory bounded while ordinary pods
 * keep working.
 */
const env = inject('env');
const IMAGE = `${env.openRegistry}/berth-test/busybox:run`;
const UNIQUE = `${process.pid}-${Date.now()}`;
/** Host paths that hostile requests aim at: none may ever appear. */
const CANARIES = [mountLinkTarget(UNIQUE), `/tmp/berth-e2e-logescape-${UNIQUE}`, '/etc/cron.d/berth-e2e-hostile'];

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

/** The outcome of a call, with how long it took. */
async function timed(p: Promise<unknown>): Promise<{ code: string; ms: number; message: string }> {
  const started = Date.now();
  const code = await codeOf(p);
  const message = await p.then(
    () => '',
    (err: Error) => err.message,
  );
  return { code, ms: Date.now() - started, message };
}

describe('hostile input', () => {
  let berth: BerthDaemon;
  let cri: Cri;
  let lying: LyingRegistry;
  let images: Record<HostileTag, string>;
  let pod: PodSandboxConfig;
  let podId: string;
  let stuckFlag: string;
  let rssAtStart: number;
  const rt = () => berth.client.runtime;

  beforeAll(async () => {
    lying = await startLyingRegistry();
    images = await pushHostileImages({ host: env.openRegistry, url: `http://${env.openRegistry}`, stop: async () => undefined }, UNIQUE);
    const conf = `${testRegistriesConf(env, await freePort())}\n[[registry]]\nlocation = "${lying.host}"\ninsecure = true\n`;
    // A runtime whose `kill` hangs while a flag file exists: for the helper time limits.
    const dir = path.join('/tmp', `berth-e2e-stuck-${UNIQUE}`);
    await mkdir(dir, { recursive: true });
    stuckFlag = path.join(dir, 'hang');
    const runc = execFileSync('sh', ['-c', 'command -v runc']).toString().trim();
    const stuck = path.join(dir, 'stuck-runc');
    await writeFile(stuck, `#!/bin/sh\nfor a in "$@"; do [ "$a" = kill ] && [ -e ${stuckFlag} ] && exec sleep 600; done\nexec ${runc} "$@"\n`, { mode: 0o755 });
    berth = await startBerth({
      registriesConf: conf,
      config: `${testBerthConf(env)}[runtime]\nruntime_timeout = "5s"\n[runtimes.stuck]\nruntime_path = "${stuck}"\n`,
    });
    cri = new Cri(berth);
    await cri.pull(IMAGE);
    for (const tag of Object.keys(images) as HostileTag[]) if (tag !== 'tar-size') await cri.pull(images[tag]);
    pod = podConfig('hostile', path.join(berth.dir, 'logs', 'hostile'));
    podId = await cri.runPod(pod);
    rssAtStart = await rssMiB(berth.process.pid!);
  });

  afterAll(async () => {
    await rm(stuckFlag, { force: true });
    const rssAtEnd = await rssMiB(berth.process.pid!);
    await cri.removePod(podId).catch(() => undefined);
    try {
      expect(await berth.stop()).toBe(0);
      await lying.stop();
      expect(await mountsUnder(berth.dir)).toEqual([]);
      expect(await conmonProcessesFor(berth.dir)).toEqual([]);
      expect(await runcContainers(path.join(berth.runroot, 'runtimes', 'runc'))).toEqual([]);
      expect(await runcContainers(path.join(berth.runroot, 'runtimes', 'stuck'))).toEqual([]);
      for (const canary of CANARIES) expect(await exists(canary), canary).toBe(false);
    } finally {
      await berth.destroy();
      await rm(path.dirname(stuckFlag), { recursive: true, force: true });
    }
    // The whole suite may cost the daemon a few tens of MiB, no more.
    expect(rssAtEnd - rssAtStart).toBeLessThan(64);
  });

  const containersInPod = async () => (await call(rt(), rt().ListContainers, { filter: { podSandboxId: podId } })).containers.length;
  const create = (config: ContainerConfig) => cri.createContainer(podId, config, pod);

  describe('images built to hurt', () => {
    it('refuses account files that are FIFOs or devices at once, while an ordinary container starts', async () => {
      const before = await containersInPod();
      const hostile = (['passwd-fifo', 'group-char', 'passwd-block'] as const).flatMap((tag) =>
        [0, 1].map((i) => timed(create(containerConfig(`${tag}-${i}`, images[tag])))),
      );
      const ordinary = timed(cri.run(podId, containerConfig('ordinary', IMAGE, { command: ['sleep', '600'] }), pod));
      const outcomes = await Promise.all(hostile);
      for (const o of outcomes) {
        expect(o).toMatchObject({
          code: 'FAILED_PRECONDITION',
          message: expect.stringMatching(/\/etc\/(passwd|group): not a regular file \(a (FIFO|character device|block device)\)/),
        });
        expect(o.ms).toBeLessThan(3000);
      }
      expect((await ordinary).code).toBe('OK');
      expect(await containersInPod()).toBe(before + 1);
    });

    it('keeps a symlinked /etc/passwd inside the image', async () => {
      const id = await cri.run(podId, containerConfig('passwd-link', images['passwd-link']), pod);
      expect((await cri.status(id)).user?.linux).toMatchObject({ uid: '0', gid: '0' });
    });

    it('refuses a working directory that is a file', async () => {
      const o = await timed(create(containerConfig('workdir', images['workdir-file'], { workingDir: '/work' })));
      expect(o).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('working directory /work is not a directory') });
    });

    it('keeps a mount whose target is a symlink out of the host', async () => {
      const src = path.join(berth.dir, 'mount-src');
      await mkdir(src, { recursive: true });
      const id = await cri.run(
        podId,
        containerConfig('mount-link', images['mount-link'], { mounts: [{ containerPath: '/escape/inner', hostPath: src }] }),
        pod,
      );
      await cri.exec(id, ['touch', '/escape/inner/written']);
      expect(await exists(path.join(src, 'written'))).toBe(true);
      expect(await exists(mountLinkTarget(UNIQUE))).toBe(false);
    });

    it('refuses a layer whose tar header claims 8 GiB', async () => {
      const o = await timed(cri.pull(images['tar-size']));
      expect(o).toMatchObject({ code: 'FAILED_PRECONDITION', message: expect.stringContaining('not a valid tar archive') });
      expect((await call(berth.client.image, berth.client.image.ImageStatus, { image: { image: images['tar-size'] } })).image).toBeNull();
    });
  });

  describe('a registry that lies', () => {
    const cases: [string, string][] = [
      ['endless', 'FAILED_PRECONDITION'],
      ['md5', 'FAILED_PRECONDITION'],
      ['wrongdigest', 'INTERNAL'],
      ['badlength', 'INTERNAL'],
      ['garbage', 'FAILED_PRECONDITION'],
      ['longblob', 'FAILED_PRECONDITION'],
      ['loop', 'UNAVAILABLE'],
    ];
    for (const [repo, code] of cases) {
      it(`answers ${code} for ${repo} within seconds`, async () => {
        const o = await timed(cri.pull(`${lying.host}/${repo}:1`));
        expect(o.code, o.message).toBe(code);
        expect(o.ms).toBeLessThan(5000);
      });
    }

    it('never sends credentials to another origin a blob is redirected to', async () => {
      const ref = `${lying.host}/private:1`;
      await call(berth.client.image, berth.client.image.PullImage, { image: { image: ref }, auth: PRIVATE_CREDENTIALS });
      expect(lying.storageAuth).toEqual(['']);
      await call(berth.client.image, berth.client.image.RemoveImage, { image: { image: ref } });
    });
  });

  describe('requests with the worst values', () => {
    const podCases: [string, Partial<PodSandboxConfig>][] = [
      ['a 100-character hostname', { hostname: 'h'.repeat(100) }],
      ['a hostname with a newline', { hostname: 'web\nevil' }],
      ['a hostname with a slash', { hostname: 'web/evil' }],
      ['a search domain that starts a new line', { dnsConfig: { servers: [], searches: ['\nnameserver 6.6.6.6'], options: [] } }],
      ['a DNS server that is not an address', { dnsConfig: { servers: ['8.8.8.8 evil'], searches: [], options: [] } }],
      ['a relative log directory', { logDirectory: 'relative/logs' }],
      ['its own hostname on the host network', { hostname: 'not-the-node', linux: { securityContext: { namespaceOptions: { network: 'NODE' } } } }],
    ];
    for (const [what, extra] of podCases) {
      it(`refuses a pod with ${what}, creating nothing`, async () => {
        const before = (await call(rt(), rt().ListPodSandbox, {})).items.length;
        const o = await timed(cri.runPod(podConfig(`bad-${what.length}`, path.join(berth.dir, 'logs', 'bad'), extra)));
        expect(o.code, o.message).toBe('INVALID_ARGUMENT');
        expect((await call(rt(), rt().ListPodSandbox, {})).items.length).toBe(before);
      });
    }

    it('refuses pods with too much metadata, and ListPodSandbox still answers everything after', async () => {
      const before = (await call(rt(), rt().ListPodSandbox, {})).items.length;
      const labels = (bytes: number, n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`l${i}`, 'x'.repeat(bytes / n)]));
      // 25 MiB does not get past the request size the kubelet itself sends at most.
      for (let i = 0; i < 4; i++) {
        const o = await timed(cri.runPod(podConfig(`huge-${i}`, path.join(berth.dir, 'logs', 'huge'), { labels: labels(25 << 20, 64) })));
        expect(o.code, o.message).toBe('RESOURCE_EXHAUSTED');
      }
      // 1 MiB does, and is refused by name of the limit.
      const o = await timed(cri.runPod(podConfig('big', path.join(berth.dir, 'logs', 'big'), { annotations: labels(1 << 20, 16) })));
      expect(o).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('runtime.max_metadata_size') });
      expect((await call(rt(), rt().ListPodSandbox, {})).items.length).toBe(before);
    });

    const containerCases: [string, Partial<ContainerConfig>, RegExp][] = [
      ['an absolute log path', { logPath: '/etc/cron.d/berth-e2e-hostile' }, /must be relative/],
      ['a log path that climbs out', { logPath: `../../../../../../../../tmp/berth-e2e-logescape-${UNIQUE}/x.log` }, /leads outside/],
      ['privileges its pod does not have', { linux: { securityContext: { privileged: true } } }, /privileged container is not allowed/],
      [
        'a seccomp profile that is a device',
        { linux: { securityContext: { seccomp: { profileType: 'Localhost', localhostRef: '/dev/zero' } } } },
        /a character device/,
      ],
      [
        'a seccomp profile that is a secret',
        { linux: { securityContext: { seccomp: { profileType: 'Localhost', localhostRef: '/etc/shadow' } } } },
        /^3 INVALID_ARGUMENT: seccomp profile \/etc\/shadow is not valid JSON$/,
      ],
      ['a NUL byte in its arguments', { command: ['sh'], args: ['-c', 'true\0false'] }, /NUL byte/],
    ];
    for (const [what, extra, message] of containerCases) {
      it(`refuses a container with ${what}, creating nothing`, async () => {
        const before = await containersInPod();
        const o = await timed(create(containerConfig(`bad-${what.length}`, IMAGE, extra)));
        expect(o).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(message) });
        expect(await containersInPod()).toBe(before);
      });
    }

    it('answers INVALID_ARGUMENT, not a raw errno, for a log directory or host path that runs into a file', async () => {
      await mkdir(pod.logDirectory!, { recursive: true });
      await writeFile(path.join(pod.logDirectory!, 'blocker'), 'a file');
      const before = await containersInPod();
      expect(await timed(create(containerConfig('log-blocked', IMAGE, { logPath: 'blocker/0.log' })))).toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: expect.stringContaining('a part of it is a file'),
      });
      expect(
        await timed(create(containerConfig('mount-blocked', IMAGE, { mounts: [{ containerPath: '/x', hostPath: '/etc/hostname/inner' }] }))),
      ).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('/etc/hostname/inner') });
      expect(await containersInPod()).toBe(before);
    });

    it('ends StreamImages with INVALID_ARGUMENT for a bad filter, as ListImages answers', async () => {
      for (const filter of ['busybox@sha256:zz', 'UPPER', '*']) {
        const started = Date.now();
        const code = await new Promise<number>((resolve) => {
          const stream = berth.client.image.StreamImages({ filter: { image: { image: filter } } }, { deadline: Date.now() + 20_000 });
          stream.on('data', () => undefined);
          stream.on('error', (err: grpc.ServiceError) => resolve(err.code));
          stream.on('end', () => resolve(grpc.status.OK));
        });
        expect(grpc.status[code], filter).toBe('INVALID_ARGUMENT');
        expect(Date.now() - started).toBeLessThan(2000);
        expect(await codeOf(call(berth.client.image, berth.client.image.ListImages, { filter: { image: { image: filter } } }))).toBe('INVALID_ARGUMENT');
      }
    });
  });

  describe('streaming clients', () => {
    let target: string;
    beforeAll(async () => {
      target = await cri.run(podId, containerConfig('stream-target', IMAGE, { command: ['sleep', '600'] }), pod);
    });
    const execUrl = async () => (await call(rt(), rt().Exec, { containerId: target, cmd: ['true'], stdout: true, stderr: true })).url;

    it('closes a connection whose SPDY header block is a bomb, and the token stays spent', async () => {
      const url = await execUrl();
      const res = await upgrade(url, { Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': 'v4.channel.k8s.io' });
      expect(res.status).toBe(101);
      const value = Buffer.alloc(64 << 20, 0x61); // 64 KiB on the wire
      const bomb = deflateSync(Buffer.concat([u32(1), u32(1), Buffer.from('x'), u32(value.length), value]), { dictionary: SPDY3_DICTIONARY, level: 9 });
      const closed = new Promise<void>((resolve) => res.socket!.once('close', () => resolve()));
      res.socket!.on('error', () => undefined);
      res.socket!.on('data', () => undefined);
      const before = await rssMiB(berth.process.pid!);
      for (let off = 0; off < bomb.length && !res.socket!.destroyed; off += 60 << 10) {
        res.socket!.write(controlFrame(FrameType.SYN_STREAM, 0, Buffer.concat([u32(1, 0), Buffer.from([0, 0]), bomb.subarray(off, off + (60 << 10))])));
      }
      await closed;
      expect((await rssMiB(berth.process.pid!)) - before).toBeLessThan(32);
      expect((await upgrade(url, { Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': 'v4.channel.k8s.io' })).status).toBe(404);
    });

    it('refuses forged tokens', async () => {
      const url = await execUrl();
      for (const forged of ['AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', '..%2f..%2fetc', 'x'.repeat(4096)]) {
        expect(
          (await upgrade(url.replace(/exec\/.*/, `exec/${forged}`), { Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': 'v4.channel.k8s.io' })).status,
        ).toBe(404);
      }
    });
  });

  describe('a runtime that hangs', () => {
    it('answers DEADLINE_EXCEEDED after runtime_timeout, keeps answering, and recovers', async () => {
      const stuckPod = podConfig('stuck', path.join(berth.dir, 'logs', 'stuck'));
      const stuckPodId = await cri.runPod(stuckPod, 'stuck');
      const id = await cri.run(stuckPodId, containerConfig('sleeper', IMAGE, { command: ['sleep', '600'] }), stuckPod);
      await writeFile(stuckFlag, '');
      const stop = timed(cri.stop(id, 0));
      expect((await cri.status(id)).state).toBe('CONTAINER_RUNNING'); // status does not wait for the stop
      const o = await stop;
      expect(o).toMatchObject({ code: 'DEADLINE_EXCEEDED', message: expect.stringContaining('kill did not finish within 5s and was killed') });
      expect(o.ms).toBeLessThan(15_000);
      await rm(stuckFlag);
      await cri.stop(id, 0);
      expect((await cri.status(id)).state).toBe('CONTAINER_EXITED');
      await cri.removePod(stuckPodId);
    });
  });

  it('pulls nothing from the evil repository by digest algorithm it does not know', async () => {
    expect(await codeOf(cri.pull(`${env.openRegistry}/${HOSTILE_REPO}@md5:0123456789abcdef0123456789abcdef`))).toBe('INVALID_ARGUMENT');
  });
});
