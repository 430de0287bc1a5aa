import * as grpc from '@grpc/grpc-js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCriProto } from '../src/server/proto.js';

/**
 * What the README says about old gRPC clients: a unix socket path as the
 * HTTP/2 :authority is refused by Node's HTTP/2 stack, while the
 * `localhost` authority of current clients is served.
 */
describe('the :authority of unix-socket calls', () => {
  it('serves localhost and refuses a socket path', async () => {
    const proto = await loadCriProto();
    const dir = await mkdtemp(path.join(tmpdir(), 'berth-authority-'));
    const socket = path.join(dir, 'cri.sock');
    const server = new grpc.Server();
    server.addService(proto.runtime.v1.RuntimeService.service, {
      Version: (_call: unknown, cb: (err: null, res: object) => void) => cb(null, { version: '0.1.0', runtimeName: 'berth' }),
    } as unknown as grpc.UntypedServiceImplementation);
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())),
    );
    const version = (authority?: string) => {
      const client = new proto.runtime.v1.RuntimeService(
        `unix://${socket}`,
        grpc.credentials.createInsecure(),
        authority ? { 'grpc.default_authority': authority } : {},
      );
      return new Promise<string>((resolve) => {
        (client as unknown as { Version(req: object, cb: (e: grpc.ServiceError | null, r?: { runtimeName: string }) => void): void }).Version({}, (e, r) =>
          resolve(e ? `${grpc.status[e.code]}: ${e.details}` : r!.runtimeName),
        );
      }).finally(() => client.close());
    };
    try {
      expect(await version()).toBe('berth');
      expect(await version('localhost')).toBe('berth');
      expect(await version(socket)).toMatch(/RST_STREAM with code 1/); // PROTOCOL_ERROR
    } finally {
      server.forceShutdown();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
