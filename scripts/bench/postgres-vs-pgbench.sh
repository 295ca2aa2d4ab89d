#!/usr/bin/env bash
# plimsoll against pgbench on the same TPC-B-like transactions, alternating, closed model.
#
#   scripts/bench/postgres-vs-pgbench.sh [ROUNDS] [SECONDS] [SCALE]   # default 3 rounds of 10 s, scale 10
#
# A throwaway PostgreSQL on a free loopback port (initdb in a scratch folder under target/,
# run as the postgres user when this script runs as root), pinned to the last core, with
# synchronous_commit off so that commits wait on the client and the server rather than on the
# disk. pgbench -i loads the tables once; plimsoll runs on those same tables (init = "never"),
# so both tools read and write the same rows. Both clients are pinned to core 0, with the
# same clients (connections) and threads, prepared statements (pgbench -M prepared), and the
# two built-in transactions: select-only (pgbench -S) and the default TPC-B-like one.
# plimsoll gets a one-second warmup, since pgbench also leaves its connection time out of its
# rate, and draws no HTML report (--no-report), so that is not in its CPU. pgbench logs one
# aggregate line per second (--aggregate-interval) for its largest latency.
# Prints per transaction the median transactions per second of each tool and their ratio, the
# median mean and largest latency of each, and the ratio of client CPU seconds (user + system)
# per transaction. pgbench's largest latency leaves out its last, partial second (its log
# does); plimsoll's includes the transactions still running at the end.
#
# PLIMSOLL_BEFORE=path/to/another/plimsoll runs that build too, after plimsoll in each round,
# and prints plimsoll's ratios to it: a change measured against the build before it.
set -euo pipefail

ROUNDS=${1:-3}
SECONDS_PER_RUN=${2:-10}
SCALE=${3:-10}
CLIENTS=${CLIENTS:-8}
THREADS=${THREADS:-1}
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD

