/**
 * A client for the OCI distribution API (`/v2/`), scoped to one repository
 * on one registry endpoint. It handles the bearer-token and basic auth
 * dances, follows blob redirects without leaking credentials to other hosts
 * and turns HTTP failures into berth error kinds.
 */

import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Agent, Dispatcher } from 'undici';
import {
  RuntimeError,
  type ErrorKind,
  isAbortError,
  messageOf,
  unauthenticated,
  internal,
  failedPrecondition,
  permissionDenied,
  notFound,
  canceled,
  unavailable,
} from '../errors.js';
import type { Logger } from '../log.js';
import { type Credentials, basicHeader, parseChallenges } from './auth.js';
import { LIMITS, checkDigest, readBounded, readPrefix } from './bounded-body.js';

export interface RepositoryEndpoint {
  host: string;
  path: string;
  insecure: boolean;
}

export interface FetchedManifest {
  mediaType: string;
  digest: string;
  body: Buffer;
}

export interface BlobResponse {
  body: Readable;
  /** Content-Length when the registry sent one. */
  length?: number;
}

const MAX_MANIFEST_BYTES = LIMITS.manifest;
const MAX_REDIRECTS = 5;
const USER_AGENT = 'berth (CRI runtime)';

/**
 * The host that serves a registry's API. Docker Hub's images are named
 * `docker.io/...`, but its distribution API lives at registry-1.docker.io
 * (containers/image and containerd map it the same way); names keep
 * `docker.io`.
 */
export function apiHost(host: string): string {
  return host === 'docker.io' || host === 'index.docker.io' ? 'registry-1.docker.io' : host;
}

type HttpResponse = Dispatcher.ResponseData;

interface Agents {
  secure: Agent;
  unverified: Agent;
  request: typeof import('undici').request;
}

/**
 * Shared HTTP agents and per-host knowledge, one per daemon. The HTTP
 * client is loaded on the first pull: it is a large module that a node
 * whose images are all present never needs, and loading it would cost
 * every daemon start about 60 ms.
 */
/**
 * Authorizations that worked, kept across pulls: a repeated pull then sends
 * its manifest request with the token at once instead of meeting a 401 and
 * asking the token server again. Keyed by endpoint and a hash of the
 * credentials (never the credentials), each for the lifetime the token
 * server gave it (at most five minutes); a 401 drops it.
 */
export class AuthorizationCache {
  private readonly entries = new Map<string, { authorization: string; expiresAt: number }>();
  static readonly MAX_ENTRIES = 256;
  static readonly MAX_TTL_MS = 5 * 60_000;

  static key(endpoint: RepositoryEndpoint, credentials: Credentials | undefined): string {
    const who = credentials ? createHash('sha256').update(JSON.stringify(credentials)).digest('hex') : 'anonymous';
    return `${endpoint.host}/${endpoint.path}\0${who}`;
  }

  get(key: string, now = Date.now()): string | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.authorization;
  }

  set(key: string, authorization: string, ttlMs: number, now = Date.now()): void {
    this.entries.delete(key);
    if (this.entries.size >= AuthorizationCache.MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { authorization, expiresAt: now + Math.min(ttlMs, AuthorizationCache.MAX_TTL_MS) });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }
}

export class RegistryTransport {
  private agents?: Promise<Agents>;
  readonly authorizations = new AuthorizationCache();
  /** Scheme that answered for an insecure host (https first, else http). */
  private readonly schemeByHost = new Map<string, 'https' | 'http'>();

  constructor(private readonly timeouts: { connectMs: number; bodyMs: number }) {}

  private load(): Promise<Agents> {
    this.agents ??= import('undici').then(({ Agent, request }) => {
      const opts = { connectTimeout: this.timeouts.connectMs, headersTimeout: this.timeouts.bodyMs || 0, bodyTimeout: this.timeouts.bodyMs || 0 };
      return { secure: new Agent(opts), unverified: new Agent({ ...opts, connect: { rejectUnauthorized: false } }), request };
    });
    return this.agents;
  }

