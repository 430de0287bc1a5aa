import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ContainerConfig } from '../src/generated/runtime/v1/ContainerConfig.js';
import { type BerthDaemon, startBerth } from './lib/berth-daemon.js';
import { call, codeOf } from './lib/cri-client.js';
import { conmonProcessesFor, mountsUnder, runcContainers } from './lib/leftovers.js';
import { Cri, containerConfig, podConfig } from './lib/pods.js';
import { freePort } from './lib/ports.js';
import { testRegistriesConf } from './lib/registries-conf.js';
import { createTar } from '../test/support/tar-writer.js';

/**
 * Image volumes as the kubelet asks for them (KEP-4639): the volume's image
 * pulled first, then a container whose mount names it, with and without a
 * sub-path; the image read-only and not executable inside, in use while the
 * container exists (pinned, not removable), nothing mounted on the host,
 * and all of it through a daemon restart.
 */
const env = inject('env');
const IMAGE = `${env.openRegistry}/berth-test/busybox:run`;
const VOLUME = `${env.openRegistry}/berth-test/busybox:plain`;

describe('image volumes', () => {
  let berth: BerthDaemon;
  let cri: Cri;
  let podId = '';
  let ctrId = '';
  let volumeRef = '';
  const pod = () => podConfig('volumes', path.join(berth.dir, 'logs', 'volumes'));
  const imageStatus = async () => (await call(berth.client.image, berth.client.image.ImageStatus, { image: { image: VOLUME } })).image;
  const removeImage = () => call(berth.client.image, berth.client.image.RemoveImage, { image: { image: VOLUME } });
  const imageMountsOnHost = async () => (await mountsUnder(berth.dir)).filter((m) => m.includes('image-volumes'));

  beforeAll(async () => {
    berth = await startBerth({ registriesConf: testRegistriesConf(env, await freePort()) });
    cri = new Cri(berth);
    await cri.pull(IMAGE);
    volumeRef = await cri.pull(VOLUME); // as the kubelet does before it creates the container
    podId = await cri.runPod(pod());
  });

  afterAll(async () => {
    await cri.removePod(podId).catch(() => undefined);
    try {
      expect(await mountsUnder(berth.dir)).toEqual([]);
      expect(await conmonProcessesFor(berth.dir)).toEqual([]);
      expect(await runcContainers(path.join(berth.runroot, 'runtimes', 'runc'))).toEqual([]);
    } finally {
      await berth.destroy();
    }
  });

  it('mounts the image, and a sub-path of it, read-only and not executable', async () => {
    const config: ContainerConfig = containerConfig('reader', IMAGE, {
      command: ['sleep', '600'],
      mounts: [
        // The kubelet names the image by the image_ref its PullImage returned.
        { containerPath: '/vol', hostPath: '', image: { image: volumeRef } },
        { containerPath: '/volbin', hostPath: '', image: { image: VOLUME }, imageSubPath: 'bin' },
      ],
    });
    ctrId = await cri.run(podId, config, pod());
    expect((await cri.exec(ctrId, ['ls', '/vol/bin/busybox', '/volbin/busybox'])).exitCode).toBe(0);
    const write = await cri.exec(ctrId, ['sh', '-c', 'touch /vol/new 2>&1']);
    expect(write.exitCode).not.toBe(0);
    expect(write.stdout).toContain('Read-only file system');
    const run = await cri.exec(ctrId, ['sh', '-c', '/volbin/busybox true 2>&1']);
    expect(run.exitCode).not.toBe(0);
    expect(run.stdout).toContain('Permission denied');
    const opts = (await cri.exec(ctrId, ['sh', '-c', 'grep " /vol " /proc/mounts'])).stdout;
    expect(opts).toMatch(/\bro\b.*\bnosuid\b.*\bnodev\b.*\bnoexec\b/);
    expect(await imageMountsOnHost()).toEqual([]); // the container holds its own copy
    const status = await cri.status(ctrId);
    expect(status.mounts.find((m) => m.containerPath === '/volbin')).toMatchObject({ readonly: true, image: { image: VOLUME }, imageSubPath: 'bin' });
  });

  it('keeps the image while a container mounts it: pinned, and RemoveImage refused', async () => {
    expect((await imageStatus())?.pinned).toBe(true);
    expect(await codeOf(removeImage())).toBe('FAILED_PRECONDITION');
    expect((await imageStatus())?.id).toBe(volumeRef);
  });

  it('refuses what the kubelet would never send, creating nothing', async () => {
    const bad = async (name: string, mounts: ContainerConfig['mounts']) =>
      codeOf(cri.createContainer(podId, containerConfig(name, IMAGE, { command: ['true'], mounts }), pod()));
    expect(await bad('missing', [{ containerPath: '/v', hostPath: '', image: { image: `${env.openRegistry}/berth-test/none:1` } }])).toBe('NOT_FOUND');
    expect(await bad('escape', [{ containerPath: '/v', hostPath: '', image: { image: VOLUME }, imageSubPath: '../..' }])).toBe('INVALID_ARGUMENT');
    expect(await bad('absent', [{ containerPath: '/v', hostPath: '', image: { image: VOLUME }, imageSubPath: 'no/such' }])).toBe('NOT_FOUND');
    expect((await call(berth.client.runtime, berth.client.runtime.ListContainers, {})).containers.map((c) => c.id)).toEqual([ctrId]);
  });

  it('mounts an OCI artifact: a plain-file layer by its title beside a tar layer, and refuses to run it', async () => {
    const artifact = `${env.openRegistry}/berth-test/artifact:1`;
    await pushArtifact(artifact);
    await cri.pull(artifact);
    expect(await codeOf(cri.createContainer(podId, containerConfig('runs-artifact', artifact, { command: ['true'] }), pod()))).toBe('FAILED_PRECONDITION');
    const id = await cri.run(
      podId,
      containerConfig('artifact-reader', IMAGE, { command: ['sleep', '600'], mounts: [{ containerPath: '/model', hostPath: '', image: { image: artifact } }] }),
      pod(),
    );
    expect((await cri.exec(id, ['cat', '/model/weights.txt', '/model/dir/file'])).stdout).toBe('model weights\nfrom a tar layer\n');
    await cri.stop(id, 0);
    await cri.removeContainer(id);
    await call(berth.client.image, berth.client.image.RemoveImage, { image: { image: artifact } });
  });

  it('keeps the volume across a daemon restart, and lets the image go with the container', async () => {
    await berth.stop();
    berth = await startBerth({ registriesConf: testRegistriesConf(env, await freePort()), reuse: { dir: berth.dir } });
    cri = new Cri(berth);
    expect((await cri.exec(ctrId, ['ls', '/vol/bin/busybox'])).exitCode).toBe(0);
    expect((await imageStatus())?.pinned).toBe(true);
    await cri.stop(ctrId, 0);
    expect(await imageMountsOnHost()).toEqual([]);
    await cri.removeContainer(ctrId);
    expect((await imageStatus())?.pinned).toBe(false);
    await removeImage();
    expect(await imageStatus()).toBeFalsy();
  });
});

