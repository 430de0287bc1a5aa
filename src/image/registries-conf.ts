/**
 * containers-registries.conf(5), version 2: the file CRI-O, podman and
 * skopeo read to learn mirrors, insecure and blocked registries and short
 * name aliases. berth reads the subset that decides where a pull goes.
 */

import { readFile, stat } from 'node:fs/promises';
import TOML from '@iarna/toml';
import { errnoCode, failedPrecondition, invalidArgument, messageOf } from '../errors.js';

export interface RegistryEndpoint {
  location: string;
  insecure: boolean;
}

export interface MirrorEndpoint extends RegistryEndpoint {
  /** "all" (default), "digest-only" or "tag-only". */
  pullFromMirror: 'all' | 'digest-only' | 'tag-only';
}

export interface RegistryRule {
  prefix: string;
  location: string;
  insecure: boolean;
  blocked: boolean;
  mirrorByDigestOnly: boolean;
  mirrors: MirrorEndpoint[];
}

export interface RegistriesConf {
  unqualifiedSearchRegistries: string[];
  registries: RegistryRule[];
  aliases: Map<string, string>;
}

/** Where to fetch one repository from: mirrors in order, then the primary location. */
export interface PullSource {
  /** `host[:port]` to connect to. */
  host: string;
  /** Repository path on that host. */
  path: string;
  insecure: boolean;
  mirror: boolean;
}

export const EMPTY_REGISTRIES_CONF: RegistriesConf = { unqualifiedSearchRegistries: [], registries: [], aliases: new Map() };

export function parseRegistriesConf(text: string, source: string): RegistriesConf {
  let doc: Record<string, unknown>;
  try {
    doc = TOML.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw failedPrecondition(`${source}: invalid TOML: ${messageOf(err).split('\n')[0]}`);
  }
  const bad = (msg: string) => failedPrecondition(`${source}: ${msg}`);
  const strList = (v: unknown, key: string): string[] => {
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw bad(`${key} must be an array of strings`);
    return v as string[];
  };
  const bool = (v: unknown, key: string): boolean => {
    if (v === undefined) return false;
    if (typeof v !== 'boolean') throw bad(`${key} must be true or false`);
    return v;
  };
  const str = (v: unknown, key: string): string => {
    if (v === undefined) return '';
    if (typeof v !== 'string') throw bad(`${key} must be a string`);
    return v;
  };
  const registries: RegistryRule[] = [];
  const list = doc.registry ?? [];
  if (!Array.isArray(list)) throw bad('[[registry]] must be an array of tables');
  for (const [i, raw] of (list as Record<string, unknown>[]).entries()) {
    const where = `registry[${i}]`;
    const location = str(raw.location, `${where}.location`).replace(/\/+$/, '');
    const prefix = str(raw.prefix, `${where}.prefix`).replace(/\/+$/, '') || location;
    if (!prefix) throw bad(`${where} needs a prefix or a location`);
    if (prefix.startsWith('*.') && location) throw bad(`${where}: a wildcard prefix cannot have a location`);
    const mirrors: MirrorEndpoint[] = [];
    const rawMirrors = raw.mirror ?? [];
    if (!Array.isArray(rawMirrors)) throw bad(`${where}.mirror must be an array of tables`);
    for (const [j, m] of (rawMirrors as Record<string, unknown>[]).entries()) {
      const mloc = str(m.location, `${where}.mirror[${j}].location`).replace(/\/+$/, '');
      if (!mloc) throw bad(`${where}.mirror[${j}] needs a location`);
      const pfm = str(m['pull-from-mirror'], `${where}.mirror[${j}].pull-from-mirror`) || 'all';
      if (pfm !== 'all' && pfm !== 'digest-only' && pfm !== 'tag-only')
        throw bad(`${where}.mirror[${j}].pull-from-mirror must be all, digest-only or tag-only`);
      mirrors.push({ location: mloc, insecure: bool(m.insecure, `${where}.mirror[${j}].insecure`), pullFromMirror: pfm });
    }
    registries.push({
      prefix,
      location: location || (prefix.startsWith('*.') ? '' : prefix),
      insecure: bool(raw.insecure, `${where}.insecure`),
      blocked: bool(raw.blocked, `${where}.blocked`),
      mirrorByDigestOnly: bool(raw['mirror-by-digest-only'], `${where}.mirror-by-digest-only`),
      mirrors,
    });
  }
  const aliases = new Map<string, string>();
  const rawAliases = doc.aliases ?? {};
  if (typeof rawAliases !== 'object' || rawAliases === null || Array.isArray(rawAliases)) throw bad('[aliases] must be a table');
  for (const [k, v] of Object.entries(rawAliases as Record<string, unknown>)) aliases.set(k, str(v, `aliases.${k}`));
  return {
    unqualifiedSearchRegistries: strList(doc['unqualified-search-registries'], 'unqualified-search-registries'),
    registries,
    aliases,
  };
}

