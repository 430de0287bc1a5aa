/**
 * The CRI services as grpc-js definitions, built from the descriptor that
 * scripts/gen-proto.sh compiles out of proto/cri/api.proto (runtime.v1) and
 * proto/cri/v1alpha2.proto (runtime.v1alpha2, kubelets 1.20-1.25). Messages are
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

type V1Services = Pick<ProtoGrpcType['runtime']['v1'], 'RuntimeService' | 'ImageService'>;
/** runtime.v1alpha2 has no generated types of its own: its messages are v1's (see v1alpha2Definition). */
type V1alpha2Services = { RuntimeService: grpc.ServiceClientConstructor; ImageService: grpc.ServiceClientConstructor };
export type CriGrpc = { runtime: { v1: V1Services; v1alpha2: V1alpha2Services } };

const SERVICES = ['runtime.v1.RuntimeService', 'runtime.v1.ImageService'] as const;
const V1ALPHA2_SERVICES = ['runtime.v1alpha2.RuntimeService', 'runtime.v1alpha2.ImageService'] as const;

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

/**
 * A runtime.v1alpha2 service served by the v1 handlers. v1alpha2 is a part
 * of v1 on the wire (test/proto-outline.test.ts checks it field by field),
 * so a request is decoded as v1alpha2, which drops what v1alpha2 does not
 * have exactly as a v1alpha2 server would, re-encoded, and decoded as its
 * v1 twin with v1's defaults; an answer is encoded as v1, whose extra
 * fields a v1alpha2 client skips as unknown.
 */
function v1alpha2Definition(name: string, service: protobuf.Service, root: protobuf.Root): grpc.ServiceDefinition {
  const def: Record<string, grpc.MethodDefinition<object, object>> = {};
  for (const method of service.methodsArray) {
    method.resolve();
    const request = method.resolvedRequestType!;
    const response = method.resolvedResponseType!;
    const v1Request = root.lookupType(`runtime.v1.${request.name}`);
    const v1Response = root.lookupType(`runtime.v1.${response.name}`);
    def[method.name] = {
      path: `/${name}/${method.name}`,
      requestStream: Boolean(method.requestStream),
      responseStream: Boolean(method.responseStream),
      requestSerialize: serializer(request),
      requestDeserialize: (bytes) => v1Request.toObject(v1Request.decode(request.encode(request.decode(bytes)).finish()), CONVERSION),
      responseSerialize: serializer(v1Response),
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
    const pkg: grpc.GrpcObject = grpc.loadPackageDefinition({
      ...Object.fromEntries(SERVICES.map((name) => [name, serviceDefinition(name, root.lookupService(name))])),
      ...Object.fromEntries(V1ALPHA2_SERVICES.map((name) => [name, v1alpha2Definition(name, root.lookupService(name), root)])),
    });
    loaded = pkg as unknown as CriGrpc;
  }
  return loaded;
}
