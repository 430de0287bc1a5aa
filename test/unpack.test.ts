import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { S_IFCHR } from '../src/native/index.js';
import { readTar } from '../src/storage/tar/reader.js';
import { LayerUnpacker } from '../src/storage/unpack.js';
import { OneCallRecordingOps, RecordingOps } from './support/recording-ops.js';
import { type TarInput, createTar } from './support/tar-writer.js';

async function* chunks(buf: Buffer, size = 700): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

describe('layer unpacking', () => {
  let dir: string;
  let ops: RecordingOps;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-unpack-'));
    ops = new RecordingOps();
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function unpack(entries: TarInput[]) {
    const unpacker = new LayerUnpacker(dir, ops);
    for await (const { entry, body } of readTar(chunks(createTar(entries)))) await unpacker.apply(entry, body);
    return unpacker.finish();
  }

  it.each([
    ['call by call', () => new RecordingOps()],
    ['small files in one call', () => new OneCallRecordingOps()],
  ])('keeps files, modes, owners, links, times and binary xattrs (%s)', async (_how, makeOps) => {
    ops = makeOps();
    const cap = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0xff, 0xfe, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]);
    const longName = `deep/${'d'.repeat(120)}/file.txt`;
    const usage = await unpack([
      { name: 'bin/', type: 'dir', mode: 0o755, mtime: 1_500_000_000 },
      { name: 'bin/tool', content: 'TOOL', mode: 0o4755, uid: 0, gid: 0 },
      { name: 'bin/alias', type: 'hardlink', linkname: 'bin/tool' },
      { name: 'bin/rel', type: 'symlink', linkname: 'tool' },
      { name: 'bin/abs', type: 'symlink', linkname: '/etc/passwd' },
      { name: 'bin/capped', content: 'x', mode: 0o755, xattrs: { 'security.capability': cap } },
      { name: 'home/user/file', content: 'hi', uid: 1000, gid: 1001, mode: 0o640, mtime: 1_234_567_890 },
      { name: 'tmp/', type: 'dir', mode: 0o1777 },
      { name: longName, content: 'long' },
      { name: 'dev/null', type: 'char', devmajor: 1, devminor: 3, mode: 0o666 },
    ]);
    expect((await stat(path.join(dir, 'bin/tool'))).mode & 0o7777).toBe(0o4755);
    expect((await stat(path.join(dir, 'bin/alias'))).ino).toBe((await stat(path.join(dir, 'bin/tool'))).ino);
    expect(await readlink(path.join(dir, 'bin/rel'))).toBe('tool');
    expect(await readlink(path.join(dir, 'bin/abs'))).toBe('/etc/passwd');
    expect(ops.xattrs.get(path.join(dir, 'bin/capped'))?.get('security.capability')).toEqual(cap);
    expect(ops.owners.get(path.join(dir, 'home/user/file'))).toEqual({ uid: 1000, gid: 1001 });
    const file = await stat(path.join(dir, 'home/user/file'));
    expect(file.mode & 0o777).toBe(0o640);
    expect(file.mtimeMs).toBe(1_234_567_890_000);
    expect((await stat(path.join(dir, 'tmp'))).mode & 0o7777).toBe(0o1777);
    expect((await stat(path.join(dir, 'bin'))).mtimeMs).toBe(1_500_000_000_000);
    expect(await readFile(path.join(dir, longName), 'utf8')).toBe('long');
    expect(ops.nodes.get(path.join(dir, 'dev/null'))).toEqual({ mode: S_IFCHR | 0o666, major: 1, minor: 3 });
    expect(usage.bytes).toBe(4 + 1 + 2 + 4);
    if (ops instanceof OneCallRecordingOps) expect(ops.oneCallFiles).toContain(path.join(dir, 'home/user/file'));
  });

  it('turns whiteouts into 0/0 character devices and opaque markers into xattrs', async () => {
    await unpack([
      { name: 'etc/', type: 'dir' },
      { name: 'etc/.wh.removed', content: '' },
      { name: 'var/lib/', type: 'dir' },
      { name: 'var/lib/.wh..wh..opq', content: '' },
      { name: 'var/lib/new', content: 'n' },
    ]);
    expect(ops.nodes.get(path.join(dir, 'etc/removed'))).toEqual({ mode: S_IFCHR, major: 0, minor: 0 });
    expect(ops.xattrs.get(path.join(dir, 'var/lib'))?.get('trusted.overlay.opaque')?.toString()).toBe('y');
    expect(await readdir(path.join(dir, 'etc'))).toEqual(['removed']);
  });

  it('lets a later entry replace an earlier one', async () => {
    await unpack([
      { name: 'a', content: 'first' },
      { name: 'a', content: 'second' },
      { name: 'd/x', content: 'x' },
      { name: 'd', type: 'symlink', linkname: 'elsewhere' },
    ]);
    expect(await readFile(path.join(dir, 'a'), 'utf8')).toBe('second');
    expect((await lstat(path.join(dir, 'd'))).isSymbolicLink()).toBe(true);
  });

  it('creates small files in batches that links, replacements and later entries still see in order', async () => {
    const batching = new OneCallRecordingOps();
    ops = batching;
    const many: TarInput[] = Array.from({ length: 150 }, (_, i) => ({ name: `etc/conf${i}`, content: `value ${i}`, mode: 0o640, uid: 7 }));
    await unpack([
      ...many,
      { name: 'etc/conf3', content: 'replaced' },
      { name: 'etc/link', type: 'hardlink', linkname: 'etc/conf149' },
      { name: 'etc/conf5', type: 'symlink', linkname: 'conf6' },
      { name: 'var/last', content: 'tail' },
    ]);
    expect(batching.batches.length).toBeGreaterThan(2);
    expect(Math.max(...batching.batches)).toBeGreaterThan(1);
    // The replacement of etc/conf3 goes the long way (the old file must go first).
    expect(batching.oneCallFiles.length).toBe(150 + 1);
    expect(await readFile(path.join(dir, 'etc/conf100'), 'utf8')).toBe('value 100');
    expect((await stat(path.join(dir, 'etc/conf100'))).mode & 0o777).toBe(0o640);
    expect(await readFile(path.join(dir, 'etc/conf3'), 'utf8')).toBe('replaced');
    expect((await stat(path.join(dir, 'etc/link'))).ino).toBe((await stat(path.join(dir, 'etc/conf149'))).ino);
    expect(await readlink(path.join(dir, 'etc/conf5'))).toBe('conf6');
    expect(await readFile(path.join(dir, 'var/last'), 'utf8')).toBe('tail');
  });

  it('refuses an entry beneath a small file still waiting in a batch', async () => {
    ops = new OneCallRecordingOps();
    await expect(
      unpack([
        { name: 'a', content: 'x' },
        { name: 'a/b', content: 'y' },
      ]),
    ).rejects.toThrow(/non-directory/);
  });

  it('ignores overlayfs attributes smuggled in the tar', async () => {
    await unpack([{ name: 'f', content: '', xattrs: { 'trusted.overlay.redirect': Buffer.from('/etc'), 'user.ok': Buffer.from('1') } }]);
    expect([...(ops.xattrs.get(path.join(dir, 'f'))?.keys() ?? [])]).toEqual(['user.ok']);
  });

  describe('refuses hostile layers', () => {
    it.each<[string, TarInput[], RegExp]>([
      ['a ".." component', [{ name: '../escape', content: 'x' }], /"\.\." component/],
      ['a nested ".."', [{ name: 'a/../../escape', content: 'x' }], /"\.\." component/],
      [
        'a write through a symlink',
        [
          { name: 'etc', type: 'symlink', linkname: '/etc' },
          { name: 'etc/passwd', content: 'pwned' },
        ],
        /symbolic link/,
      ],
      [
        'a write through a relative symlink',
        [
          { name: 'up', type: 'symlink', linkname: '..' },
          { name: 'up/x', content: 'x' },
        ],
        /symbolic link/,
      ],
      ['a hard link outside the layer', [{ name: 'h', type: 'hardlink', linkname: '../../etc/shadow' }], /"\.\." component/],
      ['a hard link to an absolute host path', [{ name: 'h', type: 'hardlink', linkname: '/etc/shadow' }], /not a file unpacked earlier/],
      [
        'a hard link to a directory',
        [
          { name: 'd/', type: 'dir' },
          { name: 'h', type: 'hardlink', linkname: 'd' },
        ],
        /not a file unpacked earlier/,
      ],
      [
        'a whiteout through a symlink',
        [
          { name: 's', type: 'symlink', linkname: '/' },
          { name: 's/.wh.etc', content: '' },
        ],
        /symbolic link/,
      ],
    ])('%s', async (_label, entries, message) => {
      await expect(unpack(entries)).rejects.toMatchObject({ kind: 'failed-precondition', message: expect.stringMatching(message) });
    });
  });

  it.each<[string, Record<string, string>]>([
    ['a negative uid', { uid: '-1' }],
    ['a uid past 32 bits', { uid: '4294967296' }],
    ['a gid that is not a number', { gid: 'root' }],
    ['an mtime out of range', { mtime: '1e300' }],
    ['a fractional size', { size: '1.5' }],
  ])('refuses a pax header with %s before anything is written', async (_label, pax) => {
    ops = new OneCallRecordingOps();
    await expect(unpack([{ name: 'f', content: 'x', pax }])).rejects.toThrow(/invalid (uid|gid|mtime|size)/);
    expect(await readdir(dir)).toEqual([]);
  });

  it('keeps a pax uid, gid and fractional mtime that are in range', async () => {
    ops = new OneCallRecordingOps();
    await unpack([{ name: 'f', content: 'x', pax: { uid: '4294967294', gid: '70000', mtime: '1600000000.5' } }]);
    expect(ops.owners.get(path.join(dir, 'f'))).toEqual({ uid: 4294967294, gid: 70000 });
  });

  it('does work linear in the entries whatever the tar repeats, replaces or nests', async () => {
    const n = 400;
    const names = Array.from({ length: n }, (_, i) => ({ name: `d${i % 10}/f${i}`, content: 'x' }));
    const unpacker = new LayerUnpacker(dir, ops);
    const entries: TarInput[] = [...names, ...names, { name: 'd0', content: 'now a file' }];
    for await (const { entry, body } of readTar(chunks(createTar(entries), 1 << 16))) await unpacker.apply(entry, body);
    await unpacker.finish();
    // One parent lookup per entry (plus ten directories made), one visit per
    // path a later entry replaced, and d0's subtree once when a file took its place.
    const entriesApplied = entries.length;
    expect(unpacker.visited).toBeLessThanOrEqual(entriesApplied + 20 + n + (n / 10 + 1));
    expect(await readFile(path.join(dir, 'd1/f1'), 'utf8')).toBe('x');
    expect(await readFile(path.join(dir, 'd0'), 'utf8')).toBe('now a file');

    const deep = Array.from({ length: 300 }, () => 'a').join('/');
    const nested = new LayerUnpacker(path.join(dir, 'nested'), ops);
    await mkdir(path.join(dir, 'nested'));
    const deepEntries = Array.from({ length: 100 }, (_, i) => ({ name: `${deep}/f${i}`, content: '' }));
    for await (const { entry, body } of readTar(chunks(createTar(deepEntries), 1 << 16))) await nested.apply(entry, body);
    // The chain of 300 directories is walked once, not once per file.
    expect(nested.visited).toBeLessThanOrEqual(300 + 1 + 100);
  });

  it('refuses an entry name longer than PATH_MAX', async () => {
    await expect(unpack([{ name: `${'a/'.repeat(2100)}x`, content: '' }])).rejects.toThrow(/longer than PATH_MAX/);
  });

  it('rejects corrupt archives', async () => {
    const tar = createTar([{ name: 'f', content: 'hello' }]);
    tar[0] = 0x7f; // breaks the header checksum
    const unpacker = new LayerUnpacker(dir, ops);
    await expect(
      (async () => {
        for await (const { entry, body } of readTar(chunks(tar))) await unpacker.apply(entry, body);
      })(),
    ).rejects.toThrow(/checksum/);
  });
});
