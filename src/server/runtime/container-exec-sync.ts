import type { ExecSyncRequest__Output } from '../../generated/runtime/v1/ExecSyncRequest.js';
import type { ExecSyncResponse } from '../../generated/runtime/v1/ExecSyncResponse.js';
import type { CallContext } from '../deps.js';

export async function execSync(ctx: CallContext, req: ExecSyncRequest__Output): Promise<ExecSyncResponse> {
  const res = await ctx.deps.containers.execSync(req.containerId, req.cmd, Number(req.timeout), ctx.signal);
  return { stdout: res.stdout, stderr: res.stderr, exitCode: res.exitCode };
}
