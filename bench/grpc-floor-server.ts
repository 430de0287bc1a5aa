import { unlink } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import { loadCriProto } from '../src/server/proto.js';

/**
 * The floor of any CRI server written on Node's gRPC stack: grpc-js with
 * berth's codecs and server options, answering Version and nothing else,
 * in a process of its own. The benchmark times calls to it beside the
 * runtimes' to tell what a call costs berth from what grpc-js costs.
 */
const socket = process.argv[2];
if (!socket) throw new Error('usage: grpc-floor-server.js SOCKET');
await unlink(socket).catch(() => undefined);
const proto = await loadCriProto();
const server = new grpc.Server({ 'grpc.enable_channelz': 0 });
const version = { version: '0.1.0', runtimeName: 'grpc-floor', runtimeVersion: '0', runtimeApiVersion: 'v1' };
const unimplemented: grpc.handleUnaryCall<unknown, unknown> = (_call, callback) => callback({ code: grpc.status.UNIMPLEMENTED });
const handlers: grpc.UntypedServiceImplementation = {};
for (const name of Object.keys(proto.runtime.v1.RuntimeService.service)) handlers[name] = unimplemented;
handlers.Version = ((_call, callback) => callback(null, version)) satisfies grpc.handleUnaryCall<unknown, typeof version>;
server.addService(proto.runtime.v1.RuntimeService.service, handlers);
server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) throw err;
  process.stdout.write('ready\n');
});
process.once('SIGTERM', () => server.forceShutdown());
