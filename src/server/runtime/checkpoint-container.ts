import { access } from 'node:fs/promises';
import { constants } from 'node:fs';
import type { CheckpointContainerRequest__Output } from '../../generated/runtime/v1/CheckpointContainerRequest.js';
import type { CheckpointContainerResponse } from '../../generated/runtime/v1/CheckpointContainerResponse.js';
import { failedPrecondition, invalidArgument } from '../../errors.js';
import type { CallContext } from '../deps.js';

const CRIU_PATHS = ['/usr/sbin/criu', '/usr/bin/criu', '/usr/local/sbin/criu'];

/**
 * CheckpointContainer needs CRIU. Where the host has none, the answer is
 * FAILED_PRECONDITION naming what is missing; berth never pretends.
 */
export async function checkpointContainer(ctx: CallContext, req: CheckpointContainerRequest__Output): Promise<CheckpointContainerResponse> {
  const record = ctx.deps.containers.mustGet(req.containerId);
  if (!req.location) throw invalidArgument('CheckpointContainer: location is empty');
  if (record.status.state !== 'CONTAINER_RUNNING') throw failedPrecondition(`container ${record.meta.id} is not running`);
  for (const p of CRIU_PATHS) {
    if (await access(p, constants.X_OK).then(() => true, () => false)) {
      throw failedPrecondition(`checkpointing with CRIU (${p}) is not implemented by this version of berth`);
    }
  }
  throw failedPrecondition('checkpointing needs CRIU, which is not installed on this node (looked for criu in /usr/sbin, /usr/bin, /usr/local/sbin)');
}
