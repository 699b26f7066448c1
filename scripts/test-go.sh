#!/usr/bin/env bash
# The Go SDK's checks (run by scripts/test.sh after it builds the server): gofmt, go
# vet, staticcheck (pinned, installed into the clone's untracked .cache/gobin), and
# `go test -race ./...` in sdk-go/, whose integration tests start real members from
# $CORRAL_BIN (a locally built server; e.g. export CORRAL_BIN=/work/bin/corral).
#
#   scripts/test-go.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
step() { printf '\n==> go: %s\n' "$*" >&2; }

STATICCHECK_VERSION="v0.8.2" # honnef.co/go/tools

# shellcheck source=scripts/lib/go.sh
source scripts/lib/go.sh
corral_go_check
corral_go_cache_dir
gobin="$PWD/.cache/gobin"

if [[ -z "${CORRAL_BIN:-}" ]]; then
  echo "test-go: CORRAL_BIN is not set: the integration tests need a corral server binary" >&2
  exit 1
fi
export CORRAL_BIN

if [[ ! -x "$gobin/staticcheck" || "$(cat "$gobin/.staticcheck" 2>/dev/null)" != "$STATICCHECK_VERSION" ]]; then
  step "installing staticcheck $STATICCHECK_VERSION into $gobin"
  GOBIN="$gobin" GOFLAGS=-mod=mod go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
  echo "$STATICCHECK_VERSION" >"$gobin/.staticcheck"
fi

cd sdk-go
step "gofmt"
unformatted="$(gofmt -l .)"
if [[ -n "$unformatted" ]]; then
  echo "gofmt: these files need formatting (gofmt -w): $unformatted" >&2
  exit 1
fi
step "go mod verify / tidy"
go mod verify >/dev/null
go mod tidy -diff
step "go vet"
go vet ./...
step "staticcheck"
"$gobin/staticcheck" ./...
step "go test -race ./..."
# Two cores: packages one at a time, each starting its own members.
go test -race -p 1 -count=1 -timeout 15m ./...
