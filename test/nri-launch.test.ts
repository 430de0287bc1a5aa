import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/log.js';
import { installedPlugins, pluginConfig } from '../src/nri/launch.js';

describe('NRI plugins installed on the node', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-nri-launch-'));
    await mkdir(path.join(dir, 'plugins'));
    await mkdir(path.join(dir, 'conf.d'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const file = async (rel: string, mode: number, body = '#!/bin/sh\n') => {
    await writeFile(path.join(dir, rel), body);
    await chmod(path.join(dir, rel), mode);
  };

  it('are the NN-name executables, in index order; anything else is left alone', async () => {
    await file('plugins/20-b', 0o755);
    await file('plugins/05-a', 0o700);
    await file('plugins/10-not-executable', 0o644);
    await file('plugins/no-index', 0o755);
    await file('plugins/1-short', 0o755);
    await mkdir(path.join(dir, 'plugins', '30-a-directory'));
    expect((await installedPlugins(path.join(dir, 'plugins'), silentLogger())).map((p) => `${p.index}-${p.name}`)).toEqual(['05-a', '20-b']);
    expect(await installedPlugins(path.join(dir, 'missing'), silentLogger())).toEqual([]);
  });

  it('take NN-name.conf before name.conf, nothing when neither exists, and refuse a huge one', async () => {
    const p = { index: '10', name: 'logger', file: '' };
    expect(await pluginConfig(path.join(dir, 'conf.d'), p)).toBe('');
    await file('conf.d/logger.conf', 0o644, 'generic');
    expect(await pluginConfig(path.join(dir, 'conf.d'), p)).toBe('generic');
    await file('conf.d/10-logger.conf', 0o644, 'specific');
    expect(await pluginConfig(path.join(dir, 'conf.d'), p)).toBe('specific');
    await file('conf.d/10-logger.conf', 0o644, 'x'.repeat((1 << 20) + 1));
    await expect(pluginConfig(path.join(dir, 'conf.d'), p)).rejects.toThrow(/larger than/);
  });
});
