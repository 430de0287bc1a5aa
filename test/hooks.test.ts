import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hookMatches, parseHookFile } from '../src/hooks/hook-file.js';
import { HooksDirs, injectHooks } from '../src/hooks/hooks-dirs.js';
import { silentLogger } from '../src/log.js';
import type { Spec } from '../src/oci/spec-types.js';

let dir: string;
let program: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'berth-hooks-'));
  program = path.join(dir, 'hook.sh');
  await writeFile(program, '#!/bin/sh\n');
  await chmod(program, 0o755);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const def = (when: object, stages = ['prestart'], extra: object = {}) =>
  JSON.stringify({ version: '1.0.0', hook: { path: program, args: ['hook', 'x'], ...extra }, when, stages });

describe('OCI hook files (oci-hooks(5) 1.0.0)', () => {
  it('match only when every condition set holds', async () => {
    const subject = { annotations: { 'com.example.gpu': 'yes', other: 'x' }, command: '/usr/bin/app', hasBindMounts: true };
    const parsed = (when: object) => parseHookFile('f.json', def(when));
    expect(hookMatches(await parsed({ always: true }), subject)).toBe(true);
    expect(hookMatches(await parsed({ annotations: { '^com\\.example\\.gpu$': '^yes$' } }), subject)).toBe(true);
    expect(hookMatches(await parsed({ annotations: { '^com\\.example\\.gpu$': '^no$' } }), subject)).toBe(false);
    expect(hookMatches(await parsed({ commands: ['.*/app$'], hasBindMounts: true }), subject)).toBe(true);
    expect(hookMatches(await parsed({ commands: ['.*/app$'], hasBindMounts: true }), { ...subject, hasBindMounts: false })).toBe(false);
    expect(hookMatches(await parsed({ always: true, commands: ['^/sbin/init$'] }), subject)).toBe(false);
  });

  it('are refused with a reason when they do not validate', async () => {
    await expect(parseHookFile('f', '{')).rejects.toThrow('not valid JSON');
    await expect(parseHookFile('f', '{')).rejects.toMatchObject({ kind: 'invalid-argument' });
    await expect(parseHookFile('f', JSON.stringify({ version: '0.1.0' }))).rejects.toThrow('unsupported version "0.1.0"');
    await expect(parseHookFile('f', def({}))).rejects.toThrow('"when" sets no condition');
    await expect(parseHookFile('f', def({ always: true }, ['prestop']))).rejects.toThrow('unknown stage "prestop"');
    await expect(parseHookFile('f', def({ commands: ['('] }))).rejects.toThrow('invalid regular expression');
    await expect(
      parseHookFile('f', JSON.stringify({ version: '1.0.0', hook: { path: '/no/such' }, when: { always: true }, stages: ['prestart'] })),
    ).rejects.toThrow('hook.path /no/such does not exist');
  });

  it('are read from every directory, a later one masking a name, a broken file skipped, in name order', async () => {
    const low = path.join(dir, 'usr');
    const high = path.join(dir, 'etc');
    await mkdir(low);
    await mkdir(high);
    await writeFile(path.join(low, '10-a.json'), def({ always: true }, ['prestart'], { env: ['FROM=low'] }));
    await writeFile(path.join(high, '10-a.json'), def({ always: true }, ['prestart'], { env: ['FROM=high'] }));
    await writeFile(path.join(low, '05-B.json'), def({ always: true }, ['poststop']));
    await writeFile(path.join(high, '20-broken.json'), '{"version": "1.0.0"');
    const dirs = new HooksDirs([low, high], silentLogger());
    const hooks = await dirs.current();
    expect(hooks.map((h) => [path.basename(h.file), h.hook.env ?? []])).toEqual([
      ['05-B.json', []],
      ['10-a.json', ['FROM=high']],
    ]);
    const spec = { process: { args: ['/bin/sh'] }, annotations: {}, hooks: { prestart: [{ path: '/already' }] } } as unknown as Spec;
    expect(injectHooks(spec, hooks, false)).toEqual([`poststop:${program}`, `prestart:${program}`]);
    expect(spec.hooks?.prestart?.map((h) => h.path)).toEqual(['/already', program]);
    await rm(path.join(high, '10-a.json'));
    expect((await dirs.current()).find((h) => h.file.endsWith('10-a.json'))?.hook.env).toEqual(['FROM=low']);
  });
});
