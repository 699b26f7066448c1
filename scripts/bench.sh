#!/usr/bin/env bash
# Benchmarks Corral against etcd and ZooKeeper on this machine, side by side, and writes
# a report. From a fresh Debian machine (as root, or with sudo):
#
#   scripts/bench.sh            # the full run, about 15 minutes after the builds
#   scripts/bench.sh --quick    # a smoke run, about 2 minutes after the builds
#
# Options: --out DIR (default bench-results/<UTC time>), --bin-dir DIR (use the `corral`
# and `corral-bench` binaries there instead of building them in release), --only LIST
# (run only the workloads whose names start with one of the comma-separated words, e.g.
# `--only put,watch`), --repeat N (rounds per workload; default 3, 1 with --quick),
# --keep (keep the clusters' data directories), --corral-args "FLAGS" (further
# `corral serve` flags for every Corral member, e.g. "--unsafe-no-fsync" to measure what
# the disk costs; the report then names them).
#
# Steps: install etcd-server, zookeeper and gnuplot from Debian's packages if missing;
# build `corral` and `corral-bench` in release; start a 3-member cluster of each system
# on 127.0.0.1 only, every member with its data under one temporary directory and fsync
# on (each system's default); wait until each cluster is healthy; run every workload of
# corral-bench against the three in turn (same flags for all); measure the disk's
# fdatasync latency; stop every process it started, by pid (also on error or Ctrl-C);
# write DIR/report.md (side-by-side table with ratios), DIR/results.json (every run's
# raw summary), DIR/put-throughput.png and the logs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

quick=0
out=""
bin_dir=""
keep=0
only=""
repeat_flag=""
corral_args=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) quick=1 ;;
    --out) out="${2:?--out needs a directory}"; shift ;;
    --bin-dir) bin_dir="${2:?--bin-dir needs a directory}"; shift ;;
    --only) only="${2:?--only needs a list of workload names}"; shift ;;
    --repeat) repeat_flag="${2:?--repeat needs a number}"; shift ;;
    --keep) keep=1 ;;
    --corral-args) corral_args="${2?--corral-args needs flags}"; shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [[ -z "$out" ]]; then
  out="bench-results/$(date -u +%Y%m%dT%H%M%SZ)"
  # Results stay out of git without touching the repository's .gitignore.
  mkdir -p bench-results && echo '*' >bench-results/.gitignore
fi
mkdir -p "$out/raw" "$out/logs"
out="$(cd "$out" && pwd)"

log() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# --- Tools --------------------------------------------------------------------------
# shellcheck source=scripts/dev-env.sh
source scripts/dev-env.sh
missing=()
command -v etcd >/dev/null || missing+=(etcd-server)
[[ -f /usr/share/java/zookeeper.jar ]] || missing+=(zookeeper)
command -v java >/dev/null || missing+=(default-jre-headless)
command -v gnuplot >/dev/null || missing+=(gnuplot-nox)
command -v curl >/dev/null || missing+=(curl)
command -v python3 >/dev/null || missing+=(python3)
if [[ ${#missing[@]} -gt 0 ]]; then
  corral_apt_install "${missing[@]}"
fi

if [[ -z "$bin_dir" ]]; then
  log "building corral and corral-bench (release)"
  cargo build --release -p corral-server --bin corral
  cargo build --release -p corral-tests --bin corral-bench
  bin_dir="$CARGO_TARGET_DIR/release"
fi
corral_bin="$bin_dir/corral"
bench_bin="$bin_dir/corral-bench"
for b in "$corral_bin" "$bench_bin"; do
  [[ -x "$b" ]] || { echo "bench.sh: $b not found" >&2; exit 1; }
done
# Recorded now: the tree may change (and the binaries be rebuilt) while the run goes on.
git_rev="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo '+uncommitted changes')"
corral_version="$("$corral_bin" --version)"

# --- Processes: everything started is recorded here and stopped by pid ---------------
work="$(mktemp -d /tmp/corral-bench.XXXXXX)"
pids=()
corral_pids=() etcd_pids=() zookeeper_pids=()
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ ${#pids[@]} -gt 0 ]]; then
    log "stopping ${#pids[@]} server processes"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for _ in $(seq 1 100); do
      local alive=0
      for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
      [[ $alive -eq 0 ]] && break
      sleep 0.1
    done
    kill -KILL "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
  if [[ $keep -eq 0 ]]; then rm -rf "$work"; else log "data kept in $work"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Ports, all on 127.0.0.1, away from each system's defaults (a packaged etcd service may
# hold 2379/2380).
corral_client=(12479 12489 12499)
corral_peer=(12480 12490 12500)
corral_http=(12481 12491 12501)
etcd_client=(12379 12389 12399)
etcd_peer=(12380 12390 12400)
zk_client=(12181 12182 12183)
zk_quorum=(12888 12889 12890)
zk_election=(13888 13889 13890)

join() { local IFS=,; echo "$*"; }
endpoints_of() { local list=(); for p in "$@"; do list+=("127.0.0.1:$p"); done; join "${list[@]}"; }
corral_eps="$(endpoints_of "${corral_client[@]}")"
etcd_eps="$(endpoints_of "${etcd_client[@]}")"
zk_eps="$(endpoints_of "${zk_client[@]}")"

start_corral() {
  local initial=() i
  for i in 0 1 2; do initial+=("$((i + 1))=127.0.0.1:${corral_peer[$i]}"); done
  for i in 0 1 2; do
    mkdir -p "$work/corral/$((i + 1))"
    "$corral_bin" serve --node-id "$((i + 1))" --data-dir "$work/corral/$((i + 1))" \
      --client-addr "127.0.0.1:${corral_client[$i]}" --peer-addr "127.0.0.1:${corral_peer[$i]}" \
      --http-addr "127.0.0.1:${corral_http[$i]}" --initial-cluster "$(join "${initial[@]}")" \
      $corral_args >"$out/logs/corral-$((i + 1)).log" 2>&1 &
    pids+=($!)
    corral_pids+=($!)
  done
}

start_etcd() {
  local initial=() i
  for i in 0 1 2; do initial+=("e$((i + 1))=http://127.0.0.1:${etcd_peer[$i]}"); done
  for i in 0 1 2; do
    etcd --name "e$((i + 1))" --data-dir "$work/etcd/$((i + 1))" \
      --listen-client-urls "http://127.0.0.1:${etcd_client[$i]}" \
      --advertise-client-urls "http://127.0.0.1:${etcd_client[$i]}" \
      --listen-peer-urls "http://127.0.0.1:${etcd_peer[$i]}" \
      --initial-advertise-peer-urls "http://127.0.0.1:${etcd_peer[$i]}" \
      --initial-cluster "$(join "${initial[@]}")" --initial-cluster-state new \
      --initial-cluster-token corral-bench \
      >"$out/logs/etcd-$((i + 1)).log" 2>&1 &
    pids+=($!)
    etcd_pids+=($!)
  done
}

start_zookeeper() {
  local i n dir
  for i in 0 1 2; do
    n=$((i + 1))
    dir="$work/zookeeper/$n"
    mkdir -p "$dir/data" "$dir/conf"
    echo "$n" >"$dir/data/myid"
    # forceSync defaults to yes (fsync of the transaction log before acknowledging);
    # maxClientCnxns=0 lifts the 60-connections-per-address limit, which the watch and
    # lease workloads (one session per watcher / lease, all from 127.0.0.1) exceed.
    cat >"$dir/conf/zoo.cfg" <<EOF
tickTime=2000
initLimit=10
syncLimit=5
dataDir=$dir/data
clientPortAddress=127.0.0.1
clientPort=${zk_client[$i]}
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=*
server.1=127.0.0.1:${zk_quorum[0]}:${zk_election[0]}
server.2=127.0.0.1:${zk_quorum[1]}:${zk_election[1]}
server.3=127.0.0.1:${zk_quorum[2]}:${zk_election[2]}
EOF
    cp /etc/zookeeper/conf/log4j.properties "$dir/conf/"
    java -Xmx1g -Dzookeeper.log.dir="$dir" -Dzookeeper.root.logger=INFO,CONSOLE \
      -cp "$dir/conf:/usr/share/java/zookeeper.jar" \
      org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/conf/zoo.cfg" \
      >"$out/logs/zookeeper-$n.log" 2>&1 &
    pids+=($!)
    zookeeper_pids+=($!)
  done
}

zk_cmd() { # zk_cmd PORT WORD: a four-letter-word command, answer on stdout
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1 && printf %s '$2' >&3 && cat <&3" 2>/dev/null || true
}

healthy() {
  local p
  case "$1" in
    corral)
      for p in "${corral_http[@]}"; do
        curl -fsS -m 2 "http://127.0.0.1:$p/readyz" >/dev/null 2>&1 || return 1
      done ;;
    etcd)
      for p in "${etcd_client[@]}"; do
        curl -fsS -m 2 "http://127.0.0.1:$p/health" 2>/dev/null | grep -q '"health":"true"' || return 1
      done ;;
    zookeeper)
      for p in "${zk_client[@]}"; do
        zk_cmd "$p" srvr | grep -Eq 'Mode: (leader|follower)' || return 1
      done ;;
  esac
}

wait_healthy() {
  local i
  for i in $(seq 1 120); do
    if healthy "$1"; then log "$1: 3 members healthy"; return 0; fi
    sleep 0.5
  done
  echo "bench.sh: $1 did not become healthy in 60 s; logs in $out/logs" >&2
  return 1
}

# What else runs on the machine: the report states it (a shared machine makes noise).
others() { ps -eo pcpu=,pid=,comm= --sort=-pcpu | head -n 8 | awk '{printf "%s%% %s(%s); ", $1, $3, $2}'; }
load_at_start="$(cut -d' ' -f1-3 /proc/loadavg)"
others_at_start="$(others)"

log "starting 3-member clusters of corral, etcd and zookeeper in $work"
start_corral
start_etcd
start_zookeeper
for system in corral etcd zookeeper; do wait_healthy "$system"; done

# --- Disk: one fdatasync ---------------------------------------------------------------
log "measuring fdatasync latency in $work"
python3 - "$work/fsync-probe" >"$out/fdatasync.json" <<'EOF'
import json, os, statistics, sys, time
path = sys.argv[1]
def run(prealloc):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    block = os.urandom(4096)
    if prealloc:  # like a WAL file allocated ahead: data only, no size change
        os.write(fd, b"\0" * 4096 * 1000)
        os.fsync(fd)
    took = []
    for i in range(1000):
        os.pwrite(fd, block, 4096 * i)
        t = time.perf_counter()
        os.fdatasync(fd)
        took.append((time.perf_counter() - t) * 1000)
    os.close(fd)
    os.unlink(path)
    took.sort()
    q = lambda p: took[min(len(took) - 1, int(p * len(took)))]
    return {"p50_ms": q(0.50), "p99_ms": q(0.99), "mean_ms": statistics.mean(took)}
print(json.dumps({"write_bytes": 4096, "samples": 1000,
                  "append": run(False), "overwrite": run(True)}))
EOF
cat "$out/fdatasync.json" >&2

# --- Workloads --------------------------------------------------------------------------
# Every workload runs `repeat` times against each system, round-robin (corral, etcd,
# zookeeper, corral, …), so a burst of load from elsewhere on the machine hits all three
# alike; the report gives the median of the repeats and each repeat's throughput.
if [[ $quick -eq 1 ]]; then
  duration=2; warmup=0.5; key_space=1000; watchers=100; put_clients=(1 16 64); repeat=1
else
  duration=5; warmup=1; key_space=10000; watchers=1000; put_clients=(1 16 64 256); repeat=3
fi
if [[ -n "$repeat_flag" ]]; then
  [[ "$repeat_flag" =~ ^[1-9][0-9]?$ ]] || { echo "bench.sh: --repeat must be 1..99" >&2; exit 2; }
  repeat="$repeat_flag"
fi
common=(--value-size 256 --duration "$duration" --warmup "$warmup" --key-space "$key_space")

eps_of() {
  case "$1" in corral) echo "$corral_eps" ;; etcd) echo "$etcd_eps" ;; zookeeper) echo "$zk_eps" ;; esac
}

