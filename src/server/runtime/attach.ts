import type { AttachRequest__Output } from '../../generated/runtime/v1/AttachRequest.js';
import type { AttachResponse } from '../../generated/runtime/v1/AttachResponse.js';
import { failedPrecondition } from '../../errors.js';
import type { CallContext } from '../deps.js';
import { checkStreams } from './stream-checks.js';
import { mustBeRunning } from '../../container/container.js';

export async function attach(ctx: CallContext, req: AttachRequest__Output): Promise<AttachResponse> {
  const record = ctx.deps.containers.mustGet(req.containerId);
  checkStreams('Attach', req);
  mustBeRunning(record);
  if (req.stdin && !record.meta.stdin) throw failedPrecondition(`container ${record.meta.id} was not created with stdin`);
  // The container's terminal setting decides how its output looks, not the request's.
  const tty = record.meta.tty;
  const token = ctx.deps.streaming.tokens.put({
    kind: 'attach',
    containerId: record.meta.id,
    tty,
    stdin: req.stdin,
    stdout: req.stdout,
    stderr: req.stderr && !tty,
  });
  return { url: `${ctx.deps.streaming.baseUrl}/attach/${token}` };
}
