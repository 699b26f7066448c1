# Sourced (never run) by scripts/dev-env.sh: makes sure a Go toolchain at least as new
# as asked is on PATH. A Go that is missing or older is fetched from the Go module proxy
# (the toolchain zip the go command itself fetches for GOTOOLCHAIN; proxy.golang.org
# checks it against the checksum database), into ~/.cache/corral/go/<version>.
# Needs corral_apt_install (lib/apt.sh) and corral_go_at_least (lib/detect.sh).

# Fetched when the machine's Go is older than needed.
CORRAL_GO_VERSION="1.26.8"

corral_ensure_go() {
  local need="${1:-1.19}" dir arch url tmp
  if ! command -v go >/dev/null && [[ -x /usr/local/go/bin/go ]]; then
    export PATH="/usr/local/go/bin:$PATH"
  fi
  corral_go_at_least "$need" && return 0
  dir="${CORRAL_CACHE:-$HOME/.cache/corral}/go/$CORRAL_GO_VERSION"
  if [[ ! -x "$dir/bin/go" ]]; then
    unzip -v >/dev/null 2>&1 || corral_apt_install unzip
    curl --version >/dev/null 2>&1 || corral_apt_install curl ca-certificates
    arch="$(uname -m | sed 's/x86_64/amd64/; s/aarch64/arm64/')"
    url="https://proxy.golang.org/golang.org/toolchain/@v/v0.0.1-go$CORRAL_GO_VERSION.linux-$arch.zip"
    echo "set-up: Go $need or newer is needed; fetching Go $CORRAL_GO_VERSION from $url" >&2
    tmp="$(mktemp -d)"
    if ! curl -sSfL -o "$tmp/go.zip" "$url" || ! (cd "$tmp" && unzip -q go.zip); then
      rm -rf "$tmp"
      echo "set-up: could not fetch Go $CORRAL_GO_VERSION" >&2
      return 1
    fi
    mkdir -p "$(dirname "$dir")"
    rm -rf "$dir"
    mv "$tmp"/golang.org/toolchain@*/ "$dir"
    rm -rf "$tmp"
  fi
  export PATH="$dir/bin:$PATH"
  if ! corral_go_at_least "$need"; then
    echo "set-up: Go $need is needed; $dir/bin/go is $(go env GOVERSION 2>/dev/null)" >&2
    return 1
  fi
}
