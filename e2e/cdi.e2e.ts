import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type BerthDaemon, startBerth } from './lib/berth-daemon.js';
import { call, codeOf } from './lib/cri-client.js';
import { Cri, containerConfig, podConfig } from './lib/pods.js';
import { freePort } from './lib/ports.js';
import { testRegistriesConf } from './lib/registries-conf.js';

/**
 * CDI devices through a real daemon and runc: spec files the test writes
 * for test devices (the host's /dev/zero and /dev/full standing in for a
 * vendor's nodes), requested by CRI CDIDevices and by a cdi.k8s.io/
 * annotation, with their device nodes, device cgroup rules, environment
 * and mounts visible inside the container, and nothing for a container
 * that asks for none.
 */
const env = inject('env');
const IMAGE = `${env.openRegistry}/berth-test/busybox:run`;

describe('CDI devices', () => {
  let dir: string;
  let berth: BerthDaemon;
  let cri: Cri;
  let podId = '';
  const pod = () => podConfig('cdi', path.join(berth.dir, 'logs', 'cdi'));

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-e2e-cdi-'));
    const etc = path.join(dir, 'etc-cdi');
    const run = path.join(dir, 'run-cdi');
    await mkdir(etc);
    await mkdir(run);
    await mkdir(path.join(dir, 'driver'));
    await writeFile(path.join(dir, 'driver', 'version'), 'test driver 1.0\n');
    await writeFile(
      path.join(etc, 'accel.yaml'),
      [
        'cdiVersion: "0.6.0"',
        'kind: berth.test/accel',
        'containerEdits:',
        '  env: ["ACCEL_DRIVER=test"]',
        '  mounts:',
        `    - hostPath: ${path.join(dir, 'driver')}`,
        '      containerPath: /usr/lib/accel',
        '      options: [ro, nosuid, nodev]',
        'devices:',
        '  - name: zero0',
        '    containerEdits:',
        '      env: ["ACCEL_VISIBLE=zero0"]',
        '      deviceNodes:',
        '        - path: /dev/accel0',
        '          hostPath: /dev/zero',
        '  - name: full0',
        '    containerEdits:',
        '      deviceNodes:',
        '        - path: /dev/accel1',
        '          hostPath: /dev/full',
        '          permissions: r',
        '',
      ].join('\n'),
    );
    berth = await startBerth({ registriesConf: testRegistriesConf(env, await freePort()), extraArgs: ['--cdi-spec-dir', etc, '--cdi-spec-dir', run] });
    cri = new Cri(berth);
    await cri.pull(IMAGE);
    podId = await cri.runPod(pod());
  });

  afterAll(async () => {
    await cri?.removePod(podId).catch(() => undefined);
    await berth?.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  it('gives a container exactly the edits of the devices it asks for', async () => {
    const id = await cri.run(
      podId,
      containerConfig('accel', IMAGE, {
        command: ['sleep', '600'],
        CDIDevices: [{ name: 'berth.test/accel=zero0' }],
        annotations: { 'cdi.k8s.io/extra': 'berth.test/accel=full0' },
      }),
      pod(),
    );
    const sh = async (script: string) => (await cri.exec(id, ['sh', '-c', script])).stdout;
    expect(await sh('head -c 3 /dev/accel0 | wc -c')).toBe('3\n'); // the node exists and the cgroup lets it be read
    expect(await sh('ls -l /dev/accel0 /dev/accel1 | cut -c1')).toBe('c\nc\n');
    expect(await sh('echo x > /dev/accel1 2>&1 || echo refused')).toContain('refused'); // "r" only
    expect(await sh('echo $ACCEL_DRIVER $ACCEL_VISIBLE')).toBe('test zero0\n');
    expect(await sh('cat /usr/lib/accel/version; touch /usr/lib/accel/x 2>&1 || echo read-only')).toContain('test driver 1.0\n');
    const plain = await cri.run(podId, containerConfig('plain', IMAGE, { command: ['sleep', '600'] }), pod());
    expect((await cri.exec(plain, ['sh', '-c', 'ls /dev/accel0 /usr/lib/accel 2>&1; echo "[$ACCEL_DRIVER]"'])).stdout).toContain('[]');
  });

  it('refuses an unknown device by name, creating nothing, and sees a new spec file without a restart', async () => {
    const before = (await call(berth.client.runtime, berth.client.runtime.ListContainers, {})).containers.length;
    const ask = (name: string) =>
      cri.createContainer(podId, containerConfig(`ask-${name.split('=')[1]}`, IMAGE, { command: ['true'], CDIDevices: [{ name }] }), pod());
    const err = await ask('berth.test/accel=nope').catch((e: { code: number; details: string }) => e);
    expect(err).toMatchObject({ details: expect.stringContaining('unknown CDI device "berth.test/accel=nope"') });
    expect(await codeOf(ask('berth.test/accel=nope'))).toBe('INVALID_ARGUMENT');
    expect((await call(berth.client.runtime, berth.client.runtime.ListContainers, {})).containers.length).toBe(before);
    await writeFile(
      path.join(dir, 'run-cdi', 'late.json'),
      JSON.stringify({ cdiVersion: '0.6.0', kind: 'berth.test/late', devices: [{ name: 'l0', containerEdits: { env: ['LATE=1'] } }] }),
    );
    const id = await ask('berth.test/late=l0');
    await cri.start(id);
  });
});
