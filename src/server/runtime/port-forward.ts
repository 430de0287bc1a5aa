import type { PortForwardRequest__Output } from '../../generated/runtime/v1/PortForwardRequest.js';
import type { PortForwardResponse } from '../../generated/runtime/v1/PortForwardResponse.js';
import { failedPrecondition, invalidArgument } from '../../errors.js';
import type { CallContext } from '../deps.js';

export async function portForward(ctx: CallContext, req: PortForwardRequest__Output): Promise<PortForwardResponse> {
  const record = ctx.deps.sandboxes.mustGet(req.podSandboxId);
  if (record.status.state !== 'SANDBOX_READY') throw failedPrecondition(`pod sandbox ${record.meta.id} is not ready`);
  for (const p of req.port) if (!Number.isInteger(p) || p <= 0 || p > 65535) throw invalidArgument(`invalid port ${p}`);
  const token = ctx.deps.streaming.tokens.put({ kind: 'portforward', podSandboxId: record.meta.id, ports: req.port });
  return { url: `${ctx.deps.streaming.baseUrl}/portforward/${token}` };
}
