import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processArgs } from '../src/container/spec/args.js';
import { containerNamespaces } from '../src/container/spec/build.js';
import { capabilitySets } from '../src/container/spec/capabilities.js';
import { buildEnv } from '../src/container/spec/env.js';
import { criMounts, defaultMounts, mergeMounts, podMounts } from '../src/container/spec/mounts.js';
import { oomScoreAdj, ociResources, rlimits } from '../src/container/spec/resources.js';
import { selectSeccomp } from '../src/container/spec/seccomp.js';
import { resolveUser } from '../src/container/spec/user.js';
import { signalName } from '../src/container/process-info.js';
import type { SandboxMeta } from '../src/sandbox/sandbox.js';
import { checkSysctls } from '../src/sandbox/sysctls.js';

describe('process arguments', () => {
  const image = { Entrypoint: ['/entry'], Cmd: ['default', 'cmd'] };
  it.each([
    [{ command: [], args: [] }, ['/entry', 'default', 'cmd']],
    [{ command: [], args: ['a'] }, ['/entry', 'a']],
    [{ command: ['/bin/x'], args: [] }, ['/bin/x']],
    [{ command: ['/bin/x'], args: ['y'] }, ['/bin/x', 'y']],
  ])('%j → %j', (cri, expected) => {
    expect(processArgs(image, cri, 'c')).toEqual(expected);
  });
  it('refuses a container with nothing to run', () => {
    expect(() => processArgs({}, { command: [], args: [] }, 'c')).toThrow(expect.objectContaining({ kind: 'invalid-argument' }));
  });
});

describe('environment', () => {
  it('layers default PATH, HOSTNAME, image then CRI variables, replacing in place', () => {
    const env = buildEnv(
      'pod',
      false,
      ['PATH=/img', 'A=image', 'B=image'],
      [
        { key: 'A', value: Buffer.from('cri') },
        { key: 'C', value: 'x=y' },
      ],
    );
    expect(env).toEqual(['PATH=/img', 'HOSTNAME=pod', 'A=cri', 'B=image', 'C=x=y']);
  });
  it('adds TERM for a tty', () => {
    expect(buildEnv('p', true, [], [])).toContain('TERM=xterm');
  });
});

describe('user resolution in the container root', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'berth-user-'));
    await mkdir(path.join(root, 'etc'));
    await mkdir(path.join(root, 'real'));
    await writeFile(path.join(root, 'real', 'passwd'), 'root:x:0:0::/root:/bin/sh\nweb:x:1000:1000::/:/bin/sh\nodd:x:notanumber:1::/:/bin/sh\n');
    // An absolute symlink must resolve inside the root, never on the host.
    await symlink('/real/passwd', path.join(root, 'etc', 'passwd'));
    await writeFile(path.join(root, 'etc', 'group'), 'root:x:0:\nweb:x:1000:\nextra:x:50000:web\nother:x:60000:nobody\n');
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });
  const base = { supplementalGroups: [], policy: 'Merge' as const, imageUser: '' };

  it('defaults to root', async () => {
    expect(await resolveUser(root, base)).toMatchObject({ uid: 0, gid: 0, additionalGids: [0] });
  });
  it("resolves names and numeric users through the container's files, merging image groups", async () => {
    expect(await resolveUser(root, { ...base, imageUser: 'web' })).toMatchObject({ uid: 1000, gid: 1000, additionalGids: [1000, 50000] });
    expect(await resolveUser(root, { ...base, runAsUser: 1000, supplementalGroups: [1234] })).toMatchObject({
      uid: 1000,
      gid: 1000,
      additionalGids: [1000, 50000, 1234],
    });
    expect(await resolveUser(root, { ...base, runAsUser: 4242 })).toMatchObject({ uid: 4242, gid: 0 });
  });
  it('applies Strict policy, user:group and run_as_group', async () => {
    expect(await resolveUser(root, { ...base, runAsUser: 1000, supplementalGroups: [1234], policy: 'Strict' })).toMatchObject({ additionalGids: [1000, 1234] });
    expect(await resolveUser(root, { ...base, imageUser: 'web:extra' })).toMatchObject({ uid: 1000, gid: 50000 });
    expect(await resolveUser(root, { ...base, imageUser: '7:8' })).toMatchObject({ uid: 7, gid: 8 });
    expect(await resolveUser(root, { ...base, runAsUser: 1000, runAsGroup: 3000 })).toMatchObject({ uid: 1000, gid: 3000 });
  });
  it('refuses unknown names', async () => {
    await expect(resolveUser(root, { ...base, runAsUsername: 'nobody-here' })).rejects.toMatchObject({ kind: 'failed-precondition' });
    await expect(resolveUser(root, { ...base, imageUser: 'web:nogroup' })).rejects.toMatchObject({ kind: 'failed-precondition' });
  });
});

