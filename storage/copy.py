"""`python -m database copy --from data/bot.db --to postgresql://...`: move a bot's data into PostgreSQL.

All in ONE transaction on the server, behind the bot's write lock: the schema is brought up to date, every table's
rows are streamed in (COPY into a scratch table, then added where their key is not there yet), and every row of the
file is checked to be there before anything is committed. A failure anywhere leaves PostgreSQL as it was; run twice,
the second run adds nothing. Rows already in PostgreSQL are never changed (the bot may have updated them there).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storage.connection import Connections
from storage.dialect import POSTGRES
from storage.errors import DatabaseStartError
from storage.postgres_url import describe_url
from storage.schema import MIGRATIONS, SCHEMA_VERSION


class CopyFailed(Exception):
    """The copy stopped; nothing was changed in PostgreSQL. `str()` says why, without a password."""


@dataclass(frozen=True)
class TableCopy:
    table: str
    in_file: int
    added: int
    in_postgres: int  # rows of the table there now (more than in the file if the bot wrote there already)


def copy_database(source: str | Path, target_url: str, *, say: Callable[[str], None] = print) -> list[TableCopy]:
    """Copy every table of the SQLite file `source` into the PostgreSQL database `target_url`."""
    import psycopg

    from storage.postgres import TAKE_WRITE_LOCK, WRITE_LOCK_KEY, check_server

    path = Path(source)
    if not path.is_file():
        raise CopyFailed(f"There is no SQLite file at {path}: give the bot's database file with --from "
                         "(DATABASE_PATH, data/bot.db by default).")
    check_server(target_url)  # DatabaseStartError: says what to fix in the address or the server
    file_db = Connections(path)
    try:
        before = file_db.schema_version()
        file_db.open()  # brings an older file up to date first, as starting the bot would
        if before < SCHEMA_VERSION:
            say(f"Brought {path} up to date first (schema version {before} to {SCHEMA_VERSION}).")
        source_conn = file_db.conn
        say(f"Copying {path} into {describe_url(target_url)}, in one transaction...")
        try:
            with psycopg.connect(target_url, autocommit=True) as target, target.transaction():
                target.execute("SET lock_timeout = '60s'")
                target.execute(TAKE_WRITE_LOCK, (WRITE_LOCK_KEY,))
                _migrate(target, say)
                results = [_copy_table(source_conn, target, table) for table in _tables_in_order(source_conn)]
                for result in results:
                    say(f"  {result.table}: {_rows(result.in_file)} in the file, all in PostgreSQL "
                        f"({result.added:,} added now; {result.in_postgres:,} there in all)")
        except psycopg.Error as error:
            raise CopyFailed(f"PostgreSQL refused the copy ({type(error).__name__}: {_first_line(error)}). "
                             "Nothing was changed there.") from None
    finally:
        file_db.close()
    added = sum(r.added for r in results)
    say(f"Done: every row of all {len(results)} tables is in PostgreSQL"
        + (f" ({_rows(added)} added)." if added else "; nothing needed adding (it was copied before)."))
    return results


def _rows(count: int) -> str:
    return f"{count:,} row" if count == 1 else f"{count:,} rows"


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [""])[0][:300]


def _migrate(target: Any, say: Callable[[str], None]) -> None:
    """Bring the target's schema up to date inside the copy's transaction (so a failure undoes it too)."""
    exists = target.execute("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() "
                            "AND table_name = 'schema_version'").fetchone()[0]
    version = target.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0] if exists else 0
    if version > SCHEMA_VERSION:
        raise CopyFailed(f"The PostgreSQL database is at schema version {version}, newer than this bot's "
                         f"({SCHEMA_VERSION}): copy with the newer bot. Nothing was changed there.")
    for number in range(version + 1, SCHEMA_VERSION + 1):
        for statement in MIGRATIONS[number]:
            if POSTGRES.runs(statement):
                target.execute(POSTGRES.translate(statement), ())
    if version < SCHEMA_VERSION:
        target.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        target.execute("DELETE FROM schema_version")
        target.execute("INSERT INTO schema_version (version) VALUES (%s)", (SCHEMA_VERSION,))
        say(f"Made the tables in PostgreSQL (schema version {SCHEMA_VERSION}).")


def _tables_in_order(conn: sqlite3.Connection) -> list[str]:
    """The file's tables, each after the tables its rows refer to (users before plays)."""
    names = [row[0] for row in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    needs = {name: {row[2] for row in conn.execute(f"PRAGMA foreign_key_list({name})")} - {name} for name in names}
    ordered: list[str] = []
    while len(ordered) < len(names):
        ready = [name for name in names if name not in ordered and needs[name] <= set(ordered)]
        if not ready:
            raise CopyFailed("The tables refer to each other in a circle; this copy can't order them.")
        ordered.extend(ready)
    return ordered


def _copy_table(source: sqlite3.Connection, target: Any, table: str) -> TableCopy:
    info = source.execute(f"PRAGMA table_info({table})").fetchall()
    columns = [row[1] for row in info]
    keys = [row[1] for row in sorted(info, key=lambda row: row[5]) if row[5]]
    types = dict(target.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = %s", (table,)).fetchall())
    missing = [c for c in columns if c not in types]
    if missing:
        raise CopyFailed(f"PostgreSQL's table {table} has no column {missing[0]}. Nothing was changed there.")
    names = ", ".join(f'"{c}"' for c in columns)
    stage = f"copy_{table}"
    target.execute(f'CREATE TEMP TABLE "{stage}" (LIKE "{table}") ON COMMIT DROP')
    convert = [_converter(types[c]) for c in columns]
    in_file = 0
    with target.cursor().copy(f'COPY "{stage}" ({names}) FROM STDIN') as copy:
        copy.set_types([types[c] for c in columns])
        for row in source.execute(f'SELECT {names} FROM "{table}"'):
            copy.write_row([fix(value) for fix, value in zip(convert, row, strict=True)])
            in_file += 1
    if keys:
        added = target.execute(f'INSERT INTO "{table}" ({names}) SELECT {names} FROM "{stage}" ON CONFLICT DO NOTHING')
        match = " AND ".join(f't."{k}" = s."{k}"' for k in keys)
    else:  # no key to recognise a row by: a row counts as there when every value is the same
        added = target.execute(f'INSERT INTO "{table}" ({names}) SELECT {names} FROM "{stage}" '
                               f'EXCEPT SELECT {names} FROM "{table}"')
        match = " AND ".join(f't."{c}" IS NOT DISTINCT FROM s."{c}"' for c in columns)
    found = target.execute(f'SELECT COUNT(*) FROM "{stage}" s WHERE EXISTS (SELECT 1 FROM "{table}" t WHERE {match})'
                           ).fetchone()[0]
    if found != in_file:
        raise CopyFailed(f"{table}: {in_file:,} rows in the file but only {found:,} of them in PostgreSQL after the "
                         "copy. Nothing was changed there.")
    _catch_up_numbering(target, table, types)
    in_postgres = target.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
    return TableCopy(table, in_file, max(added.rowcount, 0), in_postgres)


def _catch_up_numbering(target: Any, table: str, types: dict[str, str]) -> None:
    """A column that numbers new rows (imports.import_id) continues after the copied numbers."""
    for column in types:
        sequence = target.execute("SELECT pg_get_serial_sequence(%s, %s)", (table, column)).fetchone()[0]
        if sequence:
            target.execute(f'SELECT setval(%s, COALESCE((SELECT MAX("{column}") FROM "{table}"), 0) + 1, false)',
                           (sequence,))


def _converter(pg_type: str) -> Callable[[Any], Any]:
    """SQLite keeps any value in any column; PostgreSQL's columns take one type."""
    if pg_type == "bigint":
        return lambda v: int(v) if isinstance(v, float) and v.is_integer() else v
    if pg_type == "double precision":
        return lambda v: float(v) if isinstance(v, int) else v
    if pg_type == "bytea":
        return lambda v: v.encode() if isinstance(v, str) else v
    if pg_type == "text":
        return lambda v: str(v) if isinstance(v, int | float) else v
    return lambda v: v


def main(argv: list[str] | None = None) -> int:
    """The command line of `python -m database`."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m database", description="Tools for the bot's database.")
    commands = parser.add_subparsers(dest="command", required=True)
    copy = commands.add_parser("copy", help="copy a SQLite file's data into PostgreSQL (one transaction; safe to repeat)")
    copy.add_argument("--from", dest="source", required=True, metavar="FILE", help="the SQLite file, e.g. data/bot.db")
    copy.add_argument("--to", dest="target", required=True, metavar="URL",
                      help="postgresql://user:password@host:5432/dbname (the bot's DATABASE_URL)")
    args = parser.parse_args(argv)
    try:
        copy_database(args.source, args.target)
    except (CopyFailed, DatabaseStartError) as error:
        print(error, file=sys.stderr)
        return 2
    return 0
