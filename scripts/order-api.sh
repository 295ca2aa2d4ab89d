#!/usr/bin/env bash
# The order API that workloads/order-management.toml drives: nginx on 127.0.0.1 answering as a
# small order service would, from its own config and folder, apart from any system nginx.
#   POST /orders         201 {"id": N, "state": "accepted"}   (N from the request's order key)
#   GET  /orders/N       200 {"id": N, "state": "open", "total_cents": 4200}
#   GET  /health         200 {"status": "ok"}
# nginx is installed from Debian's packages when missing.
#
#   scripts/order-api.sh start    # a running one is left as it is
#   scripts/order-api.sh stop
#   scripts/order-api.sh status
#
# ORDER_API_PORT (default 18080) picks the port, ORDER_API_DIR (default
# /tmp/plimsoll-order-api-PORT) the folder for its config, pid file and logs.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/steps.sh
source scripts/lib/services.sh

say() {
  printf 'order-api.sh: %s\n' "$*"
}

PORT=${ORDER_API_PORT:-18080}
DIR=${ORDER_API_DIR:-/tmp/plimsoll-order-api-$PORT}
NGINX=/usr/sbin/nginx

main() {
  case ${1:-} in
    start) start ;;
    stop) stop ;;
    status) running && say "order API up on 127.0.0.1:$PORT (pid $(cat "$DIR/nginx.pid"))" ;;
    *)
      echo "usage: $0 start|stop|status" >&2
      exit 2
      ;;
  esac
}

start() {
  if running; then
    say "order API already up on 127.0.0.1:$PORT"
    return 0
  fi
  [[ -x $NGINX ]] || apt_install nginx-light
  mkdir -p "$DIR"
  write_config >"$DIR/nginx.conf"
  "$NGINX" -p "$DIR" -c "$DIR/nginx.conf" -e "$DIR/error.log"
  local tries=0
  until answers; do
    tries=$((tries + 1))
    if ((tries > 100)); then
      say "error: the order API did not answer on 127.0.0.1:$PORT; see $DIR/error.log"
      exit 3
    fi
    sleep 0.1
  done
  say "order API up on 127.0.0.1:$PORT (nginx $("$NGINX" -v 2>&1 | sed 's|.*/||'))"
}

stop() {
  if running; then
    kill "$(cat "$DIR/nginx.pid")"
    say "order API on 127.0.0.1:$PORT stopped"
  fi
}

running() {
  [[ -s $DIR/nginx.pid ]] && kill -0 "$(cat "$DIR/nginx.pid")" 2>/dev/null
}

# A health request over bash's own TCP redirection, so no HTTP client is needed.
answers() {
  local reply
  exec 3<>"/dev/tcp/127.0.0.1/$PORT" 2>/dev/null || return 1
  printf 'GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
  reply=$(head -c 12 <&3 || true)
  exec 3<&-
  [[ $reply == "HTTP/1.1 200" ]]
}

# One worker process (the machine's other core is for the load and the databases); replies
# come from the config, so the API costs only nginx's own parsing.
write_config() {
  cat <<CONF
worker_processes 1;
pid $DIR/nginx.pid;
error_log $DIR/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $DIR/body;
  proxy_temp_path $DIR/proxy;
  fastcgi_temp_path $DIR/fastcgi;
  uwsgi_temp_path $DIR/uwsgi;
  scgi_temp_path $DIR/scgi;
  keepalive_requests 100000;
  default_type application/json;
  server {
    listen 127.0.0.1:$PORT reuseport;
    location = /health { return 200 '{"status": "ok"}'; }
    location = /orders {
      if (\$request_method != POST) { return 405; }
      return 201 '{"id": \$arg_key, "state": "accepted"}';
    }
    location ~ ^/orders/([0-9]+)$ {
      return 200 '{"id": \$1, "state": "open", "total_cents": 4200}';
    }
    location / { return 404 '{"error": "not found"}'; }
  }
}
CONF
}

main "$@"
