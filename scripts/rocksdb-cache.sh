#!/usr/bin/env bash
# Builds RocksDB's C++ (bundled by librocksdb-sys) once per machine and keeps the
# static archives in a cache outside the clone, keyed by the librocksdb-sys version.
# Compiling RocksDB takes ~30 minutes on 2 cores; linking the cached archive takes
# seconds. Source this file (or eval its output) to get the env vars cargo needs:
#
#   eval "$(scripts/rocksdb-cache.sh)"
#
# Prints `export ROCKSDB_LIB_DIR=... ROCKSDB_STATIC=1 SNAPPY_LIB_DIR=... SNAPPY_STATIC=1`.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${CORRAL_CACHE:-$HOME/.cache/corral}"

# The version pinned in Cargo.lock is the cache key: a bump rebuilds once.
version="$(awk '/^name = "librocksdb-sys"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$root/Cargo.lock")"
if [[ -z "$version" ]]; then
  echo "rocksdb-cache: librocksdb-sys not found in Cargo.lock" >&2
  exit 1
fi
# Features must match the workspace's `rocksdb` dependency.
features='"snappy", "bindgen-runtime"'
libdir="$cache/rocksdb/$version"

# shellcheck source=scripts/lib/detect.sh
source "$root/scripts/lib/detect.sh"
# shellcheck source=scripts/lib/apt.sh
source "$root/scripts/lib/apt.sh"

# librocksdb-sys runs bindgen on every build, cached archive or not: it needs the C
# libclang (libclang-cpp, which many machines have, does not do).
if ! corral_find_libclang >/dev/null; then
  echo "rocksdb-cache: no C libclang for bindgen; installing libclang-dev" >&2
  corral_apt_install libclang-dev
  if ! libclang="$(corral_find_libclang)"; then
    echo "rocksdb-cache: libclang-dev installed, but still no libclang.so / libclang-N.so;" \
      "set LIBCLANG_PATH to the directory that holds it" >&2
    exit 1
  fi
  echo "rocksdb-cache: using $libclang" >&2
fi

# One build per machine: a second set-up (another clone, or serve.sh while test.sh
# runs) waits here for the first and then uses its archives instead of building into
# the same directories.
mkdir -p "$cache/rocksdb"
exec 9>"$cache/rocksdb/.lock"
if ! flock -n 9; then
  echo "rocksdb-cache: another set-up is building RocksDB; waiting for it" >&2
  flock 9
fi
if [[ ! -f "$libdir/librocksdb.a" || ! -f "$libdir/libsnappy.a" ]]; then
  echo "rocksdb-cache: building RocksDB $version once (about 30 minutes on 2 cores)" >&2
  build="$cache/rocksdb-build/$version"
  mkdir -p "$build/src"
  cat >"$build/Cargo.toml" <<TOML
[package]
name = "rocksdb-cache-build"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
librocksdb-sys = { version = "=$version", default-features = false, features = [$features] }

[profile.release]
opt-level = 3
debug = false

[workspace]
TOML
  echo 'fn main() {}' >"$build/src/main.rs"
  (cd "$build" && env -u ROCKSDB_LIB_DIR -u SNAPPY_LIB_DIR CARGO_TARGET_DIR="$build/target" \
    cargo build --release --quiet) >&2
  out="$(ls -d "$build"/target/release/build/librocksdb-sys-*/out | head -n1)"
  tmp="$(mktemp -d "$cache/rocksdb/$version.XXXXXX.tmp")"
  chmod 755 "$tmp" # mktemp makes it private; the cache is not a secret
  cp "$(find "$out" -name librocksdb.a | head -n1)" "$tmp/"
  cp "$(find "$out" -name libsnappy.a | head -n1)" "$tmp/"
  rm -rf "$libdir"
  mv "$tmp" "$libdir"
  echo "rocksdb-cache: cached in $libdir" >&2
fi
exec 9>&-

echo "export ROCKSDB_LIB_DIR='$libdir' ROCKSDB_STATIC=1 SNAPPY_LIB_DIR='$libdir' SNAPPY_STATIC=1"
