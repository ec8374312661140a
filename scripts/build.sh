#!/usr/bin/env bash
# Builds every package (or the package folders given) twice from the same sources: ESM into
# dist/esm and CommonJS into dist/cjs, each with its .d.ts and declaration maps, and marks dist/cjs
# CommonJS with its own package.json (the packages themselves are "type": "module").
#
# Why tsc twice rather than a bundler such as tsup: tsup's declarations come from a separate
# bundling step that emits no declaration maps (go-to-definition would land in .d.ts, not src/), and
# its JS comes from esbuild, which does not type-check; two tsc builds ship exactly what was
# type-checked, file for file, with maps into the shipped src/, and need no new dependency.
set -euo pipefail
cd "$(dirname "$0")/.."
if (($# == 0)); then set -- packages/*; fi
configs=()
for dir in "$@"; do configs+=("$dir/tsconfig.json" "$dir/tsconfig.cjs.json"); done
npx tsc -b "${configs[@]}"
for dir in "$@"; do
  # The CommonJS build of a package with references also rebuilds @s3crypt/client's: mark it too.
  for out in "$dir"/dist/cjs packages/client/dist/cjs; do
    [[ -d "$out" ]] && printf '{\n  "type": "commonjs"\n}\n' > "$out/package.json"
  done
done
