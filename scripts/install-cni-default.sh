#!/bin/sh
# Installs berth's default pod network (a bridge with host-local addresses,
# port mappings and bandwidth limits, like CRI-O's default) into the CNI
# configuration directory, but only when that directory holds no network
# yet: an operator's own configuration is never replaced.
set -eu
cd "$(dirname "$0")/.."
dir=${1:-/etc/cni/net.d}
mkdir -p "$dir"
if ls "$dir" 2>/dev/null | grep -Eq '\.(conflist|conf|json)$'; then
  exit 0
fi
cp conf/cni/99-berth-bridge.conflist "$dir/"
echo "berth: installed the default pod network in $dir/99-berth-bridge.conflist" >&2
