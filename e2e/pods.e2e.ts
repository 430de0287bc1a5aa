import { mkdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import type { UserNamespace } from '../src/generated/runtime/v1/UserNamespace.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type BerthDaemon, startBerth } from './lib/berth-daemon.js';
import { call, codeOf } from './lib/cri-client.js';
import { crictl, haveCrictl } from './lib/crictl.js';
import { cgroupDirs, mountsUnder } from './lib/leftovers.js';
import { Cri, containerConfig, podConfig } from './lib/pods.js';
import { freePort } from './lib/ports.js';
import { testBerthConf, testRegistriesConf } from './lib/registries-conf.js';

const env = inject('env');
const IMAGE = `${env.openRegistry}/berth-test/busybox:run`;
const CRICTL_PRESENT = await haveCrictl();

describe('pod sandboxes', () => {
  let berth: BerthDaemon;
  let cri: Cri;
  const pods: string[] = [];

  beforeAll(async () => {
    berth = await startBerth({ registriesConf: testRegistriesConf(env, await freePort()), config: testBerthConf(env) });
    cri = new Cri(berth);
    await cri.pull(IMAGE);
  });
  afterAll(async () => {
    // The daemon goes whatever the checks find: a failed check must not leave it running.
    try {
      for (const id of pods) await cri.removePod(id);
      expect(await mountsUnder(berth.dir)).toEqual([]);
      expect(await cgroupDirs('berth')).toEqual([]);
    } finally {
      await berth.destroy();
    }
  });

  const logDir = (name: string) => path.join(berth.dir, 'logs', name);

  it('pins network, IPC and UTS namespaces that containers of the pod share', async () => {
    const pod = podConfig('shared', logDir('shared'));
    const id = await cri.runPod(pod);
    pods.push(id);
    const a = await cri.run(id, containerConfig('a', IMAGE, { command: ['sleep', '600'] }), pod);
    const b = await cri.run(id, containerConfig('b', IMAGE, { command: ['sleep', '600'] }), pod);
    const ns = async (c: string, kind: string) => (await cri.exec(c, ['stat', '-L', '-c', '%i', `/proc/self/ns/${kind}`])).stdout.trim();
    for (const kind of ['net', 'ipc', 'uts']) expect(await ns(a, kind)).toBe(await ns(b, kind));
    expect(await ns(a, 'pid')).not.toBe(await ns(b, 'pid')); // PID mode CONTAINER
    expect(await ns(a, 'net')).not.toBe(String((await stat('/proc/self/ns/net')).ino));
    const info = JSON.parse((await call(berth.client.runtime, berth.client.runtime.PodSandboxStatus, { podSandboxId: id, verbose: true })).info.info!) as {
      namespaces: Record<string, string>;
    };
    expect(Object.keys(info.namespaces).sort()).toEqual(['ipc', 'network', 'uts']);
  });

  it('shares one PID namespace, held by an infra container, when the pod asks for it', async () => {
    const shared = { namespaceOptions: { network: 'POD', pid: 'POD', ipc: 'POD' } } as const;
    const pod = podConfig('pidpod', logDir('pidpod'), { linux: { securityContext: shared } });
    const id = await cri.runPod(pod);
    pods.push(id);
    const ctr = (name: string, cmd: string[]) => containerConfig(name, IMAGE, { command: cmd, linux: { securityContext: shared } });
    const a = await cri.run(id, ctr('a', ['sleep', '601']), pod);
    await cri.run(id, ctr('b', ['sleep', '602']), pod);
    const ps = (await cri.exec(a, ['ps', '-o', 'pid,args'])).stdout;
    expect(ps).toMatch(/^\s*1 \/bin\/sleep 2147483647$/m); // the pause process is init
    expect(ps).toContain('sleep 601');
    expect(ps).toContain('sleep 602');
    // The infra container is not listed.
    const listed = (await call(berth.client.runtime, berth.client.runtime.ListContainers, { filter: { podSandboxId: id } })).containers;
    expect(listed.map((c) => c.metadata?.name).sort()).toEqual(['a', 'b']);
  });

  it('gives a pod its own user namespace, which owns its other namespaces', async () => {
    const map = [{ containerId: 0, hostId: 200000, length: 65536 }];
    const ns = { namespaceOptions: { network: 'POD', pid: 'POD', ipc: 'POD', usernsOptions: { mode: 'POD', uids: map, gids: map } } } as const;
    const pod = podConfig('userns', logDir('userns'), { linux: { securityContext: ns, sysctls: { 'net.ipv4.ip_unprivileged_port_start': '0' } } });
    const id = await cri.runPod(pod);
    pods.push(id);
    const c = await cri.run(
      id,
      containerConfig('c', IMAGE, {
        command: ['sleep', '600'],
        linux: { securityContext: { namespaceOptions: ns.namespaceOptions, capabilities: { addCapabilities: ['SYS_ADMIN'] } } },
      }),
      pod,
    );
    expect((await cri.exec(c, ['cat', '/proc/self/uid_map'])).stdout).toMatch(/^\s+0\s+200000\s+65536\n$/);
    expect((await cri.exec(c, ['hostname'])).stdout.trim()).toBe('userns');
    // With CAP_SYS_ADMIN in the pod's user namespace, the container may change
    // the hostname the pod owns, yet it is uid 200000 on the host.
    expect((await cri.exec(c, ['hostname', 'renamed'])).exitCode).toBe(0);
    const hostUid = (
      await readFile(
        `/proc/${(JSON.parse((await call(berth.client.runtime, berth.client.runtime.ContainerStatus, { containerId: c, verbose: true })).info.info!) as { pid: number }).pid}/status`,
        'utf8',
      )
    )
      .split('\n')
      .find((l) => l.startsWith('Uid:'))!;
    expect(hostUid).toMatch(/^Uid:\s+200000\s/);
  });

  it("maps the image's owners into a pod's user namespace with idmapped layers: root-owned files are the container root's, writes land mapped on the host", async () => {
    const map = [{ containerId: 0, hostId: 300000, length: 65536 }];
    const ns = { namespaceOptions: { network: 'POD', pid: 'POD', ipc: 'POD', usernsOptions: { mode: 'POD', uids: map, gids: map } } } as const;
    const pod = podConfig('idmap', logDir('idmap'), { linux: { securityContext: ns } });
    const id = await cri.runPod(pod);
    pods.push(id);
    // A volume whose files root owns on the host, mounted with the pod's mappings (idmapped).
    const volume = path.join(berth.dir, 'idmap-volume');
    await mkdir(volume, { recursive: true });
    await writeFile(path.join(volume, 'owned-by-root'), 'x');
    const c = await cri.run(
      id,
      containerConfig('c', IMAGE, {
        command: ['sleep', '600'],
        linux: { securityContext: { namespaceOptions: ns.namespaceOptions } },
        mounts: [{ containerPath: '/vol', hostPath: volume, uidMappings: map, gidMappings: map }],
      }),
      pod,
    );
    const sh = async (script: string) => cri.exec(c, ['sh', '-c', script]);
    expect((await sh('stat -c "%u" /vol/owned-by-root; grep " /vol " /proc/self/mountinfo')).stdout).toMatch(/^0\n.* \/vol .*idmapped/s);
    expect((await sh('touch /vol/from-pod && echo ok')).stdout).toBe('ok\n');
    expect((await stat(path.join(volume, 'from-pod'))).uid).toBe(0); // the pod's root is the host's root through the mapping
    // The image's root owns /bin/busybox and /etc; inside the pod that is uid 0, not the overflow id.
    expect((await sh('stat -c "%u %g" /bin/busybox /etc /home/user/notes')).stdout).toBe('0 0\n0 0\n1000 1000\n');
    // Writing, copying up and chown'ing work as the image's owners would.
    const writes = await sh('echo extra >> /etc/passwd && touch /etc/made && mkdir -p /srv/data && chown 1000:1000 /srv/data && echo ok');
    expect(writes).toMatchObject({ exitCode: 0, stdout: 'ok\n' });
    const upper = path.join(berth.root, 'containers', c, 'fs', 'upper');
    const owner = async (p: string) => {
      const st = await stat(path.join(upper, p));
      return `${st.uid}:${st.gid}`;
    };
    expect(await owner('etc/made')).toBe('300000:300000');
    expect(await owner('etc/passwd')).toBe('300000:300000');
    expect(await owner('srv/data')).toBe('301000:301000');
    // A file of the image's uid 1000, changed in the container, is uid 1000's in the pod and 301000 on the host.
    expect((await sh('echo more >> /home/user/notes && stat -c %u /home/user/notes')).stdout).toBe('1000\n');
    expect(await owner('home/user/notes')).toBe('301000:301000');
    // The lower layers themselves keep their on-disk owners.
    const verbose = JSON.parse((await call(berth.client.runtime, berth.client.runtime.ContainerStatus, { containerId: c, verbose: true })).info.info!) as {
      idmappedRootfs?: boolean;
    };
    expect(verbose.idmappedRootfs).toBe(true);
  });

  it('refuses user namespace settings it cannot honour', async () => {
    const bad: UserNamespace[] = [
      { mode: 'CONTAINER', uids: [], gids: [] },
      { mode: 'TARGET', uids: [], gids: [] },
      {
        mode: 'POD',
        uids: [
          { containerId: 0, hostId: 1000, length: 10 },
          { containerId: 10, hostId: 5000, length: 10 },
        ],
        gids: [{ containerId: 0, hostId: 1000, length: 10 }],
      },
      { mode: 'POD', uids: [{ containerId: 1, hostId: 1000, length: 10 }], gids: [{ containerId: 1, hostId: 1000, length: 10 }] },
    ];
    for (const usernsOptions of bad) {
      const pod = podConfig('bad-userns', logDir('x'), { linux: { securityContext: { namespaceOptions: { usernsOptions } } } });
      expect(await codeOf(cri.runPod(pod))).toBe('INVALID_ARGUMENT');
    }
    const map = [{ containerId: 0, hostId: 1000, length: 100 }];
    const hostNet = podConfig('bad-userns', logDir('x'), {
      linux: { securityContext: { namespaceOptions: { network: 'NODE', usernsOptions: { mode: 'POD', uids: map, gids: map } } } },
    });
    expect(await codeOf(cri.runPod(hostNet))).toBe('INVALID_ARGUMENT');
    const status = await call(berth.client.runtime, berth.client.runtime.Status, {});
    expect(status.runtimeHandlers.every((h) => h.features?.userNamespaces)).toBe(true);
  });

  it('uses the host namespaces a pod asks for', async () => {
    const pod = podConfig('hostns', logDir('hostns'), {
      linux: { securityContext: { namespaceOptions: { network: 'NODE', pid: 'NODE', ipc: 'NODE' } } },
    });
    const id = await cri.runPod(pod);
    pods.push(id);
    const c = await cri.run(
      id,
      containerConfig('c', IMAGE, {
        command: ['sleep', '600'],
        linux: { securityContext: { namespaceOptions: { network: 'NODE', pid: 'NODE', ipc: 'NODE' } } },
      }),
      pod,
    );
    expect((await cri.exec(c, ['hostname'])).stdout.trim()).toBe(hostname());
    const hostNet = await readlink('/proc/self/ns/net');
    expect((await cri.exec(c, ['sh', '-c', 'readlink /proc/self/ns/net'])).stdout.trim()).toBe(hostNet);
    expect((await cri.exec(c, ['sh', '-c', 'readlink /proc/self/ns/ipc'])).stdout.trim()).toBe(await readlink('/proc/self/ns/ipc'));
    // Host PID namespace: the container sees the host's init.
    expect((await cri.exec(c, ['sh', '-c', 'readlink /proc/self/ns/pid'])).stdout.trim()).toBe(await readlink('/proc/self/ns/pid'));
    const status = await call(berth.client.runtime, berth.client.runtime.PodSandboxStatus, { podSandboxId: id });
    expect(status.status?.linux?.namespaces?.options).toMatchObject({ network: 'NODE', pid: 'NODE', ipc: 'NODE' });
    expect((await cri.exec(c, ['cat', '/etc/hosts'])).stdout).toBe(await readFile('/etc/hosts', 'utf8'));
  });

  it('gives an identical retried RunPodSandbox the first result, and refuses a different one', async () => {
    const pod = podConfig('retry', logDir('retry'));
    const [first, second] = await Promise.all([cri.runPod(pod), cri.runPod(pod)]);
    pods.push(first);
    expect(second).toBe(first);
    expect(await cri.runPod(pod)).toBe(first);
    expect(await codeOf(cri.runPod({ ...pod, hostname: 'other' }))).toBe('ALREADY_EXISTS');
    // Once removed, the name is free again.
    await cri.removePod(pods.pop()!);
    const again = await cri.runPod({ ...pod, hostname: 'other' });
    expect(again).not.toBe(first);
    pods.push(again);
  });

  it('refuses bad sandboxes with INVALID_ARGUMENT and leaves nothing behind', async () => {
    const mountsBefore = await mountsUnder(berth.dir);
    const bad = [
      podConfig('sysctl', logDir('x'), { linux: { sysctls: { 'kernel.panic': '1' } } }),
      podConfig('hostnet-sysctl', logDir('x'), {
        linux: { sysctls: { 'net.ipv4.ip_forward': '1' }, securityContext: { namespaceOptions: { network: 'NODE' } } },
      }),
      podConfig('no-such-sysctl', logDir('x'), { linux: { sysctls: { 'net.ipv4.no_such_thing': '1' } } }),
      podConfig('cgroup', logDir('x'), { linux: { cgroupParent: 'relative/path' } }),
      { ...podConfig('nometa', logDir('x')), metadata: { name: 'nometa', namespace: '', uid: '', attempt: 0 } },
    ];
    for (const config of bad) expect(await codeOf(cri.runPod(config))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(cri.runPod(podConfig('handler', logDir('x')), 'no-such-runtime'))).toBe('INVALID_ARGUMENT');
    expect(await mountsUnder(berth.dir)).toEqual(mountsBefore);
    const listed = (await call(berth.client.runtime, berth.client.runtime.ListPodSandbox, {})).items.map((p) => p.id).sort();
    expect(listed).toEqual([...pods].sort());
  });

  // The shape of CRI-O's integration-test pod (its own words, not its file): a
  // hostname with an underscore, labels, annotations, DNS, a port mapping.
  it.skipIf(!CRICTL_PRESENT)("runs crictl's runp of a pod like CRI-O's test pod, hostname crictl_host, reporting the handler as asked", async () => {
    const dir = logDir('crio-like');
    const file = path.join(berth.dir, 'crio-like-pod.json');
    const config = {
      metadata: { name: 'podsandbox-crio-like', uid: 'berth-test-crio-like', namespace: 'berth.test.crio', attempt: 1 },
      hostname: 'crictl_host',
      log_directory: dir,
      dns_config: { servers: ['8.8.8.8'], searches: ['example.test'], options: ['ndots:2'] },
      port_mappings: [],
      labels: { group: 'test' },
      annotations: { owner: 'berth', 'com.example.test': 'sandbox annotation' },
      linux: { security_context: { namespace_options: { network: 0, pid: 1, ipc: 0 } } },
    };
    await writeFile(file, JSON.stringify(config));
    const id = (await crictl(berth.socket, ['runp', file])).trim();
    pods.push(id);
    try {
      const status = (await call(berth.client.runtime, berth.client.runtime.PodSandboxStatus, { podSandboxId: id })).status!;
      expect(status).toMatchObject({ state: 'SANDBOX_READY', runtimeHandler: '', labels: { group: 'test' } });
      const listed = (await call(berth.client.runtime, berth.client.runtime.ListPodSandbox, { filter: { id } })).items;
      expect(listed.map((p) => p.runtimeHandler)).toEqual(['']);
      const ctr = await cri.run(id, containerConfig('uname', IMAGE, { command: ['sleep', '600'] }), { ...podConfig('x', dir), logDirectory: dir });
      expect((await cri.exec(ctr, ['hostname'])).stdout.trim()).toBe('crictl_host');
    } finally {
      await rm(file, { force: true });
    }
  });

  it('answers NOT_FOUND for status of unknown sandboxes but succeeds stopping and removing them', async () => {
    const rt = berth.client.runtime;
    expect(await codeOf(call(rt, rt.PodSandboxStatus, { podSandboxId: 'f'.repeat(64) }))).toBe('NOT_FOUND');
    await cri.stopPod('f'.repeat(64));
    await cri.removePod('f'.repeat(64));
    expect(await codeOf(call(rt, rt.StopPodSandbox, { podSandboxId: '' }))).toBe('INVALID_ARGUMENT');
  });

  it('reports the cgroup driver to the kubelet', async () => {
    const res = await call(berth.client.runtime, berth.client.runtime.RuntimeConfig, {});
    expect(res.linux?.cgroupDriver).toBe('CGROUPFS');
  });
});
