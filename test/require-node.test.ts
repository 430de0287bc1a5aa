import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * scripts/require-node.sh, the first step of `make run` and `make test`,
 * against a registry the test serves on loopback: packages laid out as
 * the npm registry publishes Node.js (node-linux-<arch>) and npm, whose
 * "node" is a shell script reporting its version.
 */
const run = promisify(execFile);
const script = new URL('../scripts/require-node.sh', import.meta.url).pathname;
const arch = process.arch === 'arm64' ? 'arm64' : 'x64';
const isRoot = process.getuid?.() === 0;

let dir: string;
/** The host's commands without its own node, npm and npx. */
let tools: string;
let server: Server;
let registry: string;
/** Tarballs served, by URL path; a test may swap one for a corrupt copy. */
const files = new Map<string, Buffer>();
const metadata = new Map<string, object>();

async function tarball(name: string, tree: Record<string, string>): Promise<{ path: string; integrity: string }> {
  const root = path.join(dir, `src-${name}`);
  for (const [file, body] of Object.entries(tree)) {
    await mkdir(path.dirname(path.join(root, 'package', file)), { recursive: true });
    await writeFile(path.join(root, 'package', file), body);
    await chmod(path.join(root, 'package', file), 0o755);
  }
  const out = path.join(dir, `${name}.tgz`);
  await run('tar', ['-czf', out, '-C', root, 'package']);
  const bytes = await readFile(out);
  files.set(`/-/${name}.tgz`, bytes);
  return { path: `/-/${name}.tgz`, integrity: `sha512-${createHash('sha512').update(bytes).digest('base64')}` };
}

const fakeNode = (version: string) => `#!/bin/sh\n[ "$1" = --version ] && echo v${version}\n`;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'berth-require-node-'));
  await chmod(dir, 0o755); // the not-root case runs the script as nobody
  tools = path.join(dir, 'tools');
  await mkdir(tools);
  for (const bin of ['/usr/sbin', '/usr/bin']) {
    for (const name of await readdir(bin)) {
      if (/^(node|nodejs|npm|npx|corepack)$/.test(name)) continue;
      await symlink(path.join(bin, name), path.join(tools, name)).catch(() => undefined);
    }
  }
  server = createServer((req, res) => {
    const body = files.get(req.url ?? '');
    const meta = metadata.get(req.url ?? '');
    if (body) res.end(body);
    else if (meta) res.setHeader('content-type', 'application/json').end(JSON.stringify(meta));
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  registry = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const versions: Record<string, object> = {};
  for (const v of ['18.19.0', '20.1.0', '20.11.1', '20.9.3', '22.3.0']) {
    const t = await tarball(`node-${v}`, { 'bin/node': fakeNode(v), 'include/node/common.gypi': '{}\n' });
    versions[v] = { dist: { tarball: `${registry}${t.path}`, integrity: t.integrity } };
  }
  metadata.set(`/node-linux-${arch}`, { name: `node-linux-${arch}`, versions });
  const npm: Record<string, object> = {};
  for (const v of ['10.2.0', '10.8.1', '11.0.0']) {
    const t = await tarball(`npm-${v}`, { 'bin/npm-cli.js': `#!/bin/sh\necho ${v}\n`, 'bin/npx-cli.js': '#!/bin/sh\n' });
    npm[v] = { dist: { tarball: `${registry}${t.path}`, integrity: t.integrity } };
  }
  metadata.set('/npm', { name: 'npm', versions: npm });
});

afterAll(async () => {
  server.close();
  await rm(dir, { recursive: true, force: true });
});

/** A machine whose PATH finds `oldNode` (or no node at all) and nothing else of Node. */
async function machine(name: string, oldNode?: string) {
  const home = path.join(dir, name);
  const oldBin = path.join(home, 'old-bin');
  const bindir = path.join(home, 'bin');
  await mkdir(oldBin, { recursive: true });
  if (oldNode) {
    await writeFile(path.join(oldBin, 'node'), fakeNode(oldNode));
    await chmod(path.join(oldBin, 'node'), 0o755);
  }
  const env = {
    PATH: `${bindir}:${oldBin}:${tools}`,
    BERTH_NPM_REGISTRY: registry,
    BERTH_NODE_PREFIX: path.join(home, 'lib', 'berth-node'),
    BERTH_NODE_BINDIR: bindir,
  };
  const attempt = (extra: Record<string, string> = {}, wrap: string[] = []) =>
    run(wrap[0] ?? 'sh', [...wrap.slice(1), ...(wrap.length ? ['sh'] : []), script], { env: { ...env, ...extra }, timeout: 30_000 }).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );
  return { home, bindir, env, attempt };
}

describe('the Node.js requirement of make run and make test', () => {
  it('passes at once when node is 20 or later', async () => {
    const m = await machine('new-enough', '20.0.0');
    expect(await m.attempt({ BERTH_NODE_INSTALL: 'no' })).toMatchObject({ code: 0, stderr: '' });
  });

  it.skipIf(!isRoot)('stops with one line when installing is not allowed', async () => {
    const m = await machine('no-install', '18.19.0');
    const r = await m.attempt({ BERTH_NODE_INSTALL: 'no' });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^berth: needs Node\.js 20 or later \(found: 18\.19\.0\); install Node\.js 20 /)]);
  });

  it.skipIf(!isRoot)('installs the newest Node 20 and npm 10 from the registry over an old node, checked against their digests', async () => {
    const m = await machine('old-node', '18.19.0');
    const r = await m.attempt();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('berth: Node.js 20.11.1 and npm 10.8.1 installed');
    expect((await run(path.join(m.bindir, 'node'), ['--version'])).stdout.trim()).toBe('v20.11.1');
    expect((await run(path.join(m.bindir, 'npm'), [])).stdout.trim()).toBe('10.8.1');
    expect(await readFile(path.join(m.env.BERTH_NODE_PREFIX, 'include/node/common.gypi'), 'utf8')).toBe('{}\n');
    // Run again: nothing to do.
    expect(await m.attempt()).toMatchObject({ code: 0, stderr: '' });
  });

  it.skipIf(!isRoot)('refuses a tarball that does not match its digest and installs nothing', async () => {
    const m = await machine('corrupt', undefined);
    const good = files.get('/-/node-20.11.1.tgz')!;
    files.set('/-/node-20.11.1.tgz', Buffer.concat([good, Buffer.from('x')]));
    try {
      const r = await m.attempt();
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/found: none\); the download of node-linux-\w+ 20\.11\.1 failed or did not match its checksum/);
      await expect(readFile(path.join(m.bindir, 'node'))).rejects.toThrow();
    } finally {
      files.set('/-/node-20.11.1.tgz', good);
    }
  });

  it.skipIf(!isRoot)('stops within seconds with one line when the registry cannot be reached', async () => {
    const m = await machine('offline', undefined);
    const started = Date.now();
    const r = await m.attempt({ BERTH_NPM_REGISTRY: 'http://127.0.0.1:1' });
    expect(r.code).toBe(1);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(r.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^berth: needs Node\.js 20 or later \(found: none\); cannot reach http:\/\/127\.0\.0\.1:1/),
    ]);
  });

  it.skipIf(!isRoot)('tells someone who is not root to run it as root', async () => {
    const m = await machine('not-root', '18.19.0');
    const r = await m.attempt({}, ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^berth: needs Node\.js 20 or later \(found: 18\.19\.0\); run as root to have it installed/);
  });
});
