/**
 * Registry authentication: parsing of WWW-Authenticate challenges and the
 * credentials a CRI AuthConfig can carry.
 */
export type Credentials =
  | { kind: 'basic'; username: string; password: string }
  | { kind: 'identity-token'; token: string }
  | { kind: 'registry-token'; token: string };

export interface AuthConfigLike {
  username?: string;
  password?: string;
  auth?: string;
  identityToken?: string;
  registryToken?: string;
}

/** Turns a CRI AuthConfig into credentials; undefined when it carries none. */
export function credentialsFrom(auth: AuthConfigLike | null | undefined): Credentials | undefined {
  if (!auth) return undefined;
  if (auth.registryToken) return { kind: 'registry-token', token: auth.registryToken };
  if (auth.identityToken) return { kind: 'identity-token', token: auth.identityToken };
  if (auth.username) return { kind: 'basic', username: auth.username, password: auth.password ?? '' };
  if (auth.auth) {
    const decoded = Buffer.from(auth.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) return { kind: 'basic', username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  return undefined;
}

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parses a WWW-Authenticate header (RFC 7235): one or more challenges, each
 * a scheme followed by comma-separated `key=value` or `key="quoted"` params.
 */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  const isTokenChar = (c: string | undefined) => c !== undefined && /[A-Za-z0-9!#$%&'*+.^_`|~/-]/.test(c);
  let i = 0;
  const skip = (chars: string) => {
    while (i < header.length && chars.includes(header[i]!)) i++;
  };
  let current: Challenge | undefined;
  while (i < header.length) {
    skip(' \t,');
    const start = i;
    while (isTokenChar(header[i])) i++;
    if (i === start) {
      i++; // not a token: skip the stray character
      continue;
    }
    const token = header.slice(start, i);
    skip(' \t');
    if (header[i] === '=' && current) {
      i++;
      skip(' \t');
      let value = '';
      if (header[i] === '"') {
        i++;
        while (i < header.length && header[i] !== '"') {
          if (header[i] === '\\') i++;
          value += header[i] ?? '';
          i++;
        }
        i++;
      } else {
        const vs = i;
        while (i < header.length && header[i] !== ',' && header[i] !== ' ') i++;
        value = header.slice(vs, i);
      }
      current.params[token.toLowerCase()] = value;
    } else {
      current = { scheme: token.toLowerCase(), params: {} };
      out.push(current);
    }
  }
  return out;
}

export function basicHeader(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}
