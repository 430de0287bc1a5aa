import { mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nativeOps } from '../src/native/index.js';

describe('native writeFiles', () => {
  let dir: string;
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-writefiles-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates every file of a batch with its content, mode and time', async () => {
    const files = Array.from({ length: 40 }, (_, i) => ({
      path: path.join(dir, `f${i}`),
      data: Buffer.from(`content ${i}`.repeat(i + 1)),
      uid,
      gid,
      mode: i % 2 ? 0o640 : 0o755,
      mtime: 1_600_000_000 + i,
    }));
    await nativeOps().writeFiles(files);
    for (const [i, f] of files.entries()) {
      expect(await readFile(f.path)).toEqual(f.data);
      const st = await stat(f.path);
      expect(st.mode & 0o7777).toBe(f.mode);
      expect(st.mtimeMs).toBe((1_600_000_000 + i) * 1000);
    }
  });

  it('stops at the first file it cannot create and names it, leaving the rest unmade', async () => {
    await writeFile(path.join(dir, 'b'), 'already here');
    const file = (name: string) => ({ path: path.join(dir, name), data: Buffer.from(name), uid, gid, mode: 0o644, mtime: 0 });
    await expect(nativeOps().writeFiles([file('a'), file('b'), file('c')])).rejects.toMatchObject({ code: 'EEXIST', path: path.join(dir, 'b') });
    expect(await readFile(path.join(dir, 'a'), 'utf8')).toBe('a');
    expect(await readFile(path.join(dir, 'b'), 'utf8')).toBe('already here');
    await expect(stat(path.join(dir, 'c'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it.each([
    ['a negative uid', { uid: -1 }],
    ['a uid past 32 bits', { uid: 2 ** 32 }],
    ['a NaN gid', { gid: Number.NaN }],
    ['an infinite mtime', { mtime: Number.POSITIVE_INFINITY }],
  ])('refuses %s before creating any file of the batch', async (_label, bad) => {
    const good = { path: path.join(dir, 'first'), data: Buffer.from('1'), uid, gid, mode: 0o644, mtime: 0 };
    expect(() => nativeOps().writeFiles([good, { ...good, path: path.join(dir, 'second'), ...bad }])).toThrow(RangeError);
    await expect(stat(good.path)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('creates nothing through a symbolic link and accepts an empty batch', async () => {
    await nativeOps().writeFiles([]);
    await symlink('/etc/hostname', path.join(dir, 'link'));
    await expect(nativeOps().writeFiles([{ path: path.join(dir, 'link'), data: Buffer.from('x'), uid, gid, mode: 0o644, mtime: 0 }])).rejects.toMatchObject({
      code: 'EEXIST',
    });
  });
});
