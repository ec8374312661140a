#!/usr/bin/env bash
# Fails when docs/api/ (the API reference typedoc generates from the TSDoc) is not what the current
# sources generate: regenerates it into a temp folder and compares. Fix: npm run docs:api, commit.
set -euo pipefail
cd "$(dirname "$0")/.."
fresh="$(mktemp -d)"
trap 'rm -rf "$fresh"' EXIT
# The KMS packages' docs link to @s3crypt/client's types through its build.
bash scripts/build.sh
npx typedoc --logLevel Error --out "$fresh" >/dev/null
if ! diff -ru docs/api "$fresh" >"$fresh.diff"; then
  head -n 80 "$fresh.diff"
  rm -f "$fresh.diff"
  echo "docs/api is stale: run npm run docs:api and commit the result." >&2
  exit 1
fi
rm -f "$fresh.diff"
echo "docs/api: up to date"
