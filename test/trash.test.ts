import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/log.js';
import { Trash } from '../src/util/trash.js';

describe('the trash', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });
  const area = async () => {
    const d = await mkdtemp(path.join(tmpdir(), 'berth-trash-'));
    dirs.push(d);
    return d;
  };

  it('moves a directory out of sight at once and deletes it in the background', async () => {
    const root = await area();
    const victim = path.join(root, 'containers', 'abc');
    await mkdir(path.join(victim, 'fs', 'upper'), { recursive: true });
    await writeFile(path.join(victim, 'fs', 'upper', 'big'), Buffer.alloc(1 << 20));
    const trash = new Trash([root], silentLogger());
    await trash.discard(victim);
    await expect(stat(victim)).rejects.toThrow();
    await trash.empty();
    expect(await readdir(path.join(root, '.trash'))).toEqual([]);
    expect(await readdir(path.join(root, 'containers'))).toEqual([]);
  });

  it('uses the innermost area, takes an absent directory as done, and refuses one outside every area', async () => {
    const root = await area();
    const run = path.join(root, 'run');
    await mkdir(path.join(run, 'containers', 'x'), { recursive: true });
    const trash = new Trash([root, run], silentLogger());
    await trash.discard(path.join(run, 'containers', 'x'));
    expect(await readdir(run)).toContain('.trash');
    await trash.discard(path.join(run, 'containers', 'gone'));
    await expect(trash.discard('/elsewhere/x')).rejects.toThrow(/outside every trash area/);
    await trash.empty();
    expect(await readdir(path.join(run, '.trash'))).toEqual([]);
  });

  it('empties what an earlier run left behind', async () => {
    const root = await area();
    await mkdir(path.join(root, '.trash', 'left-1', 'deep'), { recursive: true });
    await new Trash([root], silentLogger()).empty();
    expect(await readdir(path.join(root, '.trash'))).toEqual([]);
  });
});
