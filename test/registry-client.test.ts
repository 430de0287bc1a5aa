import { createHash } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/log.js';
import { parseChallenges } from '../src/registry/auth.js';
import { AuthorizationCache, RegistryTransport, RepositoryClient, apiHost } from '../src/registry/client.js';

/**
 * A registry and a token server on loopback, speaking just enough of the
 * distribution API to exercise authentication and redirects for real.
 */
interface Seen {
  url: string;
  authorization?: string;
  method: string;
  body: string;
}

let registry: Server;
let storage: Server;
let base: string;
let storageBase: string;
const seen: Seen[] = [];
const storageSeen: Seen[] = [];
const BLOB = Buffer.from('blob content');
const BLOB_DIGEST = `sha256:${createHash('sha256').update(BLOB).digest('hex')}`;
const MANIFEST = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: {}, layers: [] }));

function record(list: Seen[], req: IncomingMessage): Promise<Seen> {
  return new Promise((resolve) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const s = { url: req.url!, authorization: req.headers.authorization, method: req.method!, body };
      list.push(s);
      resolve(s);
    });
  });
}

async function handleRegistry(req: IncomingMessage, res: ServerResponse) {
  const s = await record(seen, req);
  if (s.url.startsWith('/token')) {
    const basic = `Basic ${Buffer.from('alice:pw').toString('base64')}`;
    if (s.method === 'POST' && s.body.includes('refresh_token=idtok')) return void res.end(JSON.stringify({ access_token: 'from-identity' }));
    if (s.authorization === basic) return void res.end(JSON.stringify({ token: 'from-password' }));
    if (s.authorization) return void res.writeHead(401).end();
    return void res.end(JSON.stringify({ token: 'anonymous' }));
  }
  const realm = `${base}/token`;
  const wantsAuth = s.url.includes('/private/');
  const okTokens = ['Bearer from-password', 'Bearer from-identity', 'Bearer preissued'];
  if ((wantsAuth && !okTokens.includes(s.authorization ?? '')) || (!wantsAuth && s.authorization !== 'Bearer anonymous')) {
    res.writeHead(401, { 'www-authenticate': `Bearer realm="${realm}",service="test-registry",scope="repository:x:pull"` });
    return void res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
  }
  if (s.url.endsWith('/manifests/missing')) {
    res.writeHead(404, { 'content-type': 'application/json' });
    return void res.end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }));
  }
  if (s.url.includes('/manifests/')) {
    res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
    return void res.end(MANIFEST);
  }
  if (s.url.includes('/blobs/')) {
    res.writeHead(307, { location: `${storageBase}/bucket/blob` });
    return void res.end();
  }
  res.writeHead(500).end();
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

beforeAll(async () => {
  registry = createServer((req, res) => void handleRegistry(req, res));
  storage = createServer((req, res) => void record(storageSeen, req).then(() => res.end(BLOB)));
  base = await listen(registry);
  storageBase = await listen(storage);
});
afterAll(() => {
  registry.close();
  storage.close();
});
afterEach(() => {
  seen.length = 0;
  storageSeen.length = 0;
});

const transport = new RegistryTransport({ connectMs: 2000, bodyMs: 5000 });
const client = (repo: string, creds?: ConstructorParameters<typeof RepositoryClient>[2]) =>
  new RepositoryClient(transport, { host: new URL(base).host, path: repo, insecure: true }, creds, silentLogger());
const signal = () => AbortSignal.timeout(10_000);

