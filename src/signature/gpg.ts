/**
 * "Simple signing" with GPG keys (policy `signedBy`, keyType GPGKeys): a
 * signature is an OpenPGP signed message (as `gpg --sign` or `skopeo copy
 * --sign-by` writes it) whose literal data is the JSON claim. It counts
 * only if made by one of the requirement's keys. OpenPGP itself is
 * OpenPGP.js's, a maintained implementation; what is signed and what it
 * must say is checked here.
 */

import type * as OpenPgp from 'openpgp';
import { GPG_PAYLOAD_TYPE, type SignedClaim, parseClaim } from './payload.js';

export type GpgKeys = OpenPgp.Key[];

/**
 * OpenPGP.js is loaded on first use (a chunk of its own in the bundle):
 * evaluating it builds cipher tables, a twentieth of the daemon's
 * start-up, for nodes whose policy names no GPG key.
 */
const loadOpenPgp = () => import('openpgp');

/** Reads keyrings: ASCII-armored or binary, several keys each. */
export async function readGpgKeys(material: Buffer[]): Promise<GpgKeys> {
  const openpgp = await loadOpenPgp();
  const keys: GpgKeys = [];
  for (const m of material) {
    const text = m.toString('latin1');
    const read = text.includes('-----BEGIN PGP PUBLIC KEY BLOCK-----')
      ? await openpgp.readKeys({ armoredKeys: m.toString('utf8') })
      : await openpgp.readKeys({ binaryKeys: new Uint8Array(m) });
    keys.push(...read);
  }
  if (keys.length === 0) throw new Error('no OpenPGP public key found');
  return keys;
}

/** Verifies one signature with `keys`; returns its claim, or throws saying why it does not count. */
export async function verifyGpgSignature(signature: Uint8Array, keys: GpgKeys): Promise<SignedClaim> {
  const openpgp = await loadOpenPgp();
  let message: OpenPgp.Message<Uint8Array>;
  try {
    message = await openpgp.readMessage({ binaryMessage: signature });
  } catch {
    throw new Error('not an OpenPGP message');
  }
  let data: Uint8Array;
  try {
    const verified = await openpgp.verify({ message, verificationKeys: keys, expectSigned: true, format: 'binary' });
    data = verified.data;
  } catch (err) {
    throw new Error(`not signed by a trusted key (${(err as Error).message})`);
  }
  return parseClaim(data, GPG_PAYLOAD_TYPE);
}
