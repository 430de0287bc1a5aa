import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseDuration } from '../src/config/duration.js';
import { ConfigError, applyToml, loadConfig } from '../src/config/load.js';
import { renderConfig } from '../src/config/render.js';
import { KEYS, defaultConfig } from '../src/config/schema.js';

describe('configuration', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-config-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('runs on embedded defaults when no file exists', async () => {
    const { config, files } = await loadConfig({ configFile: undefined, configDir: path.join(dir, 'missing.d'), flags: {} });
    expect(files).toEqual([]);
    expect(config.listen).toBe('/run/berth/berth.sock');
  });

  it('names the flag or file a bad value came from, and ends TOML errors without a dangling colon', async () => {
    const main = path.join(dir, 'berth.conf');
    await writeFile(main, 'root = "/srv/a"\n');
    await expect(loadConfig({ configFile: main, configDir: path.join(dir, 'none.d'), flags: { 'metrics-address': 'nonsense' } })).rejects.toThrow(
      'flag --metrics-address: stats.metrics_address: must be host:port, got "nonsense"',
    );
    await writeFile(main, '[stats]\nmetrics_address = "nonsense"\n');
    await expect(loadConfig({ configFile: main, configDir: path.join(dir, 'none.d'), flags: {} })).rejects.toThrow(
      `${main}: stats.metrics_address: must be host:port`,
    );
    await writeFile(main, '[image\nx = 1\n');
    const err = await loadConfig({ configFile: main, configDir: path.join(dir, 'none.d'), flags: {} }).catch((e: Error) => e);
    expect((err as Error).message).toMatch(new RegExp(`^${main}: invalid TOML: .*row 1, col \\d+, pos \\d+$`));
  });

  it('applies file, drop-ins in lexical order, then flags', async () => {
    const main = path.join(dir, 'berth.conf');
    const dropins = path.join(dir, 'berth.conf.d');
    await mkdir(dropins);
    await writeFile(main, 'root = "/srv/a"\nlog_level = "debug"\n[image]\nmax_concurrent_downloads = 5\n');
    await writeFile(path.join(dropins, '20-b.conf'), 'root = "/srv/c"\n');
    await writeFile(path.join(dropins, '10-a.conf'), 'root = "/srv/b"\n[image]\npull_progress_timeout = "2m30s"\n');
    await writeFile(path.join(dropins, 'ignored.txt'), 'nonsense');
    const { config, files } = await loadConfig({ configFile: main, configDir: dropins, flags: { 'log-level': 'warn' } });
    expect(files.map((f) => path.basename(f))).toEqual(['berth.conf', '10-a.conf', '20-b.conf']);
    expect(config.root).toBe('/srv/c');
    expect(config.log_level).toBe('warn');
    expect(config.image.max_concurrent_downloads).toBe(5);
    expect(config.image.pull_progress_timeout).toBe(150_000);
  });

  it.each([
    ['bogus = 1', 'bogus: unknown key'],
    ['[nope]\nx = 1', 'nope: unknown section'],
    ['log_level = "loud"', 'log_level: must be one of'],
    ['root = "relative"', 'root: must be an absolute path'],
    ['[image]\nmax_concurrent_downloads = 0', 'image.max_concurrent_downloads: must be between 1 and 64'],
    ['[image]\npull_progress_timeout = "soon"', 'image.pull_progress_timeout: invalid duration'],
    ['listen = 5', 'listen: expected a string'],
    ['root = ', 'invalid TOML'],
  ])('names the file and key of %j', async (text, message) => {
    const file = path.join(dir, 'bad.conf');
    await writeFile(file, text);
    const err = await loadConfig({ configFile: file, configDir: path.join(dir, 'none'), flags: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain(file);
    expect((err as Error).message).toContain(message);
  });

  it('requires an explicitly named file to exist', async () => {
    await expect(loadConfig({ configFile: path.join(dir, 'absent.conf'), flags: {} })).rejects.toBeInstanceOf(ConfigError);
  });

  it('rejects bad flag values', async () => {
    await expect(loadConfig({ configFile: undefined, configDir: path.join(dir, 'none'), flags: { 'log-format': 'xml' } })).rejects.toThrow(
      '--log-format: log_format: must be one of json, text',
    );
  });

  it('renders TOML that loads back to the same configuration', () => {
    const config = defaultConfig();
    config.image.pull_progress_timeout = 90_500;
    config.root = '/srv/berth';
    const again = defaultConfig();
    applyToml(again, 'rendered', renderConfig(config));
    expect(again).toEqual(config);
  });

  it('documents every key in the shipped conf/berth.conf', async () => {
    const shipped = await readFile(new URL('../conf/berth.conf', import.meta.url), 'utf8');
    expect(shipped).toBe(renderConfig(defaultConfig()));
    for (const k of KEYS) expect(shipped).toContain(`${k.key.split('.').pop()} =`);
  });

  it('parses durations', () => {
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('0')).toBe(0);
    expect(parseDuration('5')).toBeUndefined();
    expect(parseDuration('5m junk')).toBeUndefined();
  });
});
