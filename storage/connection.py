"""Connections to the database: a pool of per-thread connections, transactions, and the migration runner.

SQLite here; `database.Database("postgresql://...")` takes the PostgreSQL form (storage/postgres.py), whose queries
are written the same way and translated by storage/dialect.py. Every method is blocking; async code calls them
through `await db.run(db.method, ...)`, which runs them on a small pool of threads, each with its own connection,
so the event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, ParamSpec, Self, TypeVar

from storage.dialect import SQLITE, Dialect
from storage.keys import register_sql_functions
from storage.schema import MIGRATIONS, SCHEMA_VERSION

P = ParamSpec("P")
T = TypeVar("T")


def _usable_cpus() -> int:
    """CPUs this process may run on (affinity and container cpusets count; os.cpu_count ignores them)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 2


class Connections:
    """A SQLite file with WAL, foreign keys, a busy timeout and a pool of per-thread connections."""

    dialect: Dialect = SQLITE

    def __init__(self, path: str | Path, *, pool_size: int | None = None, busy_timeout_ms: int = 10_000) -> None:
        # Turning rows into Python objects holds the GIL: threads beyond the CPU count only queue for it.
        pool_size = pool_size or max(2, min(4, _usable_cpus()))
        self.pool_size = pool_size
        self.path = str(path)
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="db")
        # Long writes (a sync's results, an import) queue on one thread of their own: SQLite takes one writer at a
        # time anyway, and the pool's threads stay free for the reads every command makes.
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="db-write")
        self.is_open = False

    # -- connections and transactions -------------------------------------------------------

    def open(self) -> Self:
        """Create the file if needed and bring its schema up to date."""
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.migrate()
        self.is_open = True
        return self

    def close(self) -> None:
        self.is_open = False
        self._writer.shutdown(wait=True)
        self._pool.shutdown(wait=True)
        with self._lock:
            for conn in self._connections:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._connections.clear()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout_ms / 1000, isolation_level=None,
                               check_same_thread=False)
        conn.row_factory = sqlite3.Row
        register_sql_functions(conn)
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
        for attempt in range(200):  # two openers switching a new file to WAL clash at once, without the busy wait
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                break
            except sqlite3.OperationalError:
                if attempt == 199:
                    raise
                time.sleep(0.01)
        conn.execute("PRAGMA wal_autocheckpoint = 10000")
        conn.execute("PRAGMA cache_size = -65536")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        with self._lock:
            self._connections.append(conn)
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; IMMEDIATE takes the write lock up front so writers queue, never deadlock."""
        conn = self.conn
        if conn.in_transaction:  # nested: join the outer one
            yield conn
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Several reads in a row: on SQLite this thread's connection already serves them (PostgreSQL keeps one)."""
        yield

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a blocking database method on the pool and await its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(*args, **kwargs))

    def submit(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Start a blocking read on the pool from plain (non-async) code, e.g. the next slice of a long read while
        the caller works on the last one. On one of the pool's own threads it runs at once (waiting there on the
        pool could wait for ever)."""
        if threading.current_thread().name.startswith("db_"):
            done: Future[T] = Future()
            try:
                done.set_result(fn(*args, **kwargs))
            except BaseException as error:  # handed to the caller through the Future, as the pool would
                done.set_exception(error)
            return done
        return self._pool.submit(fn, *args, **kwargs)

    async def run_write(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a long write (many rows in one transaction) on the writer thread and await its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, lambda: fn(*args, **kwargs))

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        cursor = self.conn.cursor()
        cursor.row_factory = None  # plain tuples zipped with the column names: a third quicker than dict(Row)
        cursor.execute(sql, params)
        names = [column[0] for column in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor]

    def rows(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[tuple[Any, ...]]:
        """Plain tuples in the SELECT's column order: for many rows whose caller takes the columns by position."""
        cursor = self.conn.cursor()
        cursor.row_factory = None
        cursor.execute(sql, params)
        return cursor.fetchall()

    def tuples(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[tuple[Any, ...]]:
        """A bulk read of millions of rows as plain tuples (PostgreSQL tunes the server for it; here, `rows`)."""
        return self.rows(sql, params)

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def queries(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[tuple[list[str], list[tuple[Any, ...]]]]:
        """Several reads, each as its column names and plain tuples (the caller makes only the dicts it needs);
        PostgreSQL sends them all at once (one round trip to the server)."""
        results = []
        for sql, params in statements:
            cursor = self.conn.cursor()
            cursor.row_factory = None
            cursor.execute(sql, params)
            results.append(([column[0] for column in cursor.description or ()], cursor.fetchall()))
        return results

    def insert_ignoring(self, conn: Any, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Add many rows in the caller's transaction, skipping any whose key is stored already (counted in
        `conn.total_changes`). `table` and `columns` are fixed names, never input."""
        marks = ", ".join("?" * len(columns))
        conn.executemany(f"INSERT OR IGNORE INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)

    def keep_page_cache_small(self, kib: int) -> None:
        """This thread's connection keeps at most `kib` of pages cached (a long streaming write stays flat in memory).
        PostgreSQL's server manages its own cache, so there it does nothing."""
        self.conn.execute(f"PRAGMA cache_size = -{int(kib)}")

    def table_names(self) -> list[str]:
        """The bot's tables (not the database's own bookkeeping), by name."""
        return [row["name"] for row in self.query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]

    def column_names(self, table: str) -> list[str]:
        return [row["name"] for row in self.query(f"PRAGMA table_info({table})")]

    # -- migrations ---------------------------------------------------------------------------

    def schema_version(self) -> int:
        return int(self.scalar("PRAGMA user_version"))

    def _set_schema_version(self, conn: Any, version: int) -> None:
        conn.execute(f"PRAGMA user_version = {int(version)}")

    def migrate(self, target: int = SCHEMA_VERSION) -> None:
        """Apply every migration above the database's version, each in its own transaction."""
        for version in range(self.schema_version() + 1, target + 1):
            with self.transaction() as conn:
                if self.schema_version() >= version:  # another connection applied it while we waited for the lock
                    continue
                for statement in MIGRATIONS[version]:
                    if self.dialect.runs(statement):
                        conn.execute(statement)
                self._set_schema_version(conn, version)


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """`items` in slices of at most `size` (SQLite caps the number of `?` in one statement)."""
    for start in range(0, len(items), size):
        yield items[start:start + size]