describe('registry client', () => {
  it('gets an anonymous bearer token from the challenge and retries', async () => {
    const m = await client('library/app').getManifest('latest', 'application/vnd.oci.image.manifest.v1+json', signal());
    expect(m.digest).toBe(`sha256:${createHash('sha256').update(MANIFEST).digest('hex')}`);
    const token = seen.find((s) => s.url.startsWith('/token'))!;
    expect(token.url).toContain('service=test-registry');
    expect(token.url).toContain('scope=repository%3Ax%3Apull');
    expect(token.authorization).toBeUndefined();
  });

  it('reuses a token across clients of the same transport, and fetches a new one when it is refused', async () => {
    const shared = new RegistryTransport({ connectMs: 2000, bodyMs: 5000 });
    const fresh = () => new RepositoryClient(shared, { host: new URL(base).host, path: 'cached/app', insecure: true }, undefined, silentLogger());
    await fresh().getManifest('latest', 'application/vnd.oci.image.manifest.v1+json', signal());
    seen.length = 0;
    await fresh().getManifest('latest', 'application/vnd.oci.image.manifest.v1+json', signal());
    expect(seen.map((s) => s.url)).toEqual(['/v2/cached/app/manifests/latest']); // one request, the token sent at once
    // A token the registry no longer takes is dropped and replaced.
    const key = AuthorizationCache.key({ host: new URL(base).host, path: 'cached/app', insecure: true }, undefined);
    shared.authorizations.set(key, 'Bearer stale', 60_000);
    seen.length = 0;
    await fresh().getManifest('latest', 'application/vnd.oci.image.manifest.v1+json', signal());
    expect(seen.map((s) => s.url.split('?')[0])).toEqual(['/v2/cached/app/manifests/latest', '/token', '/v2/cached/app/manifests/latest']);
    expect(shared.authorizations.get(key)).toBe('Bearer anonymous');
    // Other credentials are another key: no token of someone else's is used.
    seen.length = 0;
    await new RepositoryClient(
      shared,
      { host: new URL(base).host, path: 'private/app', insecure: true },
      { kind: 'basic', username: 'alice', password: 'pw' },
      silentLogger(),
    ).getManifest('latest', 'application/vnd.oci.image.manifest.v1+json', signal());
    expect(seen.some((s) => s.url.startsWith('/token'))).toBe(true);
  });

  it('sends basic credentials to the token server only', async () => {
    await client('private/app', { kind: 'basic', username: 'alice', password: 'pw' }).getManifest('v1', '*/*', signal());
    expect(seen.filter((s) => s.authorization?.startsWith('Basic')).every((s) => s.url.startsWith('/token'))).toBe(true);
  });

  it('exchanges an identity token with a POST', async () => {
    await client('private/app', { kind: 'identity-token', token: 'idtok' }).getManifest('v1', '*/*', signal());
    expect(seen.find((s) => s.method === 'POST')?.body).toContain('grant_type=refresh_token');
  });

  it('uses a registry token directly', async () => {
    await client('private/app', { kind: 'registry-token', token: 'preissued' }).getManifest('v1', '*/*', signal());
    expect(seen.some((s) => s.url.startsWith('/token'))).toBe(false);
  });

  it('reports refused credentials as unauthenticated', async () => {
    await expect(client('private/app', { kind: 'basic', username: 'alice', password: 'bad' }).getManifest('v1', '*/*', signal())).rejects.toMatchObject({
      kind: 'unauthenticated',
    });
    await expect(client('private/app').getManifest('v1', '*/*', signal())).rejects.toMatchObject({ kind: 'unauthenticated' });
  });

  it("passes on the registry's words for a missing manifest", async () => {
    await expect(client('library/app').getManifest('missing', '*/*', signal())).rejects.toMatchObject({
      kind: 'not-found',
      message: expect.stringContaining('MANIFEST_UNKNOWN: manifest unknown'),
    });
  });

  it('refuses a manifest whose content does not match the requested digest', async () => {
    await expect(client('library/app').getManifest(`sha256:${'0'.repeat(64)}`, '*/*', signal())).rejects.toMatchObject({ kind: 'internal' });
  });

  it('follows blob redirects without forwarding credentials to the other host', async () => {
    const data = await client('library/app').getBlobBuffer(BLOB_DIGEST, 1 << 20, signal());
    expect(data).toEqual(BLOB);
    expect(storageSeen).toHaveLength(1);
    expect(storageSeen[0]!.authorization).toBeUndefined();
  });

  it('reports an unreachable registry as unavailable', async () => {
    const dead = new RepositoryClient(transport, { host: '127.0.0.1:1', path: 'x', insecure: false }, undefined, silentLogger());
    await expect(dead.getManifest('latest', '*/*', signal())).rejects.toMatchObject({ kind: 'unavailable' });
  });
});

describe('registry API hosts', () => {
  it("sends Docker Hub's API calls to registry-1.docker.io and every other host to itself", () => {
    expect(apiHost('docker.io')).toBe('registry-1.docker.io');
    expect(apiHost('index.docker.io')).toBe('registry-1.docker.io');
    expect(apiHost('registry.k8s.io')).toBe('registry.k8s.io');
    expect(apiHost('127.0.0.1:5000')).toBe('127.0.0.1:5000');
  });
});

describe('WWW-Authenticate parsing', () => {
  it('reads bearer and basic challenges with quoted values', () => {
    expect(parseChallenges('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' } },
    ]);
    expect(parseChallenges('Basic realm="Registry Realm"')).toEqual([{ scheme: 'basic', params: { realm: 'Registry Realm' } }]);
    expect(parseChallenges('Basic realm=x, Bearer realm="y"').map((c) => c.scheme)).toEqual(['basic', 'bearer']);
  });
});

describe('the authorization cache', () => {
  it('forgets entries when they expire, and the oldest when full', () => {
    const cache = new AuthorizationCache();
    cache.set('a', 'Bearer a', 1000, 0);
    expect(cache.get('a', 999)).toBe('Bearer a');
    expect(cache.get('a', 1000)).toBeUndefined();
    cache.set('b', 'Bearer b', 10 * 60_000, 0);
    expect(cache.get('b', 5 * 60_000 + 1)).toBeUndefined(); // at most five minutes, whatever the server said
    for (let i = 0; i <= AuthorizationCache.MAX_ENTRIES; i++) cache.set(`k${i}`, 'x', 1000, 0);
    expect(cache.get('k0', 0)).toBeUndefined();
    expect(cache.get(`k${AuthorizationCache.MAX_ENTRIES}`, 0)).toBe('x');
  });
});
