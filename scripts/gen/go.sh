#!/usr/bin/env bash
# Generates the Go SDK's protobuf and gRPC code (sdk-go/internal/pb) from
# proto/corral/v1/*.proto with the one protoc grpcio-tools bundles, and the Go plugins
# at pinned versions installed into the clone's untracked cache (.cache/gobin).
# Run by scripts/gen-sdks.sh inside the clone's venv; the output is committed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

# Pinned plugin versions; sdk-go/go.mod pins the matching runtime libraries.
PROTOC_GEN_GO_VERSION="v1.36.12"      # google.golang.org/protobuf
PROTOC_GEN_GO_GRPC_VERSION="v1.6.2"   # google.golang.org/grpc/cmd/protoc-gen-go-grpc

# shellcheck source=scripts/lib/go.sh
source scripts/lib/go.sh
corral_go_check

gobin="$PWD/.cache/gobin"
corral_go_cache_dir
want="$PROTOC_GEN_GO_VERSION $PROTOC_GEN_GO_GRPC_VERSION"
if [[ ! -x "$gobin/protoc-gen-go" || ! -x "$gobin/protoc-gen-go-grpc" ||
  "$(cat "$gobin/.versions" 2>/dev/null)" != "$want" ]]; then
  echo "gen/go: installing protoc-gen-go $PROTOC_GEN_GO_VERSION, protoc-gen-go-grpc $PROTOC_GEN_GO_GRPC_VERSION into $gobin" >&2
  GOBIN="$gobin" GOFLAGS=-mod=mod go install "google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO_VERSION"
  GOBIN="$gobin" GOFLAGS=-mod=mod go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@$PROTOC_GEN_GO_GRPC_VERSION"
  echo "$want" >"$gobin/.versions"
fi

out="sdk-go/internal/pb"
pkg="github.com/corral-dev/corral/sdk-go/internal/pb"
rm -rf "$out"
mkdir -p "$out"
# The protos' go_package names another import path; M flags put the code where the
# SDK keeps it (an internal package: generated types never reach the public API).
mflags=()
for f in proto/corral/v1/*.proto; do
  rel="${f#proto/}"
  mflags+=("--go_opt=M$rel=$pkg;pb" "--go-grpc_opt=M$rel=$pkg;pb")
done
python -m grpc_tools.protoc -I proto \
  --plugin=protoc-gen-go="$gobin/protoc-gen-go" \
  --plugin=protoc-gen-go-grpc="$gobin/protoc-gen-go-grpc" \
  --go_out="$out" --go_opt=paths=source_relative \
  --go-grpc_out="$out" --go-grpc_opt=paths=source_relative \
  "${mflags[@]}" proto/corral/v1/*.proto
# paths=source_relative keeps corral/v1/; the package is flat.
mv "$out"/corral/v1/*.go "$out"/
rm -rf "$out/corral"
