import type { ExecRequest__Output } from '../../generated/runtime/v1/ExecRequest.js';
import type { ExecResponse } from '../../generated/runtime/v1/ExecResponse.js';
import { failedPrecondition, invalidArgument } from '../../errors.js';
import type { CallContext } from '../deps.js';
import { checkStreams } from './stream-checks.js';

export async function exec(ctx: CallContext, req: ExecRequest__Output): Promise<ExecResponse> {
  const record = ctx.deps.containers.mustGet(req.containerId);
  if (req.cmd.length === 0) throw invalidArgument('Exec: cmd is empty');
  checkStreams('Exec', req);
  if (record.status.state !== 'CONTAINER_RUNNING') throw failedPrecondition(`container ${record.meta.id} is not running`);
  const token = ctx.deps.streaming.tokens.put({
    kind: 'exec',
    containerId: record.meta.id,
    cmd: req.cmd,
    tty: req.tty,
    stdin: req.stdin,
    stdout: req.stdout,
    stderr: req.stderr,
  });
  return { url: `${ctx.deps.streaming.baseUrl}/exec/${token}` };
}
