#!/usr/bin/env bash
# How long `plimsoll report` takes on a one-hour results file: 3,600 one-second intervals for
# each of several jobs, every interval carrying its histograms, as a long run writes them.
#
#   scripts/bench/report-hour.sh [JOBS] [ROUNDS]     # default 4 jobs (8 operations), 3 rounds
#
# The file is made from the committed small results file (tests/fixtures/small-results.json):
# its jobs are copied and renamed, and each hour-long series repeats the real intervals in
# turn, so histogram sizes are those of a real run; so does the resource series. Prints the
# file size and, per round, the wall time of the report, then the median.
set -euo pipefail

JOBS=${1:-4}
ROUNDS=${2:-3}
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD

cargo build --release --quiet
PLIMSOLL=$ROOT/target/release/plimsoll

WORK=$(mktemp -d "$ROOT/target/bench-report.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
RESULTS=$WORK/results.json

python3 - "$ROOT/tests/fixtures/small-results.json" "$RESULTS" "$JOBS" <<'PY'
import copy, json, sys
source, target, jobs = sys.argv[1], sys.argv[2], int(sys.argv[3])
results = json.load(open(source))
second = 10**9
made = []
for n in range(jobs):
    job = copy.deepcopy(results["jobs"][n % len(results["jobs"])])
    job["name"] = f"{job['name']}-{n + 1}"
    real = [i for i in job["intervals"] if i["ops"]]
    job["intervals"] = [
        dict(copy.deepcopy(real[k % len(real)]), start_ns=k * second, duration_ns=second)
        for k in range(3600)
    ]
    made.append(job)
results["jobs"] = made
resources = results.get("resources")
if resources:
    real = resources["intervals"]
    resources["intervals"] = [
        dict(copy.deepcopy(real[k % len(real)]), start_ns=k * second, duration_ns=second)
        for k in range(3600)
    ]
results["measured_ns"] = results["duration_requested_ns"] = 3600 * second
results["interval_ns"] = second
json.dump(results, open(target, "w"))
PY
echo "results file: $JOBS jobs x 3600 intervals, $(du -h "$RESULTS" | cut -f1)"

times=()
for ((round = 1; round <= ROUNDS; round++)); do
  start=${EPOCHREALTIME/[.,]/}
  "$PLIMSOLL" report "$RESULTS" -o "$WORK/report" >/dev/null
  took=$(((${EPOCHREALTIME/[.,]/} - start) / 1000))
  times+=("$took")
  echo "round $round: $took ms"
done
median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((ROUNDS + 1) / 2))p")
echo "median: $median ms ($(du -sh "$WORK/report" | cut -f1) of report)"
