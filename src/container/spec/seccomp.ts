import path from 'node:path';
import { errnoCode, invalidArgument, isRuntimeError } from '../../errors.js';
import { readRegularFile } from '../../util/bounded-read.js';
import type { Seccomp } from '../../oci/spec-types.js';
import { defaultSeccompProfile } from '../../seccomp/default-profile.js';

export interface SecurityProfileLike {
  profileType: string;
  localhostRef: string;
}

/**
 * The seccomp filter of a container. A nil profile is Unconfined; an empty
 * one is RuntimeDefault (the enum's zero value); privileged containers
 * run without. The deprecated `seccomp_profile_path` strings still count.
 */
export async function selectSeccomp(opts: {
  profile: SecurityProfileLike | null;
  legacyPath: string;
  privileged: boolean;
  capabilities: readonly string[];
}): Promise<Seccomp | undefined> {
  if (opts.privileged) return undefined;
  let type: string;
  let ref = '';
  if (opts.profile) {
    type = opts.profile.profileType;
    ref = opts.profile.localhostRef;
  } else if (opts.legacyPath) {
    const p = opts.legacyPath;
    if (p === 'runtime/default' || p === 'docker/default') type = 'RuntimeDefault';
    else if (p === 'unconfined') type = 'Unconfined';
    else if (p.startsWith('localhost/')) {
      type = 'Localhost';
      ref = p.slice('localhost'.length);
    } else throw invalidArgument(`unknown seccomp profile path "${p}"`);
  } else return undefined;
  switch (type) {
    case 'Unconfined':
      return undefined;
    case 'RuntimeDefault':
      return defaultSeccompProfile(opts.capabilities);
    case 'Localhost':
      return loadLocalhostProfile(ref);
    default:
      throw invalidArgument(`unknown seccomp profile type "${type}"`);
  }
}

/** Docker's default profile is about 20 KiB; nothing real comes near this. */
export const MAX_SECCOMP_PROFILE_BYTES = 1 << 20;

async function loadLocalhostProfile(ref: string): Promise<Seccomp> {
  if (!path.isAbsolute(ref) || ref.includes('\0')) throw invalidArgument(`seccomp localhost profile must be an absolute path on the node, got "${ref}"`);
  let data: Buffer;
  try {
    data = await readRegularFile(ref, { maxBytes: MAX_SECCOMP_PROFILE_BYTES, what: 'seccomp profile' });
  } catch (err) {
    if (isRuntimeError(err)) throw err;
    throw invalidArgument(`cannot read seccomp profile ${ref}: ${errnoCode(err) ?? 'read error'}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(data.toString('utf8'));
  } catch {
    // The parser's message quotes the file: say only that it is not JSON.
    throw invalidArgument(`seccomp profile ${ref} is not valid JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalidArgument(`seccomp profile ${ref} is not a JSON object`);
  const profile = parsed as Seccomp & { archMap?: unknown };
  if (typeof profile.defaultAction !== 'string') throw invalidArgument(`seccomp profile ${ref} has no defaultAction`);
  // Docker-format profiles may carry archMap; the OCI runtime wants only architectures.
  const { archMap: _ignored, ...oci } = profile;
  return oci;
}
