import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import TOML from '@iarna/toml';
import { errnoCode, messageOf } from '../errors.js';
import { parseDuration } from './duration.js';
import { type BerthConfig, type KeySpec, KEYS, RUNTIME_HANDLER_KEYS, type RuntimeHandlerConfig, SECTIONS, defaultConfig } from './schema.js';

export const DEFAULT_CONFIG_FILE = '/etc/berth/berth.conf';
export const DEFAULT_CONFIG_DIR = '/etc/berth/berth.conf.d';

/** A configuration problem that must stop start-up (exit status 2). */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly key: string | undefined,
    message: string,
  ) {
    super(key ? `${source}: ${key}: ${message}` : `${source}: ${message}`);
    this.name = 'ConfigError';
  }
}

export interface ConfigSources {
  /** An explicit --config: then the file must exist. */
  configFile?: string;
  configDir?: string;
  /** Flag values keyed by flag name (without dashes), as strings. */
  flags?: Record<string, string | string[] | undefined>;
}

export interface LoadedConfig {
  config: BerthConfig;
  /** Files that were read, in the order they were applied. */
  files: string[];
}

const BY_KEY = new Map(KEYS.map((k) => [k.key, k]));

export async function loadConfig(sources: ConfigSources): Promise<LoadedConfig> {
  const config = defaultConfig();
  const files: string[] = [];
  /** Where each key was last set, so a message names the file or the flag it came from. */
  const origins = new Map<string, string>();
  const mainFile = sources.configFile ?? DEFAULT_CONFIG_FILE;
  const mainText = await readOptional(mainFile, sources.configFile !== undefined);
  if (mainText !== undefined) {
    applyToml(config, mainFile, mainText, origins);
    files.push(mainFile);
  }
  const dir = sources.configDir ?? DEFAULT_CONFIG_DIR;
  for (const file of await dropInFiles(dir)) {
    const text = await readOptional(file, true);
    if (text !== undefined) {
      applyToml(config, file, text, origins);
      files.push(file);
    }
  }
  for (const spec of KEYS) {
    const value = spec.flag ? sources.flags?.[spec.flag] : undefined;
    if (value !== undefined) {
      setPath(config, spec.key, coerceFlag(spec, value));
      origins.set(spec.key, `flag --${spec.flag}`);
    }
  }
  checkWhole(config, (key) => origins.get(key) ?? 'embedded defaults');
  return { config, files };
}

async function readOptional(file: string, required: boolean): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' && !required) return undefined;
    throw new ConfigError(file, undefined, `cannot read: ${messageOf(err)}`);
  }
}

/** A missing drop-in directory simply has no drop-ins. */
async function dropInFiles(dir: string): Promise<string[]> {
  try {
    const names = await readdir(dir);
    return names
      .filter((n) => n.endsWith('.conf'))
      .sort()
      .map((n) => path.join(dir, n));
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw new ConfigError(dir, undefined, `cannot read drop-in directory: ${messageOf(err)}`);
  }
}

/** Parses one TOML document and applies every key it sets, refusing unknown keys. */
export function applyToml(config: BerthConfig, source: string, text: string, origins?: Map<string, string>): void {
  let doc: TOML.JsonMap;
  try {
    doc = TOML.parse(text);
  } catch (err) {
    // The parser's first line ends with a colon before a code excerpt: keep the line, drop the colon.
    throw new ConfigError(source, undefined, `invalid TOML: ${messageOf(err).split('\n')[0]!.replace(/:\s*$/, '')}`);
  }
  const { runtimes, ...rest } = doc;
  if (runtimes !== undefined) applyRuntimes(config, source, runtimes);
  walk(source, rest, '', (key, value) => {
    const spec = BY_KEY.get(key);
    if (!spec) throw new ConfigError(source, key, 'unknown key');
    setPath(config, key, coerceToml(source, spec, value));
    origins?.set(key, source);
  });
}

/** Rules that involve more than one key. */
function checkWhole(config: BerthConfig, sourceOf: (key: string) => string): void {
  if (config.stats.metrics_address && !/^(\[[0-9a-fA-F:.]+\]|[^:\s]*):\d{1,5}$/.test(config.stats.metrics_address)) {
    throw new ConfigError(sourceOf('stats.metrics_address'), 'stats.metrics_address', `must be host:port, got "${config.stats.metrics_address}"`);
  }
  if (config.tracing.endpoint && !/^https?:\/\/[^\s/]+(\/\S*)?$/.test(config.tracing.endpoint)) {
    throw new ConfigError(
      sourceOf('tracing.endpoint'),
      'tracing.endpoint',
      `must be an http(s) URL such as http://127.0.0.1:4318, got "${config.tracing.endpoint}"`,
    );
  }
  if (Boolean(config.streaming.tls_cert) !== Boolean(config.streaming.tls_key)) {
    throw new ConfigError(
      sourceOf(config.streaming.tls_cert ? 'streaming.tls_cert' : 'streaming.tls_key'),
      'streaming.tls_cert',
      'tls_cert and tls_key go together',
    );
  }
  if (!config.runtimes[config.runtime.default_runtime]) {
    throw new ConfigError(
      sourceOf('runtime.default_runtime'),
      'runtime.default_runtime',
      `names "${config.runtime.default_runtime}", but there is no [runtimes.${config.runtime.default_runtime}] table`,
    );
  }
}

