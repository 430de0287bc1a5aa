/**
 * Sigstore signatures with public keys (policy `sigstoreSigned`), stored as
 * cosign stores them: an OCI manifest tagged `sha256-<hex>.sig` in the
 * image's repository, each layer of type
 * `application/vnd.dev.cosign.simplesigning.v1+json` holding the JSON claim,
 * and the signature of that blob, base64, in the layer's
 * `dev.cosignproject.cosign/signature` annotation. Verification is Node's
 * own crypto (ECDSA, RSA or Ed25519 public keys in PEM).
 */

import { type KeyObject, createPublicKey, verify } from 'node:crypto';
import { errorKind } from '../errors.js';
import type { RepositoryClient } from '../registry/client.js';
import { MAX_SIGNATURE_BYTES } from './lookaside.js';
import { SIGSTORE_PAYLOAD_TYPE, type SignedClaim, parseClaim } from './payload.js';

export const SIGSTORE_LAYER = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const SIGSTORE_SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
const MAX_SIGNATURE_LAYERS = 64;

/** The attachment's tag for a manifest digest (`sha256:abc` → `sha256-abc.sig`). */
export function attachmentTag(manifestDigest: string): string {
  return `${manifestDigest.replace(':', '-')}.sig`;
}

export function readSigstoreKeys(material: Buffer[]): KeyObject[] {
  return material.map((m) => {
    try {
      return createPublicKey(m);
    } catch {
      throw new Error('not a PEM public key');
    }
  });
}

export interface SigstoreSignature {
  payload: Buffer;
  signature: Buffer;
}

/** The sigstore signatures attached to `manifestDigest` (none when the tag does not exist). */
export async function fetchSigstoreSignatures(client: RepositoryClient, manifestDigest: string, signal: AbortSignal): Promise<SigstoreSignature[]> {
  let manifest: { layers?: { mediaType?: string; digest?: string; size?: number; annotations?: Record<string, string> }[] };
  try {
    const fetched = await client.getManifest(attachmentTag(manifestDigest), 'application/vnd.oci.image.manifest.v1+json', signal);
    manifest = JSON.parse(fetched.body.toString('utf8')) as typeof manifest;
  } catch (err) {
    if (errorKind(err) === 'not-found') return [];
    throw err;
  }
  const out: SigstoreSignature[] = [];
  for (const layer of (manifest.layers ?? []).slice(0, MAX_SIGNATURE_LAYERS)) {
    if (layer.mediaType !== SIGSTORE_LAYER || typeof layer.digest !== 'string') continue;
    const encoded = layer.annotations?.[SIGSTORE_SIGNATURE_ANNOTATION];
    if (typeof encoded !== 'string') continue;
    const payload = await client.getBlobBuffer(layer.digest, Math.min(layer.size ?? MAX_SIGNATURE_BYTES, MAX_SIGNATURE_BYTES), signal);
    out.push({ payload, signature: Buffer.from(encoded, 'base64') });
  }
  return out;
}

/** Verifies one attached signature with `keys`; returns its claim, or throws saying why it does not count. */
export function verifySigstoreSignature(sig: SigstoreSignature, keys: KeyObject[]): SignedClaim {
  const ok = keys.some((key) => {
    try {
      return verify(key.asymmetricKeyType === 'ed25519' ? null : 'sha256', sig.payload, key, sig.signature);
    } catch {
      return false;
    }
  });
  if (!ok) throw new Error('not signed by a trusted key');
  return parseClaim(sig.payload, SIGSTORE_PAYLOAD_TYPE);
}
