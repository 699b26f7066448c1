# Sourced (never run) by the set-up scripts: installs Debian packages, as root or
# through sudo, and fails with a clear message where apt-get is not available.
#
# Two set-ups at once (two clones, or serve.sh while test.sh runs) must not fail on each
# other's apt-get: `apt-get update` does not wait for the lists lock (DPkg::Lock::Timeout
# covers only dpkg's lock), so our calls take a lock of their own, and a failed update
# (another program's apt-get) is retried.
corral_apt_install() {
  if ! command -v apt-get >/dev/null; then
    echo "set-up: please install: $* (no apt-get on this machine)" >&2
    return 1
  fi
  local sudo=()
  if [[ "$(id -u)" -ne 0 ]]; then
    sudo=(sudo)
  fi
  local lock="${TMPDIR:-/tmp}/corral-apt-$(id -u).lock"
  (
    flock 8
    echo "set-up: installing $* with apt-get" >&2
    local try
    for try in 1 2 3 4 5 6; do
      "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq >&2 && break
      [[ $try -eq 6 ]] && exit 1
      echo "set-up: apt-get update failed (another apt-get running?); retrying in 10 s" >&2
      sleep 10
    done
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 \
      install -y -qq "$@" >&2
  ) 8>"$lock"
}
