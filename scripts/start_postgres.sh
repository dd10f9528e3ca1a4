#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for the tests, installing Debian's package if it is missing.
# Prints the SQLAlchemy URL of a fresh database on stdout (everything else goes to stderr).
# Usage: eval "$(scripts/start_postgres.sh)"   -> exports MLINEAGE_TEST_POSTGRES_URL
set -euo pipefail
PORT="${MLINEAGE_PG_PORT:-55432}"
DATA="${MLINEAGE_PG_DATA:-/tmp/mlineage-pg-$PORT}"

pg_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

if [ -z "$(pg_bin)" ]; then
  echo "installing PostgreSQL from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql postgresql-contrib >&2
fi
BIN="$(pg_bin)"
RUN=()
if [ "$(id -u)" = "0" ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home /var/lib/postgresql --shell /bin/bash postgres
  RUN=(runuser -u postgres --)
fi

if ! "${RUN[@]}" "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  rm -rf "$DATA"
  mkdir -p "$DATA"
  [ "$(id -u)" = "0" ] && chown postgres "$DATA"
  "${RUN[@]}" "$BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 >/dev/null
  "${RUN[@]}" "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w \
    -o "-p $PORT -k $DATA -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >&2
fi
"${RUN[@]}" "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -tAc \
  "SELECT 1 FROM pg_database WHERE datname='mlineage_test'" | grep -q 1 ||
  "${RUN[@]}" "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres mlineage_test
echo "export MLINEAGE_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:$PORT/mlineage_test"
