#!/usr/bin/env bash
# THE test command: formatting, lints, build and every test suite, in that order.
# Works on a fresh Debian machine (as root, or with sudo) and in CI (CI=true, no stdin).
# The first run compiles RocksDB once (~30 minutes on 2 cores), cached in ~/.cache/corral.
#
#   scripts/test.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
step() { printf '\n==> %s\n' "$*" >&2; }

# First, before anything is installed or built: the set-up's own checks must answer
# "missing" for what is missing (a libclang-cpp is not libclang).
step "scripts/check-setup.sh"
bash scripts/check-setup.sh

step "set-up (scripts/dev-env.sh)"
# shellcheck source=scripts/dev-env.sh
source scripts/dev-env.sh

step "cargo fmt --all --check"
cargo fmt --all --check

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo build --workspace --bins"
cargo build --workspace --bins

# Integration tests (tests/) run this binary as real processes.
export CORRAL_BIN="$CARGO_TARGET_DIR/debug/corral"

# Go: the history checker used by the fault-injection suite (tests/lincheck), with its
# own tests that feed it known violations. Built first: the Rust fault tests run it.
step "go: gofmt, go vet, go test (tests/lincheck)"
(
  cd tests/lincheck
  unformatted="$(gofmt -l .)"
  if [[ -n "$unformatted" ]]; then
    echo "gofmt: these files need formatting: $unformatted" >&2
    exit 1
  fi
  go vet ./...
  go test ./...
  go build -o "$CARGO_TARGET_DIR/lincheck" .
)
# The fault-injection tests hand their recorded histories to this binary.
export CORRAL_LINCHECK="$CARGO_TARGET_DIR/lincheck"

# grpcurl (pinned, into the clone's .cache/gobin): the TLS tests (tests/tests/tls.rs) run
# it against TLS ports, and fail under CI=true when it is missing.
step "grpcurl for the TLS tests"
# shellcheck source=scripts/lib/go.sh
source scripts/lib/go.sh
corral_go_check
CORRAL_GRPCURL="$(corral_install_grpcurl)"
export CORRAL_GRPCURL

step "cargo test --workspace"
cargo test --workspace

# The SDKs' generated code must be what the protos give (regenerated, then diffed).
step "scripts/gen-sdks.sh --check"
bash scripts/gen-sdks.sh --check

# Python SDK (sdk-python/) and Go SDK (sdk-go/): each has its own test script (lint,
# types, tests against $CORRAL_BIN), run here once it exists.
for sdk_tests in scripts/test-python.sh scripts/test-go.sh; do
  if [[ -f "$sdk_tests" ]]; then
    step "$sdk_tests"
    bash "$sdk_tests"
  fi
done

step "all checks passed"
