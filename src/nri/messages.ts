/**
 * NRI's messages as protobufjs types, built from the descriptor
 * scripts/gen-proto.sh compiles out of proto/nri/api.proto, with the
 * conversions the generated types describe (camelCase names, int64 as
 * decimal strings, enums as names, absent fields filled in). A plugin's
 * bytes are decoded against the schema: wrong wire types are refused by
 * the decoder, and the result has the generated __Output shape.
 */

import protobuf from 'protobufjs';
import { NRI_DESCRIPTOR } from '../generated/nri-descriptor.js';
import { Code, TtrpcError } from './ttrpc-wire.js';

export const PACKAGE = 'nri.pkg.api.v1alpha1';
export const PLUGIN_SERVICE = `${PACKAGE}.Plugin`;
export const RUNTIME_SERVICE = `${PACKAGE}.Runtime`;

const CONVERSION: protobuf.IConversionOptions = { longs: String, enums: String, bytes: Buffer, defaults: true, oneofs: true };

let root: protobuf.Root | undefined;
function type(name: string): protobuf.Type {
  root ??= protobuf.Root.fromJSON(NRI_DESCRIPTOR);
  return root.lookupType(`${PACKAGE}.${name}`);
}

/** Encodes a message of NRI's API by its name. */
export function encode(name: string, value: object): Uint8Array {
  const t = type(name);
  return t.encode(t.fromObject(value)).finish();
}

/** Decodes a message a plugin sent; a message that does not decode is InvalidArgument. */
export function decode<T>(name: string, bytes: Uint8Array): T {
  const t = type(name);
  try {
    return t.toObject(t.decode(bytes), CONVERSION) as T;
  } catch (err) {
    throw new TtrpcError(Code.InvalidArgument, `malformed ${name}: ${(err as Error).message}`);
  }
}