function prefixMatches(prefix: string, repo: string): boolean {
  if (prefix.startsWith('*.')) {
    const host = repo.split('/')[0]!;
    return host.endsWith(prefix.slice(1));
  }
  return repo === prefix || repo.startsWith(`${prefix}/`);
}

/** The rule with the longest matching prefix, as containers/image picks it. */
export function findRule(conf: RegistriesConf, repo: string): RegistryRule | undefined {
  let best: RegistryRule | undefined;
  for (const rule of conf.registries) {
    if (prefixMatches(rule.prefix, repo) && (!best || rule.prefix.length > best.prefix.length)) best = rule;
  }
  return best;
}

function splitLocation(location: string): { host: string; path: string } {
  const slash = location.indexOf('/');
  return slash < 0 ? { host: location, path: '' } : { host: location.slice(0, slash), path: location.slice(slash + 1) };
}

function rewrite(repo: string, prefix: string, location: string, insecure: boolean, mirror: boolean): PullSource {
  const full = prefix.startsWith('*.') ? repo : location + repo.slice(prefix.length);
  const { host, path } = splitLocation(full);
  return { host, path, insecure, mirror };
}

/**
 * The ordered endpoints to try for a repository (`domain/path`). Throws
 * FAILED_PRECONDITION for a blocked registry.
 */
export function pullSources(conf: RegistriesConf, repo: string, byDigest: boolean): PullSource[] {
  const rule = findRule(conf, repo);
  if (!rule) {
    const { host, path } = splitLocation(repo);
    return [{ host, path, insecure: false, mirror: false }];
  }
  if (rule.blocked) throw failedPrecondition(`registry for "${repo}" is blocked in registries.conf (prefix "${rule.prefix}")`);
  const sources: PullSource[] = [];
  if (!rule.mirrorByDigestOnly || byDigest) {
    for (const m of rule.mirrors) {
      if (m.pullFromMirror === 'digest-only' && !byDigest) continue;
      if (m.pullFromMirror === 'tag-only' && byDigest) continue;
      sources.push(rewrite(repo, rule.prefix, m.location, m.insecure, true));
    }
  }
  sources.push(rewrite(repo, rule.prefix, rule.location, rule.insecure, false));
  return sources;
}

/** Whether plain HTTP and unverified TLS are allowed for a host. */
export function isInsecureHost(conf: RegistriesConf, host: string): boolean {
  const rule = findRule(conf, host);
  if (rule?.insecure) return true;
  return conf.registries.some((r) => r.mirrors.some((m) => m.insecure && splitLocation(m.location).host === host));
}

/**
 * Reads registries.conf, re-parsing only when the file changed, so an
 * operator can add a mirror without restarting berth. A missing file means
 * no rules at all.
 */
export class RegistriesConfFile {
  private cached: { key: string; conf: RegistriesConf } | undefined;

  constructor(readonly path: string) {}

  async load(): Promise<RegistriesConf> {
    let key: string;
    try {
      const st = await stat(this.path);
      key = `${st.mtimeMs}:${st.size}:${st.ino}`;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return EMPTY_REGISTRIES_CONF;
      throw failedPrecondition(`cannot read ${this.path}: ${messageOf(err)}`);
    }
    if (this.cached?.key === key) return this.cached.conf;
    const conf = parseRegistriesConf(await readFile(this.path, 'utf8'), this.path);
    this.cached = { key, conf };
    return conf;
  }
}

/** Checks an alias target is a fully qualified repository. */
export function aliasTarget(conf: RegistriesConf, shortName: string): string | undefined {
  const target = conf.aliases.get(shortName);
  if (target === undefined) return undefined;
  const first = target.split('/')[0]!;
  if (!target.includes('/') || !(/[.:]/.test(first) || first === 'localhost')) {
    throw invalidArgument(`alias "${shortName}" in registries.conf must name a fully qualified repository, got "${target}"`);
  }
  return target;
}