describe('capabilities', () => {
  const host = ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_RAW', 'CAP_SYS_ADMIN', 'CAP_SYS_TIME'];
  const defaults = ['CHOWN', 'KILL'];
  it('starts from the defaults and applies add and drop', () => {
    expect(capabilitySets({ defaults, add: ['net_raw'], drop: ['CAP_KILL'], privileged: false, host }).bounding).toEqual(['CAP_CHOWN', 'CAP_NET_RAW']);
  });
  it('handles ALL in add and drop', () => {
    expect(capabilitySets({ defaults, add: ['ALL'], drop: ['SYS_ADMIN'], privileged: false, host }).bounding).toEqual([
      'CAP_CHOWN',
      'CAP_KILL',
      'CAP_NET_RAW',
      'CAP_SYS_TIME',
    ]);
    expect(capabilitySets({ defaults, add: ['SYS_TIME'], drop: ['ALL'], privileged: false, host }).bounding).toEqual(['CAP_SYS_TIME']);
  });
  it('gives privileged containers everything', () => {
    expect(capabilitySets({ defaults, add: [], drop: ['ALL'], privileged: true, host }).effective).toEqual(host);
  });
  it('refuses unknown names', () => {
    expect(() => capabilitySets({ defaults, add: ['FLY'], drop: [], privileged: false, host })).toThrow(/unknown capability/);
  });
});

describe('seccomp selection', () => {
  const caps = ['CAP_CHOWN'];
  it('is unconfined for a nil profile and RuntimeDefault for an empty one', async () => {
    expect(await selectSeccomp({ profile: null, legacyPath: '', privileged: false, capabilities: caps })).toBeUndefined();
    const def = await selectSeccomp({ profile: { profileType: 'RuntimeDefault', localhostRef: '' }, legacyPath: '', privileged: false, capabilities: caps });
    expect(def?.defaultAction).toBe('SCMP_ACT_ERRNO');
    const names = def!.syscalls!.flatMap((r) => (r.action === 'SCMP_ACT_ALLOW' && !r.args ? r.names : []));
    expect(names).toContain('read');
    expect(names).not.toContain('mount');
    expect(names).not.toContain('kexec_load');
    expect(def!.syscalls!.find((r) => r.names.includes('clone3'))?.errnoRet).toBe(38);
  });
  it('lets CAP_SYS_ADMIN holders mount and clone freely', async () => {
    const p = await selectSeccomp({
      profile: { profileType: 'RuntimeDefault', localhostRef: '' },
      legacyPath: '',
      privileged: false,
      capabilities: ['CAP_SYS_ADMIN'],
    });
    const names = p!.syscalls!.flatMap((r) => (r.action === 'SCMP_ACT_ALLOW' && !r.args ? r.names : []));
    expect(names).toEqual(expect.arrayContaining(['mount', 'unshare', 'clone3']));
  });
  it('honours the legacy path strings, privileged mode and localhost files', async () => {
    expect(await selectSeccomp({ profile: null, legacyPath: 'unconfined', privileged: false, capabilities: caps })).toBeUndefined();
    expect(await selectSeccomp({ profile: null, legacyPath: 'runtime/default', privileged: false, capabilities: caps })).toBeDefined();
    expect(
      await selectSeccomp({ profile: { profileType: 'RuntimeDefault', localhostRef: '' }, legacyPath: '', privileged: true, capabilities: caps }),
    ).toBeUndefined();
    await expect(
      selectSeccomp({ profile: { profileType: 'Localhost', localhostRef: 'relative.json' }, legacyPath: '', privileged: false, capabilities: caps }),
    ).rejects.toMatchObject({ kind: 'invalid-argument' });
    const file = path.join(tmpdir(), `berth-seccomp-${process.pid}.json`);
    await writeFile(file, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', archMap: [], syscalls: [{ names: ['chmod'], action: 'SCMP_ACT_ERRNO' }] }));
    expect(await selectSeccomp({ profile: { profileType: 'Localhost', localhostRef: file }, legacyPath: '', privileged: false, capabilities: caps })).toEqual({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['chmod'], action: 'SCMP_ACT_ERRNO' }],
    });
    await rm(file);
  });
});

