import { readFile, readdir, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type BerthDaemon, startBerth } from './lib/berth-daemon.js';
import { call, codeOf } from './lib/cri-client.js';
import { cgroupDirs, conmonProcessesFor, mountsUnder, runcContainers } from './lib/leftovers.js';
import { Cri, containerConfig, podConfig } from './lib/pods.js';
import { freePort } from './lib/ports.js';
import { testRegistriesConf } from './lib/registries-conf.js';

const env = inject('env');
const IMAGE = `${env.openRegistry}/berth-test/busybox:run`;
const LOG_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}[+-]\d\d:\d\d (stdout|stderr) [FP] /;

describe('containers through conmon and runc', () => {
  let berth: BerthDaemon;
  let cri: Cri;
  let logs: string;
  let podId: string;
  let pod: ReturnType<typeof podConfig>;

  beforeAll(async () => {
    berth = await startBerth({ registriesConf: testRegistriesConf(env, await freePort()) });
    cri = new Cri(berth);
    logs = path.join(berth.dir, 'logs');
    await cri.pull(IMAGE);
    pod = podConfig('web', path.join(logs, 'web'), {
      // Privileged, so that its privileged containers are allowed.
      linux: {
        cgroupParent: `/berth-e2e/pod-${Date.now()}`,
        sysctls: { 'net.ipv4.ip_unprivileged_port_start': '80', 'kernel.shmmni': '1000' },
        securityContext: { privileged: true },
      },
      dnsConfig: { servers: ['127.0.0.53'], searches: ['e2e.svc'], options: ['ndots:2'] },
    });
    podId = await cri.runPod(pod);
  });

  afterAll(async () => {
    await cri.removePod(podId).catch(() => undefined);
    try {
      expect(await berth.stop()).toBe(0);
      expect(await mountsUnder(berth.dir)).toEqual([]);
      expect(await conmonProcessesFor(berth.dir)).toEqual([]);
      expect(await runcContainers(path.join(berth.runroot, 'runtimes', 'runc'))).toEqual([]);
      expect(await cgroupDirs('berth-e2e')).toEqual([]);
    } finally {
      await berth.destroy();
    }
  });

  it('runs a container that prints and exits, with CRI-format logs', async () => {
    const id = await cri.run(podId, containerConfig('hello', IMAGE, { command: ['sh', '-c', 'echo out; echo err >&2; printf partial'] }), pod);
    const s = await cri.waitExited(id);
    expect(s).toMatchObject({ exitCode: 0, reason: 'Completed', logPath: path.join(logs, 'web', 'hello', '0.log') });
    expect(BigInt(s.finishedAt)).toBeGreaterThanOrEqual(BigInt(s.startedAt));
    expect(BigInt(s.startedAt)).toBeGreaterThanOrEqual(BigInt(s.createdAt));
    const lines = (await readFile(s.logPath, 'utf8')).trimEnd().split('\n');
    for (const l of lines) expect(l).toMatch(LOG_LINE);
    expect(lines.map((l) => l.split(' ').slice(1).join(' ')).sort()).toEqual(['stderr F err', 'stdout F out', 'stdout P partial']);
  });

  it("reports a failing command with its exit code and the runtime's words for one that cannot run", async () => {
    const failing = await cri.run(podId, containerConfig('fails', IMAGE, { command: ['sh', '-c', 'exit 3'] }), pod);
    expect(await cri.waitExited(failing)).toMatchObject({ exitCode: 3, reason: 'Error' });
    // An exit is released (runc delete, unmount) in the background; a stop waits for it.
    await cri.stop(failing, 0);
    const mountsBefore = await mountsUnder(berth.dir);
    const runcBefore = (await runcContainers(path.join(berth.runroot, 'runtimes', 'runc'))).sort();
    // As with containerd, the runtime's failure reaches the kubelet through
    // StartContainer; the container is then exited, with the runtime's words.
    const missing = await cri.createContainer(podId, containerConfig('missing-binary', IMAGE, { command: ['/no/such/binary'] }), pod);
    const err = await cri.start(missing).catch((e: { details: string; code: number }) => e);
    expect(err).toMatchObject({ code: 9, details: expect.stringContaining('/no/such/binary') }); // FAILED_PRECONDITION
    const status = await cri.status(missing);
    expect(status).toMatchObject({ state: 'CONTAINER_EXITED', exitCode: 128, reason: 'CreateContainerError' });
    expect(status.message).toContain('/no/such/binary');
    // Removing it leaves no mount and no runc container behind.
    await cri.removeContainer(missing);
    expect(await mountsUnder(berth.dir)).toEqual(mountsBefore);
    expect((await runcContainers(path.join(berth.runroot, 'runtimes', 'runc'))).sort()).toEqual(runcBefore);
  });

  it('runs an image of 130 layers', async () => {
    const image = `${env.openRegistry}/berth-test/layers:130`;
    await cri.pull(image);
    const id = await cri.run(podId, containerConfig('layered', image, { command: ['sh', '-c', 'cat /layers/1 /layers/129; ls /layers | wc -l'] }), pod);
    expect(await cri.waitExited(id)).toMatchObject({ exitCode: 0 });
    const out = (await readFile((await cri.status(id)).logPath, 'utf8')).split('\n').map((l) => l.split(' ').slice(3).join(' '));
    expect(out.slice(0, 3)).toEqual(['layer 1', 'layer 129', '129']);
    // Removing the image keeps the layers the container is made of, until it goes.
    // Layers being deleted in the background (renamed .ingest-rm-*) are gone already for berth.
    const snapshots = async () => (await readdir(path.join(berth.root, 'storage', 'snapshots'))).filter((n) => !n.startsWith('.ingest-rm-'));
    const before = (await snapshots()).length;
    await call(berth.client.image, berth.client.image.RemoveImage, { image: { image } });
    expect((await call(berth.client.image, berth.client.image.ImageStatus, { image: { image } })).image).toBeNull();
    expect((await snapshots()).length).toBe(before);
    await cri.removeContainer(id);
    expect((await snapshots()).length).toBe(before - 129); // the base layer is the run image's too
  });

  it('gives the pod its hostname, DNS, sysctls, shm and the image environment', async () => {
    const id = await cri.run(
      podId,
      containerConfig('inspect', IMAGE, {
        command: ['sleep', '600'],
        envs: [
          { key: 'FROM_CRI', value: Buffer.from('yes ✓') },
          { key: 'PATH', value: Buffer.from('/bin:/usr/bin') },
        ],
      }),
      pod,
    );
    expect((await cri.exec(id, ['hostname'])).stdout.trim()).toBe('web');
    expect((await cri.exec(id, ['cat', '/etc/resolv.conf'])).stdout).toBe('search e2e.svc\nnameserver 127.0.0.53\noptions ndots:2\n');
    expect((await cri.exec(id, ['cat', '/proc/sys/net/ipv4/ip_unprivileged_port_start'])).stdout.trim()).toBe('80');
    expect((await cri.exec(id, ['cat', '/proc/sys/kernel/shmmni'])).stdout.trim()).toBe('1000');
    expect((await cri.exec(id, ['sh', '-c', 'grep " /dev/shm " /proc/mounts'])).stdout).toContain('size=65536k');
    const envOut = (await cri.exec(id, ['env'])).stdout.split('\n');
    expect(envOut).toContain('FROM_CRI=yes ✓');
    expect(envOut).toContain('PATH=/bin:/usr/bin');
    expect(envOut).toContain('HOSTNAME=web');
  });

  it("moves conmon out of berth's cgroup into one of its own under the pod, removed with the container", async () => {
    const id = await cri.run(podId, containerConfig('placed', IMAGE, { command: ['sleep', '600'] }), pod);
    const pids = await conmonProcessesFor(id);
    expect(pids).toHaveLength(1);
    const cgroups = await readFile(`/proc/${pids[0]}/cgroup`, 'utf8');
    const parent = pod.linux!.cgroupParent!;
    expect(cgroups).toContain(`:memory:${parent}/berth-conmon-${id}\n`);
    expect(cgroups).toContain(`:pids:${parent}/berth-conmon-${id}\n`);
    const own = await readFile(`/proc/${berth.process.pid}/cgroup`, 'utf8');
    expect(own).not.toContain('berth-conmon');
    await cri.removeContainer(id);
    expect(
      await stat(`/sys/fs/cgroup/memory${parent}/berth-conmon-${id}`).then(
        () => 'there',
        () => 'gone',
      ),
    ).toBe('gone');
  });

  it('names the image as containerd and CRI-O do: its tag, and its repo digest as image_ref', async () => {
    const fx = env.fixtures.run;
    const byTag = await cri.createContainer(podId, containerConfig('by-tag', IMAGE), pod);
    const byId = await cri.createContainer(podId, containerConfig('by-id', fx.id), pod);
    const repoDigest = `${env.openRegistry}/${fx.repo}@${fx.digest}`;
    // CRI-O's "container status when created by image canonical reference": the tag, not the digest.
    const byDigest = await cri.createContainer(podId, containerConfig('by-digest', repoDigest), pod);
    expect(await cri.status(byDigest)).toMatchObject({ image: { image: IMAGE, userSpecifiedImage: repoDigest }, imageRef: repoDigest });
    await cri.removeContainer(byDigest);
    expect(await cri.status(byTag)).toMatchObject({ image: { image: IMAGE, userSpecifiedImage: IMAGE }, imageRef: repoDigest, imageId: fx.id });
    expect(await cri.status(byId)).toMatchObject({ image: { image: IMAGE, userSpecifiedImage: fx.id }, imageRef: repoDigest, imageId: fx.id });
    const listed = (await call(berth.client.runtime, berth.client.runtime.ListContainers, { filter: { id: byId } })).containers[0]!;
    expect(listed).toMatchObject({ image: { image: IMAGE }, imageRef: repoDigest });
    await cri.removeContainer(byTag);
    await cri.removeContainer(byId);
  });

  it('runs ExecSync with output, exit code and a timeout', async () => {
    const id = await cri.run(podId, containerConfig('probe', IMAGE, { command: ['sleep', '600'] }), pod);
    expect(await cri.exec(id, ['sh', '-c', 'echo to-out; echo to-err >&2; exit 4'])).toEqual({ stdout: 'to-out\n', stderr: 'to-err\n', exitCode: 4 });
    const started = Date.now();
    expect(await codeOf(cri.exec(id, ['sleep', '31'], 1))).toBe('DEADLINE_EXCEEDED');
    expect(Date.now() - started).toBeLessThan(10_000);
    // The timed-out process was killed, not left running.
    expect((await cri.exec(id, ['sh', '-c', 'ps -o pid,args | grep "sleep 3[1]" || true'])).stdout).toBe('');
    expect(await codeOf(cri.exec(id, []))).toBe('INVALID_ARGUMENT');
    // What a probe leaves in the background keeps its output open (and
    // runc exec waiting): the answer still comes at the probe's deadline,
    // and no runc is left behind.
    for (const cmd of ['echo left; sleep 3651 &', 'sleep 3652 & sleep 30']) {
      const t = Date.now();
      expect(await codeOf(cri.exec(id, ['sh', '-c', cmd], 2))).toBe('DEADLINE_EXCEEDED');
      expect(Date.now() - t).toBeLessThan(4500);
    }
    const { execFile } = await import('node:child_process');
    const runcExecs = await new Promise<string>((resolve) => execFile('pgrep', ['-f', `runc.* exec .*${id}`], (_e, out) => resolve(String(out))));
    expect(runcExecs.trim()).toBe('');
  });

  it('stops with the grace period honoured, and kills what ignores SIGTERM', async () => {
    const polite = await cri.run(podId, containerConfig('polite', IMAGE, { command: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.1; done'] }), pod);
    await new Promise((r) => setTimeout(r, 300));
    let t = Date.now();
    await cri.stop(polite, 10);
    expect(Date.now() - t).toBeLessThan(5000);
    expect(await cri.status(polite)).toMatchObject({ state: 'CONTAINER_EXITED', exitCode: 0 });
    const stubborn = await cri.run(podId, containerConfig('stubborn', IMAGE, { command: ['sleep', '600'] }), pod);
    t = Date.now();
    await cri.stop(stubborn, 2);
    expect(Date.now() - t).toBeGreaterThanOrEqual(1900);
    expect(await cri.status(stubborn)).toMatchObject({ state: 'CONTAINER_EXITED', exitCode: 137 });
    // A stopped container holds no runc container and no mount: RemoveContainer has only files left.
    for (const id of [polite, stubborn]) {
      expect(await runcContainers(path.join(berth.runroot, 'runtimes', 'runc'))).not.toContain(id);
      expect(await mountsUnder(path.join(berth.runroot, 'containers', id))).toEqual([]);
    }
    await cri.stop(stubborn, 2); // again: fine
    await cri.stop('0'.repeat(64), 2); // unknown: fine
  });

  it('applies the security context: user, read-only rootfs, capabilities, seccomp, no_new_privs', async () => {
    const id = await cri.run(
      podId,
      containerConfig('locked', IMAGE, {
        command: ['sleep', '600'],
        linux: {
          securityContext: {
            runAsUser: { value: 1000 },
            runAsGroup: { value: 3000 },
            supplementalGroups: [4000],
            readonlyRootfs: true,
            capabilities: { dropCapabilities: ['CHOWN'], addCapabilities: ['SYS_TIME'] },
            seccomp: { profileType: 'RuntimeDefault' },
            noNewPrivs: true,
          },
        },
      }),
      pod,
    );
    expect((await cri.exec(id, ['id'])).stdout.trim()).toBe('uid=1000 gid=3000 groups=3000,4000');
    const touch = await cri.exec(id, ['touch', '/newfile']);
    expect(touch.exitCode).not.toBe(0);
    expect(touch.stderr).toContain('Read-only file system');
    const status = (await cri.exec(id, ['cat', '/proc/self/status'])).stdout;
    expect(status).toMatch(/Seccomp:\s+2/);
    expect(status).toMatch(/NoNewPrivs:\s+1/);
    const bounding = BigInt(`0x${/CapBnd:\s+([0-9a-f]+)/.exec(status)![1]}`);
    expect(bounding & 1n).toBe(0n); // CAP_CHOWN dropped
    expect((bounding >> 25n) & 1n).toBe(1n); // CAP_SYS_TIME added
    expect((bounding >> 21n) & 1n).toBe(0n); // no CAP_SYS_ADMIN by default
    const s = await cri.status(id);
    expect(s.user?.linux).toEqual({ uid: '1000', gid: '3000', supplementalGroups: ['3000', '4000'] });
  });

  // Found by critest: berth must not ask runc for capabilities it does not hold itself.
  it('runs privileged containers and ones that add ALL capabilities', async () => {
    const priv = await cri.run(
      podId,
      containerConfig('privileged', IMAGE, {
        command: ['sleep', '600'],
        linux: { securityContext: { privileged: true } },
        devices: [{ hostPath: '/dev/null', containerPath: '/dev/asked-for', permissions: 'rwm' }],
      }),
      pod,
    );
    const status = (await cri.exec(priv, ['cat', '/proc/self/status'])).stdout;
    expect(BigInt(`0x${/CapEff:\s+([0-9a-f]+)/.exec(status)![1]}`) & (1n << 21n)).not.toBe(0n); // CAP_SYS_ADMIN
    // The host's devices, and the one its config asks for.
    expect((await cri.exec(priv, ['ls', '/dev/asked-for', '/dev/zero'])).exitCode).toBe(0);
    // Verbose status as containerd shapes it: scripts read .info.runtimeSpec with jq.
    const verbose = await call(berth.client.runtime, berth.client.runtime.ContainerStatus, { containerId: priv, verbose: true });
    const info = JSON.parse(verbose.info.info!) as {
      sandboxID: string;
      pid: number;
      privileged: boolean;
      runtimeSpec: { process: { args: string[] } };
      runtimeType: string;
    };
    expect(info).toMatchObject({ sandboxID: podId, privileged: true, runtimeType: 'oci', runtimeSpec: { process: { args: ['sleep', '600'] } } });
    expect(info.pid).toBeGreaterThan(0);
    const podInfo = JSON.parse(
      (await call(berth.client.runtime, berth.client.runtime.PodSandboxStatus, { podSandboxId: podId, verbose: true })).info.info!,
    ) as Record<string, unknown>;
    expect(podInfo).toMatchObject({ processStatus: 'running', runtimeHandler: 'runc', config: { metadata: { name: 'web' } } });
    const all = await cri.run(
      podId,
      containerConfig('all-caps', IMAGE, { command: ['sleep', '600'], linux: { securityContext: { capabilities: { addCapabilities: ['ALL'] } } } }),
      pod,
    );
    expect((await cri.exec(all, ['true'])).exitCode).toBe(0);
  });

  // Found by critest: a bidirectional mount needs a shared container root.
  it('propagates mounts both ways with PROPAGATION_BIDIRECTIONAL', async () => {
    const { execFile } = await import('node:child_process');
    const { promisify } = await import('node:util');
    const { mkdir: mk, readdir: ls } = await import('node:fs/promises');
    const run = promisify(execFile);
    const src = path.join(berth.dir, 'shared-src');
    await mk(src, { recursive: true });
    await run('mount', ['--bind', src, src]);
    await run('mount', ['--make-rshared', src]);
    try {
      const id = await cri.run(
        podId,
        containerConfig('propagate', IMAGE, {
          command: ['sleep', '600'],
          mounts: [{ containerPath: '/mnt/shared', hostPath: src, propagation: 'PROPAGATION_BIDIRECTIONAL' }],
          linux: { securityContext: { privileged: true } },
        }),
        pod,
      );
      expect((await cri.exec(id, ['sh', '-c', 'mkdir -p /mnt/shared/inner && mount --bind /etc /mnt/shared/inner'])).exitCode).toBe(0);
      expect(await ls(path.join(src, 'inner'))).toContain('passwd');
      await cri.removeContainer(id);
    } finally {
      await run('umount', ['-R', src]).catch(() => undefined);
    }
  });

  it('makes a recursive read-only mount read-only all the way down', async () => {
    const { execFile } = await import('node:child_process');
    const { promisify } = await import('node:util');
    const { mkdir: mk, rm: rmrf } = await import('node:fs/promises');
    const run = promisify(execFile);
    const status = await call(berth.client.runtime, berth.client.runtime.Status, {});
    expect(status.runtimeHandlers.every((h) => h.features?.recursiveReadOnlyMounts)).toBe(true);
    const src = path.join(berth.dir, 'rro-src');
    await mk(path.join(src, 'sub'), { recursive: true });
    await run('mount', ['-t', 'tmpfs', 'tmpfs', path.join(src, 'sub')]);
    try {
      const ro = (extra: object) =>
        containerConfig(`rro-${Object.keys(extra).length}`, IMAGE, {
          command: ['sleep', '600'],
          mounts: [{ containerPath: '/data', hostPath: src, readonly: true, recursiveReadOnly: true, ...extra }],
        });
      const id = await cri.run(podId, ro({}), pod);
      const touch = await cri.exec(id, ['touch', '/data/sub/x']);
      expect(touch.stderr).toContain('Read-only file system');
      // The mount point is not kept busy on the host (critest removes it while the container runs).
      await run('umount', [path.join(src, 'sub')]);
      await rmrf(src, { recursive: true });
      await cri.removeContainer(id);
      expect(await codeOf(cri.createContainer(podId, ro({ readonly: false }), pod))).toBe('INVALID_ARGUMENT');
    } finally {
      await run('umount', [path.join(src, 'sub')]).catch(() => undefined);
      await rmrf(src, { recursive: true, force: true });
    }
  });

  it('limits memory, changes the limit on update, and reports an OOM kill', async () => {
    const id = await cri.run(
      podId,
      containerConfig('limited', IMAGE, {
        command: ['sleep', '600'],
        linux: { resources: { memoryLimitInBytes: 64 << 20, cpuShares: 512 } },
      }),
      pod,
    );
    const cgroup = (await cri.exec(id, ['cat', '/proc/self/cgroup'])).stdout
      .split('\n')
      .find((l) => l.includes(':memory:'))!
      .split(':')[2]!;
    const limitFile = path.join('/sys/fs/cgroup/memory', cgroup, 'memory.limit_in_bytes');
    expect(await readFile(limitFile, 'utf8')).toBe(`${64 << 20}\n`);
    await call(berth.client.runtime, berth.client.runtime.UpdateContainerResources, {
      containerId: id,
      linux: { memoryLimitInBytes: 96 << 20, cpuShares: 256 },
    });
    expect(await readFile(limitFile, 'utf8')).toBe(`${96 << 20}\n`);
    expect((await cri.status(id)).resources?.linux).toMatchObject({ memoryLimitInBytes: String(96 << 20), cpuShares: '256' });
    const hog = await cri.run(
      podId,
      containerConfig('hog', IMAGE, {
        command: ['sh', '-c', 'x=$(dd if=/dev/zero bs=1M count=200 2>/dev/null | tr "\\0" a); echo survived'],
        linux: { resources: { memoryLimitInBytes: 32 << 20 } },
      }),
      pod,
    );
    expect(await cri.waitExited(hog, 60_000)).toMatchObject({ reason: 'OOMKilled', exitCode: 137 });
  });

  it('lists the termination-message mount for the kubelet to read, and leaves the message to the kubelet', async () => {
    const hostFile = path.join(berth.dir, 'termination-log');
    await writeFile(hostFile, '');
    const id = await cri.run(
      podId,
      containerConfig('dying', IMAGE, {
        command: ['sh', '-c', 'echo "goodbye: disk full" > /dev/termination-log; exit 1'],
        mounts: [{ containerPath: '/dev/termination-log', hostPath: hostFile }],
        annotations: { 'io.kubernetes.container.terminationMessagePath': '/dev/termination-log' },
      }),
      pod,
    );
    const s = await cri.waitExited(id);
    // The kubelet appends the file to the runtime's message: berth's stays empty.
    expect(s).toMatchObject({ reason: 'Error', message: '', exitCode: 1 });
    expect(s.mounts).toEqual([expect.objectContaining({ containerPath: '/dev/termination-log', hostPath: hostFile })]);
    expect(await readFile(hostFile, 'utf8')).toBe('goodbye: disk full\n');
  });

  it('reopens the log after rotation', async () => {
    const id = await cri.run(podId, containerConfig('chatty', IMAGE, { command: ['sh', '-c', 'while true; do echo tick; sleep 0.1; done'] }), pod);
    const { logPath } = await cri.status(id);
    await new Promise((r) => setTimeout(r, 300));
    await rename(logPath, `${logPath}.1`);
    await call(berth.client.runtime, berth.client.runtime.ReopenContainerLog, { containerId: id });
    await new Promise((r) => setTimeout(r, 400));
    expect(await readFile(logPath, 'utf8')).toContain('stdout F tick');
    expect((await stat(`${logPath}.1`)).size).toBeGreaterThan(0);
  });

  it('lists and filters containers and sandboxes from memory', async () => {
    const rt = berth.client.runtime;
    const all = (await call(rt, rt.ListContainers, {})).containers;
    expect(all.length).toBeGreaterThan(5);
    const running = (await call(rt, rt.ListContainers, { filter: { state: { state: 'CONTAINER_RUNNING' } } })).containers;
    expect(running.every((c) => c.state === 'CONTAINER_RUNNING')).toBe(true);
    const named = (await call(rt, rt.ListContainers, { filter: { labelSelector: { 'io.kubernetes.container.name': 'probe' } } })).containers;
    expect(named).toHaveLength(1);
    expect((await call(rt, rt.ListContainers, { filter: { id: named[0]!.id.slice(0, 12) } })).containers).toHaveLength(1);
    const pods = (await call(rt, rt.ListPodSandbox, { filter: { labelSelector: { app: 'berth-e2e' }, state: { state: 'SANDBOX_READY' } } })).items;
    expect(pods.map((p) => p.id)).toEqual([podId]);
    const status = await call(rt, rt.PodSandboxStatus, { podSandboxId: podId.slice(0, 10), verbose: true });
    expect(status.status).toMatchObject({ id: podId, state: 'SANDBOX_READY', annotations: pod.annotations, labels: pod.labels });
    expect(JSON.parse(status.info.info!)).toHaveProperty('namespaces.network');
  });

  it('refuses bad requests with clear codes and changes nothing', async () => {
    const rt = berth.client.runtime;
    const before = (await call(rt, rt.ListContainers, {})).containers.length;
    const mountsBefore = await mountsUnder(path.join(berth.runroot, 'containers'));
    expect(await codeOf(cri.createContainer(podId, containerConfig('x', `${env.openRegistry}/berth-test/busybox:not-pulled`), pod))).toBe('NOT_FOUND');
    expect(await codeOf(cri.createContainer('f'.repeat(64), containerConfig('x', IMAGE), pod))).toBe('NOT_FOUND');
    expect(await codeOf(cri.createContainer(podId, { image: { image: IMAGE } }, pod))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(cri.createContainer(podId, containerConfig('probe', IMAGE, { command: ['true'] }), pod))).toBe('ALREADY_EXISTS');
    expect(
      await codeOf(cri.createContainer(podId, containerConfig('badgroup', IMAGE, { linux: { securityContext: { runAsGroup: { value: 5 } } } }), pod)),
    ).toBe('INVALID_ARGUMENT');
    expect(await codeOf(cri.start('f'.repeat(64)))).toBe('NOT_FOUND');
    expect(await codeOf(cri.status(''))).toBe('INVALID_ARGUMENT');
    expect((await call(rt, rt.ListContainers, {})).containers.length).toBe(before);
    expect(await mountsUnder(path.join(berth.runroot, 'containers'))).toEqual(mountsBefore);
  });

  /** kill -9 of the container's conmon, whose pid file is in the bundle. */
  const killConmon = async (id: string) => {
    const pid = Number.parseInt(await readFile(path.join(berth.runroot, 'containers', id, 'conmon-pidfile'), 'utf8'), 10);
    process.kill(pid, 'SIGKILL');
  };
  const runcStatus = async (id: string) => ((await runcContainers(path.join(berth.runroot, 'runtimes', 'runc'))).includes(id) ? 'listed' : 'gone');

  it('reports a container whose conmon is killed -9 as exited, code 255 with a reason, within 3 s, and ends it', async () => {
    const id = await cri.run(podId, containerConfig('monitorless', IMAGE, { command: ['sleep', '600'] }), pod);
    await killConmon(id);
    const killedAt = Date.now();
    const s = await cri.waitExited(id, 3000);
    expect(Date.now() - killedAt).toBeLessThan(3000);
    expect(s).toMatchObject({ exitCode: 255, reason: 'Error', message: expect.stringContaining('conmon') });
    // Ended and released through runc, not left running untracked.
    expect(await runcStatus(id)).toBe('gone');
    await cri.removeContainer(id);
  });

  it('stops a container whose conmon was just killed -9 well within the timeout', async () => {
    const id = await cri.run(podId, containerConfig('monitorless-stop', IMAGE, { command: ['sleep', '600'] }), pod);
    await killConmon(id);
    const stopAt = Date.now();
    await cri.stop(id, 5);
    expect(Date.now() - stopAt).toBeLessThan(5000 + 2000);
    expect(await cri.status(id)).toMatchObject({ state: 'CONTAINER_EXITED', exitCode: 255, reason: 'Error' });
    expect(await runcStatus(id)).toBe('gone');
    await cri.removeContainer(id);
  });

  it('stops the pod with its containers, then removes everything', async () => {
    const live = await cri.run(podId, containerConfig('last', IMAGE, { command: ['sleep', '600'] }), pod);
    await cri.stopPod(podId);
    expect(await cri.status(live)).toMatchObject({ state: 'CONTAINER_EXITED' });
    expect(await codeOf(cri.createContainer(podId, containerConfig('late', IMAGE), pod))).toBe('FAILED_PRECONDITION');
    await cri.stopPod(podId); // idempotent
    await cri.removePod(podId);
    await cri.removePod(podId); // idempotent
    expect((await call(berth.client.runtime, berth.client.runtime.ListContainers, {})).containers).toEqual([]);
    expect(await mountsUnder(berth.dir)).toEqual([]);
    expect(await conmonProcessesFor(berth.dir)).toEqual([]);
  });
});
