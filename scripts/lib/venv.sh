# Sourced (never run) by the scripts that need Python: makes (once) and activates the
# clone's virtualenv at .venv (untracked), with the tools the scripts use at pinned
# versions. Checks that `python3 -m venv` works (Debian's python3 lacks it until
# python3-venv is installed) and installs what is missing.
#
#   corral_venv                      # make/activate .venv with the code generators
#   corral_venv_install PKG...       # pip install into it (quiet, pinned by the caller)

# The generators every SDK is made with: one protoc, the one grpcio-tools bundles.
CORRAL_GRPCIO_TOOLS_VERSION="1.85.4"
CORRAL_MYPY_PROTOBUF_VERSION="5.1.0"

corral_venv() {
  local root venv
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  venv="$root/.venv"
  if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import sys' 2>/dev/null; then
    command -v python3 >/dev/null || corral_apt_install python3
    # The Python SDK needs 3.10 (protobuf 7 and grpcio 1.85 do): say so here, not as a
    # pip resolution error later.
    if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
      echo "set-up: python3 is $(python3 --version 2>&1); the Python SDK needs 3.10 or newer" >&2
      return 1
    fi
    local probe
    probe="$(mktemp -d)"
    if ! python3 -m venv "$probe/v" >/dev/null 2>&1; then
      corral_apt_install python3-venv
    fi
    rm -rf "$probe"
    python3 -m venv "$venv" >&2
  fi
  # shellcheck source=/dev/null
  source "$venv/bin/activate"
  if ! python -c "import grpc_tools, mypy_protobuf" 2>/dev/null ||
    [[ "$(python -c 'import importlib.metadata as m; print(m.version("grpcio-tools"))' 2>/dev/null)" != "$CORRAL_GRPCIO_TOOLS_VERSION" ]]; then
    corral_venv_install "grpcio-tools==$CORRAL_GRPCIO_TOOLS_VERSION" \
      "mypy-protobuf==$CORRAL_MYPY_PROTOBUF_VERSION"
  fi
}

corral_venv_install() {
  python -m pip install --quiet --disable-pip-version-check "$@" >&2
}