describe('mounts', () => {
  it('lets CRI mounts replace defaults, and a CRI /dev replace everything below it', () => {
    const merged = mergeMounts(defaultMounts(false, false), podMounts({ shm: '/run/shm', hostname: '/h', resolvConf: '/r' }, false), [
      { destination: '/etc/resolv.conf', type: 'bind', source: '/mine', options: ['rbind', 'rprivate', 'ro'] },
      { destination: '/dev', type: 'bind', source: '/dev', options: ['rbind', 'rprivate', 'rw'] },
    ]);
    const dests = merged.map((m) => m.destination);
    expect(dests.filter((d) => d === '/etc/resolv.conf')).toHaveLength(1);
    expect(merged.find((m) => m.destination === '/etc/resolv.conf')?.source).toBe('/mine');
    expect(dests.filter((d) => d.startsWith('/dev'))).toEqual(['/dev']);
    expect(merged.find((m) => m.destination === '/sys')?.options).toContain('ro');
  });
  it('maps propagation, creates missing host directories and sorts parents first', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'berth-mounts-'));
    const { mounts } = await criMounts(
      [
        {
          containerPath: '/data/sub',
          hostPath: path.join(dir, 'b'),
          readonly: true,
          propagation: 'PROPAGATION_HOST_TO_CONTAINER',
          recursiveReadOnly: false,
          selinuxRelabel: false,
        },
        {
          containerPath: '/data',
          hostPath: path.join(dir, 'a'),
          readonly: false,
          propagation: 'PROPAGATION_BIDIRECTIONAL',
          recursiveReadOnly: false,
          selinuxRelabel: false,
        },
      ],
      false,
    );
    expect(mounts.map((m) => [m.destination, m.options])).toEqual([
      ['/data', ['rbind', 'rshared', 'rw']],
      ['/data/sub', ['rbind', 'rslave', 'ro']],
    ]);
    await expect(
      criMounts([{ containerPath: '/x', hostPath: dir, readonly: true, propagation: '', recursiveReadOnly: true, selinuxRelabel: false }], false),
    ).rejects.toMatchObject({ kind: 'invalid-argument' });
    await rm(dir, { recursive: true, force: true });
  });
});

/** The v1 hierarchies of this kind of host (hugetlb lives on its v2 hierarchy). */
const ALL_V1 = new Set(['cpuset', 'cpu', 'cpuacct', 'blkio', 'memory', 'devices', 'freezer', 'pids']);