  /** One HTTP request through the agent for the endpoint's TLS policy. */
  async request(
    url: string | URL,
    insecure: boolean,
    options: Omit<Dispatcher.RequestOptions, 'origin' | 'path' | 'method'> & { method: Dispatcher.HttpMethod },
  ): Promise<HttpResponse> {
    const agents = await this.load();
    return agents.request(url, { ...options, dispatcher: insecure ? agents.unverified : agents.secure });
  }

  async baseUrl(host: string, insecure: boolean, signal: AbortSignal): Promise<string> {
    if (!insecure) return `https://${host}`;
    let scheme = this.schemeByHost.get(host);
    if (!scheme) {
      scheme = await this.probeScheme(host, signal);
      this.schemeByHost.set(host, scheme);
    }
    return `${scheme}://${host}`;
  }

  /** containers/image behaviour for insecure registries: try TLS, fall back to plain HTTP. */
  private async probeScheme(host: string, signal: AbortSignal): Promise<'https' | 'http'> {
    try {
      const res = await this.request(`https://${host}/v2/`, true, { method: 'GET', signal: AbortSignal.any([signal, AbortSignal.timeout(5000)]) });
      await res.body.dump();
      return 'https';
    } catch (err) {
      if (signal.aborted) throw err;
      return 'http';
    }
  }

  async close(): Promise<void> {
    if (!this.agents) return;
    const { secure, unverified } = await this.agents;
    await Promise.all([secure.close(), unverified.close()]);
  }
}

export class RepositoryClient {
  private authorization: string | undefined;
  /** How long the authorization may be reused by later pulls (the token's lifetime). */
  private authorizationTtlMs = 60_000;
  private tokenTried = false;

  constructor(
    private readonly transport: RegistryTransport,
    readonly endpoint: RepositoryEndpoint,
    private readonly credentials: Credentials | undefined,
    private readonly log: Logger,
  ) {}

  get displayName(): string {
    return `${this.endpoint.host}/${this.endpoint.path}`;
  }

