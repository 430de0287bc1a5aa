import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';
import type { ProtoGrpcType } from '../generated/api.js';

/**
 * Loader options. They must match the flags in scripts/gen-proto.sh so the
 * generated types describe what the loader really produces: camelCase field
 * names, int64 as decimal strings, enums as their names, bytes as Buffers,
 * absent scalar fields filled with their defaults.
 */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: String,
  enums: String,
  bytes: Buffer,
  defaults: true,
  oneofs: true,
};

export const PROTO_PATH = fileURLToPath(new URL('../../proto/cri/api.proto', import.meta.url));

export async function loadCriProto(): Promise<ProtoGrpcType> {
  const definition = await protoLoader.load(PROTO_PATH, LOADER_OPTIONS);
  return grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
}
