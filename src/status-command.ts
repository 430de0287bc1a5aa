import { lstat } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import type { StatusResponse__Output } from './generated/runtime/v1/StatusResponse.js';
import { messageOf } from './errors.js';
import type { VersionResponse__Output } from './generated/runtime/v1/VersionResponse.js';
import { loadCriProto } from './server/proto.js';
import { probeSocket } from './server/socket.js';

const HINT = '(is berth running? systemctl status berth)';

/** Why connecting to the socket failed, from the errno: what an operator does about each differs. */
export function unreachableReason(code: string, isSocket: boolean): string {
  if (code === 'ENOENT') return `no such socket ${HINT}`;
  if (code === 'ECONNREFUSED') return isSocket ? `nothing listens on it: a stale socket left by a daemon that stopped ${HINT}` : 'it is not a socket';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied (the socket is for root and its group: try sudo)';
  if (code === 'ENOTDIR') return 'a directory on its path is a file';
  return `${code} ${HINT}`;
}

/** A failed call, in a line: grpc-js details carry its resolver's notes after the first sentence. */
function callFailure(e: unknown): string {
  const err = e as Partial<grpc.ServiceError>;
  if (err.code === grpc.status.DEADLINE_EXCEEDED) return 'it accepts connections but did not answer within 5s';
  const details = (err.details || messageOf(e)).split('\n')[0]!.split('. ')[0]!;
  return `it accepts connections but does not answer as a CRI runtime (${err.code === undefined ? 'error' : grpc.status[err.code]}: ${details})`;
}

/**
 * `berth status`: asks the running daemon over its socket (as `crio status`
 * does) for its version, conditions, runtime handlers and effective
 * configuration. Exit status 1 when it cannot be reached.
 */
export async function statusCommand(socket: string, json: boolean, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const unreachable = (why: string) => {
    err.write(`berth: cannot reach the daemon on ${socket}: ${why}\n`);
    return 1;
  };
  // Asked first with a plain connect: gRPC reports a missing or refused socket only inside its resolver's notes.
  const found = await probeSocket(socket);
  if (found !== 'answers') {
    const isSocket = await lstat(socket).then(
      (st) => st.isSocket(),
      () => false,
    );
    return unreachable(unreachableReason(found, isSocket));
  }
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
    const nri = status.info.nri ? (JSON.parse(status.info.nri) as { plugins: { name: string; index: string }[] }) : undefined;
    if (json) {
      out.write(
        `${JSON.stringify({ version, conditions: status.status?.conditions ?? [], runtimeHandlers: status.runtimeHandlers, config, ...(nri ? { nri } : {}) }, null, 2)}\n`,
      );
      return 0;
    }
    out.write(`berth ${version.runtimeVersion} (CRI ${version.runtimeApiVersion}) on ${socket}\n`);
    for (const c of status.status?.conditions ?? []) out.write(`${c.type}: ${c.status ? 'true' : `false (${c.reason}: ${c.message})`}\n`);
    out.write(`runtime handlers: ${status.runtimeHandlers.map((h) => h.name || '(default)').join(', ')}\n`);
    out.write(`root: ${String(config.root)}\nrunroot: ${String(config.runroot)}\n`);
    if (nri) out.write(`NRI plugins: ${nri.plugins.map((p) => `${p.index}-${p.name}`).join(', ') || 'none'}\n`);
    return 0;
  } catch (e) {
    return unreachable(callFailure(e));
  } finally {
    client.close();
  }
}
