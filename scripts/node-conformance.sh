#!/bin/sh
# Node conformance (not part of the tests' command): the Kubernetes 1.20
# node e2e suite, [NodeConformance] specs, against berth and against
# Debian's containerd as the reference. Builds the suite, the kubelet and
# agnhost from Debian's Kubernetes source first when needed (scripts/
# kubernetes/build.sh). Results: build/node-conformance/<runtime>/summary.md.
#
#   scripts/node-conformance.sh [berth|containerd ...]
set -eu
cd "$(dirname "$0")/.."
BERTH_EXTRA_PACKAGES=containerd sh scripts/install-deps.sh
rm -rf dist-conformance
npx tsc -p tsconfig.bench.json --outDir dist-conformance
for d in proto bin native scripts; do ln -sfn "../$d" "dist-conformance/$d"; done
exec node dist-conformance/e2e/node-conformance/run.js "$@"