describe('resources and limits', () => {
  it('converts CRI resources, capping swap at the memory limit', () => {
    const res = ociResources(
      {
        cpuPeriod: '100000',
        cpuQuota: '50000',
        cpuShares: '512',
        memoryLimitInBytes: '1048576',
        oomScoreAdj: '0',
        cpusetCpus: '0',
        cpusetMems: '',
        hugepageLimits: [],
        unified: {},
        memorySwapLimitInBytes: '0',
      },
      { swapAccounting: true, cgroupV2Only: false, cgroupControllers: ALL_V1 },
      100,
    );
    expect(res).toMatchObject({
      cpu: { shares: 512, quota: 50000, period: 100000, cpus: '0' },
      memory: { limit: 1048576, swap: 1048576 },
      pids: { limit: 100 },
    });
  });

  // What a real kubelet sends on a host with 2 MiB and 1 GiB pages.
  const kubeletResources = {
    cpuPeriod: '100000',
    cpuQuota: '0',
    cpuShares: '2',
    memoryLimitInBytes: '0',
    oomScoreAdj: '1000',
    cpusetCpus: '0-1',
    cpusetMems: '0',
    hugepageLimits: [
      { pageSize: '2MB', limit: '0' },
      { pageSize: '1GB', limit: '0' },
    ],
    unified: { 'memory.oom.group': '1', 'hugetlb.2MB.max': '0' },
    memorySwapLimitInBytes: '0',
  };

  it('leaves out limits of controllers the host lacks, saying which', () => {
    for (const missing of ['hugetlb', 'pids', 'cpuset', 'cpu', 'memory']) {
      const dropped: string[] = [];
      const controllers = new Set([...ALL_V1].filter((c) => c !== missing));
      const res = ociResources(
        { ...kubeletResources, memoryLimitInBytes: '1048576' },
        { swapAccounting: false, cgroupV2Only: false, cgroupControllers: controllers },
        100,
        (d) => dropped.push(...d),
      );
      expect(dropped.join(' '), missing).toContain(`no ${missing} controller`);
      if (missing === 'hugetlb') expect(res.hugepageLimits).toBeUndefined();
      if (missing === 'pids') expect(res.pids).toBeUndefined();
      if (missing === 'cpuset') expect(res.cpu).toEqual({ shares: 2, period: 100000 });
      if (missing === 'cpu') expect(res.cpu).toEqual({ cpus: '0-1', mems: '0' });
      if (missing === 'memory') expect(res.memory).toBeUndefined();
      // unified keys never reach runc on a v1 host
      expect(res.unified).toBeUndefined();
    }
    const all = ociResources(kubeletResources, { swapAccounting: false, cgroupV2Only: false, cgroupControllers: new Set([...ALL_V1, 'hugetlb']) }, 0);
    expect(all.hugepageLimits).toEqual([
      { pageSize: '2MB', limit: 0 },
      { pageSize: '1GB', limit: 0 },
    ]);
  });

  it('keeps unified keys of the controllers a cgroup v2 host has', () => {
    const dropped: string[] = [];
    const res = ociResources(
      kubeletResources,
      { swapAccounting: true, cgroupV2Only: true, cgroupControllers: new Set(['cpu', 'cpuset', 'memory', 'pids']) },
      0,
      (d) => dropped.push(...d),
    );
    expect(res.unified).toEqual({ 'memory.oom.group': '1' });
    expect(res.hugepageLimits).toBeUndefined();
    expect(dropped).toEqual(['hugepage limits (no hugetlb controller)', 'unified hugetlb.2MB.max (no hugetlb controller)']);
  });
  it('clamps oom_score_adj and rlimits without CAP_SYS_RESOURCE', () => {
    const facts = { hasSysResource: false, ownOomScoreAdj: 0, hardLimits: new Map([['RLIMIT_NOFILE', 20000]]) };
    expect(oomScoreAdj(-998, facts)).toBe(0);
    expect(oomScoreAdj(500, facts)).toBe(500);
    expect(oomScoreAdj(-998, { ...facts, hasSysResource: true })).toBe(-998);
    expect(rlimits(['nofile=1048576:1048576'], facts)).toEqual([{ type: 'RLIMIT_NOFILE', soft: 20000, hard: 20000 }]);
    expect(rlimits(['nofile=1024'], { ...facts, hasSysResource: true })).toEqual([{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 1024 }]);
  });
});