  async getManifest(reference: string, accept: string, signal: AbortSignal): Promise<FetchedManifest> {
    const res = await this.send(`manifests/${reference}`, { accept }, signal);
    const declared = Number(res.headers['content-length'] ?? 0);
    if (declared > MAX_MANIFEST_BYTES) {
      await res.body.dump();
      throw failedPrecondition(`manifest ${reference} from ${this.displayName} is larger than ${MAX_MANIFEST_BYTES} bytes`);
    }
    const body = await readBounded(res.body, MAX_MANIFEST_BYTES, `manifest ${reference} from ${this.displayName}`);
    const contentType = String(res.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim();
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      throw failedPrecondition(`manifest ${reference} from ${this.displayName} is not valid JSON`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw failedPrecondition(`manifest ${reference} from ${this.displayName} is not a JSON object`);
    }
    const declaredType = (parsed as { mediaType?: unknown }).mediaType;
    const mediaType = typeof declaredType === 'string' && declaredType ? declaredType : contentType;
    const byDigest = reference.includes(':');
    if (byDigest) checkDigest(reference, `manifest from ${this.displayName}`);
    const algorithm = byDigest ? reference.split(':')[0]! : 'sha256';
    const digest = `${algorithm}:${createHash(algorithm).update(body).digest('hex')}`;
    if (byDigest && digest !== reference) {
      throw internal(`manifest digest mismatch from ${this.displayName}: asked for ${reference}, content hashes to ${digest}`);
    }
    return { mediaType, digest, body };
  }

  /** Opens a blob for streaming; the caller verifies size and digest as it reads. */
  async getBlob(digest: string, signal: AbortSignal): Promise<BlobResponse> {
    checkDigest(digest, `blob from ${this.displayName}`);
    const res = await this.send(`blobs/${digest}`, {}, signal);
    const cl = res.headers['content-length'];
    return { body: res.body, length: cl !== undefined ? Number(cl) : undefined };
  }

  async getBlobBuffer(digest: string, maxBytes: number, signal: AbortSignal): Promise<Buffer> {
    const { body } = await this.getBlob(digest, signal);
    const data = await readBounded(body, maxBytes, `blob ${digest} from ${this.displayName}`);
    const algorithm = digest.split(':')[0]!;
    const actual = `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
    if (actual !== digest) throw internal(`blob digest mismatch from ${this.displayName}: expected ${digest}, got ${actual}`);
    return data;
  }

  /** GET `/v2/<path>/<what>`, authenticating on demand and following redirects. */
  private async send(what: string, headers: Record<string, string>, signal: AbortSignal): Promise<HttpResponse> {
    const base = await this.wrapNetwork(() => this.transport.baseUrl(apiHost(this.endpoint.host), this.endpoint.insecure, signal), signal);
    const url = `${base}/v2/${this.endpoint.path}/${what}`;
    const cacheKey = AuthorizationCache.key(this.endpoint, this.credentials);
    this.authorization ??= this.transport.authorizations.get(cacheKey);
    let res = await this.get(url, headers, signal, true);
    if (res.statusCode === 401 && !this.tokenTried) {
      const challenge = String(res.headers['www-authenticate'] ?? '');
      await res.body.dump();
      this.tokenTried = true;
      this.transport.authorizations.delete(cacheKey);
      this.authorization = undefined;
      await this.authenticate(challenge, signal);
      res = await this.get(url, headers, signal, true);
      if (res.statusCode >= 200 && res.statusCode < 300 && this.authorization) {
        this.transport.authorizations.set(cacheKey, this.authorization, this.authorizationTtlMs);
      }
    }
    if (res.statusCode >= 200 && res.statusCode < 300) return res;
    throw await this.httpError(res, what);
  }

  private async get(startUrl: string, headers: Record<string, string>, signal: AbortSignal, withAuth: boolean): Promise<HttpResponse> {
    let url = startUrl;
    const origin = new URL(startUrl).origin;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const h: Record<string, string> = { 'user-agent': USER_AGENT, ...headers };
      // Credentials go only to the registry itself, never to a redirect target
      // such as a storage bucket on another host.
      if (withAuth && this.authorization && new URL(url).origin === origin) h.authorization = this.authorization;
      const res = await this.wrapNetwork(() => this.transport.request(url, this.endpoint.insecure, { method: 'GET', headers: h, signal }), signal);
      if ([301, 302, 303, 307, 308].includes(res.statusCode)) {
        const location = res.headers.location;
        await res.body.dump();
        if (typeof location !== 'string') throw unavailable(`redirect without location from ${url}`);
        url = new URL(location, url).toString();
        continue;
      }
      return res;
    }
    throw unavailable(`too many redirects fetching ${startUrl}`);
  }

  private async authenticate(header: string, signal: AbortSignal): Promise<void> {
    const challenges = parseChallenges(header);
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const creds = this.credentials;
    if (bearer) {
      if (creds?.kind === 'registry-token') {
        this.authorization = `Bearer ${creds.token}`;
        return;
      }
      const { token, expiresInS } = await this.fetchToken(bearer.params, signal);
      this.authorization = `Bearer ${token}`;
      // The distribution spec's default lifetime is 60 s; a little is kept in hand.
      this.authorizationTtlMs = Math.max(0, (expiresInS ?? 60) - 10) * 1000;
      return;
    }
    if (challenges.some((c) => c.scheme === 'basic')) {
      if (creds?.kind !== 'basic') throw unauthenticated(`${this.endpoint.host} requires credentials (basic auth) for ${this.displayName}`);
      this.authorization = basicHeader(creds.username, creds.password);
      return;
    }
    throw new RuntimeError(
      'unauthenticated',
      `${this.endpoint.host} refused access to ${this.displayName} without a supported auth challenge (${header || 'none'})`,
    );
  }

  private async fetchToken(params: Record<string, string>, signal: AbortSignal): Promise<{ token: string; expiresInS?: number }> {
    const realm = params.realm;
    if (!realm) throw unauthenticated(`${this.endpoint.host} sent a bearer challenge without a realm`);
    const scope = params.scope ?? `repository:${this.endpoint.path}:pull`;
    const creds = this.credentials;
    const realmUrl = new URL(realm);
    let res: HttpResponse;
    if (creds?.kind === 'identity-token') {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.token, service: params.service ?? '', scope, client_id: 'berth' });
      res = await this.wrapNetwork(
        () =>
          this.transport.request(realmUrl, this.endpoint.insecure, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': USER_AGENT },
            body: form.toString(),
            signal,
          }),
        signal,
      );
    } else {
      if (params.service) realmUrl.searchParams.set('service', params.service);
      realmUrl.searchParams.set('scope', scope);
      const headers: Record<string, string> = { 'user-agent': USER_AGENT };
      if (creds?.kind === 'basic') headers.authorization = basicHeader(creds.username, creds.password);
      res = await this.wrapNetwork(() => this.transport.request(realmUrl, this.endpoint.insecure, { method: 'GET', headers, signal }), signal);
    }
    if (res.statusCode === 401 || res.statusCode === 403) {
      await res.body.dump();
      const kind: ErrorKind = res.statusCode === 401 ? 'unauthenticated' : 'permission-denied';
      throw new RuntimeError(
        kind,
        `token server ${realmUrl.host} refused ${creds ? 'the credentials' : 'anonymous access'} for ${this.displayName} (HTTP ${res.statusCode})`,
      );
    }
    if (res.statusCode < 200 || res.statusCode >= 300) {
      await res.body.dump();
      throw unavailable(`token server ${realmUrl.host} answered HTTP ${res.statusCode}`);
    }
    let body: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      body = JSON.parse((await readBounded(res.body, LIMITS.token, `token server ${realmUrl.host}'s answer`)).toString('utf8')) as typeof body;
    } catch (err) {
      if (err instanceof RuntimeError) throw err;
      throw unauthenticated(`token server ${realmUrl.host} answered with something that is not JSON`);
    }
    const token = typeof body?.token === 'string' ? body.token : typeof body?.access_token === 'string' ? body.access_token : '';
    if (!token || /[^\x21-\x7e]/.test(token)) throw unauthenticated(`token server ${realmUrl.host} returned no token`);
    this.log.debug({ registry: this.endpoint.host }, 'obtained registry token');
    return { token, ...(typeof body.expires_in === 'number' && body.expires_in > 0 ? { expiresInS: body.expires_in } : {}) };
  }