# CPU time (user + system, in clock ticks) used so far by a list of processes.
cpu_ticks() {
  local p total=0 t
  for p in "$@"; do
    t="$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)"
    total=$((total + t))
  done
  echo "$total"
}
ticks_per_s="$(getconf CLK_TCK)"

failures=0
bench() { # bench NAME ARGS...: runs one workload against each system, `repeat` rounds
  local name="$1" system file err word selected=0 r
  shift
  if [[ -n "$only" ]]; then
    for word in ${only//,/ }; do [[ "$name" == "$word"* ]] && selected=1; done
    [[ $selected -eq 1 ]] || return 0
  fi
  for r in $(seq 1 "$repeat"); do
    for system in corral etcd zookeeper; do
      file="$out/raw/$name.$system.$r.json"
      err="$out/logs/bench-$name.$system.$r.err"
      log "$name: $system (round $r of $repeat)"
      local server_pids
      case "$system" in
        corral) server_pids=("${corral_pids[@]}") ;;
        etcd) server_pids=("${etcd_pids[@]}") ;;
        zookeeper) server_pids=("${zookeeper_pids[@]}") ;;
      esac
      # The servers' and the driver's CPU time over the measured seconds only (sampled
      # after the warm-up), to tell a CPU-bound result from one that waits on the disk.
      timeout "$((duration * 3 + 180))" "$bench_bin" --target "$system" \
        --endpoints "$(eps_of "$system")" "${common[@]}" "$@" -o json >"$file" 2>"$err" &
      local runner=$! status=0 driver s0 d0 s1 d1
      # The middle 90 % of the measured seconds, so the driver is surely still running.
      local window
      window="$(python3 -c "print($duration * 0.9)")"
      sleep "$(python3 -c "print($warmup + $duration * 0.05)")"
      driver="$(pgrep -P "$runner" | head -n 1 || true)"  # corral-bench, under `timeout`
      s0="$(cpu_ticks "${server_pids[@]}")" d0="$(cpu_ticks "$driver")"
      sleep "$window"
      s1="$(cpu_ticks "${server_pids[@]}")" d1="$(cpu_ticks "$driver")"
      wait "$runner" || status=$?
      if [[ $status -eq 0 ]]; then
        python3 - "$file" "$((s1 - s0))" "$((d1 - d0))" "$ticks_per_s" "$window" <<'PY'
