#!/usr/bin/env bash
# plimsoll's own cost per operation against fio's: both drive a target that does nothing.
#
#   scripts/bench/null-vs-fio.sh [ROUNDS] [SECONDS]     # default 3 rounds of 10 s per tool and depth
#
# fio: the null engine, 4 KiB random reads, one job, iodepth 1 and 32. plimsoll: a `null` job,
# closed model, one worker thread, queue_depth 1 and 32, the resource monitor off and no report
# (results.json only), so the process does little besides the load. Runs alternate. For each
# depth it prints the median operations per second, the median operations per CPU-second (user
# + system of the child and its threads, from rusage; the figure that compares bookkeeping cost)
# and the ratio plimsoll/fio of the latter. Goal: ratio at least 1.0.
set -euo pipefail

ROUNDS=${1:-3}
SECONDS_PER_RUN=${2:-10}
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD

source scripts/bench/common.sh
need fio fio
build_plimsoll

WORK=$(mktemp -d "$ROOT/target/bench-null.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

plimsoll_workload() {
  cat <<TOML
name = "null-qd$1"
duration = "${SECONDS_PER_RUN}s"
monitor = { enabled = false }
[[jobs]]
kind = "null"
name = "null"
workers = 1
queue_depth = $1
TOML
}


# Each prints "tool ops_per_s cpu_s ops" for one run at queue depth $1.
run_plimsoll() {
  plimsoll_workload "$1" >"$WORK/job.toml"
  local cpu
  rm -rf "$WORK/p" # a run folder must be new: each run gets a fresh one
  cpu=$(cpu_of "$PLIMSOLL" run --quiet --no-report "$WORK/job.toml" -o "$WORK/p")
  python3 - "$WORK/p/results.json" "$cpu" <<'PY'
import json, sys
op = json.load(open(sys.argv[1]))["jobs"][0]["operations"][0]
print("plimsoll", op["ops_per_s"], sys.argv[2], op["count"])
PY
}

run_fio() {
  local cpu
  cpu=$(cpu_of sh -c "fio --name=n --ioengine=null --bs=4k --size=1g --rw=randread \
    --iodepth=$1 --runtime=$SECONDS_PER_RUN --time_based --output-format=json >'$WORK/f.json'")
  python3 - "$WORK/f.json" "$cpu" <<'PY'
import json, sys
job = json.load(open(sys.argv[1]))["jobs"][0]["read"]
print("fio", job["iops"], sys.argv[2], job["total_ios"])
PY
}

summarize() {
  python3 - "$1" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
def med(tool, f):
    return statistics.median(f(r) for r in rows if r[0] == tool)
rate = lambda r: float(r[1])
per_cpu = lambda r: float(r[3]) / float(r[2])
p, f = med("plimsoll", rate), med("fio", rate)
pc, fc = med("plimsoll", per_cpu), med("fio", per_cpu)
print(f"  ops/s median: plimsoll {p:,.0f}  fio {f:,.0f}")
print(f"  ops per CPU-second median: plimsoll {pc:,.0f}  fio {fc:,.0f}  ratio {pc / fc:.2f}")
print(f"  CPU per op: plimsoll {1e9 / pc:.0f} ns  fio {1e9 / fc:.0f} ns")
PY
}

bench() {
  local rows=$WORK/rows-$1
  : >"$rows"
  for round in $(seq "$ROUNDS"); do
    run_fio "$1" >>"$rows"
    run_plimsoll "$1" >>"$rows"
    echo "  round $round: $(tail -n 2 "$rows" | awk '{printf "%s %.0f op/s %.2f cpu-s  ", $1, $2, $3}')" >&2
  done
  echo "queue depth $1"
  summarize "$rows"
}

echo "$(fio --version), plimsoll $("$PLIMSOLL" --version | cut -d' ' -f2), kernel $(uname -r)," \
  "$ROUNDS rounds of ${SECONDS_PER_RUN}s, alternating"
bench 1
bench 32
