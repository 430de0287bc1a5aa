/**
 * containers-registries.d(5): where a registry's signatures live. Every
 * `*.yaml` file of the directory is read and merged (a namespace defined
 * twice is an error, as in containers/image); for an image, the entry of
 * its most specific scope (image, repository, namespaces, host) that sets
 * the field wins, then `default-docker`. `lookaside` (formerly `sigstore`)
 * is the base URL of GPG signatures; `use-sigstore-attachments` says
 * whether sigstore signatures are looked for beside the image. With no
 * lookaside configured, root's default is `file:///var/lib/containers/sigstore`.
 */

import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { errnoCode } from '../errors.js';
import type { ImageReference } from '../image/reference.js';
import { dockerScopes } from './policy.js';

export interface NamespaceConfig {
  lookaside?: string;
  useSigstoreAttachments?: boolean;
}

export interface RegistriesD {
  defaultDocker?: NamespaceConfig;
  docker: Map<string, NamespaceConfig>;
}

export const DEFAULT_LOOKASIDE = 'file:///var/lib/containers/sigstore';
const MAX_FILE = 1 << 20;

function namespaceConfig(raw: unknown, where: string): NamespaceConfig {
  if (raw === null || raw === undefined) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${where}: must be a mapping`);
  const r = raw as Record<string, unknown>;
  const out: NamespaceConfig = {};
  const lookaside = r.lookaside ?? r.sigstore;
  if (lookaside !== undefined) {
    if (typeof lookaside !== 'string') throw new Error(`${where}: "lookaside" must be a URL`);
    out.lookaside = lookaside;
  }
  if (r['use-sigstore-attachments'] !== undefined) {
    if (typeof r['use-sigstore-attachments'] !== 'boolean') throw new Error(`${where}: "use-sigstore-attachments" must be true or false`);
    out.useSigstoreAttachments = r['use-sigstore-attachments'];
  }
  return out;
}

/** Parses one file into `into`; `file` names it in messages. */
export function mergeRegistriesDFile(into: RegistriesD, text: string, file: string): void {
  let raw: unknown;
  try {
    raw = parseYaml(text, { maxAliasCount: 16 });
  } catch (err) {
    throw new Error(`${file}: not valid YAML: ${(err as Error).message}`);
  }
  if (raw === null || raw === undefined) return;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${file}: not a mapping`);
  const doc = raw as Record<string, unknown>;
  if (doc['default-docker'] !== undefined) {
    if (into.defaultDocker) throw new Error(`${file}: "default-docker" is defined in more than one file`);
    into.defaultDocker = namespaceConfig(doc['default-docker'], `${file}: default-docker`);
  }
  const docker = doc.docker;
  if (docker === undefined || docker === null) return;
  if (typeof docker !== 'object' || Array.isArray(docker)) throw new Error(`${file}: "docker" must be a mapping`);
  for (const [ns, cfg] of Object.entries(docker as Record<string, unknown>)) {
    if (into.docker.has(ns)) throw new Error(`${file}: docker namespace "${ns}" is defined in more than one place`);
    into.docker.set(ns, namespaceConfig(cfg, `${file}: docker["${ns}"]`));
  }
}

export async function loadRegistriesD(dir: string): Promise<RegistriesD> {
  const config: RegistriesD = { docker: new Map() };
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.yaml')).sort();
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return config;
    throw err;
  }
  for (const name of names) {
    const file = path.join(dir, name);
    const text = await readFile(file);
    if (text.length > MAX_FILE) throw new Error(`${file}: larger than ${MAX_FILE} bytes`);
    mergeRegistriesDFile(config, text.toString('utf8'), file);
  }
  return config;
}

function lookup<K extends keyof NamespaceConfig>(config: RegistriesD, ref: ImageReference, field: K): NamespaceConfig[K] | undefined {
  for (const scope of dockerScopes(ref)) {
    const value = config.docker.get(scope)?.[field];
    if (value !== undefined) return value;
  }
  return config.defaultDocker?.[field];
}

/** The lookaside base URL for `ref`'s signatures (`<base>/<path>`), as a URL. */
export function lookasideBase(config: RegistriesD, ref: ImageReference): URL {
  const base = new URL(lookup(config, ref, 'lookaside') ?? DEFAULT_LOOKASIDE);
  base.pathname = `${base.pathname.replace(/\/+$/, '')}/${ref.path}`;
  return base;
}

export function usesSigstoreAttachments(config: RegistriesD, ref: ImageReference): boolean {
  return lookup(config, ref, 'useSigstoreAttachments') ?? false;
}