import json, sys
path, servers, driver, hz, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
s = json.load(open(path))
ops_per_s = s["throughput"] or 0
s["cpu"] = {"servers_cores": servers / hz / seconds, "driver_cores": driver / hz / seconds,
            "servers_us_per_op": (servers / hz / seconds) * 1e6 / ops_per_s if ops_per_s else None}
json.dump(s, open(path, "w"))
PY
        python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print("  %.0f ops/s  p50 %.2f ms  p99 %.2f ms  errors %d  servers %.2f cores" % (s["throughput"], s["latency_ms"]["p50"], s["latency_ms"]["p99"], s["errors"], s["cpu"]["servers_cores"]))' "$file" >&2
      else
        failures=$((failures + 1))
        log "  FAILED: $(tail -n 3 "$err")"
        rm -f "$file"
      fi
    done
  done
}

for c in "${put_clients[@]}"; do
  bench "put-sequential-c$c" --workload put --keys sequential --clients "$c"
done
bench put-random-c64 --workload put --keys random --clients 64
bench get-linearizable-c64 --workload get --consistency linearizable --clients 64
bench get-serializable-c64 --workload get --consistency serializable --clients 64
bench txn-c64 --workload txn --clients 64
bench "watch-w$watchers" --workload watch --watchers "$watchers" --clients 4 --rate 100 --conns 3
bench lock-c16 --workload lock --clients 16
bench lease-c16 --workload lease --clients 16 --lease-ttl 10
# Abandoned leases: the run then waits until every ephemeral znode is gone.
bench lease-expire-c16 --workload lease --lease-end expire --clients 16 --lease-ttl 4

