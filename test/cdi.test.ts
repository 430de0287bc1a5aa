import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyCdiDevices, splitDevNumber } from '../src/cdi/apply.js';
import { CdiRegistry, requestedCdiDevices } from '../src/cdi/registry.js';
import { parseCdiSpec } from '../src/cdi/spec.js';
import { silentLogger } from '../src/log.js';
import type { Spec } from '../src/oci/spec-types.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'berth-cdi-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const gpuSpec = (name: string, extra: object = {}) =>
  JSON.stringify({
    cdiVersion: '0.6.0',
    kind: 'vendor.test/gpu',
    containerEdits: { env: ['GPU_DRIVER=1'] },
    devices: [{ name, containerEdits: { deviceNodes: [{ path: '/dev/gpu0', hostPath: '/dev/null' }], ...extra } }],
  });

const baseSpec = (): Spec =>
  ({
    process: { env: ['PATH=/bin', 'GPU_DRIVER=0'], args: ['sh'], user: { uid: 0, gid: 0 } },
    mounts: [],
    linux: { resources: { devices: [{ allow: false, access: 'rwm' }] } },
  }) as unknown as Spec;

describe('CDI spec files', () => {
  it('are read in JSON and YAML, and refused with a reason when malformed or using what berth cannot apply', () => {
    expect(parseCdiSpec('a.json', gpuSpec('g0')).devices.has('g0')).toBe(true);
    const yaml = 'cdiVersion: "1.0.0"\nkind: vendor.test/nic\ndevices:\n  - name: n0\n    containerEdits:\n      env: [NIC=0]\n';
    expect(parseCdiSpec('b.yaml', yaml).devices.get('n0')).toEqual({ env: ['NIC=0'] });
    expect(() => parseCdiSpec('c.json', JSON.stringify({ cdiVersion: '9.9.9', kind: 'a.b/c', devices: [] }))).toThrow('unsupported cdiVersion "9.9.9"');
    expect(() => parseCdiSpec('c.json', JSON.stringify({ cdiVersion: '0.6.0', kind: 'noslash', devices: [{ name: 'x' }] }))).toThrow('is not vendor.com/class');
    expect(() => parseCdiSpec('c.json', gpuSpec('g0', { intelRdt: {} }))).toThrow('intelRdt is not supported');
    expect(() => parseCdiSpec('c.json', gpuSpec('g0', { deviceNodes: [{ path: 'relative' }] }))).toThrow('must be an absolute path');
    // A project error kind, as everywhere in berth, not a bare Error.
    expect(() => parseCdiSpec('c.json', 'not json')).toThrow(expect.objectContaining({ kind: 'invalid-argument' }));
  });
});

describe('the CDI registry', () => {
  it('resolves qualified names and =all, a later directory overriding, a broken file skipped, and names an unknown device', async () => {
    const etc = path.join(dir, 'etc');
    const run = path.join(dir, 'run');
    await mkdir(etc);
    await mkdir(run);
    await writeFile(path.join(etc, 'gpu.json'), gpuSpec('g0', { env: ['FROM=etc'] }));
    await writeFile(path.join(run, 'gpu.json'), gpuSpec('g0', { env: ['FROM=run'] }));
    await writeFile(path.join(etc, 'more.yaml'), 'cdiVersion: "0.6.0"\nkind: vendor.test/gpu\ndevices:\n  - name: g1\n');
    await writeFile(path.join(run, 'broken.json'), '{');
    const registry = new CdiRegistry([etc, run], silentLogger());
    const [g0] = await registry.resolve(['vendor.test/gpu=g0']);
    expect(g0!.edits.env).toEqual(['FROM=run']);
    expect((await registry.resolve(['vendor.test/gpu=all', 'vendor.test/gpu=g1'])).map((d) => d.name).sort()).toEqual(['g0', 'g1']);
    await expect(registry.resolve(['vendor.test/gpu=g9'])).rejects.toMatchObject({
      kind: 'invalid-argument',
      message: expect.stringContaining('unknown CDI device "vendor.test/gpu=g9"'),
    });
    await expect(registry.resolve(['gpu0'])).rejects.toMatchObject({
      kind: 'invalid-argument',
      message: expect.stringContaining('not a fully qualified name'),
    });
  });

  it('takes names from CDIDevices and from cdi.k8s.io/ annotations', () => {
    expect(requestedCdiDevices([{ name: 'a.b/c=1' }], { 'cdi.k8s.io/dra': 'a.b/c=2, a.b/c=3', other: 'x=y' })).toEqual(['a.b/c=1', 'a.b/c=2', 'a.b/c=3']);
  });
});

describe('applying CDI edits', () => {
  it('adds device nodes with the host numbers, their cgroup rule, env, mounts, hooks and groups', async () => {
    const spec = baseSpec();
    const device = parseCdiSpec(
      'gpu.json',
      gpuSpec('g0', {
        env: ['GPU=0'],
        mounts: [{ hostPath: '/opt/driver', containerPath: '/usr/lib/driver', options: ['ro'] }],
        hooks: [{ hookName: 'createContainer', path: '/usr/bin/ldconfig-hook', args: ['ldconfig-hook'] }],
        additionalGIDs: [44],
      }),
    );
    const names = await applyCdiDevices(spec, [{ name: 'g0', edits: device.devices.get('g0')!, spec: device }]);
    expect(names).toEqual(['vendor.test/gpu=g0']);
    expect(spec.linux.devices).toEqual([{ type: 'c', path: '/dev/gpu0', major: 1, minor: 3 }]);
    expect(spec.linux.resources!.devices!.at(-1)).toEqual({ allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' });
    expect(spec.process.env).toEqual(['PATH=/bin', 'GPU_DRIVER=1', 'GPU=0']);
    expect(spec.mounts).toEqual([{ destination: '/usr/lib/driver', type: 'bind', source: '/opt/driver', options: ['rbind', 'ro'] }]);
    expect(spec.hooks?.createContainer).toEqual([{ path: '/usr/bin/ldconfig-hook', args: ['ldconfig-hook'] }]);
    expect(spec.process.user.additionalGids).toEqual([44]);
  });

  it('splits device numbers as glibc does', () => {
    expect(splitDevNumber((1 << 8) | 3)).toEqual({ major: 1, minor: 3 });
    // makedev(3): the low 8 minor bits, 12 major bits, the rest of the minor, the rest of the major.
    const makedev = (major: number, minor: number) =>
      Number(BigInt(minor & 0xff) | (BigInt(major & 0xfff) << 8n) | (BigInt(minor & ~0xff) << 12n) | (BigInt(major & ~0xfff) << 32n));
    expect(splitDevNumber(makedev(0x12345, 0x6789a))).toEqual({ major: 0x12345, minor: 0x6789a });
    expect(splitDevNumber(makedev(259, 1048575))).toEqual({ major: 259, minor: 1048575 });
  });
});
