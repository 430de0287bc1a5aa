import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { TarInput } from '../test/support/tar-writer.js';
import { type BuiltLayer, buildImage, buildLayer, pushImage } from './fixtures/image-builder.js';
import { type BerthDaemon, startBerth } from './lib/berth-daemon.js';
import { call } from './lib/cri-client.js';
import { mountsUnder } from './lib/leftovers.js';
import { Cri, containerConfig, podConfig } from './lib/pods.js';
import { freePort } from './lib/ports.js';
import { testBerthConf, testRegistriesConf } from './lib/registries-conf.js';

/**
 * Images with many layers: every layer of the root or none. An image whose
 * overlay options would pass the page mount(2) copies is refused by name at
 * CreateContainer, never mounted without its bottom layers.
 */
const env = inject('env');
const REPO = `berth-test/layers-${process.pid}`;

async function manyLayers(count: number): Promise<string> {
  const busybox = await readFile('/bin/busybox');
  const base: TarInput[] = [
    { name: 'bin/', type: 'dir', mode: 0o755 },
    { name: 'bin/busybox', content: busybox, mode: 0o755 },
    { name: 'bin/sh', type: 'hardlink', linkname: 'bin/busybox', mode: 0o755 },
    { name: 'bin/cat', type: 'hardlink', linkname: 'bin/busybox', mode: 0o755 },
    { name: 'bin/ls', type: 'hardlink', linkname: 'bin/busybox', mode: 0o755 },
    { name: 'bin/sleep', type: 'hardlink', linkname: 'bin/busybox', mode: 0o755 },
    { name: 'bin/touch', type: 'hardlink', linkname: 'bin/busybox', mode: 0o755 },
  ];
  const layers: BuiltLayer[] = [await buildLayer(base, 'gzip', true)];
  for (let i = 1; i < count; i++) layers.push(await buildLayer([{ name: `layers/${i}`, content: `layer ${i}\n` }], 'gzip', true));
  const tag = `l${count}`;
  await pushImage({ host: env.openRegistry, url: `http://${env.openRegistry}`, stop: async () => undefined }, REPO, tag, buildImage(layers, true));
  return `${env.openRegistry}/${REPO}:${tag}`;
}

describe('images with many layers', () => {
  let berth: BerthDaemon;
  let cri: Cri;
  let podId: string;
  const pod = () => podConfig('layers', path.join(berth.dir, 'logs', 'layers'));

  beforeAll(async () => {
    berth = await startBerth({ registriesConf: testRegistriesConf(env, await freePort()), config: testBerthConf(env) });
    cri = new Cri(berth);
    podId = await cri.runPod(pod());
  });
  afterAll(async () => {
    try {
      await cri.removePod(podId);
      expect(await mountsUnder(berth.dir)).toEqual([]);
    } finally {
      await berth.destroy();
    }
  });

  it('runs an image of 150 layers with every layer, the base image included, and a writable root', async () => {
    const image = await manyLayers(150);
    await cri.pull(image);
    const id = await cri.run(podId, containerConfig('l150', image, { command: ['sleep', '600'] }), pod());
    expect((await cri.exec(id, ['cat', '/layers/1', '/layers/75', '/layers/149'])).stdout).toBe('layer 1\nlayer 75\nlayer 149\n');
    expect((await cri.exec(id, ['ls', '/layers'])).stdout.trim().split('\n')).toHaveLength(149);
    expect((await cri.exec(id, ['touch', '/written'])).exitCode).toBe(0);
    await cri.removeContainer(id);
  });

  it('refuses an image of 300 layers at CreateContainer by its count and the limit, creating nothing', async () => {
    const image = await manyLayers(300);
    await cri.pull(image);
    const mounts = await mountsUnder(berth.dir);
    const err = await cri.createContainer(podId, containerConfig('l300', image, { command: ['sleep', '600'] }), pod()).then(
      () => undefined,
      (e: Error & { code?: number; details?: string }) => e,
    );
    expect(err?.code).toBe(9); // FAILED_PRECONDITION
    expect(err?.details).toMatch(/the image has 300 layers; .* more than the 4096 mount\(2\) accepts \(\d+ layers fit here\)/);
    expect((await call(berth.client.runtime, berth.client.runtime.ListContainers, { filter: { podSandboxId: podId } })).containers).toEqual([]);
    expect(await mountsUnder(berth.dir)).toEqual(mounts);
  });
});
