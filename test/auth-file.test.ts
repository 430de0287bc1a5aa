import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuthFile, authKeysFor, normaliseAuthKey, parseAuthFile } from '../src/image/auth-file.js';
import { silentLogger } from '../src/log.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'berth-auth-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the global auth file (containers-auth.json)', () => {
  it('normalises keys as containers/image does, Docker legacy URLs included', () => {
    expect(normaliseAuthKey('https://index.docker.io/v1/')).toBe('docker.io');
    expect(normaliseAuthKey('http://registry.example:5000/v2/')).toBe('registry.example:5000');
    expect(normaliseAuthKey('quay.io/team/')).toBe('quay.io/team');
    expect(authKeysFor('quay.io/team/app')).toEqual(['quay.io/team/app', 'quay.io/team', 'quay.io']);
  });

  it('takes the most specific key for a repository, and identity tokens', async () => {
    const file = path.join(dir, 'auth.json');
    await writeFile(
      file,
      JSON.stringify({
        auths: {
          'quay.io': { auth: b64('everyone:pw1') },
          'quay.io/team': { auth: b64('team:pw2') },
          'https://index.docker.io/v1/': { auth: b64('hub:pw3') },
          'ghcr.io': { identitytoken: 'refresh-token' },
        },
      }),
    );
    const auth = new AuthFile(file, silentLogger());
    expect(await auth.credentialsFor('quay.io/team/app')).toEqual({ kind: 'basic', username: 'team', password: 'pw2' });
    expect(await auth.credentialsFor('quay.io/other/app')).toEqual({ kind: 'basic', username: 'everyone', password: 'pw1' });
    expect(await auth.credentialsFor('docker.io/library/busybox')).toEqual({ kind: 'basic', username: 'hub', password: 'pw3' });
    expect(await auth.credentialsFor('ghcr.io/x/y')).toEqual({ kind: 'identity-token', token: 'refresh-token' });
    expect(await auth.credentialsFor('registry.k8s.io/pause')).toBeUndefined();
  });

  it('re-reads the file when it changes, and means nothing when it is missing or unset', async () => {
    const file = path.join(dir, 'auth.json');
    const auth = new AuthFile(file, silentLogger());
    expect(await auth.credentialsFor('quay.io/a')).toBeUndefined();
    await writeFile(file, JSON.stringify({ auths: { 'quay.io': { auth: b64('u:one') } } }));
    expect(await auth.credentialsFor('quay.io/a')).toMatchObject({ password: 'one' });
    await writeFile(file, JSON.stringify({ auths: { 'quay.io': { auth: b64('u:two') } } }));
    await utimes(file, new Date(), new Date(Date.now() + 5000));
    expect(await auth.credentialsFor('quay.io/a')).toMatchObject({ password: 'two' });
    expect(await new AuthFile('', silentLogger()).credentialsFor('quay.io/a')).toBeUndefined();
  });

  it('refuses a broken file with FAILED_PRECONDITION that names the file, never a secret', async () => {
    const file = path.join(dir, 'auth.json');
    await writeFile(file, `{"auths": {"quay.io": {"auth": "${b64('u:s3cret')}"}`);
    const err = await new AuthFile(file, silentLogger()).credentialsFor('quay.io/a').catch((e: Error & { kind: string }) => e);
    expect(err).toMatchObject({ kind: 'failed-precondition', message: `global auth file ${file}: not valid JSON` });
    expect(() => parseAuthFile('{"auths": {"quay.io": 5}}')).toThrow('the entry for "quay.io" is not an object');
    expect(() => parseAuthFile('[]')).toThrow('not a JSON object');
  });
});