function applyRuntimes(config: BerthConfig, source: string, value: unknown): void {
  if (!isTable(value)) throw new ConfigError(source, 'runtimes', 'must be a table of [runtimes.<name>] tables');
  for (const [name, raw] of Object.entries(value)) {
    const where = `runtimes.${name}`;
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) throw new ConfigError(source, where, 'handler names are letters, digits, ".", "_" and "-"');
    if (!isTable(raw)) throw new ConfigError(source, where, 'must be a table');
    const handler: RuntimeHandlerConfig = { ...(config.runtimes[name] ?? { runtime_path: '', runtime_root: '', runtime_type: 'oci' }) };
    for (const [k, v] of Object.entries(raw)) {
      if (!(k in RUNTIME_HANDLER_KEYS)) throw new ConfigError(source, `${where}.${k}`, 'unknown key');
      if (typeof v !== 'string') throw new ConfigError(source, `${where}.${k}`, `expected a string, got ${describe(v)}`);
      if (k === 'runtime_type' && v !== 'oci') throw new ConfigError(source, `${where}.${k}`, 'must be "oci"');
      if ((k === 'runtime_path' || k === 'runtime_root') && v !== '' && !path.isAbsolute(v)) {
        throw new ConfigError(source, `${where}.${k}`, `must be an absolute path, got "${v}"`);
      }
      (handler as unknown as Record<string, string>)[k] = v;
    }
    if (!handler.runtime_path) throw new ConfigError(source, `${where}.runtime_path`, 'is required');
    config.runtimes[name] = handler;
  }
}

function isTable(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date);
}

function walk(source: string, obj: TOML.JsonMap, prefix: string, visit: (key: string, value: unknown) => void): void {
  for (const [name, value] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${name}` : name;
    const isTable = value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date);
    if (isTable && key in SECTIONS) walk(source, value as TOML.JsonMap, key, visit);
    else if (isTable) throw new ConfigError(source, key, 'unknown section');
    else visit(key, value);
  }
}

function coerceToml(source: string, spec: KeySpec, value: unknown): unknown {
  const fail = (msg: string): never => {
    throw new ConfigError(source, spec.key, msg);
  };
  const s = spec.spec;
  switch (s.type) {
    case 'string':
      if (typeof value !== 'string') fail(`expected a string, got ${describe(value)}`);
      return checkString(spec, value as string, fail);
    case 'integer': {
      if (typeof value !== 'number' || !Number.isInteger(value)) fail(`expected an integer, got ${describe(value)}`);
      const n = value as number;
      if (n < s.min || n > s.max) fail(`must be between ${s.min} and ${s.max}, got ${n}`);
      return n;
    }
    case 'duration': {
      if (typeof value !== 'string') fail(`expected a duration string such as "30s", got ${describe(value)}`);
      const ms = parseDuration(value as string);
      if (ms === undefined) fail(`invalid duration "${String(value)}" (use e.g. "500ms", "30s", "5m", "1h")`);
      return ms;
    }
    case 'enum':
      if (typeof value !== 'string' || !s.values.includes(value)) fail(`must be one of ${s.values.join(', ')}, got ${describe(value)}`);
      return value;
    case 'boolean':
      if (typeof value !== 'boolean') fail(`expected true or false, got ${describe(value)}`);
      return value;
    case 'string-list': {
      if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) fail(`expected an array of strings, got ${describe(value)}`);
      const bad = (value as string[]).find((v) => (s.pattern && !s.pattern.test(v)) || (s.absolutePaths && !path.isAbsolute(v)));
      if (bad !== undefined) fail(`invalid entry "${bad}"${s.absolutePaths ? ' (absolute paths only)' : ''}`);
      return value;
    }
  }
}

function checkString(spec: KeySpec, value: string, fail: (msg: string) => never): string {
  const s = spec.spec;
  if (s.type !== 'string') return value;
  if (s.absolutePath && !(s.emptyAllowed && value === '') && !path.isAbsolute(value)) fail(`must be an absolute path, got "${value}"`);
  if (s.nonEmpty && value.trim() === '') fail('must not be empty');
  return value;
}

function coerceFlag(spec: KeySpec, value: string | string[]): unknown {
  const source = `--${spec.flag}`;
  if (spec.spec.type === 'string-list') return coerceToml(source, spec, (Array.isArray(value) ? value : [value]).flatMap((v) => v.split(',')).filter(Boolean));
  const raw = Array.isArray(value) ? value[value.length - 1]! : value;
  if (spec.spec.type === 'integer') {
    if (!/^-?\d+$/.test(raw)) throw new ConfigError(source, spec.key, `expected an integer, got "${raw}"`);
    return coerceToml(source, spec, Number(raw));
  }
  return coerceToml(source, spec, raw);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `"${value}"`;
  if (Array.isArray(value)) return 'an array';
  return `${typeof value} ${String(value)}`;
}

export function getPath(config: BerthConfig, key: string): unknown {
  let cur: unknown = config;
  for (const part of key.split('.')) cur = (cur as Record<string, unknown>)[part];
  return cur;
}

function setPath(config: BerthConfig, key: string, value: unknown): void {
  const parts = key.split('.');
  let cur = config as unknown as Record<string, unknown>;
  for (const part of parts.slice(0, -1)) cur = cur[part] as Record<string, unknown>;
  cur[parts[parts.length - 1]!] = value;
}
