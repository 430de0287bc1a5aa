#!/bin/sh
# Builds the release artifacts into build/release/:
#   berth-<version>-linux-<arch>.tar.gz   a tree to unpack at / (or anywhere:
#                                         bin/berth finds its own lib dir)
#   berth_<version>_<arch>.deb            the same tree as a Debian package
# berth runs on a node without Node.js: the node binary that built it (and
# whose V8 accepts the bundle's code cache) ships in /usr/lib/berth/node.
set -eu
cd "$(dirname "$0")/.."

version=$(node -p 'require("./package.json").version')
case "$(uname -m)" in
  x86_64) arch=amd64 ;;
  aarch64) arch=arm64 ;;
  *) arch=$(uname -m) ;;
esac
out=build/release
stage=build/package-root
rm -rf "$stage" && mkdir -p "$out" "$stage"

lib=$stage/usr/lib/berth
mkdir -p "$lib/bin" "$lib/dist" "$lib/native/build/Release" "$lib/node/bin"
cp bin/berth.js bin/bundle-loader.js "$lib/bin/"
cp -r bundle "$lib/bundle"
cp dist/build-info.json "$lib/dist/"
cp package.json "$lib/"
cp native/build/Release/berth_native.node native/build/Release/berth-pinns native/build/Release/berth-stream "$lib/native/build/Release/"
cp "$(node -p 'process.execPath')" "$lib/node/bin/node"
strip --strip-unneeded "$lib/native/build/Release/berth-pinns" "$lib/native/build/Release/berth-stream" 2>/dev/null || true

# The command: the bundled node, found relative to the command itself.
mkdir -p "$stage/usr/bin"
cat > "$stage/usr/bin/berth" <<'EOF'
#!/bin/sh
here=$(dirname "$(readlink -f "$0")")
lib=$(readlink -f "$here/../lib/berth")
exec "$lib/node/bin/node" "$lib/bin/berth.js" "$@"
EOF
chmod 755 "$stage/usr/bin/berth"

mkdir -p "$stage/usr/lib/systemd/system" "$stage/etc/berth/berth.conf.d" "$stage/usr/share/berth" \
  "$stage/usr/share/man/man5" "$stage/usr/share/man/man8" "$stage/usr/share/bash-completion/completions" \
  "$stage/usr/share/zsh/vendor-completions" "$stage/usr/share/doc/berth"
cp conf/berth.service "$stage/usr/lib/systemd/system/berth.service"
cp conf/berth.conf "$stage/etc/berth/berth.conf"
cp -r conf/cni examples "$stage/usr/share/berth/"
cp README.md docs/*.md "$stage/usr/share/doc/berth/"
# The machine-readable copyright file, from what the bundle and the node
# binary really hold (and Node.js's LICENSE beside the binary).
node scripts/deb/copyright.mjs "$stage"

# Man pages and completions from the configuration schema.
node --input-type=module -e '
  import { writeFileSync } from "node:fs";
  import { renderBerth8, renderBerthConf5, renderBashCompletion, renderZshCompletion } from "./dist/config/manpages.js";
  const [stage, version] = process.argv.slice(1);
  writeFileSync(`${stage}/usr/share/man/man8/berth.8`, renderBerth8(version));
  writeFileSync(`${stage}/usr/share/man/man5/berth.conf.5`, renderBerthConf5(version));
  writeFileSync(`${stage}/usr/share/bash-completion/completions/berth`, renderBashCompletion());
  writeFileSync(`${stage}/usr/share/zsh/vendor-completions/_berth`, renderZshCompletion());
' "$stage" "$version"
gzip -9n "$stage/usr/share/man/man8/berth.8" "$stage/usr/share/man/man5/berth.conf.5"

tarball="$out/berth-$version-linux-$arch.tar.gz"
tar -C "$stage" --owner=0 --group=0 --numeric-owner -czf "$tarball" .

# The Debian package: the same tree plus maintainer scripts.
mkdir -p "$stage/DEBIAN"
installed=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat > "$stage/DEBIAN/control" <<EOF
Package: berth
Version: $version
Architecture: $arch
Maintainer: berth developers <berth@localhost>
Installed-Size: $installed
Depends: runc, conmon, containernetworking-plugins, iptables, golang-github-containers-common, libc6, libstdc++6, libzstd1
Suggests: apparmor, cri-tools, criu
Section: admin
Priority: optional
Description: Kubernetes container runtime (CRI)
 berth serves the Kubernetes Container Runtime Interface on
 /run/berth/berth.sock: images from OCI registries, containers run by runc
 under conmon, pods networked by CNI plugins. It ships its own Node.js
 runtime.
EOF
echo /etc/berth/berth.conf > "$stage/DEBIAN/conffiles"
cp scripts/deb/postinst scripts/deb/prerm scripts/deb/postrm "$stage/DEBIAN/"
chmod 755 "$stage/DEBIAN/postinst" "$stage/DEBIAN/prerm" "$stage/DEBIAN/postrm"
deb="$out/berth_${version}_$arch.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
rm -rf "$stage"
ls -l "$tarball" "$deb"