# --- Report -----------------------------------------------------------------------------
log "writing the report"
{
  echo "date_utc=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "mode=$([[ $quick -eq 1 ]] && echo quick || echo full)"
  echo "duration_s=$duration"
  echo "warmup_s=$warmup"
  echo "nproc=$(nproc)"
  echo "memory=$(free -h | awk '/^Mem:/ {print $2}')"
  echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "kernel=$(uname -r)"
  echo "disk=$(df -h "$work" | awk 'NR==2 {print $1 " (" $2 ", " $5 " used)"}')"
  echo "loadavg_at_start=$load_at_start"
  echo "loadavg_at_end=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "top_processes_at_start=$others_at_start"
  echo "top_processes_at_end=$(others)"
  echo "corral=$corral_version"
  echo "etcd=$(etcd --version | head -n1)"
  echo "zookeeper=$(dpkg-query -W -f='${Version}' zookeeper 2>/dev/null || echo unknown)"
  echo "java=$(java -version 2>&1 | head -n1)"
  echo "git=$git_rev"
  echo "corral_args=$corral_args"
} >"$out/machine.txt"

python3 - "$out" <<'EOF'
import glob, json, os, statistics, sys
out = sys.argv[1]
rounds = {}  # name -> system -> [summary of each round]
for f in sorted(glob.glob(os.path.join(out, "raw", "*.json"))):
    name, system, _round = os.path.basename(f)[:-5].rsplit(".", 2)
    rounds.setdefault(name, {}).setdefault(system, []).append(json.load(open(f)))
machine = dict(l.rstrip("\n").split("=", 1) for l in open(os.path.join(out, "machine.txt")))
fsync = json.load(open(os.path.join(out, "fdatasync.json")))
systems = ["corral", "etcd", "zookeeper"]

def median_of(summaries):
    """One summary whose numbers are the medians over the rounds (errors: the sum)."""
    m = json.loads(json.dumps(summaries[0]))
    m["rounds"] = len(summaries)
    m["throughput"] = statistics.median(s["throughput"] for s in summaries)
    m["throughput_each_round"] = [round(s["throughput"], 1) for s in summaries]
    for k in m["latency_ms"]:
        m["latency_ms"][k] = statistics.median(s["latency_ms"][k] for s in summaries)
    m["errors"] = sum(s["errors"] for s in summaries)
    m["error_samples"] = {}
    for s in summaries:
        for msg, n in s["error_samples"].items():
            m["error_samples"][msg] = m["error_samples"].get(msg, 0) + n
    for k in m["extra"]:
        m["extra"][k] = statistics.median(s["extra"][k] for s in summaries)
    if all("cpu" in s for s in summaries):
        for k in m["cpu"]:
            xs = [s["cpu"][k] for s in summaries if s["cpu"][k] is not None]
            m["cpu"][k] = statistics.median(xs) if xs else None
    return m

runs = {name: {s: median_of(v) for s, v in by.items()} for name, by in rounds.items()}
json.dump({"machine": machine, "fdatasync": fsync, "median": runs, "rounds": rounds},
          open(os.path.join(out, "results.json"), "w"), indent=1)

def order(name):
    kinds = ["put-sequential", "put-random", "get-linearizable", "get-serializable", "txn", "watch", "lock", "lease-c", "lease-expire"]
    for i, k in enumerate(kinds):
        if name.startswith(k):
            digits = "".join(ch for ch in name[len(k):] if ch.isdigit())
            return (i, int(digits or 0))
    return (99, 0)

def ratio(a, b):
    return "%.2f" % (a / b) if a and b else "–"

def get(name, system):
    return runs.get(name, {}).get(system)

