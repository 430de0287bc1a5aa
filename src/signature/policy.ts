/**
 * containers-policy.json(5), as containers/image reads it for the `docker`
 * transport: `default` requirements, and per-scope requirements under
 * `transports.docker`, where the most specific scope that contains the
 * image wins: the image itself (`host/repo:tag` or `host/repo@digest`),
 * its repository, each parent namespace, the host, `*.domain` wildcards,
 * then the transport's `""` scope, then `default`. Every requirement of
 * the chosen list must be met. Parsing rejects what containers/image
 * rejects (unknown types and fields, a missing or ambiguous key), so a
 * policy berth accepts means what it means for CRI-O and podman.
 */

import { RuntimeError } from '../errors.js';
import type { ImageReference } from '../image/reference.js';
import { repositoryName } from '../image/reference.js';

export type SignedIdentity =
  | { type: 'matchExact' }
  | { type: 'matchRepoDigestOrExact' }
  | { type: 'matchRepository' }
  | { type: 'exactReference'; dockerReference: string }
  | { type: 'exactRepository'; dockerRepository: string }
  | { type: 'remapIdentity'; prefix: string; signedPrefix: string };

/** Where a requirement's public keys come from: one file, several files, or inline (base64). */
export type KeySource = { keyPath: string } | { keyPaths: string[] } | { keyData: string };

export type Requirement =
  | { type: 'insecureAcceptAnything' }
  | { type: 'reject' }
  | { type: 'signedBy'; keyType: 'GPGKeys'; keys: KeySource; signedIdentity: SignedIdentity }
  | { type: 'sigstoreSigned'; keys: KeySource; signedIdentity: SignedIdentity };

export interface Policy {
  default: Requirement[];
  /** `transports.docker`, by scope. */
  docker: Map<string, Requirement[]>;
}

