/**
 * The signature policy at pull time: after the top-level manifest is
 * fetched (by tag or by digest) and before anything else, the policy's
 * requirements for the image are checked; a refusal fails PullImage with
 * FAILED_PRECONDITION naming the policy file, the scope and the
 * requirement, and the pull writes nothing. The policy file is re-read when
 * it changes; a missing one refuses every pull, as for CRI-O (Debian's
 * golang-github-containers-common ships one that accepts anything).
 */

import { readFile, stat } from 'node:fs/promises';
import { errnoCode, failedPrecondition, messageOf } from '../errors.js';
import type { ImageReference } from '../image/reference.js';
import { formatReference } from '../image/reference.js';
import type { Logger } from '../log.js';
import type { RepositoryClient } from '../registry/client.js';
import { readGpgKeys, verifyGpgSignature } from './gpg.js';
import { identityMatches } from './identity.js';
import { keyMaterial } from './keys.js';
import { readLookasideSignatures } from './lookaside.js';
import type { SignedClaim } from './payload.js';
import { type Policy, type Requirement, type SignedIdentity, parsePolicy, requirementsFor } from './policy.js';
import { type RegistriesD, loadRegistriesD, lookasideBase, usesSigstoreAttachments } from './registries-d.js';
import { fetchSigstoreSignatures, readSigstoreKeys, verifySigstoreSignature } from './sigstore.js';

const MAX_POLICY_BYTES = 1 << 20;

export interface PullToCheck {
  ref: ImageReference;
  /** Digest of the top-level manifest as fetched: what signatures sign. */
  manifestDigest: string;
  /** The registry client the manifest came from (sigstore attachments live beside it). */
  client: RepositoryClient;
  signal: AbortSignal;
}

export class SignaturePolicy {
  private stamp = '';
  private policy: Policy | undefined;

  constructor(
    private readonly policyFile: string,
    private readonly registriesDir: string,
    private readonly log: Logger,
  ) {}

  /** Throws FAILED_PRECONDITION when the policy refuses the image. */
  async check(pull: PullToCheck): Promise<void> {
    const policy = await this.load();
    const { scope, requirements } = requirementsFor(policy, pull.ref);
    const name = formatReference(pull.ref);
    let registriesD: RegistriesD | undefined;
    for (const [i, requirement] of requirements.entries()) {
      const where = `${this.policyFile} ${scope}, requirement ${i + 1} (${requirement.type})`;
      try {
        if (requirement.type === 'signedBy' || requirement.type === 'sigstoreSigned') registriesD ??= await loadRegistriesD(this.registriesDir);
        await this.meets(requirement, pull, registriesD);
      } catch (err) {
        throw failedPrecondition(`${name} is refused by the signature policy (${where}): ${messageOf(err)}`);
      }
    }
    if (requirements.some((r) => r.type !== 'insecureAcceptAnything')) this.log.info({ image: name, scope }, 'signature policy accepted the image');
  }

  private async meets(requirement: Requirement, pull: PullToCheck, registriesD: RegistriesD | undefined): Promise<void> {
    switch (requirement.type) {
      case 'insecureAcceptAnything':
        return;
      case 'reject':
        throw new Error('the policy rejects every image in this scope');
      case 'signedBy': {
        const keys = await readGpgKeys(await keyMaterial(requirement.keys));
        const base = lookasideBase(registriesD!, pull.ref);
        const signatures = await readLookasideSignatures(base, pull.manifestDigest, pull.signal);
        if (signatures.length === 0) throw new Error(`a signature was required, but none exists (looked in ${base.href})`);
        const reasons: string[] = [];
        for (const sig of signatures) {
          const claim = await verifyGpgSignature(sig, keys).catch((err: unknown) => reasons.push(messageOf(err)));
          if (typeof claim === 'object' && this.accepts(claim, requirement, pull, reasons)) return;
        }
        throw new Error(`no signature is acceptable: ${reasons.join('; ')}`);
      }
      case 'sigstoreSigned': {
        const keys = readSigstoreKeys(await keyMaterial(requirement.keys));
        if (!usesSigstoreAttachments(registriesD!, pull.ref)) {
          throw new Error('a sigstore signature was required, but registries.d does not enable use-sigstore-attachments for this registry');
        }
        const signatures = await fetchSigstoreSignatures(pull.client, pull.manifestDigest, pull.signal);
        if (signatures.length === 0) throw new Error('a sigstore signature was required, but none is attached');
        const reasons: string[] = [];
        for (const sig of signatures) {
          let claim: SignedClaim;
          try {
            claim = verifySigstoreSignature(sig, keys);
          } catch (err) {
            reasons.push(messageOf(err));
            continue;
          }
          if (this.accepts(claim, requirement, pull, reasons)) return;
        }
        throw new Error(`no signature is acceptable: ${reasons.join('; ')}`);
      }
    }
  }

  /** A verified claim counts when it signs this manifest under an identity the requirement accepts. */
  private accepts(claim: SignedClaim, requirement: { signedIdentity: SignedIdentity }, pull: PullToCheck, reasons: string[]): boolean {
    if (claim.manifestDigest !== pull.manifestDigest) {
      reasons.push(`signature is for manifest ${claim.manifestDigest}, not ${pull.manifestDigest}`);
      return false;
    }
    if (!identityMatches(requirement.signedIdentity, pull.ref, claim.dockerReference)) {
      reasons.push(`signature identity ${claim.dockerReference} does not match ${formatReference(pull.ref)} (${requirement.signedIdentity.type})`);
      return false;
    }
    return true;
  }

  /** The policy, re-read when the file changed. */
  private async load(): Promise<Policy> {
    let stamp: string;
    try {
      const st = await stat(this.policyFile);
      if (!st.isFile()) throw failedPrecondition(`signature policy ${this.policyFile} is not a regular file`);
      if (st.size > MAX_POLICY_BYTES) throw failedPrecondition(`signature policy ${this.policyFile} is larger than ${MAX_POLICY_BYTES} bytes`);
      stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT')
        throw failedPrecondition(
          `signature policy ${this.policyFile} does not exist: every pull is refused (install one, e.g. Debian's golang-github-containers-common)`,
        );
      throw err;
    }
    if (stamp === this.stamp && this.policy) return this.policy;
    try {
      this.policy = parsePolicy(await readFile(this.policyFile, 'utf8'));
      this.stamp = stamp;
      this.log.info({ file: this.policyFile }, 'signature policy loaded');
      return this.policy;
    } catch (err) {
      throw failedPrecondition(`signature policy ${this.policyFile} is invalid: ${messageOf(err)}`);
    }
  }
}
