import { describe, expect, it } from 'vitest';
import type { ContainerAdjustment__Output } from '../src/generated/nri/nri/pkg/api/v1alpha1/ContainerAdjustment.js';
import { AdjustmentError, Owners, applyAdjustment } from '../src/nri/adjust.js';
import type { Spec } from '../src/oci/spec-types.js';

const spec = (): Spec => ({
  ociVersion: '1.2.0',
  process: {
    user: { uid: 0, gid: 0 },
    args: ['sh'],
    env: ['PATH=/bin', 'KEEP=1', 'DROP=1'],
    cwd: '/',
    rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
  },
  root: { path: 'rootfs' },
  mounts: [
    { destination: '/proc', type: 'proc', source: 'proc' },
    { destination: '/data', type: 'bind', source: '/srv/data', options: ['rbind'] },
  ],
  annotations: { keep: 'yes', drop: 'yes' },
  linux: { namespaces: [{ type: 'mount' }] },
});

/** An adjustment as decoded from a plugin: every field present, as the generated __Output type has it. */
const adjustment = (a: Partial<ContainerAdjustment__Output>): ContainerAdjustment__Output => ({
  annotations: {},
  mounts: [],
  env: [],
  hooks: null,
  linux: null,
  rlimits: [],
  CDIDevices: [],
  ...a,
});

describe("NRI plugins' adjustments of a container being created", () => {
  it('adds, replaces and removes annotations, env, mounts and rlimits; removals first', () => {
    const s = spec();
    applyAdjustment(
      s,
      adjustment({
        annotations: { '-drop': '', added: 'by plugin' },
        env: [
          { key: '-DROP', value: '' },
          { key: 'KEEP', value: '2' },
          { key: 'NEW', value: 'x' },
        ],
        mounts: [
          { destination: '-/data', type: '', source: '', options: [] },
          { destination: '/cache', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] },
        ],
        rlimits: [{ type: 'RLIMIT_NOFILE', hard: '4096', soft: '2048' }],
      }),
      'a',
      new Owners(),
    );
    expect(s.annotations).toEqual({ keep: 'yes', added: 'by plugin' });
    expect(s.process.env).toEqual(['PATH=/bin', 'KEEP=2', 'NEW=x']);
    expect(s.mounts.map((m) => m.destination)).toEqual(['/proc', '/cache']);
    expect(s.process.rlimits).toEqual([{ type: 'RLIMIT_NOFILE', hard: 4096, soft: 2048 }]);
  });

  it('fails when a second plugin sets what the first set, naming both; a removal frees the key', () => {
    const s = spec();
    const owners = new Owners();
    applyAdjustment(s, adjustment({ env: [{ key: 'MODE', value: 'a' }] }), 'first', owners);
    expect(() => applyAdjustment(s, adjustment({ env: [{ key: 'MODE', value: 'b' }] }), 'second', owners)).toThrow(
      new AdjustmentError('NRI plugins first and second both set env MODE'),
    );
    applyAdjustment(
      s,
      adjustment({
        env: [
          { key: '-MODE', value: '' },
          { key: 'MODE', value: 'c' },
        ],
      }),
      'third',
      owners,
    );
    expect(s.process.env).toContain('MODE=c');
  });

  it('appends hooks from every plugin, and adds a device with the device cgroup rule it needs', () => {
    const s = spec();
    const owners = new Owners();
    const hook = (path: string) => ({ path, args: [path], env: [], timeout: null });
    const hooks = (path: string) => ({ prestart: [], createRuntime: [hook(path)], createContainer: [], startContainer: [], poststart: [], poststop: [] });
    applyAdjustment(s, adjustment({ hooks: hooks('/usr/bin/one') }), 'a', owners);
    applyAdjustment(s, adjustment({ hooks: hooks('/usr/bin/two') }), 'b', owners);
    expect(s.hooks?.createRuntime?.map((h) => h.path)).toEqual(['/usr/bin/one', '/usr/bin/two']);
    applyAdjustment(
      s,
      adjustment({
        linux: {
          devices: [{ path: '/dev/x', type: 'c', major: '1', minor: '3', fileMode: { value: 438 }, uid: null, gid: null }],
          resources: null,
          cgroupsPath: '',
          oomScoreAdj: { value: '-100' },
        },
      }),
      'c',
      owners,
    );
    expect(s.linux.devices).toEqual([{ path: '/dev/x', type: 'c', major: 1, minor: 3, fileMode: 438 }]);
    expect(s.linux.resources?.devices).toEqual([{ allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }]);
    expect(s.process.oomScoreAdj).toBe(-100);
  });

  it('takes RLIM_INFINITY for an rlimit, and refuses a resource value no JSON number holds', () => {
    const s = spec();
    applyAdjustment(s, adjustment({ rlimits: [{ type: 'RLIMIT_MEMLOCK', hard: '18446744073709551615', soft: '18446744073709551615' }] }), 'p', new Owners());
    expect(s.process.rlimits).toContainEqual({ type: 'RLIMIT_MEMLOCK', hard: Number.MAX_SAFE_INTEGER, soft: Number.MAX_SAFE_INTEGER });
    const memory = {
      limit: { value: '9223372036854775807' },
      reservation: null,
      swap: null,
      kernel: null,
      kernelTcp: null,
      swappiness: null,
      disableOomKiller: null,
      useHierarchy: null,
    };
    const resources = { memory, cpu: null, hugepageLimits: [], blockioClass: null, rdtClass: null, unified: {}, devices: [], pids: null };
    expect(() => applyAdjustment(spec(), adjustment({ linux: { devices: [], resources, cgroupsPath: '', oomScoreAdj: null } }), 'p', new Owners())).toThrow(
      /memory limit: 9223372036854775807 is out of range/,
    );
  });

  it('refuses what would be unsafe or impossible (the creation then fails, its spec discarded)', () => {
    const bad: [Partial<ContainerAdjustment__Output>, RegExp][] = [
      [{ env: [{ key: 'A=B', value: '' }] }, /invalid environment variable name/],
      [{ mounts: [{ destination: 'relative', type: '', source: '', options: [] }] }, /not absolute/],
      [{ rlimits: [{ type: 'NOFILE; rm', hard: '1', soft: '1' }] }, /invalid rlimit type/],
      [{ rlimits: [{ type: 'RLIMIT_NOFILE', hard: '1', soft: '2' }] }, /above hard/],
      [
        {
          linux: {
            devices: [{ path: '/etc/passwd', type: 'c', major: '1', minor: '1', fileMode: null, uid: null, gid: null }],
            resources: null,
            cgroupsPath: '',
            oomScoreAdj: null,
          },
        },
        /not under \/dev/,
      ],
      [{ linux: { devices: [], resources: null, cgroupsPath: '/elsewhere', oomScoreAdj: null } }, /cgroups_path/],
      [{ linux: { devices: [], resources: null, cgroupsPath: '', oomScoreAdj: { value: '5000' } } }, /outside -1000..1000/],
    ];
    for (const [a, message] of bad) expect(() => applyAdjustment(spec(), adjustment(a), 'p', new Owners())).toThrow(message);
  });
});
