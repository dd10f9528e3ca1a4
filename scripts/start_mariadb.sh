#!/usr/bin/env bash
# Start a throwaway MariaDB server for the MySQL-source import tests, installing Debian's package if missing.
# Prints the SQLAlchemy URL of a fresh database on stdout (everything else goes to stderr).
# Usage: eval "$(scripts/start_mariadb.sh)"   -> exports MLINEAGE_TEST_MYSQL_URL
# root has no password over TCP on 127.0.0.1 (mysql_native_password, which the ml-metadata client's
# bundled MySQL library speaks); the data directory is disposable, durability is off for speed.
set -euo pipefail
PORT="${MLINEAGE_MYSQL_PORT:-53306}"
DATA="${MLINEAGE_MYSQL_DATA:-/tmp/mlineage-mariadb-$PORT}"
DB=mlmd_test

if ! command -v mariadbd >/dev/null 2>&1; then
  echo "installing MariaDB from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq mariadb-server mariadb-client >&2
fi
RUN_AS=()
if [ "$(id -u)" = "0" ]; then
  id mysql >/dev/null 2>&1 || useradd --system --home /nonexistent --shell /usr/sbin/nologin mysql
  RUN_AS=(--user=mysql)
fi
SOCKET="$DATA/mysqld.sock"
client() { mariadb --protocol=TCP -h 127.0.0.1 -P "$PORT" -u root "$@"; }

if ! client -e "SELECT 1" >/dev/null 2>&1; then
  rm -rf "$DATA"
  mkdir -p "$DATA"
  [ "$(id -u)" = "0" ] && chown mysql "$DATA"
  # --auth-root-authentication-method=normal: root@localhost and root@127.0.0.1 get an empty
  # mysql_native_password instead of unix_socket-only access, so TCP clients can log in.
  mariadb-install-db --no-defaults "${RUN_AS[@]}" --datadir="$DATA" --auth-root-authentication-method=normal \
    --skip-test-db >"$DATA/install.log" 2>&1 || { cat "$DATA/install.log" >&2; exit 1; }
  mariadbd --no-defaults "${RUN_AS[@]}" --datadir="$DATA" --socket="$SOCKET" --pid-file="$DATA/mysqld.pid" \
    --port="$PORT" --bind-address=127.0.0.1 --skip-name-resolve --skip-log-bin \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
    --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 --innodb-buffer-pool-size=128M \
    --max-connections=200 --log-error="$DATA/server.log" >/dev/null 2>&1 &
  for _ in $(seq 1 100); do
    client -e "SELECT 1" >/dev/null 2>&1 && break
    sleep 0.1
  done
  client -e "SELECT 1" >/dev/null || { tail -n 30 "$DATA/server.log" >&2; exit 1; }
  echo "MariaDB started on 127.0.0.1:$PORT (data in $DATA)" >&2
fi
client -e "CREATE DATABASE IF NOT EXISTS $DB"
echo "export MLINEAGE_TEST_MYSQL_URL=mysql+pymysql://root@127.0.0.1:$PORT/$DB"
