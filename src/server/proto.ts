/**
 * The CRI services as grpc-js definitions, built from the descriptor that
 * scripts/gen-proto.sh compiles out of proto/cri/api.proto. Messages are
 * converted with the conventions the generated types describe (and that
 * the gen-proto flags name): camelCase field names, int64 as decimal
 * strings, enums as their names, bytes as Buffers, absent scalar fields
 * filled with their defaults, oneof members named.
 *
 * This is what @grpc/proto-loader does, minus the file descriptors it
 * builds for server reflection, which berth does not serve: they made
 * loading the services the largest single cost of daemon start-up.
 */

import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { CRI_DESCRIPTOR } from '../generated/descriptor.js';
import type { ProtoGrpcType } from '../generated/api.js';

export const CONVERSION: protobuf.IConversionOptions = {
  longs: String,
  enums: String,
  bytes: Buffer,
  defaults: true,
  oneofs: true,
};

export type CriGrpc = { runtime: { v1: Pick<ProtoGrpcType['runtime']['v1'], 'RuntimeService' | 'ImageService'> } };

const SERVICES = ['runtime.v1.RuntimeService', 'runtime.v1.ImageService'] as const;

/**
 * Encodes a message. The bytes of each message object are kept as long as
 * the object lives: answers the server keeps between calls (see
 * runtime/answer-cache.ts) are encoded once.
 */
function serializer(type: protobuf.Type): grpc.serialize<object> {
  const encoded = new WeakMap<object, Buffer>();
  return (value) => {
    if (Array.isArray(value)) throw new Error(`cannot serialize an array as ${type.name}`);
    let bytes = encoded.get(value);
    if (!bytes) {
      bytes = type.encode(type.fromObject(value)).finish() as Buffer;
      encoded.set(value, bytes);
    }
    return bytes;
  };
}

function deserializer(type: protobuf.Type): grpc.deserialize<object> {
  return (bytes) => type.toObject(type.decode(bytes), CONVERSION);
}

function serviceDefinition(name: string, service: protobuf.Service): grpc.ServiceDefinition {
  const def: Record<string, grpc.MethodDefinition<object, object>> = {};
  for (const method of service.methodsArray) {
    // Only the method's own types: each message type resolves its fields
    // when first encoded or decoded, so the kubelet's first calls do not
    // wait for every type of the API to be resolved (a tenth of start-up).
    method.resolve();
    const request = method.resolvedRequestType!;
    const response = method.resolvedResponseType!;
    def[method.name] = {
      path: `/${name}/${method.name}`,
      requestStream: Boolean(method.requestStream),
      responseStream: Boolean(method.responseStream),
      requestSerialize: serializer(request),
      requestDeserialize: deserializer(request),
      responseSerialize: serializer(response),
      responseDeserialize: deserializer(response),
      originalName: method.name.charAt(0).toLowerCase() + method.name.slice(1),
    };
  }
  return def;
}

let loaded: CriGrpc | undefined;

/** The service constructors (one shared set per process: they are immutable). */
export async function loadCriProto(): Promise<CriGrpc> {
  if (!loaded) {
    const root = protobuf.Root.fromJSON(CRI_DESCRIPTOR);
    const pkg: grpc.GrpcObject = grpc.loadPackageDefinition(
      Object.fromEntries(SERVICES.map((name) => [name, serviceDefinition(name, root.lookupService(name))])),
    );
    loaded = pkg as unknown as CriGrpc;
  }
  return loaded;
}
