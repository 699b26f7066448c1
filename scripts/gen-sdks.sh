#!/usr/bin/env bash
# Regenerates the Python and Go SDKs' code from proto/corral/v1 with one pinned protoc
# (the one grpcio-tools bundles; see scripts/lib/venv.sh). Generated files are committed
# and never edited; CI runs this and fails if anything differs (`--check`).
#
#   scripts/gen-sdks.sh            # regenerate
#   scripts/gen-sdks.sh --check    # regenerate, then fail on any difference from git
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
check=0
[[ "${1:-}" == "--check" ]] && check=1

# shellcheck source=scripts/lib/apt.sh
source scripts/lib/apt.sh
# shellcheck source=scripts/lib/venv.sh
source scripts/lib/venv.sh
corral_venv

# One script per language, each owning its output directory.
for gen in scripts/gen/python.sh scripts/gen/go.sh; do
  if [[ -f "$gen" ]]; then
    echo "gen-sdks: $gen" >&2
    bash "$gen"
  fi
done

if [[ $check -eq 1 ]]; then
  if ! git diff --exit-code --stat -- sdk-python sdk-go ||
    [[ -n "$(git ls-files --others --exclude-standard -- sdk-python sdk-go)" ]]; then
    echo "gen-sdks: the generated code is not what the protos give; run scripts/gen-sdks.sh and commit" >&2
    exit 1
  fi
fi
