import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { defaultConfig } from '../src/config/schema.js';
import { logOutput } from '../src/log.js';

const terminal = { isTTY: true, noColor: false };
const pipe = { isTTY: false, noColor: false };

describe('the log format', () => {
  it('is auto unless the operator says otherwise', () => {
    expect(defaultConfig().log_format).toBe('auto');
  });

  it('is text for a terminal and JSON for anything else (journald) when auto', () => {
    expect(logOutput('auto', terminal)).toEqual({ format: 'text', colorize: true, sync: true, translateTime: 'SYS:HH:MM:ss.l' });
    expect(logOutput('auto', pipe)).toEqual({ format: 'json' });
  });

  it('is what the operator set, whatever stderr is', () => {
    expect(logOutput('json', terminal)).toEqual({ format: 'json' });
    expect(logOutput('text', pipe)).toEqual({ format: 'text', colorize: false, sync: false, translateTime: 'SYS:standard' });
    expect(logOutput('text', terminal)).toMatchObject({ format: 'text', colorize: true });
  });

  it('is not coloured when NO_COLOR is set', () => {
    expect(logOutput('auto', { isTTY: true, noColor: true })).toMatchObject({ format: 'text', colorize: false });
  });

  it('accepts auto, json and text from the flag, and nothing else', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'berth-logfmt-'));
    try {
      const load = (format: string) => loadConfig({ configFile: undefined, configDir: path.join(dir, 'none.d'), flags: { 'log-format': format } });
      for (const format of ['auto', 'json', 'text']) expect((await load(format)).config.log_format).toBe(format);
      await expect(load('pretty')).rejects.toThrow('must be one of json, text, auto');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
