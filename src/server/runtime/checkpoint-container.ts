import { access } from 'node:fs/promises';
import { constants } from 'node:fs';
import type { CheckpointContainerRequest__Output } from '../../generated/runtime/v1/CheckpointContainerRequest.js';
import type { CheckpointContainerResponse } from '../../generated/runtime/v1/CheckpointContainerResponse.js';
import { failedPrecondition, invalidArgument } from '../../errors.js';
import { failureText, runCommand } from '../../util/exec.js';
import type { CallContext } from '../deps.js';

const CRIU_PATHS = ['/usr/sbin/criu', '/usr/bin/criu', '/usr/local/sbin/criu'];

let criuVerdict: Promise<string | undefined> | undefined;

/** Why CRIU cannot checkpoint on this host, or undefined when `criu check` passes. */
function criuProblem(): Promise<string | undefined> {
  criuVerdict ??= (async () => {
    let criu: string | undefined;
    for (const p of CRIU_PATHS) if (await access(p, constants.X_OK).then(() => true, () => false)) criu = p;
    if (!criu) return 'CRIU is not installed on this node (looked for criu in /usr/sbin, /usr/bin, /usr/local/sbin)';
    const res = await runCommand(criu, ['check']);
    if (res.code !== 0) return `CRIU cannot work on this node: \`criu check\` failed: ${failureText(res).split('\n')[0]}`;
    return undefined;
  })();
  return criuVerdict;
}

/**
 * CheckpointContainer needs CRIU working on the host. Where it does not,
 * the answer is FAILED_PRECONDITION naming what is missing; berth never
 * pretends to have checkpointed.
 */
export async function checkpointContainer(ctx: CallContext, req: CheckpointContainerRequest__Output): Promise<CheckpointContainerResponse> {
  const record = ctx.deps.containers.mustGet(req.containerId);
  if (!req.location) throw invalidArgument('CheckpointContainer: location is empty');
  if (record.status.state !== 'CONTAINER_RUNNING') throw failedPrecondition(`container ${record.meta.id} is not running`);
  const problem = await criuProblem();
  if (problem) throw failedPrecondition(problem);
  throw failedPrecondition('CRIU works on this node, but checkpointing through runc is not implemented by this version of berth yet');
}
