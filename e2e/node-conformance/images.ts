import { execFile } from 'node:child_process';
import { access, mkdir, readFile, readdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { TarInput } from '../../test/support/tar-writer.js';
import { buildImage, buildLayer, pushImage } from '../fixtures/image-builder.js';
import { MTIME } from '../fixtures/test-images.js';
import type { TestRegistry } from '../lib/registry.js';

/**
 * The images the Kubernetes 1.20 node e2e suite's [NodeConformance] specs
 * run, built here from Debian's packages and the suite's own source, and
 * pushed under the names the suite asks for once KUBE_TEST_REPO_LIST points
 * its registries at the loopback registry:
 *   library/busybox:1.29, :1.31.1   busybox-static with every applet linked
 *   library/nginx:1.14-alpine       stands in for nginx: the specs only need
 *                                   it to keep running (busybox httpd on 80)
 *   e2e-test-images/agnhost:2.21    agnhost built from the Kubernetes tree
 *                                   (test/images/agnhost), with busybox,
 *                                   Debian's dash as sh, curl and
 *                                   netcat-openbsd
 *   pause:3.2                       sleeps forever (busybox)
 *   kubernetes-e2e-test-images/nonewprivs:1.0   a setuid-root program that
 *                                   prints its effective uid (nnp.c)
 */
const run = promisify(execFile);
const t = { mtime: MTIME };

async function busyboxEntries(): Promise<TarInput[]> {
  const applets = (await run('/bin/busybox', ['--list'])).stdout.split('\n').filter((a) => a && a !== 'busybox');
  return [
    { name: 'bin/', type: 'dir', ...t },
    { name: 'bin/busybox', content: await readFile('/bin/busybox'), mode: 0o755, ...t },
    ...applets.map((a): TarInput => ({ name: `bin/${a}`, type: 'symlink', linkname: 'busybox', ...t })),
    { name: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n', ...t },
    { name: 'etc/group', content: 'root:x:0:\nnogroup:x:65534:\n', ...t },
    { name: 'tmp/', type: 'dir', mode: 0o1777, ...t },
    { name: 'root/', type: 'dir', mode: 0o700, ...t },
  ];
}

/** A dynamically linked program with the libraries `ldd` names, at their paths. */
async function withLibraries(binary: string, as: string): Promise<TarInput[]> {
  const entries: TarInput[] = [{ name: as, content: await readFile(binary), mode: 0o755, ...t }];
  for (const line of (await run('ldd', [binary])).stdout.split('\n')) {
    const lib = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line)?.[1];
    if (!lib) continue;
    entries.push({ name: lib.slice(1), content: await readFile(await realpath(lib)), mode: 0o755, ...t });
  }
  return entries;
}

/** Extracts one Debian package (downloaded, not installed) into `dir`; returns `dir`. */
async function debianPackage(pkg: string, cache: string): Promise<string> {
  const dir = path.join(cache, pkg);
  const done = path.join(dir, '.extracted');
  if (
    await access(done).then(
      () => true,
      () => false,
    )
  )
    return dir;
  await mkdir(dir, { recursive: true });
  await run('apt-get', ['download', pkg], { cwd: cache });
  const deb = (await readdir(cache)).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  if (!deb) throw new Error(`apt-get download ${pkg} left no .deb`);
  await run('dpkg-deb', ['-x', path.join(cache, deb), dir]);
  await run('touch', [done]);
  return dir;
}

async function nnpBinary(cache: string): Promise<Buffer> {
  const out = path.join(cache, 'nnp');
  await run('gcc', ['-static', '-O2', '-o', out, path.resolve('e2e', 'node-conformance', 'nnp.c')]);
  return readFile(out);
}

export interface ConformanceImages {
  /** What KUBE_TEST_REPO_LIST says, registry key → prefix. */
  repoList: Record<string, string>;
  /** Every image reference the specs run, to pull before the suite starts. */
  references: string[];
}

export async function pushConformanceImages(reg: TestRegistry, agnhost: string, cache: string): Promise<ConformanceImages> {
  await mkdir(cache, { recursive: true });
  const busybox = await busyboxEntries();
  const image = async (repo: string, tag: string, entries: TarInput[], config: { cmd?: string[]; entrypoint?: string[]; user?: string }) => {
    const layer = await buildLayer([...new Map(entries.map((e) => [e.name, e])).values()], 'gzip', false);
    await pushImage(reg, repo, tag, buildImage([layer], false, config));
    return `${reg.host}/${repo}:${tag}`;
  };
  const netcat = await debianPackage('netcat-openbsd', cache);
  const references = [
    await image('library/busybox', '1.29', busybox, { cmd: ['sh'] }),
    await image('library/busybox', '1.31.1', busybox, { cmd: ['sh'] }),
    await image('library/nginx', '1.14-alpine', [...busybox, { name: 'usr/share/nginx/html/index.html', content: 'berth node conformance\n', ...t }], {
      cmd: ['httpd', '-f', '-p', '80', '-h', '/usr/share/nginx/html'],
    }),
    await image(
      'e2e-test-images/agnhost',
      '2.21',
      [
        ...busybox,
        { name: 'agnhost', content: await readFile(agnhost), mode: 0o755, ...t },
        { name: 'agnhost-2', type: 'symlink', linkname: 'agnhost', ...t },
        ...(await withLibraries('/usr/bin/curl', 'usr/bin/curl')),
        ...(await withLibraries(path.join(netcat, 'bin/nc.openbsd'), 'usr/bin/nc')),
        // The specs want OpenBSD's nc (-u). Debian's busybox shell runs its
        // own applets before looking at PATH, so this image's /bin/sh is
        // Debian's dash, which finds nc (and everything else) on PATH.
        { name: 'bin/nc', type: 'symlink', linkname: '/usr/bin/nc', ...t },
        ...(await withLibraries('/bin/dash', 'bin/dash')),
        { name: 'bin/sh', type: 'symlink', linkname: 'dash', ...t },
        { name: 'etc/ssl/', type: 'dir', ...t },
      ],
      { entrypoint: ['/agnhost'], cmd: ['pause'] },
    ),
    await image('pause', '3.2', busybox, { entrypoint: ['/bin/sleep', '2147483647'], cmd: [], user: '65535:65535' }),
    await image(
      'kubernetes-e2e-test-images/nonewprivs',
      '1.0',
      [...busybox, { name: 'usr/local/bin/nnp', content: await nnpBinary(cache), mode: 0o4755, ...t }],
      { cmd: ['nnp'] },
    ),
  ];
  return {
    repoList: {
      dockerLibraryRegistry: `${reg.host}/library`,
      promoterE2eRegistry: `${reg.host}/e2e-test-images`,
      gcRegistry: reg.host,
      e2eRegistry: `${reg.host}/kubernetes-e2e-test-images`,
    },
    references,
  };
}