describe('namespaces, sysctls and signals', () => {
  const sandbox = { namespaces: { network: '/ns/net', ipc: '/ns/ipc', uts: '/ns/uts' } } as SandboxMeta;
  it("joins the pod's pinned namespaces", () => {
    expect(containerNamespaces(sandbox, 'POD', '/proc/9/ns/pid', false, false)).toEqual([
      { type: 'mount' },
      { type: 'network', path: '/ns/net' },
      { type: 'ipc', path: '/ns/ipc' },
      { type: 'uts', path: '/ns/uts' },
      { type: 'pid', path: '/proc/9/ns/pid' },
    ]);
    expect(containerNamespaces({ namespaces: {} } as SandboxMeta, 'NODE', undefined, false, true)).toEqual([{ type: 'mount' }, { type: 'cgroup' }]);
  });
  it('allows only namespaced sysctls the pod owns', () => {
    expect(checkSysctls({ 'net.core.somaxconn': '1024', 'kernel/shmmax': '1' }, false, false)).toEqual(['net.core.somaxconn=1024', 'kernel.shmmax=1']);
    expect(() => checkSysctls({ 'vm.swappiness': '1' }, false, false)).toThrow(/not namespaced/);
    expect(() => checkSysctls({ 'net.ipv4.ip_forward': '1' }, true, false)).toThrow(/host's/);
    expect(() => checkSysctls({ 'kernel.msgmax': '1' }, false, true)).toThrow(/IPC/);
  });
  it('maps CRI stop signals', () => {
    expect(signalName('RUNTIME_DEFAULT', 'SIGQUIT')).toBe('SIGQUIT');
    expect(signalName('RUNTIME_DEFAULT', undefined)).toBe('SIGTERM');
    expect(signalName('SIGUSR1', 'SIGQUIT')).toBe('SIGUSR1');
    expect(signalName('SIGRTMINPLUS3', undefined)).toBe('37');
  });
});

describe('cgroup paths', () => {
  it("follows the driver's naming and refuses a parent of the other driver", async () => {
    const { checkCgroupParent, containerCgroupsPath } = await import('../src/cgroups/cgroup-parent.js');
    expect(containerCgroupsPath('cgroupfs', '/kubepods/pod1', 'abc')).toBe('/kubepods/pod1/berth-abc');
    expect(containerCgroupsPath('cgroupfs', '', 'abc')).toBe('/berth/berth-abc');
    expect(containerCgroupsPath('systemd', 'kubepods-pod1.slice', 'abc')).toBe('kubepods-pod1.slice:berth:abc');
    expect(() => checkCgroupParent('systemd', '/kubepods/pod1')).toThrow(/not a systemd slice/);
    expect(() => checkCgroupParent('cgroupfs', 'kubepods.slice')).toThrow(/not an absolute cgroupfs path/);
    expect(() => checkCgroupParent('cgroupfs', '/a/../b')).toThrow(/\.\./);
  });

  it("takes the leaf slice of a kubelet 1.20's expanded systemd parent, and refuses slices that do not nest", async () => {
    const { podCgroupParent } = await import('../src/cgroups/cgroup-parent.js');
    const leaf = 'kubepods-besteffort-pod1_2.slice';
    expect(podCgroupParent('systemd', `/kubepods.slice/kubepods-besteffort.slice/${leaf}`)).toBe(leaf);
    expect(podCgroupParent('systemd', leaf)).toBe(leaf);
    expect(podCgroupParent('systemd', '')).toBe('');
    expect(podCgroupParent('cgroupfs', '/kubepods/besteffort/pod1')).toBe('/kubepods/besteffort/pod1');
    expect(() => podCgroupParent('systemd', '/kubepods.slice/other-pod1.slice')).toThrow(/not a systemd slice/);
    expect(() => podCgroupParent('systemd', 'kubepods.slice/kubepods-pod1.slice')).toThrow(/not a systemd slice/);
    expect(() => podCgroupParent('systemd', '/kubepods.slice/../kubepods-pod1.slice')).toThrow(/not a systemd slice/);
    expect(() => podCgroupParent('systemd', '/')).toThrow(/not a systemd slice/);
  });
});

describe('AppArmor and SELinux', () => {
  it('does nothing on hosts without them', async () => {
    const { apparmorProfile, selinuxLabel } = await import('../src/container/spec/lsm.js');
    expect(
      apparmorProfile({
        hostHasAppArmor: false,
        defaultLoaded: false,
        profile: { profileType: 'Localhost', localhostRef: 'x' },
        legacy: '',
        privileged: false,
      }),
    ).toBeUndefined();
    expect(selinuxLabel(false, { user: 'u', role: 'r', type: 't', level: 's0' })).toBeUndefined();
  });
  it('picks the profile on hosts with AppArmor', async () => {
    const { apparmorProfile } = await import('../src/container/spec/lsm.js');
    const base = { hostHasAppArmor: true, defaultLoaded: true, legacy: '', privileged: false };
    expect(apparmorProfile({ ...base, profile: null })).toBe('berth-default');
    expect(apparmorProfile({ ...base, profile: null, privileged: true })).toBe('unconfined');
    expect(apparmorProfile({ ...base, profile: { profileType: 'Localhost', localhostRef: 'my-profile' } })).toBe('my-profile');
    expect(apparmorProfile({ ...base, profile: null, legacy: 'localhost/other' })).toBe('other');
    expect(apparmorProfile({ ...base, profile: { profileType: 'Unconfined', localhostRef: '' } })).toBe('unconfined');
    expect(() => apparmorProfile({ ...base, profile: null, legacy: 'bogus' })).toThrow(/unknown apparmor/);
  });
  it('builds SELinux labels with defaults for missing parts', async () => {
    const { selinuxLabel } = await import('../src/container/spec/lsm.js');
    expect(selinuxLabel(true, { user: '', role: '', type: 'spc_t', level: 's0:c1,c2' })).toBe('system_u:system_r:spc_t:s0:c1,c2');
    expect(selinuxLabel(true, null)).toBeUndefined();
  });
});

describe('recursive read-only mounts', () => {
  it('need a kernel with mount_setattr (5.12)', async () => {
    const { rroSupported } = await import('../src/container/rro.js');
    expect(rroSupported('6.1.0-18-amd64')).toBe(true);
    expect(rroSupported('5.12.0')).toBe(true);
    expect(rroSupported('5.10.0-28-amd64')).toBe(false);
    expect(rroSupported('4.19.0')).toBe(false);
  });
});

describe('pod user namespaces', () => {
  it('accept one mapping of container id 0, NODE, or nothing', async () => {
    const { podUserns } = await import('../src/sandbox/userns.js');
    const map = [{ containerId: 0, hostId: 1000, length: 65536 }];
    expect(podUserns({ mode: 'POD', uids: map, gids: map })).toEqual({
      uidMappings: [{ containerID: 0, hostID: 1000, size: 65536 }],
      gidMappings: [{ containerID: 0, hostID: 1000, size: 65536 }],
    });
    expect(podUserns({ mode: 'NODE', uids: [], gids: [] })).toBeUndefined();
    expect(podUserns(null)).toBeUndefined();
    for (const bad of [
      { mode: 'CONTAINER', uids: [], gids: [] },
      { mode: 'POD', uids: [], gids: map },
      { mode: 'POD', uids: [...map, ...map], gids: map },
      { mode: 'POD', uids: [{ containerId: 5, hostId: 1000, length: 5 }], gids: map },
      { mode: 'NODE', uids: map, gids: map },
    ])
      expect(() => podUserns(bad)).toThrow(expect.objectContaining({ kind: 'invalid-argument' }));
  });
});