/** A policy file that does not say what containers/image would accept: an invalid argument of the operator's. */
export class PolicyError extends RuntimeError {
  constructor(message: string) {
    super('invalid-argument', message);
  }
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function onlyFields(obj: Json, allowed: string[], where: string): void {
  for (const k of Object.keys(obj)) if (!allowed.includes(k)) throw new PolicyError(`${where}: unknown field "${k}"`);
}

function stringField(obj: Json, key: string, where: string): string {
  const v = obj[key];
  if (typeof v !== 'string' || v === '') throw new PolicyError(`${where}: "${key}" must be a non-empty string`);
  return v;
}

function parseIdentity(raw: unknown, where: string): SignedIdentity {
  if (raw === undefined) return { type: 'matchRepoDigestOrExact' };
  if (!isObject(raw)) throw new PolicyError(`${where}: "signedIdentity" must be an object`);
  const w = `${where}.signedIdentity`;
  switch (raw.type) {
    case 'matchExact':
    case 'matchRepoDigestOrExact':
    case 'matchRepository':
      onlyFields(raw, ['type'], w);
      return { type: raw.type };
    case 'exactReference':
      onlyFields(raw, ['type', 'dockerReference'], w);
      return { type: 'exactReference', dockerReference: stringField(raw, 'dockerReference', w) };
    case 'exactRepository':
      onlyFields(raw, ['type', 'dockerRepository'], w);
      return { type: 'exactRepository', dockerRepository: stringField(raw, 'dockerRepository', w) };
    case 'remapIdentity':
      onlyFields(raw, ['type', 'prefix', 'signedPrefix'], w);
      return { type: 'remapIdentity', prefix: stringField(raw, 'prefix', w), signedPrefix: stringField(raw, 'signedPrefix', w) };
    default:
      throw new PolicyError(`${w}: unknown type ${JSON.stringify(raw.type)}`);
  }
}

function parseKeys(raw: Json, where: string): KeySource {
  const given = ['keyPath', 'keyPaths', 'keyData'].filter((k) => raw[k] !== undefined);
  if (given.length !== 1) throw new PolicyError(`${where}: exactly one of keyPath, keyPaths and keyData is needed`);
  if (raw.keyPath !== undefined) return { keyPath: stringField(raw, 'keyPath', where) };
  if (raw.keyData !== undefined) return { keyData: stringField(raw, 'keyData', where) };
  const paths = raw.keyPaths;
  if (!Array.isArray(paths) || paths.length === 0 || !paths.every((p) => typeof p === 'string' && p !== '')) {
    throw new PolicyError(`${where}: "keyPaths" must be a non-empty list of paths`);
  }
  return { keyPaths: paths as string[] };
}

function parseRequirement(raw: unknown, where: string): Requirement {
  if (!isObject(raw)) throw new PolicyError(`${where}: a requirement must be an object`);
  switch (raw.type) {
    case 'insecureAcceptAnything':
    case 'reject':
      onlyFields(raw, ['type'], where);
      return { type: raw.type };
    case 'signedBy': {
      onlyFields(raw, ['type', 'keyType', 'keyPath', 'keyPaths', 'keyData', 'signedIdentity'], where);
      if (raw.keyType !== 'GPGKeys') {
        throw new PolicyError(`${where}: keyType ${JSON.stringify(raw.keyType)} is not supported (containers/image supports only "GPGKeys")`);
      }
      return { type: 'signedBy', keyType: 'GPGKeys', keys: parseKeys(raw, where), signedIdentity: parseIdentity(raw.signedIdentity, where) };
    }
    case 'sigstoreSigned': {
      onlyFields(
        raw,
        ['type', 'keyPath', 'keyPaths', 'keyData', 'fulcio', 'rekorPublicKeyPath', 'rekorPublicKeyPaths', 'rekorPublicKeyData', 'pki', 'signedIdentity'],
        where,
      );
      for (const k of ['fulcio', 'pki', 'rekorPublicKeyPath', 'rekorPublicKeyPaths', 'rekorPublicKeyData']) {
        if (raw[k] !== undefined) {
          throw new PolicyError(
            `${where}: "${k}" is not supported by berth (keyless signing needs Fulcio and Rekor, which a node is not assumed to reach); use a public key`,
          );
        }
      }
      return { type: 'sigstoreSigned', keys: parseKeys(raw, where), signedIdentity: parseIdentity(raw.signedIdentity, where) };
    }
    case 'signedBaseLayer':
      throw new PolicyError(`${where}: "signedBaseLayer" is not supported by berth`);
    default:
      throw new PolicyError(`${where}: unknown requirement type ${JSON.stringify(raw.type)}`);
  }
}

function parseList(raw: unknown, where: string): Requirement[] {
  if (!Array.isArray(raw) || raw.length === 0) throw new PolicyError(`${where}: must be a non-empty list of requirements`);
  return raw.map((r, i) => parseRequirement(r, `${where}[${i}]`));
}

/** A scope of `transports.docker`: a host, a repository or namespace, an image with tag or digest, or `*.domain`. */
function checkDockerScope(scope: string, where: string): void {
  if (scope === '') return;
  if (scope.startsWith('*.')) {
    if (!/^\*\.[A-Za-z0-9.-]+$/.test(scope)) throw new PolicyError(`${where}: invalid wildcard scope "${scope}"`);
    return;
  }
  if (/\s/.test(scope) || scope.endsWith('/') || scope.startsWith('/')) throw new PolicyError(`${where}: invalid scope "${scope}"`);
}

export function parsePolicy(text: string): Policy {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new PolicyError(`not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(raw)) throw new PolicyError('not a JSON object');
  onlyFields(raw, ['default', 'transports'], 'policy');
  const policy: Policy = { default: parseList(raw.default, 'default'), docker: new Map() };
  if (raw.transports === undefined) return policy;
  if (!isObject(raw.transports)) throw new PolicyError('"transports" must be an object');
  for (const [transport, scopes] of Object.entries(raw.transports)) {
    if (!isObject(scopes)) throw new PolicyError(`transports.${transport} must be an object`);
    // Only registries matter to a CRI runtime; other transports are checked for form only.
    for (const [scope, list] of Object.entries(scopes)) {
      const where = `transports.${transport}[${JSON.stringify(scope)}]`;
      const requirements = parseList(list, where);
      if (transport !== 'docker') continue;
      checkDockerScope(scope, where);
      policy.docker.set(scope, requirements);
    }
  }
  return policy;
}

/** The scopes that contain `ref`, most specific first (containers/image's order). */
export function dockerScopes(ref: ImageReference): string[] {
  const name = repositoryName(ref);
  const scopes = [ref.digest ? `${name}@${ref.digest}` : `${name}:${ref.tag ?? 'latest'}`];
  let ns = name;
  for (;;) {
    scopes.push(ns);
    const slash = ns.lastIndexOf('/');
    if (slash < 0) break;
    ns = ns.slice(0, slash);
  }
  let host = ns.split(':')[0]!;
  for (let dot = host.indexOf('.'); dot >= 0; dot = host.indexOf('.')) {
    host = host.slice(dot + 1);
    scopes.push(`*.${host}`);
  }
  return scopes;
}

/** The requirements for pulling `ref`, and the scope they came from (for messages). */
export function requirementsFor(policy: Policy, ref: ImageReference): { scope: string; requirements: Requirement[] } {
  for (const scope of dockerScopes(ref)) {
    const requirements = policy.docker.get(scope);
    if (requirements) return { scope: `transports.docker["${scope}"]`, requirements };
  }
  const transportDefault = policy.docker.get('');
  if (transportDefault) return { scope: 'transports.docker[""]', requirements: transportDefault };
  return { scope: 'default', requirements: policy.default };
}
