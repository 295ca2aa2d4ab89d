#!/usr/bin/env bash
# plimsoll against fio on the same jobs, alternating, on one pre-laid file.
#
#   scripts/bench/disk-vs-fio.sh [ROUNDS] [SECONDS]     # default 3 rounds of 10 s per tool and job
#
# Jobs: 4 KiB random read at QD 32 with O_DIRECT through io_uring; the same, buffered, on a file
# held in the page cache (CPU-bound: this is where per-I/O cost shows); QD 1 with plimsoll's
# sync engine against fio's psync, O_DIRECT. For each job it prints the median IOPS of each
# tool, the ratio plimsoll/fio, and the ratio of CPU seconds (user + system, every thread of
# the process, io_uring's kernel workers included) per I/O. Latency is fio's total latency
# (`lat`, submission included), the figure comparable with plimsoll's.
set -euo pipefail

ROUNDS=${1:-3}
SECONDS_PER_RUN=${2:-10}
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD

source scripts/bench/common.sh
need fio fio
build_plimsoll

WORK=$(mktemp -d "$ROOT/target/bench-disk.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
FILE=$WORK/bench.plimsoll.dat
SIZE=1GiB

# One job description, rendered for each tool. $1 name, $2 direct (0/1), $3 queue depth,
# $4 plimsoll engine, $5 fio engine.
plimsoll_workload() {
  local direct=false
  [[ $2 == 1 ]] && direct=true
  cat <<TOML
name = "$1"
duration = "${SECONDS_PER_RUN}s"
[[jobs]]
kind = "disk"
name = "$1"
path = "$FILE"
size = "$SIZE"
pattern = "randread"
block_size = "4KiB"
queue_depth = $3
direct = $direct
engine = "$4"
keep = true
TOML
}

fio_args() {
  echo --name="$1" --filename="$FILE" --rw=randread --bs=4k --direct="$2" --iodepth="$3" \
    --ioengine="$5" --runtime="$SECONDS_PER_RUN" --time_based --norandommap \
    --randrepeat=0 --lat_percentiles=1 --output-format=json
}


lay_out() {
  echo "laying out $SIZE at $FILE" >&2
  plimsoll_workload layout 1 1 io_uring | sed "s/duration = .*/duration = \"1s\"/" >"$WORK/layout.toml"
  "$PLIMSOLL" run --quiet --no-report "$WORK/layout.toml" -o "$WORK/layout"
}

# Appends "tool iops cpu_s ios p50_ns p99_ns" for one run of one tool.
run_plimsoll() {
  plimsoll_workload "$@" >"$WORK/job.toml"
  local cpu
  rm -rf "$WORK/p" # a run folder must be new: each run gets a fresh one
  cpu=$(cpu_of "$PLIMSOLL" run --quiet --no-report "$WORK/job.toml" -o "$WORK/p")
  python3 - "$WORK/p/results.json" "$cpu" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
op = r["jobs"][0]["operations"][0]
lat = op["latency_ns"]
print("plimsoll", op["ops_per_s"], sys.argv[2], op["count"], lat["p50"], lat["p99"])
PY
}

run_fio() {
  local cpu
  # shellcheck disable=SC2046
  cpu=$(cpu_of sh -c "fio $(fio_args "$@") >'$WORK/f.json'")
  python3 - "$WORK/f.json" "$cpu" <<'PY'
import json, sys
job = json.load(open(sys.argv[1]))["jobs"][0]["read"]
pct = job["lat_ns"]["percentile"]
print("fio", job["iops"], sys.argv[2], job["total_ios"], int(pct["50.000000"]), int(pct["99.000000"]))
PY
}

summarize() {
  python3 - "$1" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
def med(tool, col):
    return statistics.median(float(r[col]) for r in rows if r[0] == tool)
def per_io(tool):
    return statistics.median(float(r[2]) / float(r[3]) for r in rows if r[0] == tool)
p, f = med("plimsoll", 1), med("fio", 1)
pc, fc = per_io("plimsoll"), per_io("fio")
print(f"  IOPS median: plimsoll {p:,.0f}  fio {f:,.0f}  ratio {p / f:.2f}")
print(f"  CPU per I/O: plimsoll {pc * 1e6:.2f} µs  fio {fc * 1e6:.2f} µs  ratio {pc / fc:.2f}")
print(f"  latency p50/p99: plimsoll {med('plimsoll', 4) / 1e3:.1f}/{med('plimsoll', 5) / 1e3:.1f} µs"
      f"  fio (lat) {med('fio', 4) / 1e3:.1f}/{med('fio', 5) / 1e3:.1f} µs")
PY
}

bench() {
  local label=$1
  shift
  local rows=$WORK/rows-$label
  : >"$rows"
  for round in $(seq "$ROUNDS"); do
    run_fio "$@" >>"$rows"
    run_plimsoll "$@" >>"$rows"
    echo "  round $round: $(tail -n 2 "$rows" | awk '{printf "%s %.0f IOPS  ", $1, $2}')" >&2
  done
  echo "$label"
  summarize "$rows"
}

lay_out
echo "fio $(fio --version), plimsoll $("$PLIMSOLL" --version | cut -d' ' -f2), kernel $(uname -r)," \
  "$ROUNDS rounds of ${SECONDS_PER_RUN}s, alternating"
bench "randread 4KiB QD32 O_DIRECT io_uring" randread-direct 1 32 io_uring io_uring
cat "$FILE" >/dev/null
bench "randread 4KiB QD32 buffered, page cache, io_uring" randread-cached 0 32 io_uring io_uring
bench "randread 4KiB QD1 O_DIRECT sync vs psync" randread-qd1 1 1 sync psync
