import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BootedNode, bootNode, ensureNodeRoot } from './lib/nspawn-node.js';
import { ROOT } from './lib/release.js';

/**
 * The first step of `make run` and `make test` (scripts/require-node.sh,
 * run by install-deps.sh) on a clean Debian 12 root booted with systemd:
 * first with no Node.js at all and then with Debian's own Node 18. It
 * installs Node 20 from the npm registry (the only source this kind of
 * machine reaches besides Debian's mirror), or stops within seconds with
 * one line when it cannot. The boot is volatile: nothing stays in the
 * cached root.
 */
const run = promisify(execFile);

describe('the Node.js 20 requirement on a fresh Debian 12', () => {
  let node: BootedNode;
  let clone: string;
  const console: string[] = [];
  const inNode = (script: string, timeoutMs = 300_000) =>
    // A root shell's environment on Debian, not the test runner's.
    node.exec(['env', '-i', 'HOME=/root', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'sh', '-c', script], timeoutMs).then(
      (r) => ({ code: 0, ...r }),
      (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }),
    );
  // The node trusts what this machine trusts: where the registry is reached
  // through a TLS proxy, only the host's bundle has that proxy's CA.
  const requireNode = (env = '') => inNode(`CURL_CA_BUNDLE=/mnt/host-certs/ca-certificates.crt ${env} sh /mnt/scripts/require-node.sh`);
  const nodeVersion = async () => (await inNode('node --version 2>/dev/null || echo none')).stdout.trim();

  beforeAll(async () => {
    const nodeRoot = path.join(ROOT, 'build', 'node-root');
    await ensureNodeRoot(nodeRoot);
    // What a fresh clone holds: the tracked files as they are now.
    clone = await mkdtemp(path.join(tmpdir(), 'berth-e2e-clone-'));
    const tree = (await run('git', ['-C', ROOT, 'stash', 'create'])).stdout.trim() || 'HEAD';
    await run('sh', ['-c', `git -C "${ROOT}" archive --format=tar ${tree} > "${clone}/berth.tar"`]);
    node = await bootNode(
      nodeRoot,
      [
        { host: path.join(ROOT, 'scripts'), node: '/mnt/scripts', readOnly: true },
        { host: '/etc/ssl/certs', node: '/mnt/host-certs', readOnly: true },
        { host: clone, node: '/mnt/clone', readOnly: true },
      ],
      console,
    );
  }, 600_000);

  afterAll(async () => {
    await node?.stop();
    if (clone) await rm(clone, { recursive: true, force: true });
  }, 120_000);

  it('with no Node.js, installs Node 20 and npm from the npm registry', async () => {
    expect(await nodeVersion()).toBe('none');
    const r = await requireNode();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/berth: Node\.js 20\.\d+\.\d+ and npm 10\.\d+\.\d+ installed/);
    expect(await nodeVersion()).toMatch(/^v20\./);
    expect((await inNode('npm --version')).stdout.trim()).toMatch(/^10\./);
    // The headers node-gyp builds the native module against came with it.
    expect((await inNode('test -f /usr/local/lib/berth-node/include/node/node_api.h && echo yes')).stdout.trim()).toBe('yes');
    expect(await requireNode()).toMatchObject({ code: 0, stderr: '' });
  }, 600_000);

  it("with Debian's Node 18, stops within seconds in one line when the registry is out of reach, else installs Node 20 ahead of it", async () => {
    const apt = await inNode(
      'rm -f /usr/local/bin/node /usr/local/bin/npm /usr/local/bin/npx && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs >/dev/null 2>&1; /usr/bin/node --version',
    );
    expect(apt.stdout.trim()).toMatch(/^v18\./);
    expect(await nodeVersion()).toMatch(/^v18\./);
    const started = Date.now();
    const offline = await requireNode('BERTH_NPM_REGISTRY=http://127.0.0.1:1');
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(offline.code).toBe(1);
    expect(offline.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^berth: needs Node\.js 20 or later \(found: 18\.\d+\.\d+\); cannot reach http:\/\/127\.0\.0\.1:1/),
    ]);
    // The same from a fresh clone's `make test`, the README's command.
    const unpacked = await inNode(
      'DEBIAN_FRONTEND=noninteractive apt-get install -y -qq make >/dev/null 2>&1 && mkdir -p /root/berth && tar -xf /mnt/clone/berth.tar -C /root/berth && echo ok',
    );
    expect(unpacked.stdout.trim()).toBe('ok');
    const makeStarted = Date.now();
    const makeTest = await inNode('cd /root/berth && BERTH_NPM_REGISTRY=http://127.0.0.1:1 make test');
    expect(Date.now() - makeStarted).toBeLessThan(15_000);
    expect(makeTest.code).not.toBe(0);
    expect(makeTest.stderr).toMatch(/^berth: needs Node\.js 20 or later \(found: 18\.\d+\.\d+\); cannot reach /m);
    const r = await requireNode();
    expect(r.code, r.stderr).toBe(0);
    expect(await nodeVersion()).toMatch(/^v20\./);
    expect((await inNode('command -v node')).stdout.trim()).toBe('/usr/local/bin/node');
  }, 600_000);
});
