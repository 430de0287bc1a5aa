import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readlink, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type BerthDaemon, startBerth } from './lib/berth-daemon.js';
import { call } from './lib/cri-client.js';
import { freePort } from './lib/ports.js';
import { testRegistriesConf } from './lib/registries-conf.js';
import { ROOT, buildRelease } from './lib/release.js';

/**
 * The release artifacts (`make package`): built, unpacked into a private
 * root and run from there with the Node.js they ship. e2e/node.e2e.ts
 * installs the .deb on a node booted with systemd.
 */
const env = inject('env');
const run = promisify(execFile);

describe('the release package', () => {
  let dir: string;
  let tarball: string;
  let deb: string;
  let version: string;

  beforeAll(async () => {
    ({ version, tarball, deb } = await buildRelease());
    dir = await mkdtemp(path.join(tmpdir(), 'berth-e2e-package-'));
    await run('tar', ['-C', dir, '-xzf', tarball]);
  }, 300_000);

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('runs with the Node.js it ships, not the one on the machine', async () => {
    const berth = path.join(dir, 'usr', 'bin', 'berth');
    const info = JSON.parse((await run(berth, ['version', '--json'])).stdout) as { version: string; nodeVersion: string };
    expect(info.version).toBe(version);
    expect(info.nodeVersion).toBe(process.version);
    // The bundled binary, and the code cache it was built with.
    expect((await stat(path.join(dir, 'usr', 'lib', 'berth', 'node', 'bin', 'node'))).mode & 0o111).not.toBe(0);
    expect((await stat(path.join(dir, 'usr', 'lib', 'berth', 'bundle', 'berth.cjs.codecache'))).size).toBeGreaterThan(0);
  });

  it('serves CRI calls from the unpacked tree', async () => {
    let daemon: BerthDaemon | undefined;
    try {
      daemon = await startBerth({ registriesConf: testRegistriesConf(env, await freePort()), command: path.join(dir, 'usr', 'bin', 'berth') });
      expect(await readlink(`/proc/${daemon.process.pid}/exe`)).toBe(path.join(dir, 'usr', 'lib', 'berth', 'node', 'bin', 'node'));
      const v = await call(daemon.client.runtime, daemon.client.runtime.Version, {});
      expect(v).toMatchObject({ runtimeName: 'berth', runtimeVersion: version });
      const image = `${env.openRegistry}/berth-test/busybox:plain`;
      await call(daemon.client.image, daemon.client.image.PullImage, { image: { image } });
    } finally {
      await daemon?.destroy();
    }
  });

  it('ships the unit, the configuration, man pages generated from the schema and completions', async () => {
    const unit = await readFile(path.join(dir, 'usr', 'lib', 'systemd', 'system', 'berth.service'), 'utf8');
    expect(unit).toMatch(/^Type=notify$/m);
    expect(unit).toMatch(/^ExecReload=\/bin\/sh -c 'kill -HUP "\$1"' berth \$MAINPID$/m);
    expect(await readFile(path.join(dir, 'etc', 'berth', 'berth.conf'), 'utf8')).toContain('conmon_cgroup = "pod"');
    const man5 = gunzipSync(await readFile(path.join(dir, 'usr', 'share', 'man', 'man5', 'berth.conf.5.gz'))).toString();
    for (const key of ['pause_image', 'runtime_timeout', 'conmon_cgroup', 'check_interval']) expect(man5).toContain(`.B ${key.replace(/-/g, '\\-')}`);
    expect(gunzipSync(await readFile(path.join(dir, 'usr', 'share', 'man', 'man8', 'berth.8.gz'))).toString()).toContain('.SH SIGNALS');
    expect(await readFile(path.join(dir, 'usr', 'share', 'bash-completion', 'completions', 'berth'), 'utf8')).toContain('--registries-conf');
    await run('bash', ['-n', path.join(dir, 'usr', 'share', 'bash-completion', 'completions', 'berth')]);
  });

  it('is a Debian package that depends on runc, conmon, the CNI plugins and iptables', async () => {
    const { stdout: control } = await run('dpkg-deb', ['--field', deb]);
    expect(control).toMatch(/^Package: berth$/m);
    expect(control).toMatch(/^Depends: runc, conmon, containernetworking-plugins, iptables, golang-github-containers-common/m);
    // No Recommends: apt would fetch them, and a node without a mirror could not install
    // berth at all; crictl (cri-tools) is not in Debian 12, so it can only be suggested.
    expect(control).not.toMatch(/^Recommends:/m);
    expect(control).toMatch(/^Suggests: apparmor, cri-tools, criu$/m);
    const { stdout: contents } = await run('dpkg-deb', ['--contents', deb], { maxBuffer: 1 << 20 });
    for (const f of [
      './usr/bin/berth',
      './usr/lib/berth/node/bin/node',
      './usr/lib/systemd/system/berth.service',
      './etc/berth/berth.conf',
      './usr/share/doc/berth/copyright',
    ]) {
      expect(contents).toContain(` ${f}`);
    }
    expect((await run('dpkg-deb', ['--info', deb, 'conffiles'])).stdout.trim()).toBe('/etc/berth/berth.conf');
  });

  it('says in a machine-readable copyright file what it carries under which license', async () => {
    const text = await readFile(path.join(dir, 'usr', 'share', 'doc', 'berth', 'copyright'), 'utf8');
    const paragraphs = text
      .trimEnd()
      .split('\n\n')
      .map((p) => Object.fromEntries([...p.matchAll(/^([A-Za-z-]+): ?(.*(?:\n .*)*)/gm)].map((m) => [m[1], m[2]])));
    expect(paragraphs[0].Format).toBe('https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/');
    const files = new Map(paragraphs.filter((p) => p.Files).map((p) => [p.Files, p]));
    expect(files.get('*')?.License).toBe('Apache-2.0');
    expect(files.get('usr/lib/berth/node/*')?.Comment).toContain(`Node.js ${process.version}`);
    // The npm packages in the bundle, with their versions: a runtime
    // dependency, one only a dependency pulls in, and the LGPL one.
    for (const pkg of ['pino', 'sonic-boom', 'openpgp']) {
      const { version: v } = JSON.parse(await readFile(path.join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string };
      expect(files.get(`node_modules/${pkg}/*`)?.Comment).toContain(`${pkg} ${v} `);
    }
    expect(files.get('node_modules/openpgp/*')?.License).toBe('LGPL-3+');
    // Only what the bundle holds: a development dependency is not there.
    expect(files.has('node_modules/vitest/*')).toBe(false);
    // Every license named has its paragraph.
    const texts = new Set(paragraphs.filter((p) => p.License && !p.Files).map((p) => p.License.split('\n')[0]));
    for (const p of files.values()) for (const name of p.License.split(/ (?:and|or) /)) expect(texts).toContain(name);
    // Node.js's LICENSE beside its binary, where the build machine had one to copy.
    const nodeLicense = await stat(path.join(dir, 'usr', 'lib', 'berth', 'node', 'LICENSE')).then(
      () => true,
      () => false,
    );
    expect(text.includes('/usr/lib/berth/node/LICENSE')).toBe(nodeLicense);
  });
});
