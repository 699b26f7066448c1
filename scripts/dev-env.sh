# Sourced (never run) by scripts/test.sh, serve.sh, install.sh and bench.sh: makes sure
# the build tools are there and exports what cargo needs. On a fresh Debian machine it
# installs what is missing (apt-get as root or through sudo; Rust through rustup); each
# check tests the thing the scripts then use (scripts/lib/detect.sh).
#
# Exports CARGO_TARGET_DIR (default: the clone's own ./target) and the
# ROCKSDB_*/SNAPPY_* variables of the prebuilt RocksDB (scripts/rocksdb-cache.sh
# compiles it once per machine, ~15-30 minutes on 2 cores, and every clone links it),
# and writes the same settings into the clone's .cargo/config.toml (untracked), so that
# plain `cargo build` / `cargo test` in this clone use the cache too.
#
# The target directory is per clone on purpose: cargo names a workspace crate's
# artifacts by its path inside the workspace, not by the clone's location, so two
# clones sharing one target directory overwrite each other's `corral` binary, and a
# test run of one clone can start the other clone's server.

corral_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/apt.sh
source "$corral_root/scripts/lib/apt.sh"
# shellcheck source=scripts/lib/detect.sh
source "$corral_root/scripts/lib/detect.sh"

# C and C++ compilers: RocksDB's C++ and other native dependencies need them.
if ! cc --version >/dev/null 2>&1 || ! c++ --version >/dev/null 2>&1; then
  corral_apt_install build-essential
fi

# Rust, through rustup, with the components the checks use.
if ! command -v cargo >/dev/null && [[ -f "$HOME/.cargo/env" ]]; then
  # shellcheck source=/dev/null
  source "$HOME/.cargo/env"
fi
if ! cargo --version >/dev/null 2>&1; then
  curl --version >/dev/null 2>&1 || corral_apt_install curl ca-certificates
  # rustup-init itself from static.rust-lang.org (where rustup gets toolchains too),
  # checked against its published SHA-256; sh.rustup.rs is only a redirector to it and
  # is not reachable from every network that reaches the toolchains.
  corral_rustup_url="https://static.rust-lang.org/rustup/dist/$(uname -m)-unknown-linux-gnu/rustup-init"
  echo "dev-env: installing the Rust toolchain with rustup ($corral_rustup_url)" >&2
  corral_rustup_tmp="$(mktemp -d)"
  curl --proto '=https' --tlsv1.2 -sSfL -o "$corral_rustup_tmp/rustup-init" "$corral_rustup_url"
  corral_rustup_sum="$(curl --proto '=https' --tlsv1.2 -sSfL "$corral_rustup_url.sha256")"
  (cd "$corral_rustup_tmp" && echo "${corral_rustup_sum%% *}  rustup-init" | sha256sum -c --quiet)
  chmod +x "$corral_rustup_tmp/rustup-init"
  "$corral_rustup_tmp/rustup-init" -y --profile minimal --component rustfmt,clippy >&2
  rm -rf "$corral_rustup_tmp"
  # shellcheck source=/dev/null
  source "$HOME/.cargo/env"
fi
for corral_component in fmt clippy; do
  if ! corral_have_cargo_subcommand "$corral_component"; then
    if ! command -v rustup >/dev/null; then
      echo "dev-env: 'cargo $corral_component' does not run and there is no rustup to add it" >&2
      return 1
    fi
    # The component of `cargo fmt` is rustfmt; of `cargo clippy`, clippy.
    rustup component add "$([[ $corral_component == fmt ]] && echo rustfmt || echo clippy)" >&2
  fi
done

# Go, for the history checker (tests/lincheck) and the Go SDK (the version its go.mod
# names): fetched from the Go module proxy when missing or older (scripts/lib/go-install.sh).
# shellcheck source=scripts/lib/go-install.sh
source "$corral_root/scripts/lib/go-install.sh"
corral_ensure_go "$(awk '$1 == "go" { print $2; exit }' "$corral_root/sdk-go/go.mod" 2>/dev/null)"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$corral_root/target}"

# Two steps, not `eval "$(...)"`: the assignment carries the script's exit status to
# `set -e`, so a failed RocksDB build stops here instead of building without it.
corral_rocksdb_env="$("$corral_root/scripts/rocksdb-cache.sh")"
eval "$corral_rocksdb_env"

# Plain cargo commands in this clone (as the docs write them) get the same target
# directory and prebuilt RocksDB. Rewritten only when it changes, so a concurrent
# set-up never reads half a file.
corral_cargo_config="# Written by scripts/dev-env.sh (untracked): this machine's RocksDB cache and
# target directory, so that plain cargo commands in this clone use them.
[build]
target-dir = \"$CARGO_TARGET_DIR\"

[env]
ROCKSDB_LIB_DIR = \"$ROCKSDB_LIB_DIR\"
ROCKSDB_STATIC = \"1\"
SNAPPY_LIB_DIR = \"$SNAPPY_LIB_DIR\"
SNAPPY_STATIC = \"1\""
if [[ "$(cat "$corral_root/.cargo/config.toml" 2>/dev/null)" != "$corral_cargo_config" ]]; then
  mkdir -p "$corral_root/.cargo"
  printf '%s\n' "$corral_cargo_config" >"$corral_root/.cargo/config.toml.$$"
  mv "$corral_root/.cargo/config.toml.$$" "$corral_root/.cargo/config.toml"
fi
