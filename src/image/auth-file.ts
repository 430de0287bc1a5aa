/**
 * The node-wide pull secret: a containers-auth.json(5) file (what `podman
 * login` and `skopeo login` write), read for registries the kubelet sends
 * no credentials for, as CRI-O's `global_auth_file`. `auths` is keyed by
 * registry (`quay.io`), or registry and path (`quay.io/team`,
 * `quay.io/team/app`); the most specific key that matches the repository
 * wins. Docker's legacy keys (`https://index.docker.io/v1/`) are read as
 * their host. The file is re-read when it changes; credentials are never
 * logged. Credential helpers (`credHelpers`) are not run: berth has no
 * programs to trust for them, and says so once.
 */

import { readFile, stat } from 'node:fs/promises';
import { errnoCode, failedPrecondition, invalidArgument, messageOf } from '../errors.js';
import type { Logger } from '../log.js';
import type { Credentials } from '../registry/auth.js';

const MAX_AUTH_FILE = 1 << 20;

interface AuthEntry {
  auth?: string;
  identitytoken?: string;
}

/** A key of `auths` as containers/image normalises it: no scheme, no `/v1/`-style suffix for a bare host. */
export function normaliseAuthKey(key: string): string {
  let k = key.trim();
  const scheme = /^https?:\/\//i.exec(k);
  if (scheme) {
    // Legacy Docker keys name a URL; only its host counts.
    k = k.slice(scheme[0].length).split('/')[0]!;
  }
  k = k.replace(/\/+$/, '');
  return k === 'index.docker.io' || k === 'registry-1.docker.io' ? 'docker.io' : k;
}

/** Keys to try for `domain/path`, most specific first: `a.io/x/y`, `a.io/x`, `a.io`. */
export function authKeysFor(repository: string): string[] {
  const parts = repository.split('/');
  const keys: string[] = [];
  for (let n = parts.length; n >= 1; n--) keys.push(parts.slice(0, n).join('/'));
  return keys;
}

/** The credentials of one `auths` entry. */
export function entryCredentials(entry: AuthEntry): Credentials | undefined {
  if (entry.identitytoken) return { kind: 'identity-token', token: entry.identitytoken };
  if (!entry.auth) return undefined;
  const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { kind: 'basic', username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Parses the file's text into normalised keys; throws with a message that never quotes a secret. */
export function parseAuthFile(text: string): Map<string, Credentials> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw invalidArgument('not valid JSON');
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw invalidArgument('not a JSON object');
  const auths = (raw as { auths?: unknown }).auths ?? {};
  if (!auths || typeof auths !== 'object' || Array.isArray(auths)) throw invalidArgument('"auths" is not an object');
  const out = new Map<string, Credentials>();
  for (const [key, value] of Object.entries(auths as Record<string, unknown>)) {
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw invalidArgument(`the entry for "${key}" is not an object`);
    const entry: AuthEntry = {};
    for (const field of ['auth', 'identitytoken'] as const) {
      const v = (value as Record<string, unknown>)[field];
      if (v === undefined || v === null) continue;
      if (typeof v !== 'string') throw invalidArgument(`the entry for "${key}": "${field}" is not a string`);
      entry[field] = v;
    }
    const creds = entryCredentials(entry);
    if (creds) out.set(normaliseAuthKey(key), creds);
  }
  return out;
}

export class AuthFile {
  private stamp = '';
  private entries = new Map<string, Credentials>();
  private lastProblem = '';

  constructor(
    private readonly file: string,
    private readonly log: Logger,
  ) {}

  /**
   * The credentials for `repository` (`registry/path`), or undefined. A
   * missing file means none; an unreadable or invalid one fails the pull
   * with FAILED_PRECONDITION naming the file, as CRI-O does.
   */
  async credentialsFor(repository: string): Promise<Credentials | undefined> {
    if (!this.file) return undefined;
    await this.refresh();
    for (const key of authKeysFor(repository)) {
      const creds = this.entries.get(key);
      if (creds) return creds;
    }
    return undefined;
  }

  private async refresh(): Promise<void> {
    let stamp: string;
    let size: number;
    let regular: boolean;
    try {
      // The operator names the file: a symbolic link (a mounted secret) is followed.
      const st = await stat(this.file);
      stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
      size = st.size;
      regular = st.isFile();
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw failedPrecondition(`global auth file ${this.file}: ${messageOf(err)}`);
      this.stamp = '';
      this.entries = new Map();
      return;
    }
    if (stamp === this.stamp) return;
    try {
      if (!regular) throw new Error('not a regular file');
      if (size > MAX_AUTH_FILE) throw new Error(`larger than ${MAX_AUTH_FILE} bytes`);
      const text = await readFile(this.file, 'utf8');
      this.entries = parseAuthFile(text);
      this.stamp = stamp;
      this.lastProblem = '';
      if (text.includes('"credHelpers"') || text.includes('"credsStore"')) {
        this.log.warn({ file: this.file }, 'the global auth file names credential helpers; berth does not run them');
      }
      this.log.info({ file: this.file, registries: this.entries.size }, 'global auth file loaded');
    } catch (err) {
      const problem = `global auth file ${this.file}: ${messageOf(err)}`;
      if (problem !== this.lastProblem) this.log.warn({ file: this.file }, problem);
      this.lastProblem = problem;
      throw failedPrecondition(problem);
    }
  }
}
