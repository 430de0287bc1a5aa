import { execFile, spawn } from 'node:child_process';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { timed } from './measure.js';

const run = promisify(execFile);

/** runc create leaves the container holding its stdio: give it /dev/null, not pipes to wait on. */
function runDetached(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')}: exit ${code}`))));
  });
}

/**
 * The floor: what any runtime has to pay at least. A busybox bundle run
 * straight through runc (create, start, kill, delete), once on a plain
 * directory and once on an overlay mount like a container's root.
 */
export interface FloorFigures {
  plain: number[];
  overlay: number[];
}

async function bundle(dir: string, rootPath: string): Promise<string> {
  const rootfs = path.join(dir, 'lower');
  await mkdir(path.join(rootfs, 'bin'), { recursive: true });
  for (const d of ['proc', 'sys', 'dev', 'tmp']) await mkdir(path.join(rootfs, d), { recursive: true });
  await copyFile('/bin/busybox', path.join(rootfs, 'bin', 'sleep'));
  await run('runc', ['spec', '--bundle', dir]);
  const specPath = path.join(dir, 'config.json');
  const spec = JSON.parse(await readFile(specPath, 'utf8')) as {
    process: { args: string[]; terminal: boolean; oomScoreAdj?: number };
    root: { path: string; readonly: boolean };
  };
  spec.process.args = ['/bin/sleep', '600'];
  spec.process.terminal = false;
  spec.root = { path: rootPath, readonly: false };
  await writeFile(specPath, JSON.stringify(spec));
  await mkdir(path.join(dir, 'rootfs'), { recursive: true });
  return dir;
}

async function once(runcRoot: string, dir: string, id: string, overlay: boolean): Promise<number> {
  const rootfs = path.join(dir, 'rootfs');
  const [, ms] = await timed(async () => {
    if (overlay) {
      await mkdir(path.join(dir, 'upper'), { recursive: true });
      await mkdir(path.join(dir, 'work'), { recursive: true });
      await run('mount', [
        '-t',
        'overlay',
        'overlay',
        '-o',
        `lowerdir=${path.join(dir, 'lower')},upperdir=${path.join(dir, 'upper')},workdir=${path.join(dir, 'work')}`,
        rootfs,
      ]);
    }
    await runDetached('runc', ['--root', runcRoot, 'create', '--bundle', dir, id]);
    await run('runc', ['--root', runcRoot, 'start', id]);
    await run('runc', ['--root', runcRoot, 'kill', id, 'KILL']);
    await run('runc', ['--root', runcRoot, 'delete', '--force', id]);
    if (overlay) await run('umount', [rootfs]);
  });
  if (overlay) await rm(path.join(dir, 'upper'), { recursive: true, force: true });
  return ms;
}

export async function measureFloor(dir: string, runs: number): Promise<FloorFigures> {
  const runcRoot = path.join(dir, 'runc');
  const plain = await bundle(path.join(dir, 'plain'), 'lower');
  const overlay = await bundle(path.join(dir, 'overlay'), 'rootfs');
  const out: FloorFigures = { plain: [], overlay: [] };
  try {
    for (let i = 0; i < runs; i++) {
      out.plain.push(await once(runcRoot, plain, `floor-p-${i}`, false));
      out.overlay.push(await once(runcRoot, overlay, `floor-o-${i}`, true));
    }
  } finally {
    await run('umount', [path.join(overlay, 'rootfs')]).catch(() => undefined);
  }
  return out;
}
