import { access } from 'node:fs/promises';
import { constants } from 'node:fs';
import type { CheckpointContainerRequest__Output } from '../../generated/runtime/v1/CheckpointContainerRequest.js';
import type { CheckpointContainerResponse } from '../../generated/runtime/v1/CheckpointContainerResponse.js';
import { failedPrecondition, invalidArgument } from '../../errors.js';
import path from 'node:path';
import { checkpointToArchive } from '../../container/checkpoint.js';
import { failureText, runCommand } from '../../util/exec.js';
import type { CallContext } from '../deps.js';
import { mustBeRunning } from '../../container/container.js';

const CRIU_PATHS = ['/usr/sbin/criu', '/usr/bin/criu', '/usr/local/sbin/criu'];

let criuVerdict: Promise<string | undefined> | undefined;

/** Why CRIU cannot checkpoint on this host, or undefined when `criu check` passes. */
function criuProblem(): Promise<string | undefined> {
  criuVerdict ??= (async () => {
    let criu: string | undefined;
    for (const p of CRIU_PATHS)
      if (
        await access(p, constants.X_OK).then(
          () => true,
          () => false,
        )
      )
        criu = p;
    if (!criu) return 'CRIU is not installed on this node (looked for criu in /usr/sbin, /usr/bin, /usr/local/sbin)';
    const res = await runCommand(criu, ['check']);
    if (res.code !== 0) return `CRIU cannot work on this node: \`criu check\` failed: ${failureText(res).split('\n')[0]}`;
    return undefined;
  })();
  return criuVerdict;
}

/**
 * CheckpointContainer through `runc checkpoint` and CRIU, into an archive
 * at `location`. CRIU must work on the host (`criu check`); where it does
 * not, the answer is FAILED_PRECONDITION naming why, and nothing is written.
 */
export async function checkpointContainer(ctx: CallContext, req: CheckpointContainerRequest__Output): Promise<CheckpointContainerResponse> {
  const record = ctx.deps.containers.mustGet(req.containerId);
  if (!req.location) throw invalidArgument('CheckpointContainer: location is empty');
  mustBeRunning(record);
  if (!path.isAbsolute(req.location)) throw invalidArgument(`CheckpointContainer: location "${req.location}" must be an absolute path`);
  const problem = await criuProblem();
  if (problem) throw failedPrecondition(problem);
  // The kubelet allows at least two minutes; a caller may ask for longer.
  const timeoutMs = Math.max(Number(req.timeout) * 1000, 120_000);
  await checkpointToArchive({ runtime: ctx.deps.containers.runtimeFor(record.meta.runtimeHandler), meta: record.meta, location: req.location, timeoutMs });
  ctx.log.info({ location: req.location }, 'container checkpointed');
  return {};
}
