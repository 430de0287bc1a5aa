# The two commands of the README. Both install what is missing first.
.PHONY: run test install build unit e2e lint format bench profile clean package kubernetes cluster node-conformance

# ARGS: flags for the daemon, e.g. make run ARGS="--registries-conf /etc/containers/registries.conf"
run: install
	sh scripts/install-cni-default.sh
	./bin/berth.js serve $(ARGS)

test: install
	sh scripts/test-all.sh

install:
	sh scripts/install-deps.sh

build:
	npm run build

unit:
	npx vitest run --config vitest.config.ts

e2e: build
	npx vitest run --config vitest.e2e.config.ts

# Types of src/, test/, e2e/ and bench/, then Biome's lint and format check (part of `make test`).
lint:
	npm run lint

# Rewrites the sources in the project's format.
format:
	npm run format

# Release artifacts in build/release: a tarball and a Debian package, with their own Node.js.
package: install
	sh scripts/package.sh

# Kubernetes 1.20 from Debian's source package, for the cluster tests (not part of berth).
kubernetes:
	scripts/kubernetes/build.sh kubelet kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubectl e2e_node.test

# The cluster e2e alone: a Kubernetes 1.20 control plane with a kubelet on the host and with two
# nspawn nodes from the .deb (builds Kubernetes first if needed).
cluster: build kubernetes
	npx vitest run --config vitest.e2e.config.ts e2e/cluster.e2e.ts e2e/nodes.e2e.ts

# The Kubernetes 1.20 node e2e suite ([NodeConformance]) against berth and Debian's containerd
# (not part of make test; results in build/node-conformance/<runtime>/summary.md).
node-conformance: build
	sh scripts/node-conformance.sh

bench:
	sh scripts/bench.sh

profile:
	BENCH_MAIN=profile sh scripts/bench.sh

clean:
	rm -rf dist dist-bench bundle native/build build
