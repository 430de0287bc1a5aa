#!/bin/sh
# Runs every test: unit tests (no root needed), then the end-to-end suite
# against the real daemon, registry, runc, conmon and CNI plugins (root).
# Ends with one summary line: "N passed, M failed".
set -u
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# The tests are type-checked with the sources: a fake that drifts from its
# interface fails here rather than passing for the wrong reason. Then lint
# (including floating promises) and formatting, over every TypeScript file.
types=0
npx tsc -p tsconfig.tests.json || types=1
[ "$types" = 0 ] || echo "berth: the type check of src/, test/, e2e/ and bench/ failed" >&2
npx biome ci --error-on-warnings --reporter=summary || { types=1; echo "berth: lint or formatting failed (npm run format fixes the formatting)" >&2; }
npx vitest run --config vitest.config.ts --reporter=default --reporter=json --outputFile="$out/unit.json"
unit=$?
npx vitest run --config vitest.e2e.config.ts --reporter=default --reporter=json --outputFile="$out/e2e.json"
e2e=$?

node -e '
const fs = require("fs");
let passed = 0, failed = 0;
const args = process.argv.slice(1);
if (args.pop() !== "0") failed += 1; // the type check and lint
for (const f of args) {
  try {
    const r = JSON.parse(fs.readFileSync(f, "utf8"));
    passed += r.numPassedTests; failed += r.numFailedTests + (r.numRuntimeErrorTestSuites || 0);
    // A file whose setup (beforeAll) failed fails without a failed test: count it.
    for (const file of r.testResults || []) {
      if (file.status === "failed" && !(file.assertionResults || []).some((a) => a.status === "failed")) failed += 1;
    }
  } catch { failed += 1; }
}
console.log(`${passed} passed, ${failed} failed`);
' "$out/unit.json" "$out/e2e.json" "$types"
[ "$types" = 0 ] && [ "$unit" = 0 ] && [ "$e2e" = 0 ]
