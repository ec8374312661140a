#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs npm dependencies and the real servers, builds,
# type-checks, lints, then runs unit and integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -d node_modules ]] || npm ci --no-audit --no-fund
bash scripts/install-servers.sh
npm run build
npm run typecheck
npm run lint
npm test
