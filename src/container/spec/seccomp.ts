import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { invalidArgument, messageOf } from '../../errors.js';
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

async function loadLocalhostProfile(ref: string): Promise<Seccomp> {
  if (!path.isAbsolute(ref)) throw invalidArgument(`seccomp localhost profile must be an absolute path on the node, got "${ref}"`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(ref, 'utf8'));
  } catch (err) {
    throw invalidArgument(`cannot load seccomp profile ${ref}: ${messageOf(err)}`);
  }
  const profile = parsed as Seccomp & { archMap?: unknown };
  if (typeof profile.defaultAction !== 'string') throw invalidArgument(`seccomp profile ${ref} has no defaultAction`);
  // Docker-format profiles may carry archMap; the OCI runtime wants only architectures.
  const { archMap: _ignored, ...oci } = profile;
  return oci;
}
