# The local servers the integration tests talk to: PostgreSQL on 127.0.0.1:5432 (trust auth,
# database `test`), MariaDB on 127.0.0.1:3306 (root, empty password, database `test`) and
# Redis on 127.0.0.1:6379. Each is probed first, so a machine where they already run costs a
# few milliseconds; one that is stopped is started, and one that is absent is installed from
# Debian's packages. Owns bringing servers up, not what the tests do with them.
# Expects steps.sh for `step`, `say` and `now_ms`.

PG_HOST=127.0.0.1 PG_PORT=5432
MY_HOST=127.0.0.1 MY_PORT=3306
REDIS_HOST=127.0.0.1 REDIS_PORT=6379
MY_LOG=/var/log/mysql/ci.err REDIS_LOG=/var/log/redis/ci.log
SERVICE_WAIT_S=${PLIMSOLL_SERVICE_WAIT_S:-60}

# Each server is its own step, so one that fails does not hide the state of the others.
ensure_services() {
  step packages install_missing_servers
  step postgres ensure_postgres
  step mariadb ensure_mariadb
  step redis ensure_redis
}

# --- installing ----------------------------------------------------------------------------

install_missing_servers() {
  local missing=()
  have_postgres || missing+=(postgresql)
  have_mariadb || missing+=(mariadb-server)
  have_redis || missing+=(redis-server)
  if ((${#missing[@]} == 0)); then
    say "PostgreSQL, MariaDB and Redis are installed"
    return 0
  fi
  apt_install "${missing[@]}"
}

have_postgres() {
  command -v pg_ctlcluster && command -v pg_isready && command -v psql &&
    compgen -G '/usr/lib/postgresql/*/bin/postgres'
} >/dev/null

# tests/mysql.rs also starts throwaway servers of its own with mariadb-install-db.
have_mariadb() {
  [[ -x /usr/sbin/mariadbd ]] && command -v mariadb-admin && command -v mariadb &&
    command -v mariadb-install-db
} >/dev/null

have_redis() {
  command -v redis-server && command -v redis-cli
} >/dev/null

apt_install() {
  say "installing $* from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q </dev/null
  with_service_starts_denied apt-get install -y -q --no-install-recommends "$@" </dev/null
}

# The packages' own scripts would start each server through its init script, which needs an
# init system some machines lack and would fail the install; deny those starts (the usual
# policy-rc.d convention) and start each server below with a command known to work here.
with_service_starts_denied() {
  local policy=/usr/sbin/policy-rc.d
  if [[ -e $policy ]]; then
    "$@"
    return
  fi
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  local rc=0
  "$@" || rc=$?
  rm -f "$policy"
  trap - EXIT
  return "$rc"
}

# --- waiting -------------------------------------------------------------------------------

# wait_for PROBE: polls PROBE until it succeeds or SERVICE_WAIT_S seconds have passed.
wait_for() {
  local deadline=$(($(now_ms) + SERVICE_WAIT_S * 1000))
  until "$1"; do
    if (($(now_ms) > deadline)); then
      return 1
    fi
    sleep 0.25
  done
}

# service_failed WHAT LOG: says which server did not come up and where to look.
service_failed() {
  say "error: $1 did not answer within ${SERVICE_WAIT_S} s; see $2" \
    "(PLIMSOLL_NO_SERVICES=1 skips services for a local run that needs none)"
  if [[ -f $2 ]]; then
    tail -n 20 "$2"
  fi
  return 1
}

# --- PostgreSQL ----------------------------------------------------------------------------

ensure_postgres() {
  if ! pg_up; then
    start_postgres
  fi
  wait_for pg_up || service_failed "PostgreSQL on $PG_HOST:$PG_PORT" "$(pg_log)"
  pg_allow_trust
  pg_ensure_db
  say "PostgreSQL $(pg_version): up on $PG_HOST:$PG_PORT, database test"
}

pg_up() {
  pg_isready -q -h "$PG_HOST" -p "$PG_PORT"
}

# The newest installed major version; its cluster is the one the tests use.
pg_version() {
  local versions
  versions=$(ls /etc/postgresql 2>/dev/null || true)
  if [[ -z $versions ]]; then
    versions=$(ls /usr/lib/postgresql)
  fi
  sort -V <<<"$versions" | tail -n 1
}

pg_log() {
  echo "/var/log/postgresql/postgresql-$(pg_version)-main.log"
}

start_postgres() {
  local version
  version=$(pg_version)
  if [[ ! -d /etc/postgresql/$version/main ]]; then
    pg_createcluster "$version" main
  fi
  say "starting PostgreSQL $version"
  # A start that races another starter fails even though the server comes up; the wait decides.
  pg_ctlcluster --skip-systemctl-redirect "$version" main start ||
    say "pg_ctlcluster exited $?; waiting for the server all the same"
}

pg_sql() {
  psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -w -d postgres -XAtq -c "$1"
}

pg_trust_ok() {
  pg_sql 'SELECT 1' >/dev/null 2>&1
}

# A fresh Debian cluster asks for passwords over TCP; the tests log in without one.
pg_allow_trust() {
  if pg_trust_ok; then
    return 0
  fi
  local hba
  hba="/etc/postgresql/$(pg_version)/main/pg_hba.conf"
  say "PostgreSQL refuses passwordless loopback logins; adding trust lines to the top of $hba"
  { printf 'host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n' && cat "$hba"; } \
    >"$hba.plimsoll"
  cat "$hba.plimsoll" >"$hba"
  rm -f "$hba.plimsoll"
  pg_ctlcluster --skip-systemctl-redirect "$(pg_version)" main reload
  wait_for pg_trust_ok || service_failed "PostgreSQL trust login" "$(pg_log)"
}

pg_ensure_db() {
  if [[ $(pg_sql "SELECT 1 FROM pg_database WHERE datname = 'test'") != 1 ]]; then
    say "creating PostgreSQL database test"
    pg_sql 'CREATE DATABASE test'
  fi
}

# --- MariaDB -------------------------------------------------------------------------------

ensure_mariadb() {
  if ! my_up; then
    start_mariadb
  fi
  wait_for my_up || service_failed "MariaDB on $MY_HOST:$MY_PORT" "$MY_LOG"
  my_allow_root_tcp
  my_tcp 'CREATE DATABASE IF NOT EXISTS test'
  say "MariaDB $(my_tcp 'SELECT VERSION()'): up on $MY_HOST:$MY_PORT, database test"
}

# Exits 0 whenever the server answers, even if it refuses the login: that is checked apart.
my_up() {
  mariadb-admin -h "$MY_HOST" -P "$MY_PORT" -u root --connect-timeout=2 ping >/dev/null 2>&1
}

start_mariadb() {
  say "starting MariaDB"
  # The server makes neither its socket folder nor its log's; a fresh install's settings do
  # not name the user to run as, and as root it refuses to start.
  install -d -o mysql -g mysql /run/mysqld /var/log/mysql
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- \
    --user=mysql --log-error="$MY_LOG"
}

my_tcp() {
  mariadb -h "$MY_HOST" -P "$MY_PORT" -u root -NB -e "$1"
}

my_root_tcp_ok() {
  my_tcp 'SELECT 1' >/dev/null 2>&1
}

# A fresh Debian install lets root in only through the socket, as the OS user root; the tests
# connect over TCP with an empty password. The socket login is used once to allow that.
my_allow_root_tcp() {
  if my_root_tcp_ok; then
    return 0
  fi
  say "MariaDB refuses root over TCP with an empty password; allowing it from loopback"
  mariadb -u root -NB -e "
    CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
    GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
    ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password
      USING PASSWORD('');
    FLUSH PRIVILEGES;"
  my_root_tcp_ok || { say "error: MariaDB still refuses root over TCP"; return 1; }
}

# --- Redis ---------------------------------------------------------------------------------

ensure_redis() {
  if ! redis_up; then
    start_redis
  fi
  wait_for redis_up || service_failed "Redis on $REDIS_HOST:$REDIS_PORT" "$REDIS_LOG"
  local version
  version=$(redis-server --version | grep -o 'v=[^ ]*' | cut -c3-)
  say "Redis $version: up on $REDIS_HOST:$REDIS_PORT"
}

redis_up() {
  [[ $(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]
}

start_redis() {
  say "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  # Nothing is saved: test data is thrown away with the server.
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" \
    --appendonly no --dir /var/lib/redis --logfile "$REDIS_LOG"
}
