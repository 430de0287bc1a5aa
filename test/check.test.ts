import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkCommand, checkState } from '../src/check.js';
import { defaultConfig } from '../src/config/schema.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/** A state directory as the daemon leaves it, with damage of every kind the check looks for. */
async function layout(root: string, runroot: string) {
  const storage = path.join(root, 'storage');
  const blob = async (content: string, name = sha(content)) => {
    await mkdir(path.join(storage, 'blobs', 'sha256'), { recursive: true });
    await writeFile(path.join(storage, 'blobs', 'sha256', name), content);
    return `sha256:${name}`;
  };
  const snapshot = async (chain: string) => {
    const dir = path.join(storage, 'snapshots', chain);
    await mkdir(path.join(dir, 'fs'), { recursive: true });
    await writeFile(path.join(dir, 'meta.json'), JSON.stringify({ version: 1, chainId: `sha256:${chain}` }));
    await mkdir(path.join(storage, 'l'), { recursive: true });
    await symlink(`../snapshots/${chain}/fs`, path.join(storage, 'l', chain.slice(0, 16)));
  };
  const config = await blob('{"config":1}');
  const manifest = await blob('{"manifest":1}');
  await blob('tampered', sha('original'));
  await blob('nobody uses this');
  const used = sha('layer one');
  await snapshot(used);
  await snapshot(sha('orphan layer'));
  await mkdir(path.join(storage, 'images'), { recursive: true });
  await writeFile(
    path.join(storage, 'images', `${config.slice(7)}.json`),
    JSON.stringify({ version: 1, id: config, manifestDigest: manifest, layers: [{ chainId: `sha256:${used}` }] }),
  );
  await writeFile(
    path.join(storage, 'images', 'broken.json'),
    JSON.stringify({ version: 1, id: 'sha256:x', layers: [{ chainId: `sha256:${sha('missing')}` }] }),
  );
  await mkdir(path.join(root, 'containers', 'c1'), { recursive: true });
  await writeFile(path.join(root, 'containers', 'c1', 'meta.json'), JSON.stringify({ version: 1, id: 'c1', sandboxId: 'gone', chainIds: [`sha256:${used}`] }));
  await writeFile(path.join(root, 'containers', 'c1', 'status.json'), JSON.stringify({ version: 1, state: 'CONTAINER_EXITED' }));
  await mkdir(path.join(runroot, 'containers', 'stray'), { recursive: true });
}

describe('berth check', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-check-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('finds corrupt blobs, records that point at nothing and what nothing uses, and --repair removes them', async () => {
    const config = { ...defaultConfig(), root: path.join(dir, 'root'), runroot: path.join(dir, 'run'), listen: path.join(dir, 'run', 'b.sock') };
    await layout(config.root, config.runroot);
    const findings = await checkState(config);
    const why = findings.map((f) => `${f.kind} ${path.relative(dir, f.path)}: ${f.why}`);
    expect(why).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^broken root\/storage\/blobs\/sha256\/[0-9a-f]{64}: content hashes to sha256:/),
        expect.stringMatching(/^broken root\/storage\/images\/broken\.json: image .* needs layer sha256:/),
        expect.stringMatching(/^orphan root\/storage\/blobs\/sha256\/[0-9a-f]{64}: a blob no image uses$/),
        expect.stringMatching(/^orphan root\/storage\/snapshots\/[0-9a-f]{64}: a layer no image or container uses$/),
        'orphan root/containers/c1: container c1 of pod gone, which is gone',
        'orphan run/containers/stray: a container bundle without a record',
      ]),
    );
    expect(why).toContain('broken root/storage/images/broken.json: image x needs blob sha256:x, which is missing or corrupt');
    expect(findings).toHaveLength(7);
    const lines: string[] = [];
    const out = new Writable({
      write: (chunk: Buffer, _e, cb) => {
        lines.push(chunk.toString());
        cb();
      },
    });
    expect(await checkCommand(config, false, async () => false, out)).toBe(1);
    expect(await checkCommand(config, true, async () => true, out)).toBe(2); // refuses while the daemon serves
    expect(await checkCommand(config, true, async () => false, out)).toBe(0);
    expect(await checkState(config)).toEqual([]);
    expect(await readdir(path.join(config.root, 'storage', 'images'))).toHaveLength(1);
  });

  it("names the OCI runtime's containers that have no record or an unreadable one, and --repair deletes them through the runtime first", async () => {
    const base = defaultConfig();
    const runtimeRoot = path.join(dir, 'run', 'runc-root');
    const calls = path.join(dir, 'runc-calls');
    // A runtime that records what it is asked and forgets the container, as `runc delete --force` does.
    const fakeRunc = path.join(dir, 'runc');
    await writeFile(fakeRunc, `#!/bin/sh\necho "$@" >> "${calls}"\nrm -rf "${runtimeRoot}/$4"\n`);
    await chmod(fakeRunc, 0o755);
    const config = {
      ...base,
      root: path.join(dir, 'root'),
      runroot: path.join(dir, 'run'),
      listen: path.join(dir, 'run', 'b.sock'),
      runtimes: { runc: { runtime_path: fakeRunc, runtime_root: runtimeRoot, runtime_type: 'oci' as const } },
    };
    const record = async (id: string, status: string) => {
      await mkdir(path.join(config.root, 'containers', id), { recursive: true });
      await writeFile(path.join(config.root, 'containers', id, 'meta.json'), JSON.stringify({ version: 1, id, chainIds: [] }));
      await writeFile(path.join(config.root, 'containers', id, 'status.json'), status);
    };
    await record('tracked', JSON.stringify({ version: 1, state: 'CONTAINER_RUNNING' }));
    await record('torn', '{ torn');
    for (const id of ['tracked', 'torn', 'untracked']) await mkdir(path.join(runtimeRoot, id), { recursive: true });
    const why = (await checkState(config)).map((f) => `${f.kind} ${path.relative(dir, f.path)}: ${f.why}`);
    expect(why).toEqual([
      "broken root/containers/torn: unreadable container record; runc still holds container torn, which berth's start-up (or --repair) kills and deletes",
      'orphan run/runc-root/untracked: a runc container without a record',
    ]);
    const out = new Writable({ write: (_chunk, _e, cb) => cb() });
    expect(await checkCommand(config, true, async () => false, out)).toBe(0);
    expect((await readFile(calls, 'utf8')).trim().split('\n')).toEqual([
      `--root=${runtimeRoot} delete --force torn`,
      `--root=${runtimeRoot} delete --force untracked`,
    ]);
    expect(await readdir(runtimeRoot)).toEqual(['tracked']);
    expect(await readdir(path.join(config.root, 'containers'))).toEqual(['tracked']);
  });
});
