#!/usr/bin/env bash
# The README's demo, from a fresh clone: installs npm dependencies and MinIO if missing, then starts a
# throwaway MinIO, uploads an encrypted object with a local key, shows the stored bytes are
# ciphertext, downloads and verifies it, and stops MinIO.
set -euo pipefail
cd "$(dirname "$0")/.."
# Node 22 or newer: the machine's, or else the pinned Node 24 from the npm registry.
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 22 ? 0 : 1)' 2>/dev/null; then
  PATH="$(bash scripts/install-node.sh 24):$PATH"
  export PATH
fi
# npm install, not npm ci: it installs the lockfile's versions, but unlike npm ci it tolerates the
# other-platform optional packages (rollup's android/darwin builds) that this registry does not serve.
[[ -d node_modules ]] || npm install --no-audit --no-fund
bash scripts/install-servers.sh minio
npm run --silent build
node --import tsx examples/demo.ts
