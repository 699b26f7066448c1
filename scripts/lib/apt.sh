# Sourced (never run) by the set-up scripts: installs Debian packages, as root or
# through sudo, and fails with a clear message where apt-get is not available.
corral_apt_install() {
  if ! command -v apt-get >/dev/null; then
    echo "set-up: please install: $* (no apt-get on this machine)" >&2
    return 1
  fi
  local sudo=()
  if [[ "$(id -u)" -ne 0 ]]; then
    sudo=(sudo)
  fi
  echo "set-up: installing $* with apt-get" >&2
  # Another apt-get (a second clone's set-up) may hold dpkg's lock: wait for it.
  "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 \
    install -y -qq "$@" >&2
}
