import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { type ServerResponse, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageService } from '../src/image/image-service.js';
import { silentLogger } from '../src/log.js';
import { RecordingOps } from './support/recording-ops.js';
import { createTar } from './support/tar-writer.js';

/**
 * A registry that lies, on loopback: endless bodies without
 * Content-Length, foreign digest algorithms, blobs longer than declared,
 * redirect loops, endless token and error answers. Each pull must fail
 * with a precise kind, quickly, keeping nothing.
 */
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const md5 = (b: Buffer) => `md5:${createHash('md5').update(b).digest('hex')}`;
const tar = createTar([{ name: 'f', content: 'x' }]);
const layer = gzipSync(tar);
const configOf = (diffId: string) => Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [diffId] } }));
const manifestOf = (config: Buffer, configDigest: string, layerDigest: string, layerSize = layer.length, configSize = config.length) =>
  Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: configSize },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: layerSize }],
    }),
  );

const goodConfig = configOf(sha(tar));
const envConfig = Buffer.from(JSON.stringify({ os: 'linux', config: { Env: 'PATH=/bin' }, rootfs: { type: 'layers', diff_ids: [sha(tar)] } }));
const indexType = 'application/vnd.oci.image.index.v1+json';
const manifests: Record<string, Buffer> = {
  md5: manifestOf(configOf(md5(tar)), md5(configOf(md5(tar))), md5(layer)),
  short: manifestOf(goodConfig, sha(goodConfig), sha(layer), 10),
  smallconfig: manifestOf(goodConfig, sha(goodConfig), sha(layer), layer.length, 8),
  pathdigest: manifestOf(goodConfig, 'sha256:../../../../etc/passwd', sha(layer)),
  badlength: manifestOf(goodConfig, sha(goodConfig), sha(layer)),
  baddiffid: manifestOf(configOf('sha1:abc'), sha(configOf('sha1:abc')), sha(layer)),
  nullmanifest: Buffer.from('null'),
  nulllayer: Buffer.from(JSON.stringify({ ...JSON.parse(manifestOf(goodConfig, sha(goodConfig), sha(layer)).toString()), layers: [null] })),
  badenv: manifestOf(envConfig, sha(envConfig), sha(layer)),
  badindex: Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: indexType, manifests: [null] })),
};

/** Writes 64 KiB chunks until the client goes away (or a sanity bound of 1 GiB). */
function endless(res: ServerResponse, headers: Record<string, string> = {}, status = 200): void {
  res.writeHead(status, headers);
  const chunk = Buffer.alloc(64 << 10, 0x61);
  let sent = 0;
  const pump = () => {
    while (sent < 1 << 30 && !res.destroyed) {
      sent += chunk.length;
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    res.end();
  };
  pump();
}

let server: Server;
let host: string;
let dir: string;
let service: ImageService;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'berth-hostile-'));
  server = createServer((req, res) => {
    const url = req.url ?? '';
    const repo = url.split('/')[2] ?? '';
    if (url === '/v2/' || url.startsWith('/token')) {
      if (url.startsWith('/token')) return endless(res, { 'content-type': 'application/json' });
      return void res.end('{}');
    }
    if (url.includes('/manifests/')) {
      if (repo === 'endless') return endless(res, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
      if (repo === 'loop') return void res.writeHead(302, { location: url }).end();
      if (repo === 'token') return void res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${host}/token",service="x"` }).end();
      if (repo === 'errors') return endless(res, { 'content-type': 'application/json' }, 500);
      const m = manifests[repo];
      if (!m) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': repo === 'badindex' ? indexType : 'application/vnd.oci.image.manifest.v1+json' });
      return void res.end(m);
    }
    const badConfig = configOf('sha1:abc');
    if (url.endsWith(sha(badConfig))) return void res.end(badConfig);
    if (url.endsWith(sha(envConfig))) return void res.end(envConfig);
    if (url.endsWith(sha(goodConfig))) return repo === 'smallconfig' ? endless(res) : void res.end(goodConfig);
    if (url.endsWith(sha(layer)) && repo === 'badlength') return void res.end(Buffer.concat([layer, Buffer.from('x')]));
    if (url.endsWith(sha(layer))) return endless(res); // more than any declared size, no Content-Length
    if (url.includes('/blobs/md5:')) return void res.end('never asked for');
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const conf = path.join(dir, 'registries.conf');
  await writeFile(conf, `[[registry]]\nlocation = "${host}"\ninsecure = true\n`);
  service = new ImageService({
    storageRoot: path.join(dir, 'storage'),
    registriesConf: conf,
    pauseImage: `${host}/pause:1`,
    pullProgressTimeoutMs: 10_000,
    maxConcurrentDownloads: 2,
    unpackOps: new RecordingOps(),
    log: silentLogger(),
  });
  await service.restore();
});

afterAll(async () => {
  await service.close();
  server.closeAllConnections();
  server.close();
  await rm(dir, { recursive: true, force: true });
});

async function pullOutcome(repo: string): Promise<{ kind?: string; message: string; ms: number }> {
  const started = Date.now();
  try {
    await service.pull(`${host}/${repo}:1`, null, AbortSignal.timeout(20_000));
    return { message: 'pulled', ms: Date.now() - started };
  } catch (err) {
    return { kind: (err as { kind?: string }).kind, message: (err as Error).message, ms: Date.now() - started };
  }
}

describe('a lying registry', () => {
  const cases: [string, string, RegExp][] = [
    ['endless', 'failed-precondition', /manifest .* is larger than 4194304 bytes/],
    ['md5', 'failed-precondition', /md5:.* is not sha256, sha384 or sha512/],
    ['pathdigest', 'failed-precondition', /image config: digest .* is not sha256/],
    ['baddiffid', 'failed-precondition', /image config sha256:[0-9a-f]{64}: diff ID 0: digest "sha1:abc"/],
    ['nullmanifest', 'failed-precondition', /manifest 1 from .* is not a JSON object/],
    ['nulllayer', 'failed-precondition', /image manifest: layers\[0\] is not a descriptor object/],
    ['badenv', 'failed-precondition', /image config sha256:[0-9a-f]{64}: config: "Env" is not a list of strings/],
    ['badindex', 'failed-precondition', /image index: manifests\[0\] is not a descriptor object/],
    ['short', 'failed-precondition', /sent more than the 10 bytes the manifest declares/],
    ['smallconfig', 'failed-precondition', /larger than 8 bytes/],
    ['loop', 'unavailable', /too many redirects/],
    // The body dropped unread must not crash the daemon with an unhandled 'error'.
    ['badlength', 'internal', /registry sent \d+ bytes, the manifest says \d+/],
    ['token', 'failed-precondition', /token server .* answer is larger than 1048576 bytes/],
    ['errors', 'unavailable', /registry answered HTTP 500/],
  ];
  for (const [repo, kind, message] of cases) {
    it(`refuses ${repo} quickly, keeping nothing`, async () => {
      const outcome = await pullOutcome(repo);
      expect(outcome).toMatchObject({ kind, message: expect.stringMatching(message) });
      expect(outcome.ms).toBeLessThan(5000);
      expect(
        await readdir(path.join(dir, 'storage', 'snapshots')).then(
          (l) => l.filter((n) => !n.startsWith('.')),
          () => [],
        ),
      ).toEqual([]);
      expect(service.list()).toEqual([]);
    });
  }
});
