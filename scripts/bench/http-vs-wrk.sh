#!/usr/bin/env bash
# plimsoll against wrk on the same static page, alternating, closed model.
#
#   scripts/bench/http-vs-wrk.sh [ROUNDS] [SECONDS]   # default 3 rounds of 10 s
#
# A throwaway nginx on a free loopback port (one worker, pinned to the last core, access log
# off) serves a 612-byte page; both clients are pinned to core 0 with one client thread each
# and the same keep-alive connections (50), for the same duration, each round plimsoll first
# and wrk second. plimsoll draws no HTML report (--no-report), so that is not in its CPU.
# Prints the median requests/s of each tool, the ratio plimsoll / wrk, and the ratio of client
# CPU seconds (user + system) per request.
set -euo pipefail

ROUNDS=${1:-3}
SECONDS_PER_RUN=${2:-10}
CONNECTIONS=50
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD

source scripts/bench/common.sh
need wrk wrk
need nginx nginx
build_plimsoll
CPU_OF_PREFIX="taskset -c 0"

CORES=$(nproc)
SERVER_CORE=$((CORES - 1))
WORK=$(mktemp -d "$ROOT/target/bench-http.XXXXXX")
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# nginx's worker drops to an unprivileged user, which cannot reach a folder under the
# repository when that sits in root's home: the page lives in a world-readable /tmp folder.
WWW=$(mktemp -d /tmp/plimsoll-bench-www.XXXXXX)
chmod 755 "$WWW"
python3 -c 'print("<html><body>" + "plimsoll " * 66 + "</body></html>")' >"$WWW/index.html"
chmod 644 "$WWW/index.html"
cat >"$WORK/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $WORK/tmp;
  proxy_temp_path $WORK/tmp;
  fastcgi_temp_path $WORK/tmp;
  uwsgi_temp_path $WORK/tmp;
  scgi_temp_path $WORK/tmp;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$PORT;
    root $WWW;
  }
}
CONF
mkdir -p "$WORK/tmp"
taskset -c "$SERVER_CORE" nginx -c "$WORK/nginx.conf" -e "$WORK/error.log" &
SERVER_PID=$!
trap 'kill $SERVER_PID 2>/dev/null; wait $SERVER_PID 2>/dev/null; rm -rf "$WORK" "$WWW"' EXIT
until python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT))" 2>/dev/null; do
  sleep 0.1
done

cat >"$WORK/job.toml" <<TOML
name = "bench-http"
duration = "${SECONDS_PER_RUN}s"
[monitor]
enabled = false
[[jobs]]
kind = "http"
name = "static"
base_url = "http://127.0.0.1:$PORT"
connections = $CONNECTIONS
threads = 1
requests = [{ path = "/index.html" }]
TOML

# Prints "requests requests_per_s cpu_s" for one plimsoll run.
run_plimsoll() {
  local cpu
  rm -rf "$WORK/p" # a run folder must be new: each run gets a fresh one
  cpu=$(cpu_of "$PLIMSOLL" run --quiet --no-report "$WORK/job.toml" -o "$WORK/p")
  python3 - "$WORK/p/results.json" "$cpu" <<'PY'
import json, sys
op = json.load(open(sys.argv[1]))["jobs"][0]["operations"][0]
print(op["count"], op["ops_per_s"], sys.argv[2])
PY
}

# Prints "requests requests_per_s cpu_s" for one wrk run.
run_wrk() {
  local out="$WORK/wrk.txt" cpu
  cpu=$(cpu_of sh -c "wrk -t1 -c$CONNECTIONS -d${SECONDS_PER_RUN}s \
    http://127.0.0.1:$PORT/index.html >$out")
  python3 - "$out" "$cpu" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
n = int(re.search(r"(\d+) requests in", text).group(1))
rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
assert errors is None, "wrk saw error responses"
print(n, rate, sys.argv[2])
PY
}

: >"$WORK/runs"
for round in $(seq "$ROUNDS"); do
  read -r n rate cpu < <(run_plimsoll)
  echo "plimsoll $round $n $rate $cpu" | tee -a "$WORK/runs" >&2
  read -r n rate cpu < <(run_wrk)
  echo "wrk $round $n $rate $cpu" | tee -a "$WORK/runs" >&2
done

python3 - "$WORK/runs" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    tool, _, n, rate, cpu = line.split()
    runs.setdefault(tool, []).append((float(rate), float(cpu) / int(n)))
med = lambda xs, i: statistics.median(x[i] for x in xs)
ours, theirs = runs["plimsoll"], runs["wrk"]
print(f"{'plimsoll req/s':>14} {'wrk req/s':>10} {'ratio':>6} {'CPU/req ratio':>14}")
print(f"{med(ours, 0):>14,.0f} {med(theirs, 0):>10,.0f} {med(ours, 0) / med(theirs, 0):>6.2f} "
      f"{med(ours, 1) / med(theirs, 1):>14.2f}")
PY
