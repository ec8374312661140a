#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs npm dependencies and the real servers, builds,
# type-checks, lints, then runs unit and integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."
# npm install, not npm ci: it installs the lockfile's versions, but unlike npm ci it tolerates the
# other-platform optional packages (rollup's android/darwin builds) that this registry does not serve.
[[ -d node_modules ]] || npm install --no-audit --no-fund
bash scripts/install-servers.sh
npm run build
npm run typecheck
npm run lint
npm run check:packages
npm run docs:api:check
results="$(mktemp)"
trap 'rm -f "$results"' EXIT
npm test -- --reporter=default --reporter=json --outputFile="$results"
# One plain summary line, the same in any CI.
node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(`vitest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`)' "$results"
