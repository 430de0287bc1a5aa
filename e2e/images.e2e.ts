import { execFile } from 'node:child_process';
import { lstat, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Image__Output } from '../src/generated/runtime/v1/Image.js';
import { nativeOps } from '../src/native/index.js';
import { CAPABILITY, MTIME } from './fixtures/test-images.js';
import { type BerthDaemon, startBerth } from './lib/berth-daemon.js';
import { call, codeOf } from './lib/cri-client.js';
import { freePort, waitFor } from './lib/ports.js';
import { testRegistriesConf } from './lib/registries-conf.js';

const env = inject('env');
const fx = env.fixtures;
const open = env.openRegistry;
const run = promisify(execFile);

describe('ImageService against a real registry', () => {
  let berth: BerthDaemon;
  let deadPort: number;

  const pull = (image: string, auth?: Record<string, string>) =>
    call(berth.client.image, berth.client.image.PullImage, { image: { image }, auth: auth ?? null });
  const status = async (image: string, verbose = false) => call(berth.client.image, berth.client.image.ImageStatus, { image: { image }, verbose });
  const list = async () => (await call(berth.client.image, berth.client.image.ListImages, {})).images;
  const remove = (image: string) => call(berth.client.image, berth.client.image.RemoveImage, { image: { image } });
  const snapshotsDir = () => path.join(berth.root, 'storage', 'snapshots');
  // Layers being deleted in the background (renamed .ingest-rm-*) are gone already for berth.
  const snapshotNames = async () => (await readdir(snapshotsDir())).filter((n) => !n.startsWith('.ingest-rm-')).sort();
  const layerDirs = async (image: string) => {
    const info = JSON.parse((await status(image, true)).info.info!) as { chainIDs: string[] };
    return info.chainIDs.map((c) => path.join(snapshotsDir(), c.split(':')[1]!, 'fs'));
  };

  beforeAll(async () => {
    deadPort = await freePort();
    berth = await startBerth({ registriesConf: testRegistriesConf(env, deadPort) });
  });
  afterAll(async () => {
    try {
      expect(await berth.stop()).toBe(0);
    } finally {
      await berth.destroy();
    }
  });

  it('pulls a Docker schema 2 image by tag and reports it', async () => {
    const ref = `${open}/berth-test/busybox:plain`;
    const res = await pull(ref);
    expect(res.imageRef).toBe(fx.plain.id);
    const { image } = await status(ref);
    expect(image).toMatchObject({
      id: fx.plain.id,
      repoTags: [ref],
      repoDigests: [`${open}/berth-test/busybox@${fx.plain.digest}`],
      uid: { value: '1002' },
      username: '',
      pinned: false,
    });
    expect(Number(image!.size)).toBeGreaterThan(500_000);
    expect((await list()).map((i) => i.id)).toContain(fx.plain.id);
  });

  it('unpacks layers in overlayfs form with every attribute kept', async () => {
    const [base, changes] = await layerDirs(`${open}/berth-test/busybox:plain`);
    const native = nativeOps();
    const busybox = await stat(path.join(base!, 'bin/busybox'));
    expect((await stat(path.join(base!, 'bin/sh'))).ino).toBe(busybox.ino);
    expect(busybox.nlink).toBe(3);
    expect(busybox.mtimeMs).toBe(MTIME * 1000);
    expect((await lstat(path.join(base!, 'bin/echo'))).isSymbolicLink()).toBe(true);
    expect((await stat(path.join(base!, 'usr/local/bin/suid'))).mode & 0o7777).toBe(0o4755);
    expect(await native.lgetxattr(path.join(base!, 'usr/local/bin/capped'), 'security.capability')).toEqual(CAPABILITY);
    expect((await stat(path.join(base!, 'tmp'))).mode & 0o7777).toBe(0o1777);
    const notes = await stat(path.join(base!, 'home/user/notes'));
    expect([notes.uid, notes.gid, notes.mode & 0o777]).toEqual([1000, 1000, 0o600]);
    const whiteout = await lstat(path.join(changes!, 'data/remove-me'));
    expect(whiteout.isCharacterDevice()).toBe(true);
    expect(whiteout.rdev).toBe(0);
    expect((await native.lgetxattr(path.join(changes!, 'data/opaque'), 'trusted.overlay.opaque'))?.toString()).toBe('y');
    expect(await readFile(path.join(changes!, 'data/opaque/new'), 'utf8')).toBe('replacement');
  });

  it("pulls a Docker manifest list, choosing this machine's platform", async () => {
    const ref = `${open}/berth-test/busybox:list`;
    expect((await pull(ref)).imageRef).toBe(fx.plain.id); // the amd64 entry is the plain image
    const { image } = await status(ref);
    expect(image!.repoTags.sort()).toEqual([`${open}/berth-test/busybox:list`, `${open}/berth-test/busybox:plain`]);
    expect(image!.repoDigests).toContain(`${open}/berth-test/busybox@${fx.list.digest}`);
  });

  it('pulls an OCI index with a zstd layer', async () => {
    const ref = `${open}/berth-test/busybox:oci`;
    expect((await pull(ref)).imageRef).toBe(fx.oci.id);
    const { image } = await status(fx.oci.id);
    expect(image).toMatchObject({ username: 'www-data', uid: null, repoTags: [ref] });
    const dirs = await layerDirs(ref);
    expect(dirs).toHaveLength(3);
    expect(await readFile(path.join(dirs[2]!, 'etc/berth-release'), 'utf8')).toBe('zstd layer\n');
  });

  it('pulls by digest and records the digest, not a tag', async () => {
    const ref = `${open}/berth-test/busybox@${fx.oci.digest}`;
    expect((await pull(ref)).imageRef).toBe(fx.oci.id);
    const { image } = await status(ref);
    expect(image!.id).toBe(fx.oci.id);
    expect(image!.repoTags).toEqual([`${open}/berth-test/busybox:oci`]);
    // Pulled by tag through the index, it is named by both the index's and
    // the platform manifest's digest, and either finds it.
    expect(image!.repoDigests).toEqual([ref, expect.stringMatching(new RegExp(`^${open}/berth-test/busybox@sha256:[0-9a-f]{64}$`))]);
    const platform = image!.repoDigests[1]!;
    expect((await status(platform)).image?.id).toBe(fx.oci.id);
    expect((await pull(platform)).imageRef).toBe(fx.oci.id);
  });

  it("names an image pulled by its index digest by that digest alone, yet finds it by the platform manifest's", async () => {
    const { image: before } = await status(`${open}/berth-test/busybox:oci`);
    const platform = before!.repoDigests.find((d) => !d.endsWith(fx.oci.digest))!;
    await call(berth.client.image, berth.client.image.RemoveImage, { image: { image: fx.oci.id } });
    const ref = `${open}/berth-test/busybox@${fx.oci.digest}`;
    await pull(ref);
    const { image } = await status(ref);
    expect(image!.repoDigests).toEqual([ref]);
    expect((await status(platform)).image?.id).toBe(fx.oci.id);
  });

  it('pulls through a mirror and keeps the original name', async () => {
    const ref = 'mirrored.example/berth-test/busybox:oci';
    expect((await pull(ref)).imageRef).toBe(fx.oci.id);
    const { image } = await status(ref);
    expect(image!.repoTags).toContain(ref);
    expect(image!.repoDigests).toContain(`mirrored.example/berth-test/busybox@${fx.oci.digest}`);
  });

  it('resolves short names through aliases and search registries', async () => {
    expect((await pull('berthbox:plain')).imageRef).toBe(fx.plain.id);
    expect((await status('mirrored.example/berth-test/busybox:plain')).image?.id).toBe(fx.plain.id);
    expect((await pull('berth-test/busybox:plain')).imageRef).toBe(fx.plain.id);
  });

  it('pulls with basic-auth credentials and refuses without them', async () => {
    const ref = `${env.authRegistry}/berth-test/busybox:plain`;
    expect(await codeOf(pull(ref))).toBe('UNAUTHENTICATED');
    expect(await codeOf(pull(ref, { username: env.credentials.username, password: 'wrong' }))).toBe('UNAUTHENTICATED');
    expect((await pull(ref, { username: env.credentials.username, password: env.credentials.password })).imageRef).toBe(fx.plain.id);
    const encoded = Buffer.from(`${env.credentials.username}:${env.credentials.password}`).toString('base64');
    expect((await pull(`${env.authRegistry}/berth-test/busybox:oci`, { auth: encoded })).imageRef).toBe(fx.oci.id);
  });

  it('shares one transfer between concurrent pulls of the same image', async () => {
    // By id: no record of that content may stay (another tag of it would make the pull a no-op).
    await remove(fx.oci.id);
    const pulled = async () => (await berth.logs()).split('\n').filter((l) => l.includes('"image pulled"')).length;
    const before = await pulled();
    const results = await Promise.all([1, 2, 3].map(() => pull(`${open}/berth-test/busybox:oci`)));
    expect(new Set(results.map((r) => r.imageRef))).toEqual(new Set([fx.oci.id]));
    // The daemon's log is written asynchronously: wait for the line, then
    // give a second transfer's line time to show if there was one.
    await waitFor('the pull to be logged', async () => (await pulled()) > before, 5000);
    await new Promise((r) => setTimeout(r, 300));
    expect((await pulled()) - before).toBe(1);
  });

  it('StreamImages returns what ListImages returns', async () => {
    const streamed: Image__Output[] = [];
    await new Promise<void>((resolve, reject) => {
      const stream = berth.client.image.StreamImages({});
      stream.on('data', (m: { images: Image__Output[] }) => streamed.push(...m.images));
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    expect(streamed.map((i) => i.id).sort()).toEqual((await list()).map((i) => i.id).sort());
  });

  describe('bad input changes nothing', () => {
    let snapshotsBefore: string[];
    let imagesBefore: string[];
    beforeAll(async () => {
      snapshotsBefore = await snapshotNames();
      imagesBefore = (await list()).map((i) => i.id).sort();
    });
    afterAll(async () => {
      expect(await snapshotNames()).toEqual(snapshotsBefore);
      expect((await list()).map((i) => i.id).sort()).toEqual(imagesBefore);
    });

    it.each([
      ['a malformed reference', 'Bad/Name::x', 'INVALID_ARGUMENT'],
      ['an empty reference', '', 'INVALID_ARGUMENT'],
      ['a tag the registry lacks', `${open}/berth-test/busybox:nope`, 'NOT_FOUND'],
      ['a repository the registry lacks', `${open}/berth-test/none:1`, 'NOT_FOUND'],
      ['a blocked registry', 'blocked.example/x:1', 'FAILED_PRECONDITION'],
      ['an unreachable registry', 'UNREACHABLE', 'UNAVAILABLE'],
      ['a layer that writes through a symlink', `${open}/berth-test/hostile:symlink`, 'FAILED_PRECONDITION'],
      ['a layer with .. paths', `${open}/berth-test/hostile:dotdot`, 'FAILED_PRECONDITION'],
      ['a hard link to a host file', `${open}/berth-test/hostile:hardlink`, 'FAILED_PRECONDITION'],
      ['a layer whose content does not match its diff ID', `${open}/berth-test/corrupt:diffid`, 'INTERNAL'],
    ])('%s', async (_label, ref, code) => {
      const image = ref === 'UNREACHABLE' ? `127.0.0.1:${deadPort}/x/y:1` : ref;
      expect(await codeOf(pull(image))).toBe(code);
    });

    it('says what the registry said', async () => {
      const err = await pull(`${open}/berth-test/busybox:nope`).catch((e: { details: string }) => e);
      expect((err as { details: string }).details).toMatch(/MANIFEST_UNKNOWN|manifest unknown/i);
    });

    it('never wrote outside the layer', async () => {
      await expect(stat('/etc/berth-e2e-escape')).rejects.toThrow();
      await expect(stat('/tmp/berth-e2e-escape')).rejects.toThrow();
    });

    it('ImageStatus of an absent image is an empty answer, not an error', async () => {
      expect((await status(`${open}/berth-test/busybox:absent`)).image).toBeNull();
      expect((await status('f'.repeat(64))).image).toBeNull();
    });
  });

  it('reports image filesystem usage', async () => {
    const res = await call(berth.client.image, berth.client.image.ImageFsInfo, {});
    const fs0 = res.imageFilesystems[0]!;
    expect(fs0.fsId?.mountpoint).toMatch(/^\//);
    expect(Number(fs0.usedBytes?.value)).toBeGreaterThan(1_000_000);
    expect(Number(fs0.inodesUsed?.value)).toBeGreaterThan(20);
  });

  it('removes an image with all its tags, by tag, id or digest, idempotently, freeing its layers', async () => {
    const usage = async () => Number((await call(berth.client.image, berth.client.image.ImageFsInfo, {})).imageFilesystems[0]!.usedBytes!.value);
    const bytesBefore = await usage();
    await remove(`${open}/berth-test/busybox:list`);
    expect((await status(`${open}/berth-test/busybox:plain`)).image).toBeNull();
    expect((await status(fx.plain.id)).image).toBeNull();
    await remove(`${open}/berth-test/busybox:list`); // again: still fine
    await remove(fx.plain.id);
    // The OCI image's first two layers have the Docker image's diff IDs
    // (same tars, other compression), so all three of its snapshots stay.
    expect(await snapshotNames()).toHaveLength(3);
    await remove(`${open}/berth-test/busybox@${fx.oci.digest}`);
    expect(await list()).toEqual([]);
    expect(await snapshotNames()).toEqual([]);
    await waitFor('the background deletion of the layers', async () => (await readdir(snapshotsDir())).length === 0);
    expect(await usage()).toBeLessThan(bytesBefore);
    expect(await usage()).toBe(0);
  });
});

describe('the node-wide pull secret (image.global_auth_file)', () => {
  let berth: BerthDaemon;
  let authFile: string;
  const ref = `${env.authRegistry}/berth-test/busybox:plain`;
  const pull = (image: string, auth?: Record<string, string>) =>
    call(berth.client.image, berth.client.image.PullImage, { image: { image }, auth: auth ?? null });
  const remove = (image: string) => call(berth.client.image, berth.client.image.RemoveImage, { image: { image } });

  beforeAll(async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'berth-e2e-authfile-'));
    authFile = path.join(dir, 'auth.json');
    berth = await startBerth({ registriesConf: testRegistriesConf(env, await freePort()), extraArgs: ['--global-auth-file', authFile] });
  });
  afterAll(async () => {
    await berth.destroy();
    await rm(path.dirname(authFile), { recursive: true, force: true });
  });

  it('pulls with what `skopeo login` wrote when the request brings no credentials', async () => {
    expect(await codeOf(pull(ref))).toBe('UNAUTHENTICATED'); // no file yet: no credentials
    // Written by an independent tool, as an operator would.
    await run('skopeo', [
      'login',
      '--authfile',
      authFile,
      '--tls-verify=false',
      '-u',
      env.credentials.username,
      '-p',
      env.credentials.password,
      env.authRegistry,
    ]);
    expect((await pull(ref)).imageRef).toBe(fx.plain.id);
    // The request's own credentials win over the file's.
    await remove(ref);
    expect(await codeOf(pull(ref, { username: env.credentials.username, password: 'wrong' }))).toBe('UNAUTHENTICATED');
    expect(await berth.logs()).not.toContain(env.credentials.password);
  });

  it('re-reads the file, the most specific key winning', async () => {
    const good = Buffer.from(`${env.credentials.username}:${env.credentials.password}`).toString('base64');
    const bad = Buffer.from(`${env.credentials.username}:not-it`).toString('base64');
    await writeFile(authFile, JSON.stringify({ auths: { [env.authRegistry]: { auth: good }, [`${env.authRegistry}/berth-test`]: { auth: bad } } }));
    await remove(ref);
    expect(await codeOf(pull(ref))).toBe('UNAUTHENTICATED');
    await writeFile(authFile, JSON.stringify({ auths: { [env.authRegistry]: { auth: bad }, [`${env.authRegistry}/berth-test/busybox`]: { auth: good } } }));
    expect((await pull(ref)).imageRef).toBe(fx.plain.id);
    await writeFile(authFile, '{ not json');
    await remove(ref);
    expect(await codeOf(pull(ref))).toBe('FAILED_PRECONDITION');
  });
});
