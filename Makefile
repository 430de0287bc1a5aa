# The two commands of the README. Both install what is missing first.
.PHONY: run test install build unit e2e clean

run: install
	sh scripts/install-cni-default.sh
	node bin/berth.js serve

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

clean:
	rm -rf dist native/build
