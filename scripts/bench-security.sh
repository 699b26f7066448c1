#!/usr/bin/env bash
# Measures what TLS and auth cost: the same 3-member Corral cluster on 127.0.0.1, once
# plaintext with auth off, once with TLS on the client and peer ports (mTLS between
# members) and auth enabled (every call carries a bearer token and is checked against
# the znodes' ACLs), each running corral-bench's put and linearizable get at 64 clients.
#
#   scripts/bench-security.sh                 # 20 s per run, 3 rounds each
#   scripts/bench-security.sh --duration 5 --repeat 1
#
# Options: --duration SECONDS, --repeat N, --clients N (default 64), --out DIR (default
# bench-results/security-<UTC time>), --bin-dir DIR (use `corral` and `corral-bench`
# there instead of building them in release). Writes DIR/report.md and the raw JSON.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

duration=20
repeat=3
clients=64
out=""
bin_dir=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --duration) duration="${2:?}"; shift ;;
    --repeat) repeat="${2:?}"; shift ;;
    --clients) clients="${2:?}"; shift ;;
    --out) out="${2:?}"; shift ;;
    --bin-dir) bin_dir="${2:?}"; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "bench-security.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [[ -z "$out" ]]; then
  out="bench-results/security-$(date -u +%Y%m%dT%H%M%SZ)"
  mkdir -p bench-results && echo '*' >bench-results/.gitignore
