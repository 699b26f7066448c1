#!/usr/bin/env bash
# Tests of the Python SDK (sdk-python/): installs it with pinned dev tools into the
# clone's venv, then ruff, mypy --strict (generated code excluded) and pytest against
# real servers from $CORRAL_BIN (set by scripts/test.sh). Long scenarios marked `slow`
# run only with CORRAL_SLOW=1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# shellcheck source=scripts/lib/apt.sh
source scripts/lib/apt.sh
# shellcheck source=scripts/lib/venv.sh
source scripts/lib/venv.sh
corral_venv

: "${CORRAL_BIN:?set CORRAL_BIN to the corral server binary (scripts/test.sh does)}"
export CORRAL_BIN

# cryptography: the TLS tests make their CA and certificates with it.
corral_venv_install ./sdk-python \
  "pytest==8.4.2" "pytest-asyncio==1.2.0" "ruff==0.14.1" "mypy==1.18.2" \
  "types-protobuf==7.35.1.20261122" "cryptography==50.0.2"

cd sdk-python
echo "test-python: ruff" >&2
ruff check src tests benchmarks
echo "test-python: mypy --strict" >&2
mypy --strict src/corral
echo "test-python: pytest" >&2
python -m pytest -q "$@"
