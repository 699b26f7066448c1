#!/usr/bin/env bash
# Generates the Python SDK's protobuf and gRPC modules (with mypy stubs) from
# proto/corral/v1/*.proto into sdk-python/src/corral/v1/, so that the generated imports
# (`from corral.v1 import common_pb2`) work unchanged inside the `corral` package.
# Run by scripts/gen-sdks.sh in the venv it activates (grpcio-tools' bundled protoc,
# mypy-protobuf's plugins); owns sdk-python/src/corral/v1/ and nothing else.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

out=sdk-python/src
pkg="$out/corral/v1"
mkdir -p "$pkg"
# Everything in the directory is generated: start from nothing so a removed proto
# leaves no stale module behind.
find "$pkg" -maxdepth 1 -type f \( -name '*_pb2*.py' -o -name '*_pb2*.pyi' \) -delete

python -m grpc_tools.protoc \
  -I proto \
  --python_out="$out" \
  --grpc_python_out="$out" \
  --mypy_out=quiet:"$out" \
  --mypy_grpc_out=quiet:"$out" \
  proto/corral/v1/*.proto

cat >"$pkg/__init__.py" <<'PY'
"""Generated protobuf and gRPC modules of the corral.v1 API (scripts/gen/python.sh); never edited."""
PY
