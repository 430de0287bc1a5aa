/**
 * The claim a signature makes, in the "simple signing" JSON that both
 * GPG signatures (`atomic container signature`) and sigstore signatures
 * (`cosign container image signature`) carry: which manifest digest, under
 * which Docker reference. Parsed as strictly as containers/image parses it:
 * the critical section must hold exactly these three fields.
 */

export const GPG_PAYLOAD_TYPE = 'atomic container signature';
export const SIGSTORE_PAYLOAD_TYPE = 'cosign container image signature';

export interface SignedClaim {
  dockerReference: string;
  manifestDigest: string;
}

const DIGEST = /^(sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128})$/;

export function parseClaim(payload: Uint8Array, type: string): SignedClaim {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(payload).toString('utf8'));
  } catch {
    throw new Error('the signed payload is not JSON');
  }
  const critical = (raw as { critical?: unknown } | null)?.critical as Record<string, unknown> | undefined;
  if (!critical || typeof critical !== 'object') throw new Error('the signed payload has no "critical" section');
  const keys = Object.keys(critical).sort().join(',');
  if (keys !== 'identity,image,type') throw new Error(`the signed payload's critical section has fields ${keys}, not identity, image and type`);
  if (critical.type !== type) throw new Error(`the signed payload is of type ${JSON.stringify(critical.type)}, not "${type}"`);
  const identity = critical.identity as Record<string, unknown> | null;
  const image = critical.image as Record<string, unknown> | null;
  const dockerReference = identity?.['docker-reference'];
  const manifestDigest = image?.['docker-manifest-digest'];
  if (typeof dockerReference !== 'string' || dockerReference === '') throw new Error('the signed payload names no docker-reference');
  if (typeof manifestDigest !== 'string' || !DIGEST.test(manifestDigest)) throw new Error('the signed payload names no valid docker-manifest-digest');
  return { dockerReference, manifestDigest };
}
