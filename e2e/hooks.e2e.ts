import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type BerthDaemon, startBerth } from './lib/berth-daemon.js';
import { Cri, containerConfig, podConfig } from './lib/pods.js';
import { freePort, waitFor } from './lib/ports.js';
import { testRegistriesConf } from './lib/registries-conf.js';

/**
 * OCI hooks from hooks.d files, run by real runc at their stages (and by
 * berth for a pod's poststop): each hook writes a marker file named after
 * its stage and the container or pod it ran for, with the state it got.
 */
const env = inject('env');
const IMAGE = `${env.openRegistry}/berth-test/busybox:run`;
const CONTAINER_STAGES = ['createRuntime', 'prestart', 'poststart', 'poststop'];

describe('OCI hooks', () => {
  let dir: string;
  let marks: string;
  let berth: BerthDaemon;
  let cri: Cri;
  const markers = async () => (await readdir(marks)).sort();

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-e2e-hooks-'));
    marks = path.join(dir, 'marks');
    const hooksDir = path.join(dir, 'hooks.d');
    await mkdir(marks);
    await mkdir(hooksDir);
    const script = path.join(dir, 'mark.sh');
    // The state arrives on stdin; the id in it names the marker.
    await writeFile(
      script,
      '#!/bin/sh\nstate=$(cat)\nid=$(printf "%s" "$state" | sed -n \'s/.*"id":"\\([0-9a-f]*\\)".*/\\1/p\')\nprintf "%s" "$state" > "$MARKS/$1-$id"\n',
    );
    await chmod(script, 0o755);
    const hook = (stage: string, when: object) =>
      JSON.stringify({ version: '1.0.0', hook: { path: script, args: ['mark', stage], env: [`MARKS=${marks}`], timeout: 10 }, when, stages: [stage] });
    for (const [i, stage] of CONTAINER_STAGES.entries()) {
      await writeFile(path.join(hooksDir, `1${i}-${stage}.json`), hook(stage, { annotations: { '^berth\\.test/hooked$': '^yes$' } }));
    }
    await writeFile(path.join(hooksDir, '50-pod.json'), hook('poststop', { annotations: { '^berth\\.test/pod-hook$': '.' } }));
    await writeFile(path.join(hooksDir, '90-broken.json'), '{"version": "1.0.0", "hook": ');
    berth = await startBerth({ registriesConf: testRegistriesConf(env, await freePort()), extraArgs: ['--hooks-dir', hooksDir] });
    cri = new Cri(berth);
    await cri.pull(IMAGE);
  });

  afterAll(async () => {
    await berth?.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs the matching hooks at their stages, and none for a container the conditions do not match', async () => {
    const pod = podConfig('hooked', path.join(berth.dir, 'logs', 'hooked'), { annotations: { 'berth.test/pod-hook': 'on' } });
    const podId = await cri.runPod(pod);
    const hooked = await cri.run(podId, containerConfig('hooked', IMAGE, { command: ['sleep', '600'], annotations: { 'berth.test/hooked': 'yes' } }), pod);
    const plain = await cri.run(podId, containerConfig('plain', IMAGE, { command: ['sleep', '600'] }), pod);
    await waitFor('the poststart hook', async () => (await markers()).includes(`poststart-${hooked}`));
    expect(await markers()).toEqual([`createRuntime-${hooked}`, `poststart-${hooked}`, `prestart-${hooked}`]);
    const state = JSON.parse(await readFile(path.join(marks, `prestart-${hooked}`), 'utf8')) as { id: string; annotations: Record<string, string> };
    expect(state).toMatchObject({ id: hooked, annotations: { 'berth.test/hooked': 'yes' } });

    await cri.stop(hooked, 0); // runc delete, when the exit is released, runs poststop
    await waitFor('the poststop hook', async () => (await markers()).includes(`poststop-${hooked}`));
    expect((await markers()).some((m) => m.endsWith(plain))).toBe(false);

    await cri.stopPod(podId); // the pod's own poststop hook, run by berth
    await waitFor("the pod's poststop hook", async () => (await markers()).includes(`poststop-${podId}`));
    const podState = JSON.parse(await readFile(path.join(marks, `poststop-${podId}`), 'utf8')) as { status: string; annotations: Record<string, string> };
    expect(podState).toMatchObject({ status: 'stopped', annotations: { 'berth.test/pod-hook': 'on' } });
    await cri.removePod(podId);
    expect(await berth.logs()).toContain('skipping an invalid OCI hook file');
  });
});
