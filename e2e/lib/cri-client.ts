import * as grpc from '@grpc/grpc-js';
import type { ImageServiceClient } from '../../src/generated/runtime/v1/ImageService.js';
import type { RuntimeServiceClient } from '../../src/generated/runtime/v1/RuntimeService.js';
import { loadCriProto } from '../../src/server/proto.js';

/**
 * A typed CRI client over a unix socket, the way the kubelet and crictl
 * talk to berth. `call` turns a unary RPC into a promise; a failed call
 * rejects with the grpc-js ServiceError (code, details).
 */
export interface CriClient {
  runtime: RuntimeServiceClient;
  image: ImageServiceClient;
  close(): void;
}

export async function connectCri(socketPath: string): Promise<CriClient> {
  const proto = await loadCriProto();
  const target = `unix://${socketPath}`;
  const options = { 'grpc.max_receive_message_length': 16 << 20 };
  const runtime = new proto.runtime.v1.RuntimeService(target, grpc.credentials.createInsecure(), options);
  const image = new proto.runtime.v1.ImageService(target, grpc.credentials.createInsecure(), options);
  return {
    runtime,
    image,
    close() {
      runtime.close();
      image.close();
    },
  };
}

// TypeScript infers from the last overload of a generated method, which is
// the (request, callback) form; the call itself passes metadata and options.
type UnaryMethod<Req, Res> = (request: Req, callback: grpc.requestCallback<Res>) => grpc.ClientUnaryCall;
type UnaryMethodWithOptions<Req, Res> = (
  request: Req,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: grpc.requestCallback<Res>,
) => grpc.ClientUnaryCall;

export function call<Req, Res>(client: grpc.Client, method: UnaryMethod<Req, Res>, request: Req, timeoutMs = 60_000): Promise<Res> {
  return new Promise((resolve, reject) => {
    (method as unknown as UnaryMethodWithOptions<Req, Res>).call(client, request, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => {
      if (err) reject(err);
      else resolve(res as Res);
    });
  });
}

/** The gRPC status code name of a rejected call, for assertions. */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'OK';
  } catch (err) {
    const code = (err as grpc.ServiceError).code;
    return grpc.status[code] ?? String(code);
  }
}
