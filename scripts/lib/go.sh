# Sourced by the Go scripts (scripts/gen/go.sh, scripts/test-go.sh): checks that the
# machine's Go is new enough for sdk-go/go.mod, and makes the clone's untracked cache.
#
#   corral_go_check        # fail, saying what to do, if `go` is missing or too old
#   corral_go_cache_dir    # .cache/ at the clone's root, ignored by git

# The `go` line of sdk-go/go.mod.
CORRAL_GO_MIN="1.26"

corral_go_check() {
  if ! command -v go >/dev/null; then
    echo "go: not found; install Go >= $CORRAL_GO_MIN (scripts/dev-env.sh installs Debian's golang-go)" >&2
    return 1
  fi
  local have
  have="$(go env GOVERSION)"
  have="${have#go}"
  # sort -V puts the smaller version first.
  if [[ "$(printf '%s\n%s\n' "$CORRAL_GO_MIN" "$have" | sort -V | head -n1)" != "$CORRAL_GO_MIN" ]]; then
    echo "go: $have is older than $CORRAL_GO_MIN, which sdk-go/go.mod needs; install a newer Go" \
      "(or set GOTOOLCHAIN=go$CORRAL_GO_MIN.0 to fetch one from the module proxy)" >&2
    return 1
  fi
  # Never switch toolchains behind the user's back.
  export GOTOOLCHAIN=local
}

corral_go_cache_dir() {
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  mkdir -p "$root/.cache"
  # Untracked without touching the top-level .gitignore.
  [[ -f "$root/.cache/.gitignore" ]] || echo '*' >"$root/.cache/.gitignore"
}
