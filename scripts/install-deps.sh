#!/bin/sh
# Installs what berth needs on a Debian 12 machine, as root, skipping what is
# already there: the OCI runtime and monitor, CNI plugins, the tools the
# tests use, then the npm packages (which builds the native module) and the
# TypeScript build. Safe to run again and again.
set -eu
cd "$(dirname "$0")/.."

# Node.js 20 first: without it nothing below can build (Debian 12 has 18).
sh scripts/require-node.sh
# node-gyp builds the native module against the headers of the node that
# runs it (the registry's Node build carries them); without a nodedir it
# would try to download them.
if [ -z "${npm_config_nodedir:-}" ]; then
  node_home=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
  if [ -f "$node_home/include/node/common.gypi" ]; then export npm_config_nodedir="$node_home"; fi
fi

PACKAGES="runc conmon containernetworking-plugins iptables iproute2 docker-registry busybox-static apache2-utils zstd libzstd-dev python3 make g++ debootstrap systemd-container skopeo gnupg etcd-server openssl ${BERTH_EXTRA_PACKAGES:-}"

missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "berth: missing Debian packages:$missing (run as root to install them)" >&2
    exit 1
  fi
  echo "berth: installing$missing" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# npm ci when the lock file changed since the last install (or never ran).
stamp=node_modules/.berth-installed
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ] || [ ! -f native/build/Release/berth_native.node ]; then
  npm ci --no-audit --no-fund
  touch "$stamp"
fi
npm run --silent build
