#!/usr/bin/env bash
# Installs the real servers the integration tests run against, caching them outside the repo in
# $S3CRYPT_CACHE (default ~/.cache/s3crypt) so a second run is fast. Usage:
#   scripts/install-servers.sh            # everything
#   scripts/install-servers.sh minio      # just the named ones
set -euo pipefail
CACHE="${S3CRYPT_CACHE:-$HOME/.cache/s3crypt}"
BIN="$CACHE/bin"
mkdir -p "$BIN"

# MinIO's last release tag's pseudo-version is not served by the module proxy; this is the newest
# commit it serves (resolved by `go list -m github.com/minio/minio@latest`).
MINIO_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c"

install_minio() {
  local stamp="$BIN/minio.version"
  if [[ -x "$BIN/minio" && "$(cat "$stamp" 2>/dev/null)" == "$MINIO_VERSION" ]]; then return; fi
  echo "building MinIO $MINIO_VERSION (first run only, several minutes)..." >&2
  GOBIN="$BIN" GOFLAGS=-buildvcs=false go install "github.com/minio/minio@$MINIO_VERSION"
  echo "$MINIO_VERSION" > "$stamp"
}

ALL=(minio)
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=("${ALL[@]}")
for target in "${targets[@]}"; do
  "install_$target"
done
