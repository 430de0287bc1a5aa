#!/bin/sh
# Regenerates the TypeScript types of the CRI messages and services from
# proto/cri/api.proto (runtime.v1; v1alpha2 shares its types and handlers,
# so only its descriptor is built). The flags must match the loader options in
# src/server/proto.ts, which decodes with the same conventions.
set -eu
cd "$(dirname "$0")/.."
rm -rf src/generated
npx proto-loader-gen-types \
  --longs=String --enums=String --bytes=Buffer --defaults --oneofs \
  --grpcLib=@grpc/grpc-js --outDir=src/generated --inputTemplate=%s --outputTemplate=%s__Output \
  proto/cri/api.proto
# NRI's messages (containerd/nri v0.8.0), for berth's NRI runtime side.
npx proto-loader-gen-types \
  --longs=String --enums=String --bytes=Buffer --defaults --oneofs \
  --outDir=src/generated/nri --inputTemplate=%s --outputTemplate=%s__Output \
  proto/nri/api.proto
# Node's ES module resolution needs explicit extensions on relative imports.
find src/generated -name '*.ts' -exec sed -i -E "s#(from '\.[^']*)';#\1.js';#" {} +
node scripts/proto-descriptor.mjs
