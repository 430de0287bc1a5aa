#!/bin/sh
# The side-by-side benchmark (not part of the tests): installs containerd
# from Debian beside berth's own dependencies, compiles bench/ and runs it.
# CRI-O is measured too when BENCH_CRIO names a crio binary the operator
# built or installed; nothing of CRI-O is installed or built here.
# The report lands in bench/results/<date>/report.md.
set -eu
cd "$(dirname "$0")/.."
BERTH_EXTRA_PACKAGES=containerd sh scripts/install-deps.sh
rm -rf dist-bench
npx tsc -p tsconfig.bench.json
# The compiled helpers find the proto, the CLI and the native helpers
# (and the Kubernetes build script) relative to themselves, one level deeper than in dist/.
for d in proto bin native scripts; do ln -sfn "../$d" "dist-bench/$d"; done
exec node "dist-bench/bench/${BENCH_MAIN:-run}.js"
