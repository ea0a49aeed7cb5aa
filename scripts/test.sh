#!/usr/bin/env bash
# The whole test suite, on a fresh Debian 12 machine with Node 20, as root: installs what is
# missing (scripts/setup.sh), builds, lints, type-checks and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
pnpm build
pnpm lint
pnpm typecheck
results=$(mktemp)
trap 'rm -f "$results"' EXIT
status=0
pnpm exec vitest run --reporter=default --reporter=json --outputFile.json="$results" || status=$?
# One plain closing line that any CI can read: "N passed, N failed".
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  // A suite that fails before its tests run (an import error, a failing hook) counts as one failure.
  const suites = r.testResults.filter((s) => s.status === "failed" && s.assertionResults.every((a) => a.status !== "failed")).length;
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests + suites} failed`);
' "$results" || true
exit "$status"
