#!/bin/bash
# Builds Kubernetes from Debian 12's `kubernetes` source package for the
# cluster tests and node conformance; it is not part of berth.
#
#   scripts/kubernetes/build.sh [BINARY...]     default: the cluster's binaries
#
# BINARY is any of kubelet kube-apiserver kube-controller-manager
# kube-scheduler kube-proxy kubectl e2e_node.test agnhost (the node e2e
# suite's test image program, from test/images/agnhost). The binaries land in
# $BERTH_K8S_CACHE/<debian version>/bin (default /var/cache/berth-kubernetes)
# and are built once per machine: a binary already there is not built again,
# and Go's build cache under the same directory makes the next one quicker.
# Prints the bin directory on its last line.
#
# Debian's tarball is upstream's tree without two generated files, with a
# vendored reflect2 that crashes with Go >= 1.18; both are handled here
# without editing the tree's sources (docs/kubernetes.md, "Building").
set -euo pipefail

cache=${BERTH_K8S_CACHE:-/var/cache/berth-kubernetes}
go=/usr/lib/go-1.19/bin/go
cluster_binaries="kubelet kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubectl"
wanted=${*:-$cluster_binaries}
for b in $wanted; do
  case " $cluster_binaries e2e_node.test agnhost " in
    *" $b "*) ;;
    *) echo "build.sh: unknown binary $b (known: $cluster_binaries e2e_node.test agnhost)" >&2; exit 2 ;;
  esac
done

log() { echo "kubernetes-build: $*" >&2; }

# Debian's source entry and the build's tools. apt-get source needs a
# deb-src line; Debian's own sources file has only binaries.
ensure_apt() {
  if ! apt-cache showsrc kubernetes 2>/dev/null | grep -q '^Version:'; then
    log "adding a deb-src entry for bookworm"
    cat > /etc/apt/sources.list.d/berth-deb-src.sources <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    apt-get update -qq
  fi
  local need=""
  for p in golang-1.19-go golang-github-modern-go-reflect2-dev dpkg-dev; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need="$need $p"
  done
  if [ -n "$need" ]; then
    log "installing$need"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
  fi
}

ensure_apt
debver=$(apt-cache showsrc kubernetes | sed -n 's/^Version: //p' | head -1)
root="$cache/$debver"
bin="$root/bin"
mkdir -p "$bin"

missing=""
for b in $wanted; do [ -x "$bin/$b" ] || missing="$missing $b"; done
if [ -z "$missing" ]; then
  echo "$bin"
  exit 0
fi

# One build at a time per cache: a second caller waits, then finds the binaries.
exec 9>"$root/.lock"
flock 9
missing=""
for b in $wanted; do [ -x "$bin/$b" ] || missing="$missing $b"; done
if [ -z "$missing" ]; then
  echo "$bin"
  exit 0
fi

started=$(date +%s)
src="$root/src"
if [ ! -f "$src/.unpacked" ]; then
  log "fetching the kubernetes source package ($debver)"
  rm -rf "$src" && mkdir -p "$src"
  (cd "$src" && apt-get source --download-only kubernetes >/dev/null 2>&1)
  tar -C "$src" -xzf "$src"/kubernetes_*.orig.tar.gz
  touch "$src/.unpacked"
fi
tree=$(find "$src" -maxdepth 1 -type d -name 'kubernetes-*' | head -1)
upstream=${tree##*/kubernetes-}

# GOPATH mode, as Kubernetes <= 1.22 builds (hack/lib/init.sh).
gopath="$root/gopath"
mkdir -p "$gopath/src/k8s.io"
ln -sfn "$tree" "$gopath/src/k8s.io/kubernetes"
export GOPATH="$gopath" GO111MODULE=off GOPROXY=off GOTOOLCHAIN=local CGO_ENABLED=0
export GOCACHE="$cache/go-build" GOFLAGS=
unset GOROOT
cd "$gopath/src/k8s.io/kubernetes"

# reflect2 v1.0.1 links reflect.mapiterinit with its pre-1.18 signature; an
# overlay puts Debian's v1.0.2 (same API) in its place for every build.
overlay="$root/reflect2-overlay.json"
if [ ! -f "$overlay" ]; then
  fixed=/usr/share/gocode/src/github.com/modern-go/reflect2
  vendored="$gopath/src/k8s.io/kubernetes/vendor/github.com/modern-go/reflect2"
  {
    echo '{"Replace":{'
    sep=""
    for f in "$vendored"/*.go "$vendored"/*.s; do
      name=${f##*/}
      if [ -f "$fixed/$name" ]; then target="$fixed/$name"; else target=""; fi
      printf '%s"%s":"%s"\n' "$sep" "$f" "$target"
      sep=","
    done
    for f in "$fixed"/*.go "$fixed"/*.s; do
      name=${f##*/}
      [ -f "$vendored/$name" ] || printf ',"%s":"%s"\n' "$vendored/$name" "$f"
    done
    echo '}}'
  } > "$overlay.tmp"
  mv "$overlay.tmp" "$overlay"