source scripts/bench/common.sh
need pgbench postgresql
build_plimsoll
CPU_OF_PREFIX="taskset -c 0"

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
CORES=$(nproc)
SERVER_CORE=$((CORES - 1))
WORK=$(mktemp -d "$ROOT/target/bench-postgres.XXXXXX")
DATA=$(mktemp -d /tmp/plimsoll-bench-pg.XXXXXX) # the postgres user must reach it
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# PostgreSQL refuses to run as root.
as_postgres() {
  if [[ $EUID == 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

if [[ $EUID == 0 ]]; then
  chown postgres: "$DATA"
fi
as_postgres "$PG_BIN/initdb" -D "$DATA/data" -U postgres --auth=trust -N >"$WORK/initdb.log"
as_postgres taskset -c "$SERVER_CORE" "$PG_BIN/pg_ctl" -D "$DATA/data" -l "$DATA/log" -w \
  -o "-p $PORT -k $DATA -c listen_addresses=127.0.0.1 -c synchronous_commit=off \
      -c max_connections=200" start >/dev/null
trap 'as_postgres "$PG_BIN/pg_ctl" -D "$DATA/data" -m immediate stop >/dev/null 2>&1; rm -rf "$WORK" "$DATA"' EXIT

PGBENCH=(pgbench -h 127.0.0.1 -p "$PORT" -U postgres)
echo "loading scale $SCALE with pgbench -i" >&2
"${PGBENCH[@]}" -i -q -s "$SCALE" postgres >"$WORK/init.log" 2>&1

plimsoll_workload() { # $1 select_only (true/false)
  cat <<TOML
name = "bench-pgbench"
duration = "${SECONDS_PER_RUN}s"
warmup = "1s"
[[jobs]]
kind = "postgres"
name = "pg"
url = "postgres://postgres@127.0.0.1:$PORT/postgres"
connections = $CLIENTS
threads = $THREADS
init = "never"
[jobs.workload]
kind = "tpcb_like"
scale = $SCALE
select_only = $1
TOML
}

# Prints "transactions tps mean_ms max_ms cpu_s" for one plimsoll run. The CPU seconds cover
# the warmup too, so its transactions are counted with the measured ones for CPU per
# transaction (pgbench's count and CPU both cover its whole run).
run_plimsoll() {
  plimsoll_workload "$1" >"$WORK/job.toml"
  local cpu
  rm -rf "$WORK/p" # a run folder must be new: each run gets a fresh one
  cpu=$(cpu_of "$PLIMSOLL" run --quiet --no-report "$WORK/job.toml" -o "$WORK/p")
  python3 - "$WORK/p/results.json" "$cpu" <<'PY'
import json, sys
job = json.load(open(sys.argv[1]))["jobs"][0]
op = job["operations"][0]
warm = sum(w["count"] for w in job["warmup"] if w["op"] == op["op"])
lat = op["latency_ns"]
print(op["count"] + warm, op["ops_per_s"], lat["mean"] / 1e6, lat["max"] / 1e6, sys.argv[2])
PY
}

# Prints "transactions tps mean_ms max_ms cpu_s" for one pgbench run.
run_pgbench() {
  local mode=() cpu
  if [[ $1 == true ]]; then
    mode=(-S)
  fi
  rm -f "$WORK"/agg.*
  cpu=$(cpu_of sh -c "cd $WORK && ${PGBENCH[*]} ${mode[*]} -M prepared -n -c $CLIENTS \
    -j $THREADS -T $SECONDS_PER_RUN -l --aggregate-interval=1 \
    --log-prefix=$WORK/agg postgres >$WORK/pgbench.out 2>&1")
  python3 - "$WORK/pgbench.out" "$cpu" "$WORK"/agg.* <<'PY'
import re, sys
out = open(sys.argv[1]).read()
tps = float(re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out).group(1))
mean = float(re.search(r"latency average = ([0-9.]+) ms", out).group(1))
n = int(re.search(r"number of transactions actually processed: (\d+)", out).group(1))
# Aggregate lines, one per second: start, count, sum, sum of squares, min, max (microseconds);
# pgbench may leave out the last, partial second.
peaks = [int(line.split()[5]) for path in sys.argv[3:] for line in open(path) if line.strip()]
print(n, tps, mean, max(peaks) / 1e3 if peaks else float("nan"), sys.argv[2])
PY
}

: >"$WORK/runs"
for select_only in true false; do
  for round in $(seq "$ROUNDS"); do
    read -r n tps mean max cpu < <(run_plimsoll "$select_only")
    echo "plimsoll $select_only $round $n $tps $mean $max $cpu" | tee -a "$WORK/runs" >&2
    if [[ -n ${PLIMSOLL_BEFORE:-} ]]; then
      read -r n tps mean max cpu < <(PLIMSOLL=$PLIMSOLL_BEFORE run_plimsoll "$select_only")
      echo "before $select_only $round $n $tps $mean $max $cpu" | tee -a "$WORK/runs" >&2
    fi
    read -r n tps mean max cpu < <(run_pgbench "$select_only")
    echo "pgbench $select_only $round $n $tps $mean $max $cpu" | tee -a "$WORK/runs" >&2
  done
done

python3 - "$WORK/runs" "$SCALE" "$CLIENTS" "$THREADS" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    tool, select_only, _, n, tps, mean, peak, cpu = line.split()
    job = "select-only" if select_only == "true" else "tpcb-like"
    runs.setdefault((job, tool), []).append(
        (float(tps), float(mean), float(peak), float(cpu) / int(n)))
print(f"scale {sys.argv[2]}, {sys.argv[3]} clients, {sys.argv[4]} threads")
print(f"{'transaction':<12} {'plimsoll tps':>13} {'pgbench tps':>12} {'ratio':>6} "
      f"{'mean ms p/pg':>14} {'max ms p/pg':>15} {'CPU/txn ratio':>14}")
for job in ("select-only", "tpcb-like"):
    ours, theirs = runs[(job, "plimsoll")], runs[(job, "pgbench")]
    med = lambda xs, i: statistics.median(x[i] for x in xs)
    print(f"{job:<12} {med(ours, 0):>13,.0f} {med(theirs, 0):>12,.0f} "
          f"{med(ours, 0) / med(theirs, 0):>6.2f} "
          f"{med(ours, 1):>6.2f}/{med(theirs, 1):<6.2f} "
          f"{med(ours, 2):>7.1f}/{med(theirs, 2):<6.1f} "
          f"{med(ours, 3) / med(theirs, 3):>14.2f}")
for job in ("select-only", "tpcb-like"):
    if (job, "before") in runs:
        ours, before = runs[(job, "plimsoll")], runs[(job, "before")]
        med = lambda xs, i: statistics.median(x[i] for x in xs)
        print(f"{job:<12} against PLIMSOLL_BEFORE: tps {med(before, 0):,.0f} -> "
              f"{med(ours, 0):,.0f} ({med(ours, 0) / med(before, 0):.2f}), CPU per txn "
              f"{med(ours, 3) / med(before, 3):.2f}")
PY
