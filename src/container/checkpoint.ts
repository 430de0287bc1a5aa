import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { RuntimeError, runtimeFailed } from '../errors.js';
import type { OciRuntime } from '../oci/runtime.js';
import { failureText, runCommand } from '../util/exec.js';
import type { ContainerMeta } from './container.js';

/**
 * A checkpoint archive in the layout the kubelet's forensic checkpointing
 * and CRI-O use: CRIU's images under `checkpoint/`, the container's OCI
 * spec (`spec.dump`) and berth's record of it (`config.dump`), and the
 * changes to its root filesystem (`rootfs-diff.tar`). The container keeps
 * running (`--leave-running`).
 */
export async function checkpointToArchive(opts: { runtime: OciRuntime; meta: ContainerMeta; location: string; timeoutMs: number }): Promise<void> {
  const { meta } = opts;
  const work = await mkdtemp(path.join(path.dirname(opts.location), '.berth-checkpoint-'));
  try {
    const signal = AbortSignal.timeout(opts.timeoutMs);
    const run = async (file: string, args: string[], what: string) => {
      const res = await runCommand(file, args, { signal }).catch((err: unknown) => {
        throw new RuntimeError(signal.aborted ? 'deadline-exceeded' : 'runtime-failed', `${what}: ${(err as Error).message}`);
      });
      if (res.code !== 0) throw runtimeFailed(`${what}: ${failureText(res)}`);
    };
    await run(
      opts.runtime.handler.path,
      [
        ...opts.runtime.globalArgs(),
        'checkpoint',
        '--leave-running',
        '--tcp-established',
        '--file-locks',
        '--image-path',
        path.join(work, 'checkpoint'),
        '--work-path',
        path.join(work, 'criu-work'),
        meta.id,
      ],
      `${opts.runtime.handler.name} checkpoint ${meta.id}`,
    );
    await rm(path.join(work, 'criu-work'), { recursive: true, force: true });
    await run('cp', [path.join(meta.bundle, 'config.json'), path.join(work, 'spec.dump')], 'saving the OCI spec');
    await writeFile(
      path.join(work, 'config.dump'),
      JSON.stringify({
        id: meta.id,
        name: meta.name,
        rootfsImageName: meta.image,
        rootfsImageRef: meta.imageId,
        createdTime: meta.createdAt,
        labels: meta.labels,
        annotations: meta.annotations,
        runtime: meta.runtimeHandler,
      }),
    );
    await run(
      'tar',
      ['-C', path.join(meta.persistDir, 'fs', 'upper'), '--xattrs', '-cf', path.join(work, 'rootfs-diff.tar'), '.'],
      'archiving the root filesystem changes',
    );
    await run('tar', ['-C', work, '-czf', opts.location, '.'], `writing ${opts.location}`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
