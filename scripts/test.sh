#!/usr/bin/env bash
# Installs everything the tests need, then runs the linter and the whole test suite, on SQLite and then the
# storage, migration, concurrency, crash, erasure and end-to-end tests again on a throwaway PostgreSQL server.
# Extra arguments go to pytest, e.g. `./scripts/test.sh -k oauth`.
# TEST_DATABASE_URL=postgresql://... uses that server instead of starting one (each test makes its own schema).
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt

# The browser tests drive Debian's Chromium. Install it where we may (root with apt, as on CI);
# elsewhere those tests skip with a clear reason.
if ! command -v chromedriver >/dev/null 2>&1 && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Chromium for the browser tests..."
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# PostgreSQL from Debian's packages, where we may install it; a server of our own on a free port, stopped at the end.
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
if [ -z "${TEST_DATABASE_URL:-}" ]; then
  if [ -z "$(pg_bin)" ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing PostgreSQL for the database tests..."
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  PG_BIN="$(pg_bin)"
  if [ -n "$PG_BIN" ]; then
    PG_DIR="$(mktemp -d /tmp/bot-test-postgres.XXXXXX)"
    PG_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    AS_OWNER=()
    if [ "$(id -u)" = "0" ]; then  # PostgreSQL refuses to run as root
      chown nobody "$PG_DIR"
      AS_OWNER=(runuser -u nobody --)
    fi
    stop_postgres() {
      "${AS_OWNER[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
      rm -rf "$PG_DIR"
    }
    trap stop_postgres EXIT
    "${AS_OWNER[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
      >"$PG_DIR/initdb.log" 2>&1
    # A throwaway server: durability settings off for speed (the crash tests kill the client, not the server).
    "${AS_OWNER[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w start -o \
      "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      >/dev/null
    export TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
    echo "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') for the tests on port $PG_PORT."
  else
    echo "PostgreSQL is not installed here: the PostgreSQL tests skip (apt-get install postgresql to run them)."
  fi
fi

python3 -m ruff check .
python3 -m pytest "$@"

# Again on PostgreSQL: the tests that store data, when no test paths were given (a chosen file runs once).
for argument in "$@"; do
  if [ -e "${argument%%::*}" ]; then exit 0; fi
done
if [ -n "${TEST_DATABASE_URL:-}" ]; then
  echo "The storage, migration, concurrency, crash, erasure and end-to-end tests again, on PostgreSQL:"
  TEST_DATABASE_BACKEND=postgres python3 -m pytest "$@" tests/storage tests/test_database.py tests/test_bot.py \
    tests/cogs tests/utils/sources/test_export_import.py tests/utils/sources/test_history_sync.py tests/utils/community \
    tests/test_keep_alive.py tests/test_upload_page.py tests/test_shards.py
fi
