import { execFile } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type BerthDaemon, startBerth } from './lib/berth-daemon.js';
import { call } from './lib/cri-client.js';
import { mountsUnder } from './lib/leftovers.js';
import { Cri, podConfig } from './lib/pods.js';
import { freePort } from './lib/ports.js';
import { testBerthConf, testRegistriesConf } from './lib/registries-conf.js';

/**
 * A full disk where berth writes: a tiny tmpfs mounted over one of its
 * directories and filled to the last block and inode. Every call that needs
 * the space answers RESOURCE_EXHAUSTED naming that filesystem, leaves
 * nothing behind, and works again once there is room.
 */
const env = inject('env');
const IMAGE = `${env.openRegistry}/berth-test/busybox:run`;
const run = promisify(execFile);

/** A tmpfs of `size` at `dir`, filled until neither a block nor an inode is left. */
async function mountFull(dir: string, size: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await run('mount', ['-t', 'tmpfs', '-o', `size=${size},nr_inodes=64,mode=0755`, 'berth-e2e-full', dir]);
  await writeFile(path.join(dir, '.filler'), Buffer.alloc(4 << 20)).catch(() => undefined);
  for (let i = 0; ; i++) {
    const ok = await writeFile(path.join(dir, `.inode-${i}`), '').then(
      () => true,
      () => false,
    );
    if (!ok) break;
  }
}

describe('a full disk', () => {
  let berth: BerthDaemon;
  let cri: Cri;
  const mounted: string[] = [];
  const unmount = async (dir: string) => {
    await run('umount', [dir]);
    mounted.splice(mounted.indexOf(dir), 1);
  };

  beforeAll(async () => {
    berth = await startBerth({ registriesConf: testRegistriesConf(env, await freePort()), config: testBerthConf(env) });
    cri = new Cri(berth);
  });
  afterAll(async () => {
    try {
      for (const dir of [...mounted]) await unmount(dir);
      expect(await mountsUnder(berth.dir)).toEqual([]);
    } finally {
      await berth.destroy();
    }
  });

  it('fails a pull with RESOURCE_EXHAUSTED naming the filesystem, keeps nothing, and pulls once there is room', async () => {
    const snapshots = path.join(berth.root, 'storage', 'snapshots');
    await mountFull(snapshots, '256k');
    mounted.push(snapshots);
    const err = await cri.pull(IMAGE).then(
      () => undefined,
      (e: Error & { code?: number; details?: string }) => e,
    );
    expect(err?.code).toBe(8); // RESOURCE_EXHAUSTED
    expect(err?.details).toContain(`on the filesystem mounted at ${snapshots} (tmpfs berth-e2e-full)`);
    expect((await call(berth.client.image, berth.client.image.ListImages, {})).images).toEqual([]);
    expect((await readdir(snapshots)).filter((f) => !f.startsWith('.filler') && !f.startsWith('.inode-'))).toEqual([]);
    await unmount(snapshots);
    await cri.pull(IMAGE);
  });

  it('fails RunPodSandbox with RESOURCE_EXHAUSTED naming the filesystem, not ENOENT, and runs the pod once there is room', async () => {
    const runDirs = path.join(berth.runroot, 'sandboxes');
    await mountFull(runDirs, '64k');
    mounted.push(runDirs);
    const pod = podConfig('full', path.join(berth.dir, 'logs', 'full'));
    const err = await cri.runPod(pod).then(
      () => undefined,
      (e: Error & { code?: number; details?: string }) => e,
    );
    expect(err?.code).toBe(8);
    expect(err?.details).toMatch(new RegExp(`no space left on device on the filesystem mounted at ${runDirs} \\(tmpfs berth-e2e-full\\)`));
    expect((await call(berth.client.runtime, berth.client.runtime.ListPodSandbox, {})).items).toEqual([]);
    await unmount(runDirs);
    const id = await cri.runPod(pod);
    await cri.removePod(id);
  });
});
