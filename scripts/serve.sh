#!/usr/bin/env bash
# Builds and starts a single-node Corral server in the foreground: data in
# ./corral-data (relative to where you run this), gRPC API on 127.0.0.1:2479, Raft on
# 127.0.0.1:2480, metrics and health on http://127.0.0.1:2481. Flags are passed to
# `corral serve`:
#
#   scripts/serve.sh
#   scripts/serve.sh --data-dir /tmp/corral1 --client-addr 127.0.0.1:3479
#
# The first run compiles RocksDB once (~30 minutes on 2 cores), cached in ~/.cache/corral.
set -euo pipefail
# shellcheck source=scripts/dev-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/dev-env.sh"

cargo build --manifest-path "$corral_root/Cargo.toml" --bin corral
exec "$CARGO_TARGET_DIR/debug/corral" serve "$@"
