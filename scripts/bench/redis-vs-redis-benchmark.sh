#!/usr/bin/env bash
# plimsoll against redis-benchmark on the same Redis jobs, alternating, closed model.
#
#   scripts/bench/redis-vs-redis-benchmark.sh [ROUNDS] [SECONDS]   # default 3 rounds of 5 s
#
# A throwaway redis-server on a free loopback port, pinned to the last core; both clients
# pinned to core 0 with one client thread each. Same connections (50), value size (64 B), key
# space (100,000 random keys), pipeline depth (1 and 16), and command: redis-benchmark runs
# one command per test (-t), so each command is measured alone, SET first so that GETs hit.
# redis-benchmark is given as many requests as plimsoll completed in the same round, so both
# run about as long; plimsoll draws no HTML report (--no-report), so that is not in its CPU.
# Prints per job the median ops/s of each tool, the ratio plimsoll / redis-benchmark, and the
# ratio of client CPU seconds (user + system) per operation.
# Keys differ in form only: redis-benchmark writes key:000000012345, plimsoll key:12345.
set -euo pipefail

ROUNDS=${1:-3}
SECONDS_PER_RUN=${2:-5}
CONNECTIONS=50
VALUE=64
KEYS=100000
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD

source scripts/bench/common.sh
need redis-benchmark redis-server redis-tools
build_plimsoll
CPU_OF_PREFIX="taskset -c 0"

CORES=$(nproc)
SERVER_CORE=$((CORES - 1))
WORK=$(mktemp -d "$ROOT/target/bench-redis.XXXXXX")
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
taskset -c "$SERVER_CORE" redis-server --port "$PORT" --bind 127.0.0.1 --save "" \
  --appendonly no --daemonize no >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
trap 'kill $SERVER_PID 2>/dev/null; rm -rf "$WORK"' EXIT
until redis-cli -p "$PORT" ping >/dev/null 2>&1; do sleep 0.1; done


plimsoll_workload() { # $1 command (get/set), $2 pipeline
  cat <<TOML
name = "bench-$1-p$2"
duration = "${SECONDS_PER_RUN}s"
[[jobs]]
kind = "redis"
name = "$1"
url = "redis://127.0.0.1:$PORT/0"
connections = $CONNECTIONS
pipeline = $2
threads = 1
mix = [{ op = "$1" }]
keys = { count = $KEYS, prefix = "key:" }
value_size = "${VALUE}B"
TOML
}

# Prints "ops ops_per_s cpu_s" for one plimsoll run.
run_plimsoll() {
  plimsoll_workload "$1" "$2" >"$WORK/job.toml"
  local cpu
  rm -rf "$WORK/p" # a run folder must be new: each run gets a fresh one
  cpu=$(cpu_of "$PLIMSOLL" run --quiet --no-report "$WORK/job.toml" -o "$WORK/p")
  python3 - "$WORK/p/results.json" "$cpu" <<'PY'
import json, sys
op = json.load(open(sys.argv[1]))["jobs"][0]["operations"][0]
print(op["count"], op["ops_per_s"], sys.argv[2])
PY
}

# Prints "ops ops_per_s cpu_s" for one redis-benchmark run of $3 requests.
run_redis_benchmark() {
  local out="$WORK/rb.csv" cpu
  cpu=$(cpu_of sh -c "redis-benchmark -h 127.0.0.1 -p $PORT -c $CONNECTIONS -P $2 -d $VALUE \
    -r $KEYS -n $3 -t $1 --threads 1 --csv -q >$out")
  python3 - "$out" "$3" "$cpu" <<'PY'
import csv, sys
rows = [r for r in csv.reader(open(sys.argv[1])) if r and r[0] != "test"]
print(sys.argv[2], float(rows[0][1]), sys.argv[3])
PY
}

: >"$WORK/runs"
for pipeline in 1 16; do
  for command in set get; do
    for round in $(seq "$ROUNDS"); do
      read -r n rate cpu < <(run_plimsoll "$command" "$pipeline")
      echo "plimsoll $command $pipeline $round $n $rate $cpu" | tee -a "$WORK/runs" >&2
      read -r n rate cpu < <(run_redis_benchmark "$command" "$pipeline" "$n")
      echo "redis-benchmark $command $pipeline $round $n $rate $cpu" | tee -a "$WORK/runs" >&2
    done
  done
done

python3 - "$WORK/runs" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    tool, command, pipeline, _, n, rate, cpu = line.split()
    runs.setdefault((command, int(pipeline), tool), []).append((float(rate), float(cpu) / int(n)))
print(f"{'job':<16} {'plimsoll op/s':>14} {'redis-bench op/s':>17} {'ratio':>6} "
      f"{'CPU/op ratio':>13}")
for (command, pipeline, tool) in sorted(runs):
    if tool != "plimsoll":
        continue
    ours, theirs = runs[(command, pipeline, tool)], runs[(command, pipeline, "redis-benchmark")]
    med = lambda xs, i: statistics.median(x[i] for x in xs)
    ratio = med(ours, 0) / med(theirs, 0)
    cpu_ratio = med(ours, 1) / med(theirs, 1)
    print(f"{command + ' P' + str(pipeline):<16} {med(ours, 0):>14,.0f} {med(theirs, 0):>17,.0f} "
          f"{ratio:>6.2f} {cpu_ratio:>13.2f}")
PY
