#!/usr/bin/env bash
# What resource sampling costs the load: the same disk job with sampling on and off, alternating.
#
#   scripts/bench/monitor-cost.sh [ROUNDS] [SECONDS]   # default 7 rounds of 8 s per setting and job
#
# Jobs: 4 KiB random reads at QD 32 with O_DIRECT through io_uring (device-bound), and the same
# buffered on a file held in the page cache (CPU-bound, where a sampler competing for a core
# would show most). Sampling runs at the workload's 1 s interval. Runs alternate on/off so that
# drift on a shared machine hits both alike; the script prints the median IOPS of each setting,
# the ratio of the medians (on/off), and the median of the per-round ratios.
set -euo pipefail

ROUNDS=${1:-7}
SECONDS_PER_RUN=${2:-8}
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD

cargo build --release --quiet
PLIMSOLL=$ROOT/target/release/plimsoll

WORK=$(mktemp -d "$ROOT/target/bench-monitor.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
FILE=$WORK/bench.plimsoll.dat

# $1 name, $2 direct (true/false), $3 sampling (true/false).
workload() {
  cat <<TOML
name = "$1"
warmup = "1s"
duration = "${SECONDS_PER_RUN}s"
interval = "1s"
[[jobs]]
kind = "disk"
name = "$1"
path = "$FILE"
size = "256MiB"
pattern = "randread"
block_size = "4KiB"
queue_depth = 32
direct = $2
keep = true
[monitor]
enabled = $3
TOML
}

# Prints the job's read IOPS from one run. With sampling on, also appends the sampler
# thread's CPU time per second of measurement to $WORK/sampler-$1, read from its schedstat
# (nanoseconds on CPU) just before the run ends: a figure the machine's noise does not move.
iops() {
  local toml=$WORK/$1-$3.toml out=$WORK/out-$1-$3
  workload "$1" "$2" "$3" >"$toml"
  rm -rf "$out"
  "$PLIMSOLL" run --quiet -o "$out" "$toml" &
  local pid=$!
  [[ $3 == true ]] && sampler_cpu "$pid" >>"$WORK/sampler-$1"
  wait "$pid"
  jq '.jobs[0].operations[] | select(.op == "read") | .ops_per_s' "$out/results.json"
}

# Nanoseconds of CPU the sampler thread of process $1 used per second, over the measured run.
sampler_cpu() {
  local task start end
  sleep 1.5 # laid out and past warmup: the sampler thread is up
  task=$(grep -lx 'plimsoll-monito' /proc/"$1"/task/*/comm | head -1)
  task=${task%/comm}
  start=$(cut -d' ' -f1 "$task/schedstat")
  sleep $((SECONDS_PER_RUN - 2))
  end=$(cut -d' ' -f1 "$task/schedstat")
  echo $(((end - start) / (SECONDS_PER_RUN - 2)))
}

median() {
  sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

bench() {
  local name=$1 direct=$2 on=() off=() ratios=()
  iops "$name" "$direct" false >/dev/null # lays out the file and warms the cache
  for ((round = 1; round <= ROUNDS; round++)); do
    local a b
    if ((round % 2)); then
      a=$(iops "$name" "$direct" true); b=$(iops "$name" "$direct" false)
    else
      b=$(iops "$name" "$direct" false); a=$(iops "$name" "$direct" true)
    fi
    on+=("$a"); off+=("$b"); ratios+=("$(awk -v a="$a" -v b="$b" 'BEGIN { print a / b }')")
    printf '  round %d: sampling on %.0f, off %.0f IOPS\n' "$round" "$a" "$b" >&2
  done
  local mon moff mratio
  mon=$(printf '%s\n' "${on[@]}" | median)
  moff=$(printf '%s\n' "${off[@]}" | median)
  mratio=$(printf '%s\n' "${ratios[@]}" | median)
  local sampler
  sampler=$(median <"$WORK/sampler-$name")
  awk -v n="$name" -v a="$mon" -v b="$moff" -v r="$mratio" -v s="$sampler" 'BEGIN {
    printf "%-12s IOPS on %7.0f off %7.0f  ratio of medians %.4f  median of ratios %.4f  sampler %.3f ms CPU/s (%.4f %% of a core)\n",
      n, a, b, a / b, r, s / 1e6, s / 1e7 }'
}

echo "sampling at 1 s, $ROUNDS rounds of ${SECONDS_PER_RUN} s per setting"
bench direct-qd32 true
bench cached-qd32 false