rows = []
for name in sorted(runs, key=order):
    r = {s: get(name, s) for s in systems}
    any_run = next(v for v in r.values() if v)
    tput = {s: (v["throughput"] if v else None) for s, v in r.items()}
    p50 = {s: (v["latency_ms"]["p50"] if v else None) for s, v in r.items()}
    p99 = {s: (v["latency_ms"]["p99"] if v else None) for s, v in r.items()}
    errs = {s: (v["errors"] if v else None) for s, v in r.items()}
    cpu = {s: (v.get("cpu", {}).get("servers_us_per_op") if v else None) for s, v in r.items()}
    cores = {s: (v.get("cpu", {}).get("servers_cores") if v else None) for s, v in r.items()}
    fmt = lambda x, f: (f % x) if x is not None else "failed"
    rows.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
        name, any_run["clients"],
        " / ".join(fmt(tput[s], "%.0f") for s in systems),
        ratio(tput["corral"], tput["etcd"]), ratio(tput["corral"], tput["zookeeper"]),
        " / ".join(fmt(p50[s], "%.2f") for s in systems),
        " / ".join(fmt(p99[s], "%.2f") for s in systems),
        ratio(p99["corral"], p99["etcd"]), ratio(p99["corral"], p99["zookeeper"]),
        " / ".join(fmt(errs[s], "%d") for s in systems),
        " / ".join(fmt(cores[s], "%.2f") for s in systems),
        " / ".join(fmt(cpu[s], "%.0f") for s in systems),
        any_run["measures"]))

def tp(name, s):
    v = get(name, s)
    return v["throughput"] if v else None

checks = []
def check(label, ok, detail):
    checks.append("| %s | %s | %s |" % (label, "met" if ok else ("MISSED" if ok is False else "no data"), detail))

def cmp(a, b, factor=1.0, lower_is_better=False):
    if a is None or b is None:
        return None
    return a <= b * factor if lower_is_better else a >= b * factor

c, e, z = (tp("put-sequential-c64", s) for s in systems)
check("put @64 clients ≥ etcd", cmp(c, e), "Corral/etcd = %s" % ratio(c, e))
check("put @64 clients ≥ 2× ZooKeeper", cmp(c, z, 2.0), "Corral/ZooKeeper = %s" % ratio(c, z))
for mode in ("linearizable", "serializable"):
    c, e = tp("get-%s-c64" % mode, "corral"), tp("get-%s-c64" % mode, "etcd")
    check("%s get ≥ etcd" % mode, cmp(c, e), "Corral/etcd = %s" % ratio(c, e))
watch = next((n for n in runs if n.startswith("watch")), None)
if watch:
    wc, we = get(watch, "corral"), get(watch, "etcd")
    a = wc["latency_ms"]["p99"] if wc else None
    b = we["latency_ms"]["p99"] if we else None
    check("watch p99 put→event ≤ etcd (%s)" % watch, cmp(a, b, lower_is_better=True),
          "Corral %s ms, etcd %s ms" % (a, b))
one = get("put-sequential-c1", "corral")
sync = min(fsync["append"]["p50_ms"], fsync["overwrite"]["p50_ms"])
if one:
    check("put p50 @1 client ≤ 2× fdatasync p50", one["latency_ms"]["p50"] <= 2 * sync,
          "Corral p50 %.2f ms; fdatasync p50 %.2f ms (overwrite) / %.2f ms (append)"
          % (one["latency_ms"]["p50"], fsync["overwrite"]["p50_ms"], fsync["append"]["p50_ms"]))

notes = []
for name in sorted(runs, key=order):
    for s in systems:
        v = get(name, s)
        if v and v.get("extra"):
            notes.append("- %s, %s (medians): %s" % (name, s, ", ".join(
                "%s %s" % (k, ("%.3f" % x).rstrip("0").rstrip(".")) for k, x in sorted(v["extra"].items()))))
        for msg, n in (v or {}).get("error_samples", {}).items():
            notes.append("- %s, %s: error ×%d: %s" % (name, s, n, msg))

