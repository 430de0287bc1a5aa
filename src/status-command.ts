import * as grpc from '@grpc/grpc-js';
import type { StatusResponse__Output } from './generated/runtime/v1/StatusResponse.js';
import type { VersionResponse__Output } from './generated/runtime/v1/VersionResponse.js';
import { loadCriProto } from './server/proto.js';

/**
 * `berth status`: asks the running daemon over its socket (as `crio status`
 * does) for its version, conditions, runtime handlers and effective
 * configuration. Exit status 1 when it cannot be reached.
 */
export async function statusCommand(socket: string, json: boolean, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const proto = await loadCriProto();
  const client = new proto.runtime.v1.RuntimeService(`unix://${socket}`, grpc.credentials.createInsecure());
  const ask = <T>(method: 'Version' | 'Status', req: object) =>
    new Promise<T>((resolve, reject) => {
      (client as unknown as Record<string, (r: object, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, res: T) => void) => void>)[
        method
      ]!.call(client, req, new grpc.Metadata(), { deadline: Date.now() + 5000 }, (e, res) => (e ? reject(e) : resolve(res)));
    });
  try {
    const version = await ask<VersionResponse__Output>('Version', { version: 'v1' });
    const status = await ask<StatusResponse__Output>('Status', { verbose: true });
    const config = JSON.parse(status.info.config ?? '{}') as Record<string, unknown>;
    if (json) {
      out.write(`${JSON.stringify({ version, conditions: status.status?.conditions ?? [], runtimeHandlers: status.runtimeHandlers, config }, null, 2)}\n`);
      return 0;
    }
    out.write(`berth ${version.runtimeVersion} (CRI ${version.runtimeApiVersion}) on ${socket}\n`);
    for (const c of status.status?.conditions ?? []) out.write(`${c.type}: ${c.status ? 'true' : `false (${c.reason}: ${c.message})`}\n`);
    out.write(`runtime handlers: ${status.runtimeHandlers.map((h) => h.name || '(default)').join(', ')}\n`);
    out.write(`root: ${String(config.root)}\nrunroot: ${String(config.runroot)}\n`);
    return 0;
  } catch (e) {
    err.write(`berth: cannot reach the daemon on ${socket}: ${(e as grpc.ServiceError).details || (e as Error).message}\n`);
    return 1;
  } finally {
    client.close();
  }
}