  private async httpError(res: HttpResponse, what: string): Promise<RuntimeError> {
    let words = '';
    try {
      const text = (await readPrefix(res.body, LIMITS.errorBody)).toString('utf8');
      const parsed = JSON.parse(text) as { errors?: { code?: string; message?: string; detail?: unknown }[] };
      words = (parsed.errors ?? []).map((e) => [e.code, e.message].filter(Boolean).join(': ')).join('; ');
      if (!words) words = text.slice(0, 200);
    } catch {
      // Not JSON: keep the status line only.
    }
    const where = `${this.displayName} (${what})`;
    const suffix = words ? `: ${words}` : '';
    switch (res.statusCode) {
      case 404:
        return notFound(`${where} not found${suffix}`);
      case 401:
        return unauthenticated(`${where}: registry requires valid credentials${suffix}`);
      case 403:
        return permissionDenied(`${where}: access denied by the registry${suffix}`);
      case 429:
        return unavailable(`${where}: registry rate limit reached${suffix}`);
      default:
        return new RuntimeError(res.statusCode >= 500 ? 'unavailable' : 'failed-precondition', `${where}: registry answered HTTP ${res.statusCode}${suffix}`);
    }
  }

  /** Connection-level failures become UNAVAILABLE; cancellation stays cancellation. */
  private async wrapNetwork<T>(fn: () => Promise<T>, signal: AbortSignal): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof RuntimeError) throw err;
      if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : canceled('pull cancelled');
      if (isAbortError(err)) throw canceled('pull cancelled', err);
      const cause = (err as { cause?: unknown }).cause;
      const detail = cause ? messageOf(cause) : messageOf(err);
      throw unavailable(`cannot reach registry ${this.endpoint.host}: ${detail || messageOf(err)}`, err);
    }
  }
}