fi

tools="$root/tools"
mkdir -p "$tools"

# pkg/generated/openapi: generated as build/root/Makefile.generated_files does
# for the main tree (every package tagged +k8s:openapi-gen= outside vendor/,
# staging read as vendor/, without code-generator and sample-apiserver).
gen_openapi() {
  local out=pkg/generated/openapi/zz_generated.openapi.go
  [ -f "$out" ] && return 0
  log "generating $out"
  "$go" build -o "$tools/openapi-gen" k8s.io/kubernetes/vendor/k8s.io/kube-openapi/cmd/openapi-gen
  local inputs
  inputs=$(set +o pipefail; find -H . \( -path ./_\* -o -path ./.\* -o -path ./vendor \) -prune -o -type f -name '*.go' -print0 \
    | xargs -0 grep -l '^// *+k8s:' | xargs grep -l '+k8s:openapi-gen=' \
    | sed 's|^\./staging/src|vendor|; s|^\./||; s|/[^/]*$||' \
    | grep -v -e '^vendor/k8s.io/code-generator/' -e '^vendor/k8s.io/sample-apiserver/' | LC_ALL=C sort -u)
  local report="$root/openapi-violations.report"
  "$tools/openapi-gen" --logtostderr \
    -i "$(echo "$inputs" | sed 's|^|k8s.io/kubernetes/|' | paste -sd, -)" \
    -p k8s.io/kubernetes/pkg/generated/openapi -O zz_generated.openapi \
    -h vendor/k8s.io/code-generator/hack/boilerplate.go.txt -r "$report" >/dev/null 2>&1
  # The tree's list of known violations is what upstream's generation
  # reports: a difference means the input set is not upstream's.
  if ! cmp -s "$report" api/api-rules/violation_exceptions.list; then
    log "openapi-gen's report differs from api/api-rules/violation_exceptions.list"
    rm -f "$out"
    exit 1
  fi
}

# test/e2e/generated/bindata.go, for the node e2e binary (hack/generate-bindata.sh).
gen_bindata() {
  local out=test/e2e/generated/bindata.go
  [ -f "$out" ] && return 0
  log "generating $out"
  "$go" build -o "$tools/go-bindata" k8s.io/kubernetes/vendor/github.com/go-bindata/go-bindata/go-bindata
  "$tools/go-bindata" -nometadata -o "$out.tmp" -pkg generated \
    -ignore .jpg -ignore .png -ignore .md -ignore 'BUILD(\.bazel)?' \
    "test/conformance/testdata/..." "test/e2e/testing-manifests/..." \
    "test/e2e_node/testing-manifests/..." "test/images/..." "test/fixtures/..."
  /usr/lib/go-1.19/bin/gofmt -s -w "$out.tmp"
  mv "$out.tmp" "$out"
}

major=${upstream%%.*}
minor=${upstream#*.}; minor=${minor%%.*}
stamp=""
for pkg in k8s.io/kubernetes/vendor/k8s.io/component-base/version k8s.io/kubernetes/vendor/k8s.io/client-go/pkg/version; do
  stamp="$stamp -X $pkg.gitVersion=v$upstream -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
  stamp="$stamp -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
ldflags="-s -w$stamp"

commands=""
for b in $missing; do
  case "$b" in
    # The suite starts its own API server, which needs the OpenAPI definitions.
    e2e_node.test) gen_openapi ;;
    agnhost) commands="$commands ./test/images/agnhost" ;;
    kube-apiserver | kube-controller-manager | kube-scheduler) gen_openapi; commands="$commands ./cmd/$b" ;;
    *) commands="$commands ./cmd/$b" ;;
  esac
done

if [ -n "$commands" ]; then
  log "building$commands (Go $("$go" env GOVERSION), 2 cores: several minutes on a new machine)"
  out="$root/out"
  mkdir -p "$out"
  # shellcheck disable=SC2086
  "$go" build -overlay "$overlay" -tags selinux,notest -ldflags "$ldflags" -o "$out/" $commands
  for c in $commands; do mv "$out/${c##*/}" "$bin/"; done
fi

case " $missing " in
  *" e2e_node.test "*)
    gen_bindata
    log "building e2e_node.test"
    "$go" test -c -vet=off -overlay "$overlay" -ldflags "$ldflags" -o "$root/out/e2e_node.test" ./test/e2e_node
    mv "$root/out/e2e_node.test" "$bin/"
    ;;
esac

log "built$missing in $(($(date +%s) - started)) s"
echo "$bin"
