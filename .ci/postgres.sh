# Sourced by .ci/run (and usable by hand): start a throwaway PostgreSQL cluster on loopback for
# the test suite and export PALISADE_TEST_POSTGRES_URL. PostgreSQL refuses to run as root, so the
# cluster belongs to the postgres user. fsync is off: the cluster is discarded after the run.
PG_PORT="${PALISADE_TEST_PG_PORT:-55432}"
PG_DATA="${PALISADE_TEST_PG_DATA:-/tmp/palisade-test-pg}"
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
if [ -z "$PG_BIN" ]; then
  echo "postgres.sh: PostgreSQL server binaries not found (apt-get install postgresql)" >&2
  return 1 2>/dev/null || exit 1
fi
run_as_pg() {
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi
}
if ! "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then
  rm -rf "$PG_DATA"
  mkdir -p "$PG_DATA"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$PG_DATA"
  run_as_pg "'$PG_BIN/initdb' -D '$PG_DATA' -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null"
  run_as_pg "'$PG_BIN/pg_ctl' -D '$PG_DATA' -l '$PG_DATA/server.log' -w -t 60 start \
    -o '-p $PG_PORT -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off \
        -c synchronous_commit=off -c full_page_writes=off -c max_connections=200' >/dev/null"
fi
export PALISADE_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:${PG_PORT}/postgres"
echo "PostgreSQL for tests: $PALISADE_TEST_POSTGRES_URL" >&2
