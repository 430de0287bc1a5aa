import { createHash } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { createTar } from '../../test/support/tar-writer.js';
import { digestOf } from './push.js';

/**
 * A registry that lies, served by the test on 127.0.0.1, plus a second
 * origin ("storage") that blobs are redirected to. Repositories:
 *   endless      a manifest body that never ends, without Content-Length
 *   md5          manifest, config and layer digests in md5
 *   wrongdigest  the layer with another gzip header time: the same files, another digest
 *   badlength    a layer whose Content-Length is not the size the manifest declares
 *   garbage      a layer that is neither compressed nor a tar archive
 *   longblob     a layer that goes on past its declared size, without Content-Length
 *   loop         a manifest that redirects to itself
 *   private      basic auth required; its blobs redirect to the storage origin
 * The storage origin records the Authorization headers it is sent.
 */
export interface LyingRegistry {
  host: string;
  /** Authorization headers the storage origin received ('' for none). */
  storageAuth: string[];
  stop(): Promise<void>;
}

export const PRIVATE_CREDENTIALS = { username: 'lier', password: 'lier-pass' };

const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';

function image(digest: (b: Buffer) => string, text = 'hello from a lying registry\n') {
  const tar = createTar([{ name: 'hello', content: text }]);
  const layer = gzipSync(tar);
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: [digest(tar)] } }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST_TYPE,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digest(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: digest(layer), size: layer.length }],
    }),
  );
  return { layer, config, manifest };
}

function endless(res: ServerResponse, headers: Record<string, string>): void {
  res.writeHead(200, headers);
  const chunk = Buffer.alloc(64 << 10, 0x7b);
  let sent = 0;
  const pump = () => {
    // Bounded, so that a runaway client cannot keep the test busy for ever.
    while (sent < 2 ** 31 && !res.destroyed) {
      sent += chunk.length;
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    res.end();
  };
  pump();
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

export async function startLyingRegistry(): Promise<LyingRegistry> {
  const good = image(digestOf);
  const md5 = image((b) => `md5:${createHash('md5').update(b).digest('hex')}`);
  const other = image(digestOf, 'HELLO FROM A LYING REGISTRY\n');
  const storageAuth: string[] = [];
  const storage = createServer((req, res) => {
    storageAuth.push(req.headers.authorization ?? '');
    res.end(good.layer);
  });
  const storageHost = await listen(storage);
  const basic = `Basic ${Buffer.from(`${PRIVATE_CREDENTIALS.username}:${PRIVATE_CREDENTIALS.password}`).toString('base64')}`;

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '';
    const [, , repo = '', kind = '', ref = ''] = url.split('/');
    if (url === '/v2/') return void res.end('{}');
    if (repo === 'private' && req.headers.authorization !== basic) {
      return void res.writeHead(401, { 'www-authenticate': 'Basic realm="lying"' }).end();
    }
    if (kind === 'manifests') {
      if (repo === 'endless') return endless(res, { 'content-type': MANIFEST_TYPE });
      if (repo === 'loop') return void res.writeHead(302, { location: url }).end();
      res.writeHead(200, { 'content-type': MANIFEST_TYPE });
      return void res.end(repo === 'md5' ? md5.manifest : good.manifest);
    }
    if (kind === 'blobs') {
      if (ref === digestOf(good.config)) return void res.end(good.config);
      if (ref !== digestOf(good.layer)) return void res.writeHead(404).end();
      if (repo === 'wrongdigest') return void res.end(Buffer.concat([good.layer.subarray(0, 4), Buffer.from([1, 2, 3, 4]), good.layer.subarray(8)]));
      if (repo === 'badlength') return void res.end(other.layer);
      if (repo === 'garbage') return void res.end(Buffer.alloc(good.layer.length, 0x1f));
      if (repo === 'longblob') return endless(res, { 'content-type': 'application/octet-stream' });
      if (repo === 'private') return void res.writeHead(307, { location: `http://${storageHost}/bucket/layer` }).end();
      return void res.end(good.layer);
    }
    res.writeHead(404).end();
  };
  const registry = createServer(handle);
  const host = await listen(registry);
  return {
    host,
    storageAuth,
    stop: async () => {
      for (const s of [registry, storage]) {
        s.closeAllConnections();
        await new Promise<void>((resolve) => s.close(() => resolve()));
      }
    },
  };
}
