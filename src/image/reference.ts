/**
 * Image references as Kubernetes users write them, parsed with the grammar
 * of the distribution project: `[domain[:port]/]path[:tag][@algo:hex]`.
 */

import { invalidArgument } from '../errors.js';

export interface ImageReference {
  /** Registry host (and port), e.g. `docker.io`, `127.0.0.1:5000`. */
  domain: string;
  /** Repository path inside the registry, e.g. `library/busybox`. */
  path: string;
  tag?: string;
  digest?: string;
}

export const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DOMAIN = 'index.docker.io';
export const DEFAULT_TAG = 'latest';

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^(sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128})$/;
const ID = /^[a-f0-9]{64}$/;

export function isDigest(s: string): boolean {
  return DIGEST.test(s);
}

/** A bare 64-hex image id, with or without `sha256:`. */
export function parseImageId(s: string): string | undefined {
  const hex = s.startsWith('sha256:') ? s.slice(7) : s;
  return ID.test(hex) ? `sha256:${hex}` : undefined;
}

/**
 * Parses a reference and fills in what Kubernetes users leave out: the
 * docker.io domain, the `library/` namespace and the `latest` tag.
 * `shortName` is true when the user gave no domain, so that registry
 * aliases and search registries may apply.
 */
export function parseReference(input: string): ImageReference & { shortName: boolean } {
  const text = input.trim();
  if (text === '') throw invalidArgument('image reference is empty');
  if (text.length > 4096) throw invalidArgument('image reference is too long');
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw invalidArgument(`invalid digest "${digest}" in image reference "${input}"`);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalidArgument(`invalid tag "${tag}" in image reference "${input}"`);
  }
  if (ID.test(rest) && tag === undefined && digest === undefined) {
    throw invalidArgument(`"${input}" is an image id, not a reference that can be pulled`);
  }
  const parts = rest.split('/');
  let domain = DEFAULT_DOMAIN;
  let shortName = true;
  const first = parts[0]!;
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase())) {
    domain = first;
    parts.shift();
    shortName = false;
    if (!DOMAIN.test(domain)) throw invalidArgument(`invalid registry host "${domain}" in image reference "${input}"`);
  }
  if (domain === LEGACY_DOMAIN) domain = DEFAULT_DOMAIN;
  for (const c of parts) {
    if (!COMPONENT.test(c)) {
      throw invalidArgument(`invalid repository name component "${c}" in image reference "${input}" (lowercase letters, digits and separators only)`);
    }
  }
  if (domain === DEFAULT_DOMAIN && parts.length === 1) parts.unshift('library');
  const path = parts.join('/');
  if (domain.length + 1 + path.length > 255) throw invalidArgument(`repository name in "${input}" is longer than 255 characters`);
  if (tag === undefined && digest === undefined) tag = DEFAULT_TAG;
  return { domain, path, tag, digest, shortName };
}

/** `domain/path`, the repository a reference names. */
export function repositoryName(ref: ImageReference): string {
  return `${ref.domain}/${ref.path}`;
}

/** The normalised tagged name, as reported in RepoTags. */
export function taggedName(ref: ImageReference): string | undefined {
  return ref.tag === undefined ? undefined : `${repositoryName(ref)}:${ref.tag}`;
}

export function digestedName(ref: ImageReference, digest: string): string {
  return `${repositoryName(ref)}@${digest}`;
}

/** The canonical string form: tag and digest when both are given. */
export function formatReference(ref: ImageReference): string {
  return `${repositoryName(ref)}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}
