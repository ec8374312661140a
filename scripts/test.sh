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
npm test
