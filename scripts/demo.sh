#!/usr/bin/env bash
# The README's demo, from a fresh clone: installs npm dependencies and MinIO if missing, then starts a
# throwaway MinIO, uploads an encrypted object with a local key, shows the stored bytes are
# ciphertext, downloads and verifies it, and stops MinIO.
set -euo pipefail
cd "$(dirname "$0")/.."
# npm install, not npm ci: it installs the lockfile's versions, but unlike npm ci it tolerates the
# other-platform optional packages (rollup's android/darwin builds) that this registry does not serve.
[[ -d node_modules ]] || npm install --no-audit --no-fund
bash scripts/install-servers.sh minio
npm run --silent build
# NODE_NO_WARNINGS hides the AWS SDK's notice about Node 20 support ending in 2027.
NODE_NO_WARNINGS=1 node --import tsx examples/demo.ts