/**
 * An OCI artifact as ORAS pushes one (image-spec 1.1: an artifactType, the
 * empty config, a plain file titled `weights.txt` and a gzipped tar layer),
 * written as an OCI layout and pushed by skopeo.
 */
async function pushArtifact(target: string): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-e2e-artifact-'));
  try {
    await mkdir(path.join(dir, 'blobs', 'sha256'), { recursive: true });
    const blob = async (data: Buffer) => {
      const hex = createHash('sha256').update(data).digest('hex');
      await writeFile(path.join(dir, 'blobs', 'sha256', hex), data);
      return { digest: `sha256:${hex}`, size: data.length };
    };
    const config = await blob(Buffer.from('{}'));
    const text = await blob(Buffer.from('model weights\n'));
    const tarLayer = await blob(
      gzipSync(
        createTar([
          { name: 'dir/', type: 'dir' },
          { name: 'dir/file', content: 'from a tar layer\n' },
        ]),
      ),
    );
    const manifest = await blob(
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          artifactType: 'application/vnd.berth.test.model.v1',
          config: { mediaType: 'application/vnd.oci.empty.v1+json', ...config },
          layers: [
            { mediaType: 'text/plain', ...text, annotations: { 'org.opencontainers.image.title': 'weights.txt' } },
            { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...tarLayer },
          ],
        }),
      ),
    );
    await writeFile(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    await writeFile(
      path.join(dir, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'a' } }],
      }),
    );
    await promisify(execFile)('skopeo', ['copy', '--insecure-policy', '--dest-tls-verify=false', '--preserve-digests', `oci:${dir}:a`, `docker://${target}`]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
