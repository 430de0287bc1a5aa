import type { ExecRequest__Output } from '../../generated/runtime/v1/ExecRequest.js';
import type { ExecResponse } from '../../generated/runtime/v1/ExecResponse.js';
import { invalidArgument } from '../../errors.js';
import type { CallContext } from '../deps.js';
import { checkStreams } from './stream-checks.js';
import { mustBeRunning } from '../../container/container.js';

export async function exec(ctx: CallContext, req: ExecRequest__Output): Promise<ExecResponse> {
  const record = ctx.deps.containers.mustGet(req.containerId);
  if (req.cmd.length === 0) throw invalidArgument('Exec: cmd is empty');
  checkStreams('Exec', req);
  mustBeRunning(record);
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
