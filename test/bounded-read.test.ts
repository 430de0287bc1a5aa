import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveUser } from '../src/container/spec/user.js';
import { selectSeccomp } from '../src/container/spec/seccomp.js';
import { readFileInRoot, readRegularFile } from '../src/util/bounded-read.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'berth-read-'));
  await mkdir(path.join(root, 'etc'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const opts = { maxBytes: 64, what: 'test file' };

describe('reading files that requests and images name', () => {
  it('reads a regular file whole', async () => {
    await writeFile(path.join(root, 'etc', 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
    expect((await readFileInRoot(root, '/etc/passwd', opts))?.toString()).toBe('root:x:0:0::/root:/bin/sh\n');
  });

  it('refuses a FIFO at once instead of blocking in open', async () => {
    execFileSync('mkfifo', [path.join(root, 'etc', 'passwd')]);
    const started = Date.now();
    await expect(readFileInRoot(root, '/etc/passwd', opts)).rejects.toMatchObject({
      kind: 'failed-precondition',
      message: expect.stringMatching(/\/etc\/passwd: not a regular file \(a FIFO\)/),
    });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('refuses a character device and a directory', async () => {
    await expect(readRegularFile('/dev/zero', opts)).rejects.toMatchObject({
      kind: 'invalid-argument',
      message: expect.stringContaining('a character device'),
    });
    await expect(readRegularFile(root, opts)).rejects.toMatchObject({ message: expect.stringContaining('a directory') });
  });

  it('refuses a file over the cap without quoting it', async () => {
    await writeFile(path.join(root, 'big'), 'secret-'.repeat(20));
    const err = await readRegularFile(path.join(root, 'big'), opts).catch((e: Error) => e);
    expect(err).toMatchObject({ kind: 'invalid-argument', message: expect.stringContaining('larger than 64 bytes') });
    expect((err as Error).message).not.toContain('secret');
  });

  it('follows links only inside the root', async () => {
    await writeFile(path.join(root, 'etc', 'real'), 'inside\n');
    await symlink('/etc/real', path.join(root, 'etc', 'passwd'));
    expect((await readFileInRoot(root, '/etc/passwd', opts))?.toString()).toBe('inside\n');
    await symlink('../../../../../../../etc/hostname', path.join(root, 'etc', 'group'));
    expect(await readFileInRoot(root, '/etc/group', opts)).toBeUndefined();
  });

  it('refuses a symbolic link given as the file itself', async () => {
    await writeFile(path.join(root, 'target'), 'x');
    await symlink(path.join(root, 'target'), path.join(root, 'link'));
    await expect(readRegularFile(path.join(root, 'link'), opts)).rejects.toMatchObject({ message: expect.stringContaining('a symbolic link') });
  });
});

describe('users and profiles from untrusted files', () => {
  it('fails a user lookup on a FIFO /etc/group with the image to blame', async () => {
    await writeFile(path.join(root, 'etc', 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
    execFileSync('mkfifo', [path.join(root, 'etc', 'group')]);
    await expect(resolveUser(root, { supplementalGroups: [], policy: 'Merge', imageUser: '' })).rejects.toMatchObject({ kind: 'failed-precondition' });
  });

  it('names the seccomp profile and the reason, never its content', async () => {
    const file = path.join(root, 'profile.json');
    await writeFile(file, 'TOP-SECRET not json');
    const err = await selectSeccomp({ profile: { profileType: 'Localhost', localhostRef: file }, legacyPath: '', privileged: false, capabilities: [] }).catch(
      (e: Error) => e,
    );
    expect(err).toMatchObject({ kind: 'invalid-argument', message: `seccomp profile ${file} is not valid JSON` });
    await expect(
      selectSeccomp({ profile: { profileType: 'Localhost', localhostRef: '/dev/zero' }, legacyPath: '', privileged: false, capabilities: [] }),
    ).rejects.toMatchObject({ kind: 'invalid-argument', message: expect.stringContaining('a character device') });
    await expect(
      selectSeccomp({ profile: { profileType: 'Localhost', localhostRef: path.join(root, 'missing') }, legacyPath: '', privileged: false, capabilities: [] }),
    ).rejects.toMatchObject({ kind: 'invalid-argument', message: expect.stringContaining('ENOENT') });
  });
});
