# Sourced (never run) by the set-up scripts: each function here tests for the very thing
# the build or the tests use, not for something with a similar name. Each takes an
# optional root directory (default: this machine) so scripts/check-setup.sh can run it
# against made-up trees: a check that answers "present" for the wrong file is how a
# fresh machine once failed while CI passed (issue 13).

# Prints the path of a C libclang that bindgen (through clang-sys) can load, and fails
# when there is none. clang-sys loads `libclang.so`, `libclang-N.so`, `libclang.so.N` or
# `libclang-N.so.N`; `libclang-cpp.so.N` is LLVM's C++ interface, which bindgen cannot
# use and which many machines have without the C library.
corral_find_libclang() {
  local root="${1:-}" dir f name
  local dirs=()
  if [[ -z "$root" && -n "${LIBCLANG_PATH:-}" ]]; then
    dirs+=("$LIBCLANG_PATH")
  fi
  dirs+=("$root"/usr/lib/llvm-*/lib "$root"/usr/lib/*-linux-gnu "$root"/usr/lib
    "$root"/usr/lib64 "$root"/usr/local/lib)
  for dir in "${dirs[@]}"; do
    [[ -d "$dir" ]] || continue
    for f in "$dir"/libclang*.so*; do
      # -e follows symlinks: a dangling libclang.so (dev symlink without the library)
      # cannot be loaded either.
      [[ -e "$f" ]] || continue
      name="${f##*/}"
      if [[ "$name" =~ ^libclang(-[0-9][0-9.]*)?\.so(\.[0-9][0-9.]*)?$ ]]; then
        echo "$f"
        return 0
      fi
    done
  done
  return 1
}

# Succeeds when `cargo <subcommand> --version` runs: the check for rustfmt and clippy is
# that cargo can run them, not that rustup lists a component of that name.
corral_have_cargo_subcommand() {
  cargo "$1" --version >/dev/null 2>&1
}

# Succeeds when the Go toolchain on PATH is at least version $1 (e.g. 1.19), by asking
# `go env GOVERSION` (go1.19.8, go1.26.8, ...).
corral_go_at_least() {
  local want="$1" have
  have="$(go env GOVERSION 2>/dev/null)" || return 1
  corral_version_at_least "${have#go}" "$want"
}

# Succeeds when dotted version $1 >= $2 (numeric, field by field; 1.10 > 1.9).
corral_version_at_least() {
  local IFS=.
  local -a have=($1) want=($2)
  local i h w
  for ((i = 0; i < ${#want[@]}; i++)); do
    h="${have[i]:-0}" w="${want[i]}"
    h="${h%%[!0-9]*}" w="${w%%[!0-9]*}"
    ((10#${h:-0} > 10#${w:-0})) && return 0
    ((10#${h:-0} < 10#${w:-0})) && return 1
  done
  return 0
}
