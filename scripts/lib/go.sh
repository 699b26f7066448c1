# Sourced by the Go scripts (scripts/gen/go.sh, scripts/test-go.sh): checks that the
# Go toolchain is as new as sdk-go/go.mod's `go` line needs, and makes the clone's
# untracked cache directory.
#
#   corral_go_check        # fail, saying what to do, if `go` is missing or too old
#   corral_go_cache_dir    # .cache/ at the clone's root, ignored by git

corral_go_root() { cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd; }

corral_go_check() {
  local root need have
  root="$(corral_go_root)"
  # The one place the required version is written: sdk-go/go.mod (google.golang.org/grpc
  # v1.85.0 needs Go 1.26).
  need="$(awk '$1 == "go" { print $2; exit }' "$root/sdk-go/go.mod")"
  if ! command -v go >/dev/null; then
    echo "go: not found; sdk-go needs Go >= $need (scripts/dev-env.sh installs Debian's golang-go, which may be older)" >&2
    return 1
  fi
  if [[ -n "${GOTOOLCHAIN:-}" && "${GOTOOLCHAIN}" != "local" ]]; then
    # Asked for by the caller (e.g. GOTOOLCHAIN=go1.26.0): Go >= 1.21 fetches that
    # toolchain from the module proxy. Check the toolchain it gives.
    have="$(cd "$root/sdk-go" && go env GOVERSION)"
  else
    # Never switch toolchains behind the caller's back.
    export GOTOOLCHAIN=local
    have="$(go env GOVERSION)"
  fi
  have="${have#go}"
  # sort -V puts the smaller version first.
  if [[ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -n1)" != "$need" ]]; then
    echo "go: this is Go $have; sdk-go/go.mod needs Go >= $need. Install a newer Go, or, with" \
      "Go >= 1.21, fetch one from the module proxy: GOTOOLCHAIN=go$need $0" >&2
    return 1
  fi
}

corral_go_cache_dir() {
  local root
  root="$(corral_go_root)"
  mkdir -p "$root/.cache"
  # Untracked without touching the top-level .gitignore.
  [[ -f "$root/.cache/.gitignore" ]] || echo '*' >"$root/.cache/.gitignore"
}

# Installs Go tool PACKAGE at VERSION as .cache/gobin/NAME unless that version is there
# already (a stamp file .cache/gobin/.NAME records it: `NAME -version` of a `go install`ed
# binary does not say), and prints the binary's path.
#
#   corral_go_install_tool grpcurl github.com/fullstorydev/grpcurl/cmd/grpcurl v1.9.3
corral_go_install_tool() {
  local name="$1" package="$2" version="$3" gobin
  gobin="$(corral_go_root)/.cache/gobin"
  corral_go_cache_dir
  if [[ ! -x "$gobin/$name" || "$(cat "$gobin/.$name" 2>/dev/null)" != "$version" ]]; then
    echo "go: installing $name $version into $gobin" >&2
    GOBIN="$gobin" GOFLAGS=-mod=mod go install "$package@$version" >&2
    echo "$version" >"$gobin/.$name"
  fi
  echo "$gobin/$name"
}

# grpcurl, pinned: tests/tests/tls.rs runs it against TLS ports (found through
# CORRAL_GRPCURL, which scripts/test.sh sets from this).
CORRAL_GRPCURL_VERSION="v1.9.3"
corral_install_grpcurl() {
  corral_go_install_tool grpcurl github.com/fullstorydev/grpcurl/cmd/grpcurl "$CORRAL_GRPCURL_VERSION"
}
