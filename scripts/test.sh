#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs Node 22 and 24 (and Bun and Deno for the ESM
# smoke test) from the npm registry, npm dependencies and the real servers, builds, type-checks,
# lints, then runs unit and integration tests under Node 24 and again under Node 22.
set -euo pipefail
cd "$(dirname "$0")/.."
NODE_24="$(bash scripts/install-node.sh 24)"
NODE_22="$(bash scripts/install-node.sh 22)"
# Optional: without them the Bun/Deno tests report themselves skipped, with the reason.
for runtime in bun deno; do
  variable="S3CRYPT_${runtime^^}"
  if dir="$(bash scripts/install-node.sh "$runtime")"; then
    export "$variable=$dir/$runtime"
  else
    echo "skipping the $runtime smoke test: scripts/install-node.sh $runtime failed" >&2
  fi
done
# Everything below runs on Node 24 (the machine's npm runs on the first node on PATH).
export PATH="$NODE_24:$PATH"
# npm install, not npm ci: it installs the lockfile's versions, but unlike npm ci it tolerates the
# other-platform optional packages (rollup's android/darwin builds) that this registry does not serve.
[[ -d node_modules ]] || npm install --no-audit --no-fund
bash scripts/install-servers.sh
npm run build
npm run typecheck
npm run lint
npm run check:packages
npm run docs:api:check

results="$(mktemp -d)"
trap 'rm -rf "$results"' EXIT
# Prints "<label>: N passed, N failed, N skipped" summed over vitest JSON reports; a missing report
# (vitest crashed before writing it) counts as one failure.
summarize() {
  node -e '
    const fs = require("fs");
    const [label, ...files] = process.argv.slice(1);
    const sum = { passed: 0, failed: 0, skipped: 0 };
    for (const file of files) {
      if (!fs.existsSync(file)) { console.error(`${file}: no vitest report`); sum.failed += 1; continue; }
      const r = JSON.parse(fs.readFileSync(file, "utf8"));
      sum.passed += r.numPassedTests;
      sum.failed += r.numFailedTests;
      sum.skipped += r.numPendingTests + r.numTodoTests;
    }
    console.log(`${label}: ${sum.passed} passed, ${sum.failed} failed, ${sum.skipped} skipped`);
  ' "$@"
}
status=0
for line in 24 22; do
  bin="NODE_$line"
  echo "=== vitest on Node $(PATH="${!bin}:$PATH" node --version)"
  PATH="${!bin}:$PATH" npm test -- --reporter=default --reporter=json --outputFile="$results/node$line.json" || status=1
  summarize "vitest on Node $line" "$results/node$line.json"
done
# One plain summary line over both runs, the same in any CI; it must stay the last line.
summarize vitest "$results/node24.json" "$results/node22.json"
exit "$status"
