import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RuntimeError, invalidArgument, runtimeFailed } from '../src/errors.js';
import { makeDirs } from '../src/util/fs.js';
import { explainSpaceFailure, locate, mountOf, spaceFailure } from '../src/util/space-errors.js';

const MOUNTINFO = [
  '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
  '30 22 0:25 / /var/lib/berth rw,relatime shared:2 - xfs /dev/sdb1 rw,prjquota',
  '31 22 0:26 / /var/lib/berth\\040x rw - tmpfs tmpfs rw',
].join('\n');

const sysError = (code: string, extra: object = {}) => Object.assign(new Error(`${code}: failed`), { code, ...extra });

describe('space failures', () => {
  it('finds ENOSPC or EDQUOT on the error, in its causes, or in a helper’s words', () => {
    expect(spaceFailure(sysError('ENOSPC', { path: '/var/lib/berth/x' }))).toEqual({ code: 'ENOSPC', path: '/var/lib/berth/x' });
    expect(spaceFailure(new RuntimeError('unknown', 'pull failed', { cause: sysError('EDQUOT', { dest: '/d' }) }))).toEqual({ code: 'EDQUOT', path: '/d' });
    expect(spaceFailure(runtimeFailed("runc create: mkdir '/run/berth/x': no space left on device"))).toEqual({ code: 'ENOSPC', path: '/run/berth/x' });
    expect(spaceFailure(sysError('ENOENT'))).toBeUndefined();
  });

  it('names the filesystem of the longest mount point above the path', () => {
    expect(mountOf('/var/lib/berth/overlay/abc', MOUNTINFO)).toEqual({ mountpoint: '/var/lib/berth', fstype: 'xfs', source: '/dev/sdb1' });
    expect(mountOf('/var/lib/berth x/y', MOUNTINFO)).toMatchObject({ mountpoint: '/var/lib/berth x' });
    expect(mountOf('/var/lib/berthy', MOUNTINFO)).toMatchObject({ mountpoint: '/' });
  });

  it('turns a space failure into RESOURCE_EXHAUSTED naming the filesystem, and leaves other errors alone', async () => {
    const err = await explainSpaceFailure(sysError('ENOSPC', { path: '/var/lib/berth/blobs/x' }), async () => MOUNTINFO);
    expect(err).toMatchObject({
      kind: 'resource-exhausted',
      message: expect.stringContaining('no space left on device on the filesystem mounted at /var/lib/berth (xfs /dev/sdb1), writing /var/lib/berth/blobs/x'),
    });
    const quota = await explainSpaceFailure(sysError('EDQUOT'), async () => MOUNTINFO);
    expect(quota).toMatchObject({ kind: 'resource-exhausted', message: expect.stringContaining('disk quota exceeded') });
    const other = sysError('EIO');
    expect(await explainSpaceFailure(other, async () => MOUNTINFO)).toBe(other);
    // A request's own fault stays one, whatever its words.
    const bad = invalidArgument('no space left on device is not a hostname');
    expect(await explainSpaceFailure(bad, async () => MOUNTINFO)).toBe(bad);
  });

  it('gives a path-less system error the file it was writing', () => {
    const err = sysError('ENOSPC');
    expect(locate(err, '/x/y')).toMatchObject({ path: '/x/y' });
    expect(locate(sysError('ENOSPC', { path: '/a' }), '/x/y')).toMatchObject({ path: '/a' });
  });
});

describe('makeDirs', () => {
  it('creates nested directories and reports the real cause when a component cannot be made', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'berth-makedirs-'));
    try {
      await makeDirs(path.join(dir, 'a', 'b', 'c'), 0o700);
      expect((await stat(path.join(dir, 'a', 'b', 'c'))).isDirectory()).toBe(true);
      await makeDirs(path.join(dir, 'a', 'b', 'c'));
      await writeFile(path.join(dir, 'file'), '');
      await expect(makeDirs(path.join(dir, 'file', 'sub', 'deeper'))).rejects.toMatchObject({ code: 'ENOTDIR' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
