/**
 * Whether the identity a signature claims (`critical.identity.docker-reference`)
 * is acceptable for the image being pulled, by the `signedIdentity` rule of
 * the policy requirement, as containers/image decides it. References on both
 * sides are normalised (`busybox` is `docker.io/library/busybox`); a
 * reference without a tag or digest matches nothing but a repository rule.
 */

import { type ImageReference, parseReference, repositoryName } from '../image/reference.js';
import type { SignedIdentity } from './policy.js';

interface Parsed {
  name: string;
  /** `name:tag` or `name@digest`; undefined for a name alone. */
  full?: string;
  byDigest: boolean;
}

function parse(text: string): Parsed | undefined {
  const trimmed = text.trim();
  const hasTagOrDigest = trimmed.includes('@') || trimmed.slice(trimmed.lastIndexOf('/') + 1).includes(':');
  let ref: ImageReference;
  try {
    ref = parseReference(trimmed);
  } catch {
    return undefined;
  }
  return fromReference(ref, hasTagOrDigest);
}

function fromReference(ref: ImageReference, hasTagOrDigest = true): Parsed {
  const name = repositoryName(ref);
  if (!hasTagOrDigest) return { name, byDigest: false };
  // A digest names the content whatever tag comes with it.
  if (ref.digest) return { name, full: `${name}@${ref.digest}`, byDigest: true };
  return { name, full: `${name}:${ref.tag}`, byDigest: false };
}

function repoDigestOrExact(intended: Parsed, signed: Parsed): boolean {
  if (!signed.full || !intended.full) return false;
  return intended.byDigest ? signed.name === intended.name : signed.full === intended.full;
}

/** `ref` with `prefix` (a host, or host and namespace) replaced by `signedPrefix`, when it starts with it. */
function remap(intended: Parsed, prefix: string, signedPrefix: string): Parsed | undefined {
  const { name } = intended;
  const matches = name === prefix || (name.startsWith(prefix) && name[prefix.length] === '/');
  if (!matches) return intended;
  return parse(`${signedPrefix}${intended.full!.slice(prefix.length)}`);
}

export function identityMatches(rule: SignedIdentity, image: ImageReference, signedReference: string): boolean {
  const intended = fromReference(image);
  const signed = parse(signedReference);
  if (!signed) return false;
  switch (rule.type) {
    case 'matchExact':
      return signed.full !== undefined && signed.full === intended.full;
    case 'matchRepoDigestOrExact':
      return repoDigestOrExact(intended, signed);
    case 'matchRepository':
      return signed.name === intended.name;
    case 'exactReference': {
      const wanted = parse(rule.dockerReference);
      return wanted?.full !== undefined && signed.full === wanted.full;
    }
    case 'exactRepository':
      return signed.name === parse(rule.dockerRepository)?.name;
    case 'remapIdentity': {
      const remapped = remap(intended, rule.prefix, rule.signedPrefix);
      return remapped !== undefined && repoDigestOrExact(remapped, signed);
    }
  }
}