fi
mkdir -p "$out/raw" "$out/logs"
out="$(cd "$out" && pwd)"
log() { printf '[bench-security %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# shellcheck source=scripts/dev-env.sh
source scripts/dev-env.sh
command -v openssl >/dev/null || corral_apt_install openssl
command -v python3 >/dev/null || corral_apt_install python3
# shellcheck source=scripts/lib/go.sh
source scripts/lib/go.sh
corral_go_check
grpcurl="$(corral_install_grpcurl)"
if [[ -z "$bin_dir" ]]; then
  log "building corral and corral-bench (release)"
  cargo build --release -p corral-server --bin corral
  cargo build --release -p corral-tests --bin corral-bench
  bin_dir="$CARGO_TARGET_DIR/release"
fi
corral_bin="$bin_dir/corral"
bench_bin="$bin_dir/corral-bench"
git_rev="$(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo '+uncommitted changes')"

work="$(mktemp -d /tmp/corral-bench-security.XXXXXX)"
pids=()
stop_all() {
  if [[ ${#pids[@]} -gt 0 ]]; then
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for _ in $(seq 1 100); do
      local alive=0
      for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
      [[ $alive -eq 0 ]] && break
      sleep 0.1
    done
    kill -KILL "${pids[@]}" 2>/dev/null || true
  fi
  pids=()
}
trap 'stop_all; rm -rf "$work"' EXIT INT TERM

# --- Certificates (as in docs/security.md) -------------------------------------------
tls="$work/tls"
mkdir -p "$tls"
(
  cd "$tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj "/CN=bench CA" -keyout ca.key -out ca.crt 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' >member.ext
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=member" \
    -keyout member.key -out member.csr 2>/dev/null
  openssl x509 -req -in member.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
    -extfile member.ext -out member.crt 2>/dev/null
)

# --- Clusters ------------------------------------------------------------------------
base=$((30000 + RANDOM % 20000))
endpoints="127.0.0.1:$base,127.0.0.1:$((base + 10)),127.0.0.1:$((base + 20))"
start_cluster() { # $1 = name, rest = extra flags for every member
  local name="$1"
  shift
  local ic="1=127.0.0.1:$((base + 1)),2=127.0.0.1:$((base + 11)),3=127.0.0.1:$((base + 21))"
  for i in 1 2 3; do
    local p=$((base + (i - 1) * 10))
    "$corral_bin" serve --node-id "$i" --data-dir "$work/$name-$i" --initial-cluster "$ic" \
      --client-addr "127.0.0.1:$p" --peer-addr "127.0.0.1:$((p + 1))" \
      --http-addr "127.0.0.1:$((p + 2))" "$@" >"$out/logs/$name-$i.log" 2>&1 &
    pids+=($!)
  done
}
# gRPC call on member 1 through grpcurl, as a user would make it.
call() { # $1 = extra grpcurl flags (quoted), $2 = JSON, $3 = method
  # shellcheck disable=SC2086
  "$grpcurl" $1 -d "$2" "127.0.0.1:$base" "$3"
}
wait_ready() { # $1 = grpcurl flags
  for _ in $(seq 1 300); do
    if call "$1" '{}' corral.v1.Cluster/Status 2>/dev/null | grep -q '"leaderId"'; then
      return 0
    fi
    sleep 0.2
  done
  echo "bench-security.sh: the cluster did not elect a leader" >&2
  return 1
}

run_bench() { # $1 = mode, $2 = workload, $3 = round, rest = corral-bench flags
  local mode="$1" workload="$2" round="$3"
  shift 3
  local extra=()
  [[ "$workload" == get ]] && extra+=(--consistency linearizable)
  "$bench_bin" --target corral --endpoints "$endpoints" --workload "$workload" \
    --clients "$clients" --duration "$duration" --warmup 2 -o json "${extra[@]}" "$@" \
    >"$out/raw/$mode-$workload-$round.json"
}

log "plaintext, auth off"
start_cluster plain
wait_ready "-plaintext"
for round in $(seq 1 "$repeat"); do
  for w in put get; do run_bench plain "$w" "$round"; done
done
stop_all

log "TLS on the client and peer ports, auth on"
start_cluster secure --tls-cert "$tls/member.crt" --tls-key "$tls/member.key" \
  --peer-tls-cert "$tls/member.crt" --peer-tls-key "$tls/member.key" --peer-tls-ca "$tls/ca.crt"
g="-cacert $tls/ca.crt"
wait_ready "$g"
call "$g" '{"name":"root","password":"bench-root"}' corral.v1.Auth/UserAdd >/dev/null
call "$g" '{"name":"bench","password":"bench-pw"}' corral.v1.Auth/UserAdd >/dev/null
call "$g" '{}' corral.v1.Auth/Enable >/dev/null
token="$(call "$g" '{"name":"root","password":"bench-root"}' corral.v1.Auth/Authenticate |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')"
# The benchmark's user may do everything under its prefix, nothing elsewhere.
"$grpcurl" -cacert "$tls/ca.crt" -H "authorization: Bearer $token" \
  -d '{"path":"/corral-bench","createParents":true,"acl":[{"principal":"user:bench","permissions":["READ","WRITE","CREATE","DELETE"]}]}' \
  "127.0.0.1:$base" corral.v1.KV/Create >/dev/null
"$grpcurl" -cacert "$tls/ca.crt" -H "authorization: Bearer $token" \
  -d '{"path":"/","acl":[{"principal":"user:root","permissions":["READ","WRITE","CREATE","DELETE","ADMIN"]}]}' \
  "127.0.0.1:$base" corral.v1.KV/SetAcl >/dev/null
for round in $(seq 1 "$repeat"); do
  for w in put get; do
    run_bench secure "$w" "$round" --cacert "$tls/ca.crt" --user bench --password bench-pw
  done
done
stop_all

# --- Report ---------------------------------------------------------------------------
python3 - "$out" "$git_rev" "$clients" "$duration" "$repeat" <<'EOF'
import glob, json, os, platform, statistics, sys
out, rev, clients, duration, repeat = sys.argv[1:]
rows = {}
for path in sorted(glob.glob(os.path.join(out, "raw", "*.json"))):
    mode, workload, _ = os.path.basename(path)[:-5].split("-")
    with open(path) as f:
        r = json.load(f)
    rows.setdefault((workload, mode), []).append(r)
def med(rs, key):
    if key == "throughput":
        return statistics.median(x["throughput"] for x in rs)
    return statistics.median(x["latency_ms"][key] for x in rs)
lines = [
    "# TLS + auth cost",
    "",
    f"Commit {rev}; {platform.node()}, {os.cpu_count()} cores; 3 members on 127.0.0.1;",
    f"{clients} clients, {duration} s per run, median of {repeat} runs; fsync on.",
    "",
    "| workload | plaintext, auth off (ops/s) | TLS + auth (ops/s) | ratio | p50 off / on (ms) | p99 off / on (ms) |",
    "|---|---|---|---|---|---|",
]
for workload in ("put", "get"):
    off, on = rows.get((workload, "plain")), rows.get((workload, "secure"))
    if not off or not on:
        continue
    t_off, t_on = med(off, "throughput"), med(on, "throughput")
    errors = sum(x["errors"] for x in off + on)
    if errors:
        lines.append(f"<!-- {workload}: {errors} failed requests in these runs -->")
    lines.append(
        f"| {workload} | {t_off:,.0f} | {t_on:,.0f} | {t_on / t_off:.2f} | "
        f"{med(off, 'p50'):.2f} / {med(on, 'p50'):.2f} | "
        f"{med(off, 'p99'):.2f} / {med(on, 'p99'):.2f} |"
    )
report = "\n".join(lines) + "\n"
with open(os.path.join(out, "report.md"), "w") as f:
    f.write(report)
print(report)
EOF
log "report: $out/report.md"
