# Sourced (never run) by scripts/test.sh and scripts/serve.sh: makes sure the build
# tools are there and exports what cargo needs. On a fresh Debian machine it installs
# what is missing (apt-get as root or through sudo; Rust through rustup).
#
# Exports CARGO_TARGET_DIR (default ~/.cache/corral/target, outside the clone so every
# clone shares one build) and the ROCKSDB_*/SNAPPY_* variables of the prebuilt RocksDB
# (scripts/rocksdb-cache.sh compiles it once, ~30 minutes on 2 cores).

corral_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Installs Debian packages; fails with a clear message where apt-get is not available.
corral_apt_install() {
  if ! command -v apt-get >/dev/null; then
    echo "dev-env: please install: $*" >&2
    return 1
  fi
  local sudo=()
  if [[ "$(id -u)" -ne 0 ]]; then
    sudo=(sudo)
  fi
  echo "dev-env: installing $* with apt-get" >&2
  "${sudo[@]}" apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "$@" >&2
}

# C and C++ compilers: RocksDB's C++ and other native dependencies need them.
if ! command -v cc >/dev/null || ! command -v c++ >/dev/null; then
  corral_apt_install build-essential
fi

# Rust, through rustup, with the components the checks use.
if ! command -v cargo >/dev/null && [[ -f "$HOME/.cargo/env" ]]; then
  # shellcheck source=/dev/null
  source "$HOME/.cargo/env"
fi
if ! command -v cargo >/dev/null; then
  command -v curl >/dev/null || corral_apt_install curl ca-certificates
  echo "dev-env: installing the Rust toolchain with rustup" >&2
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
    sh -s -- -y --profile minimal --component rustfmt,clippy >&2
  # shellcheck source=/dev/null
  source "$HOME/.cargo/env"
fi
if command -v rustup >/dev/null; then
  corral_installed="$(rustup component list --installed 2>/dev/null || true)"
  for corral_component in rustfmt clippy; do
    if ! grep -q "^$corral_component" <<<"$corral_installed"; then
      rustup component add "$corral_component" >&2
    fi
  done
fi

# Go, for the history checker (tests/lincheck) and the Go SDK.
if ! command -v go >/dev/null && [[ -x /usr/local/go/bin/go ]]; then
  export PATH="/usr/local/go/bin:$PATH"
fi
if ! command -v go >/dev/null; then
  corral_apt_install golang-go
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/corral/target}"

# Two steps, not `eval "$(...)"`: the assignment carries the script's exit status to
# `set -e`, so a failed RocksDB build stops here instead of building without it.
corral_rocksdb_env="$("$corral_root/scripts/rocksdb-cache.sh")"
eval "$corral_rocksdb_env"
