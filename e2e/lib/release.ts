import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * The release artifacts of this checkout (`make package`), built once for
 * the test files that need them: they are rebuilt only when the bundle or
 * the native module is newer than the package.
 */
export const ROOT = path.resolve(import.meta.dirname, '..', '..');

export interface Release {
  version: string;
  tarball: string;
  deb: string;
}

const mtime = (p: string) =>
  stat(p).then(
    (s) => s.mtimeMs,
    () => 0,
  );

export async function buildRelease(): Promise<Release> {
  const version = (JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const release = path.join(ROOT, 'build', 'release');
  const r: Release = { version, tarball: path.join(release, `berth-${version}-linux-amd64.tar.gz`), deb: path.join(release, `berth_${version}_amd64.deb`) };
  const built = Math.min(await mtime(r.tarball), await mtime(r.deb));
  const inputs = Math.max(
    await mtime(path.join(ROOT, 'bundle', 'berth.cjs')),
    await mtime(path.join(ROOT, 'native', 'build', 'Release', 'berth_native.node')),
    await mtime(path.join(ROOT, 'scripts', 'package.sh')),
    ...(await Promise.all(['postinst', 'prerm', 'postrm', 'copyright.mjs'].map((f) => mtime(path.join(ROOT, 'scripts', 'deb', f))))),
    await mtime(path.join(ROOT, 'conf', 'berth.service')),
  );
  if (built === 0 || built < inputs) await promisify(execFile)('sh', [path.join(ROOT, 'scripts', 'package.sh')], { cwd: ROOT, maxBuffer: 1 << 20 });
  return r;
}
