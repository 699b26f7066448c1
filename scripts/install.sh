#!/usr/bin/env bash
# Builds `corral` (the server) and `corralctl` (the CLI) and installs them, by default
# into ~/.local/bin. Uses the same set-up and RocksDB cache as scripts/test.sh (the
# first build on a machine compiles RocksDB once, about 30 minutes on 2 cores).
#
#   scripts/install.sh                   # release build into ~/.local/bin
#   scripts/install.sh --prefix /usr/local   # into /usr/local/bin
#   scripts/install.sh --debug           # debug build: compiles faster, runs slower
#
# After it, plain `cargo` commands in this clone (as the docs give them) also use the
# cache: scripts/dev-env.sh writes the clone's .cargo/config.toml.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

prefix="$HOME/.local"
profile=release
while [[ $# -gt 0 ]]; do
  case "$1" in
    --prefix) prefix="${2:?--prefix needs a directory}"; shift ;;
    --debug) profile=debug ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

# shellcheck source=scripts/dev-env.sh
source scripts/dev-env.sh

flags=()
[[ $profile == release ]] && flags+=(--release)
cargo build "${flags[@]}" -p corral-server --bin corral
cargo build "${flags[@]}" -p corral-client --bin corralctl

mkdir -p "$prefix/bin"
for bin in corral corralctl; do
  # Copy then rename: replacing a running binary in place would fail ("text file busy").
  cp "$CARGO_TARGET_DIR/$profile/$bin" "$prefix/bin/.$bin.new"
  mv "$prefix/bin/.$bin.new" "$prefix/bin/$bin"
  echo "install.sh: installed $prefix/bin/$bin" >&2
done
case ":$PATH:" in
  *":$prefix/bin:"*) ;;
  *) echo "install.sh: $prefix/bin is not on PATH; add it: export PATH=\"$prefix/bin:\$PATH\"" >&2 ;;
esac