with open(os.path.join(out, "report.md"), "w") as f:
    f.write("# Corral vs etcd vs ZooKeeper (%s run, %s)\n\n" % (machine["mode"], machine["date_utc"]))
    f.write("Machine: %s cores (%s), %s memory, disk %s, kernel %s; load average %s before the clusters "
            "started, %s at the end.\n\n"
            % (machine["nproc"], machine["cpu"], machine["memory"], machine["disk"], machine["kernel"],
               machine["loadavg_at_start"], machine["loadavg_at_end"]))
    f.write("Busiest processes (%%CPU since each started) before the run: %s\n\nand at the end: %s\n\n"
            % (machine["top_processes_at_start"], machine["top_processes_at_end"]))
    f.write("Versions: %s (git %s); %s; ZooKeeper %s (%s).\n\n"
            % (machine["corral"], machine["git"], machine["etcd"], machine["zookeeper"], machine["java"]))
    f.write("fdatasync of a 4 KiB write on the data disk: p50 %.2f ms / p99 %.2f ms overwriting a preallocated file, "
            "p50 %.2f ms / p99 %.2f ms appending.\n\n"
            % (fsync["overwrite"]["p50_ms"], fsync["overwrite"]["p99_ms"], fsync["append"]["p50_ms"], fsync["append"]["p99_ms"]))
    n_rounds = max(len(v) for by in rounds.values() for v in by.values())
    f.write("Each cell lists Corral / etcd / ZooKeeper: the median of %d round(s) of %s s each (after %s s of "
            "warm-up), the systems taking turns. Ratios are Corral ÷ other: above 1 is better for "
            "throughput, below 1 is better for latency. 3-member clusters on 127.0.0.1, 256-byte values. "
            "Server cores: CPU time of the three members together per second measured (the machine has %s); "
            "server CPU µs/op: that time per operation.%s\n\n"
            % (n_rounds, machine["duration_s"], machine["warmup_s"], machine["nproc"],
               (" Corral members ran with extra flags: `%s`." % machine["corral_args"]) if machine.get("corral_args") else ""))
    f.write("| workload | clients | ops/s | ops/s C/etcd | ops/s C/ZK | p50 ms | p99 ms | p99 C/etcd | p99 C/ZK | errors | server cores | server CPU µs/op | latency of |\n")
    f.write("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
    f.write("\n".join(rows) + "\n\n")
    f.write("## Targets (issue 7)\n\n| target | result | detail |\n|---|---|---|\n")
    f.write("\n".join(checks) + "\n\n")
    f.write("## Throughput of each round (ops/s)\n\n| workload | Corral | etcd | ZooKeeper |\n|---|---|---|---|\n")
    for name in sorted(runs, key=order):
        f.write("| %s | %s |\n" % (name, " | ".join(
            ", ".join("%.0f" % x for x in runs[name][s]["throughput_each_round"]) if s in runs[name] else "failed"
            for s in systems)))
    f.write("\n")
    if notes:
        f.write("## Details\n\n" + "\n".join(notes) + "\n\n")
    f.write("![put throughput vs clients](put-throughput.png)\n")

with open(os.path.join(out, "put-throughput.dat"), "w") as f:
    f.write("# clients corral etcd zookeeper (ops/s, sequential keys)\n")
    for name in sorted((n for n in runs if n.startswith("put-sequential-c")), key=order):
        cl = int(name.rsplit("c", 1)[1])
        f.write("%d %s\n" % (cl, " ".join(str(tp(name, s) or "NaN") for s in systems)))
EOF

if grep -qv '^#' "$out/put-throughput.dat"; then
gnuplot <<EOF
set terminal pngcairo size 900,560 font "sans,11"
set output "$out/put-throughput.png"
set title "Put throughput vs clients (3 members, 256 B values, sequential keys)"
set xlabel "clients (requests in flight)"
set ylabel "puts per second"
set logscale x 2
set key top left
set grid
plot "$out/put-throughput.dat" using 1:2 with linespoints lw 2 pt 7 title "Corral", \
     "" using 1:3 with linespoints lw 2 pt 5 title "etcd", \
     "" using 1:4 with linespoints lw 2 pt 9 title "ZooKeeper"
EOF
fi

log "report: $out/report.md"
cat "$out/report.md"
if [[ $failures -gt 0 ]]; then
  log "$failures runs failed (see $out/logs)"
  exit 1
fi
