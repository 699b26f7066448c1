#!/usr/bin/env bash
# Tests the set-up scripts' detection logic (scripts/lib/detect.sh) against made-up
# directory trees and versions, so a check that answers "present" for the wrong thing
# fails here, on every CI run, instead of on the first fresh machine. Run by
# scripts/test.sh before anything is built; takes well under a second.
#
#   scripts/check-setup.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/detect.sh
source scripts/lib/detect.sh

failures=0
check() { # check DESCRIPTION EXPECTED(found|missing|yes|no) COMMAND...
  local what="$1" want="$2" got
  shift 2
  if "$@" >/dev/null 2>&1; then got=yes; else got=no; fi
  [[ $want == found ]] && want=yes
  [[ $want == missing ]] && want=no
  if [[ $got != "$want" ]]; then
    echo "check-setup: FAIL: $what (expected $want, got $got)" >&2
    failures=$((failures + 1))
  fi
}

tree="$(mktemp -d)"
trap 'rm -rf "$tree"' EXIT
lib() { mkdir -p "$tree/$1/$(dirname "$2")" && : >"$tree/$1/$2"; }

# The machine image of issue 13: only LLVM's C++ library.
lib cpp-only usr/lib/llvm-14/lib/libclang-cpp.so.14
lib cpp-only usr/lib/x86_64-linux-gnu/libclang-cpp.so.14
check "libclang-cpp alone is not libclang" missing corral_find_libclang "$tree/cpp-only"

# Debian's libclang1-14 (runtime) and libclang-14-dev (the unversioned symlink).
lib runtime usr/lib/llvm-14/lib/libclang-cpp.so.14
lib runtime usr/lib/x86_64-linux-gnu/libclang-14.so.1
check "libclang-14.so.1 is found" found corral_find_libclang "$tree/runtime"
lib dev usr/lib/llvm-14/lib/libclang.so.1
check "llvm-14/lib/libclang.so.1 is found" found corral_find_libclang "$tree/dev"
lib plain usr/lib64/libclang.so
check "lib64/libclang.so is found" found corral_find_libclang "$tree/plain"
lib versioned usr/local/lib/libclang.so.14.0.6
check "libclang.so.14.0.6 is found" found corral_find_libclang "$tree/versioned"

# Names that look alike but are not the C library, and a dangling dev symlink.
lib lookalike usr/lib/x86_64-linux-gnu/libclang-cpp.so
lib lookalike usr/lib/x86_64-linux-gnu/libclangBasic.so.14
lib lookalike usr/lib/x86_64-linux-gnu/libclang.so.txt
mkdir -p "$tree/lookalike/usr/lib/llvm-14/lib"
ln -s ../../x86_64-linux-gnu/libclang-14.so.1 "$tree/lookalike/usr/lib/llvm-14/lib/libclang.so"
check "look-alikes and a dangling libclang.so are not libclang" missing \
  corral_find_libclang "$tree/lookalike"
check "an empty tree has no libclang" missing corral_find_libclang "$tree/empty"

# Versions: the Go check compares numerically, field by field.
check "1.19 >= 1.19" yes corral_version_at_least 1.19 1.19
check "1.26.8 >= 1.19" yes corral_version_at_least 1.26.8 1.19
check "1.9 < 1.19" no corral_version_at_least 1.9 1.19
check "1.18.10 < 1.19" no corral_version_at_least 1.18.10 1.19
check "1.21rc2 >= 1.21" yes corral_version_at_least 1.21rc2 1.21
check "2 >= 1.22" yes corral_version_at_least 2 1.22

# The Go check asks the go on PATH; a fake one that reports an old version must fail it.
mkdir -p "$tree/bin"
printf '#!/bin/sh\necho go1.18.2\n' >"$tree/bin/go" && chmod +x "$tree/bin/go"
check "go1.18.2 on PATH is too old for 1.19" no env PATH="$tree/bin:$PATH" \
  bash -c 'source scripts/lib/detect.sh && corral_go_at_least 1.19'
printf '#!/bin/sh\nexit 1\n' >"$tree/bin/go"
check "a go that does not run is missing" no env PATH="$tree/bin:$PATH" \
  bash -c 'source scripts/lib/detect.sh && corral_go_at_least 1.19'

# A cargo subcommand counts only when it runs.
printf '#!/bin/sh\n[ "$1" = fmt ] && exit 0\nexit 101\n' >"$tree/bin/cargo" && chmod +x "$tree/bin/cargo"
check "cargo fmt that runs is there" yes env PATH="$tree/bin:$PATH" \
  bash -c 'source scripts/lib/detect.sh && corral_have_cargo_subcommand fmt'
check "cargo clippy that fails is missing" no env PATH="$tree/bin:$PATH" \
  bash -c 'source scripts/lib/detect.sh && corral_have_cargo_subcommand clippy'

if [[ $failures -gt 0 ]]; then
  echo "check-setup: $failures failed" >&2
  exit 1
fi
echo "check-setup: all set-up checks behave" >&2
