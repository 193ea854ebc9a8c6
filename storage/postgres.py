"""The same storage on a PostgreSQL server: psycopg 3 connections from a pool, behind sqlite3's small interface.

`Connections("postgresql://...")` makes the class from `on_postgres`, so every query in storage/*.py runs
unchanged: `PgConnection` (this thread's face, like a sqlite3.Connection) translates each statement
(storage/dialect.py) and borrows a pooled connection for it, or keeps one for a whole transaction.

Guarantees kept from SQLite: a transaction takes one database-wide write lock first (what SQLite's BEGIN IMMEDIATE
does), so read-then-write code stays correct and writers queue, in this process and any other; a wait past the
lock timeout, a server that went away, or one that can't be reached raise `DatabaseUnavailable` ("try again in a
moment"). A transaction is all or nothing; the pool checks a connection idle a second or more before lending it,
and reconnects by itself.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Iterator, Sequence
from typing import Any, Self

import psycopg
import psycopg_pool
from psycopg.adapt import Loader

from storage.connection import Connections
from storage.dialect import POSTGRES, Dialect
from storage.errors import DatabaseBusy, DatabaseStartError, DatabaseUnavailable
from storage.postgres_results import Cursor, as_dicts, forget_prepared, run_prepared
from storage.postgres_url import describe_url, url_problem

WRITE_LOCK_KEY = 0x5B07_D1A1  # pg_advisory_xact_lock key: the one writer lock, as SQLite has one per file
# Taken as (key, the schema's hash): one lock per bot, so bots (or tests) in other schemas of the database don't wait.
TAKE_WRITE_LOCK = "SELECT pg_advisory_xact_lock(%s, hashtext(current_schema()))"
CONNECT_TIMEOUT_SECONDS = 5
# Memory one bulk read (`tuples`) may use for its sorts and sums on the server, per query.
BULK_WORK_MEM_MB = 64
# How long a query waits for a connection when the server is away: the member still hears back within
# Discord's 3 seconds for a first reply.
WAIT_SECONDS = 2.5
PIPELINES = psycopg.Pipeline.is_supported()
_FAILURES = (psycopg.OperationalError, psycopg.InterfaceError, psycopg_pool.PoolTimeout)
# The pool checks a connection before lending it (a round trip to the server: a tenth of a profile read), unless it
# came back this recently. A server lost within that moment shows as one lost mid-query does: DatabaseUnavailable
# ("try again in a moment"), and the pool replaces the connection.
TRUSTED_SECONDS = 1.0


class _Number(Loader):
    """NUMERIC (what SUM and AVG give on BIGINT) as int or float, as SQLite gives it, not Decimal."""

    def load(self, data: Any) -> int | float:
        text = bytes(data).decode()
        try:
            return int(text)
        except ValueError:
            return float(text)


def _configure(conn: psycopg.Connection) -> None:
    conn.adapters.register_loader("numeric", _Number)
    # SQLite's busy timeout: a writer waits this long for the write lock, then the member is asked to try again.
    conn.execute("SET lock_timeout = '10s'")
    conn.execute("SET TIME ZONE 'UTC'")


class PgConnection:
    """One thread's face on the pool, like a sqlite3.Connection: execute, executemany, in_transaction, total_changes."""

    def __init__(self, pool: psycopg_pool.ConnectionPool) -> None:
        self.pool = pool
        self.held: psycopg.Connection | None = None  # the connection of the open transaction, if any
        self.session: psycopg.Connection | None = None  # one kept for a run of reads (Connections.reading)
        self.total_changes = 0

    @property
    def in_transaction(self) -> bool:
        return self.held is not None

    @contextlib.contextmanager
    def _raw(self) -> Iterator[psycopg.Connection]:
        kept = self.held or self.session
        if kept is not None:
            yield kept
            return
        with unavailable_on_failure(), lend(self.pool) as raw:
            yield raw

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Cursor:
        with self._raw() as raw, unavailable_on_failure(), raw.cursor() as cur:
            cur.execute(POSTGRES.translate(sql), params if params is not None else ())
            result = Cursor.of(cur)
            self.total_changes += max(cur.rowcount, 0) if result.description is None else 0
            return result

    def execute_native(self, sql: str, params: Sequence[Any]) -> Cursor:
        """A statement already in PostgreSQL's form (psycopg parameters), not translated."""
        with self._raw() as raw, unavailable_on_failure(), raw.cursor() as cur:
            cur.execute(sql, params)
            self.total_changes += max(cur.rowcount, 0)
            return Cursor([], None, cur.rowcount)

    def execute_all(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[Cursor]:
        """Several reads sent together, answered together (one round trip, not one each): outside a transaction, as
        prepared statements run by ONE message (see run_prepared); in one, in a pipeline."""
        with self._raw() as raw, unavailable_on_failure():
            if raw.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
                try:
                    return run_prepared(raw, statements)
                except (psycopg.errors.InvalidSqlStatementName, psycopg.errors.DuplicatePreparedStatement,
                        psycopg.errors.FeatureNotSupported):
                    # Gone (psycopg drops every prepared statement after a change of tables on its connection), or
                    # prepared by a message that then failed (a PREPARE outlives its message's failure), or another
                    # process changed a table's columns under one ("cached plan must not change result type"):
                    # prepare them again, once.
                    forget_prepared(raw)
                    return run_prepared(raw, statements)
            if not PIPELINES:  # a libpq older than 14 (psycopg[binary] brings its own, newer)
                return [self.execute(sql, params) for sql, params in statements]
            with raw.pipeline():
                sent = [raw.execute(POSTGRES.translate(sql), params) for sql, params in statements]
            return [Cursor.of(cur) for cur in sent]

    def executemany(self, sql: str, seq: Any) -> Cursor:
        params = list(seq)
        with self._raw() as raw, unavailable_on_failure(), raw.cursor() as cur:
            if params:
                cur.executemany(POSTGRES.translate(sql), params)
            count = max(cur.rowcount, 0) if params else 0
            self.total_changes += count
            return Cursor([], None, count)


@contextlib.contextmanager
def lend(pool: psycopg_pool.ConnectionPool) -> Iterator[psycopg.Connection]:
    """A connection from the pool, marked with the time it goes back (see check_unless_just_used)."""
    with pool.connection() as raw:
        try:
            yield raw
        finally:
            raw.returned_at = time.monotonic()  # type: ignore[attr-defined]


def check_unless_just_used(conn: psycopg.Connection) -> None:
    """The pool's check that a connection still works, skipped for one handed back under TRUSTED_SECONDS ago."""
    if time.monotonic() - getattr(conn, "returned_at", -TRUSTED_SECONDS) >= TRUSTED_SECONDS:
        psycopg_pool.ConnectionPool.check_connection(conn)


@contextlib.contextmanager
def unavailable_on_failure() -> Iterator[None]:
    """A lost or unreachable server, or a wait past the lock timeout, becomes DatabaseUnavailable."""
    try:
        yield
    except psycopg.errors.LockNotAvailable as error:
        raise DatabaseBusy("Another writer held the database's write lock past the wait.") from error
    except _FAILURES as error:
        raise DatabaseUnavailable("The database server can't be reached right now, or stayed busy.") from error


class PostgresConnections(Connections):
    """Connections on a PostgreSQL server; every query method of the storage mixins runs on it unchanged."""

    dialect: Dialect = POSTGRES

    def __init__(self, url: str, *, pool_size: int | None = None, busy_timeout_ms: int = 10_000,
                 max_connections: int = 10) -> None:
        super().__init__(describe_url(url), pool_size=pool_size, busy_timeout_ms=busy_timeout_ms)
        self.url = url
        self._pool_started = False
        self._types: dict[str, dict[str, str]] = {}  # column types by table, for insert_ignoring's arrays
        # Borrowers: the pool's threads, the writer, the event loop and the web server's threads; at most
        # `max_connections` at once (several bot processes share the server's limit, 100 by default).
        self.pool = psycopg_pool.ConnectionPool(
            url, min_size=1, max_size=max(max_connections, self.pool_size + 2), open=False, name="bot-db",
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_SECONDS}, configure=_configure,
            check=check_unless_just_used, timeout=WAIT_SECONDS)

    def open(self) -> Self:
        """Reach the server (a clear DatabaseStartError if it can't be used), then bring its schema up to date."""
        check_server(self.url)
        try:
            with self._lock:
                self._pool_started = True
                self.pool.open(wait=True, timeout=CONNECT_TIMEOUT_SECONDS * 2)
            self.migrate()
        except (psycopg_pool.PoolTimeout, DatabaseUnavailable):
            raise DatabaseStartError(f"The PostgreSQL server in DATABASE_URL ({self.path}) answered once, then stopped "
                                     "answering while the bot was starting. Check the server, then start the bot "
                                     "again.") from None
        self.is_open = True
        return self

    def close(self) -> None:
        self.is_open = False
        self._writer.shutdown(wait=True)
        self._pool.shutdown(wait=True)
        with self._lock:
            self._pool_started = True  # for good: a closed pool is not opened again
            self.pool.close()

    @property
    def conn(self) -> PgConnection:  # type: ignore[override]
        """This thread's face on the pool (opened at first use, as a SQLite file is, when `open` was not called)."""
        if not self._pool_started:
            with self._lock:
                if not self._pool_started:
                    self._pool_started = True
                    self.pool.open(wait=False)
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = PgConnection(self.pool)
        return conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[PgConnection]:  # type: ignore[override]
        """One write transaction, behind the database-wide write lock; nested ones join the outer one."""
        face = self.conn
        if face.held is not None:
            yield face
            return
        with unavailable_on_failure(), self._borrow(face) as raw:
            face.held = raw
            try:
                with raw.transaction():
                    with unavailable_on_failure():
                        raw.execute(TAKE_WRITE_LOCK, (WRITE_LOCK_KEY,))
                    yield face
            finally:
                face.held = None

    @contextlib.contextmanager
    def _borrow(self, face: PgConnection) -> Iterator[psycopg.Connection]:
        """The connection kept for this thread's reads, or one from the pool."""
        if face.session is not None:
            yield face.session
            return
        with lend(self.pool) as raw:
            yield raw

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Several reads on one pooled connection (one borrow and check instead of one per query)."""
        face = self.conn
        if face.held is not None or face.session is not None:
            yield
            return
        with unavailable_on_failure(), lend(self.pool) as raw:
            face.session = raw
            try:
                yield
            finally:
                face.session = None

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        return as_dicts(self.conn.execute(sql, params))

    def tuples(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[tuple[Any, ...]]:
        """Rows as plain tuples, for bulk reads of hundreds of thousands of rows (no per-row dict): sent in binary
        (ints and floats as they are, no text to parse) and summed with enough memory for one read's groups in
        one pass (the default 4 MB makes a big GROUP BY spill to disk), without JIT compiling. NUMERIC comes back as
        Decimal here."""
        with self.conn._raw() as raw, unavailable_on_failure(), raw.transaction(), raw.cursor(binary=True) as cur:
            cur.execute(f"SET LOCAL work_mem = '{BULK_WORK_MEM_MB}MB'")
            cur.execute("SET LOCAL jit = off")  # compiling a plain scan and sum costs more than it saves
            cur.execute(POSTGRES.translate(sql), params if params is not None else ())
            return cur.fetchall()

    def rows(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.conn.execute(sql, params)._rows]

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def queries(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[tuple[list[str], list[tuple[Any, ...]]]]:
        return [(cursor.names, cursor._rows) for cursor in self.conn.execute_all(statements)]

    def insert_ignoring(self, conn: Any, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """As on SQLite, in one statement: the rows go as one array per column (unnest), nearly as fast as COPY."""
        if not rows:
            return
        types = self._column_types(table)
        arrays = ", ".join(f"%b::{types[column]}[]" for column in columns)  # binary: no quoting of each value
        conn.execute_native(f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({arrays}) "
                            "ON CONFLICT DO NOTHING", [list(values) for values in zip(*rows, strict=True)])

    def _column_types(self, table: str) -> dict[str, str]:
        cached = self._types.get(table)
        if cached is None:
            cached = self._types[table] = {row["name"]: row["type"] for row in self.query(
                "SELECT column_name AS name, data_type AS type FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = ?", (table,))}
        return cached

    def keep_page_cache_small(self, kib: int) -> None:
        """The server manages its own cache."""

    def table_names(self) -> list[str]:
        return [row["name"] for row in self.query(
            "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() "
            "AND table_type = 'BASE TABLE' AND table_name != 'schema_version' ORDER BY table_name")]

    def column_names(self, table: str) -> list[str]:
        return [row["name"] for row in self.query(
            "SELECT column_name AS name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = ? ORDER BY ordinal_position", (table,))]

    # -- migrations: the version is a row of `schema_version` (SQLite keeps it in PRAGMA user_version) ---------

    def schema_version(self) -> int:
        # Read from the catalog tables, not to_regclass: after waiting for the write lock, this session's cache of
        # names may not know yet of a table another just made (waiting on an advisory lock doesn't refresh it).
        exists = self.scalar("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() "
                             "AND table_name = 'schema_version'")
        return int(self.scalar("SELECT COALESCE(MAX(version), 0) FROM schema_version")) if exists else 0

    def _set_schema_version(self, conn: Any, version: int) -> None:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        conn.execute("DELETE FROM schema_version")
        conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))


@functools.cache
def on_postgres(cls: type) -> type:
    """`cls` (Database or any Connections class) running on PostgreSQL."""
    return type(cls.__name__, (PostgresConnections, cls), {"__module__": cls.__module__, "__doc__": cls.__doc__})


def check_server(url: str) -> None:
    """Connect once, to turn a server that is down or refuses us into a message saying what to fix."""
    problem = url_problem(url)
    if problem:
        raise DatabaseStartError(problem)
    where = describe_url(url)
    try:
        with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_SECONDS, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.ProgrammingError:  # an option psycopg doesn't know, such as a misspelt ?sslmode=
        raise DatabaseStartError(f"DATABASE_URL can't be read as a PostgreSQL address ({where}): check the options "
                                 "after the ?, then start the bot again.") from None
    except psycopg.OperationalError as error:
        text = str(error).lower()
        if "password" in text or "authentication" in text:
            why = "it refused the user name or password"
        elif "does not exist" in text:
            why = "that database (or user) does not exist on it: create it first (see the README, Running big)"
        else:
            why = "nothing answered there: check the server is running and the host and port are right"
        raise DatabaseStartError(f"The bot couldn't use the PostgreSQL database in DATABASE_URL ({where}): {why}. "
                                 "Fix DATABASE_URL or the server, then start the bot again.") from None

