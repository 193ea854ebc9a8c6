"""Many writers and readers at once, through one pool and through two: no lock errors, no lost rows."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from database import Database
from fakes.postgres import database_target, storing_on_postgres
from storage.dialect import SQLITE
from storage.keys import register_sql_functions
from storage.schema import MIGRATIONS, SCHEMA_VERSION

MEMBERS = 10
WRITERS = 60
READERS = 60
PLAYS_PER_WRITE = 40
GUILD = 5


@pytest.fixture
def db(database_target: str | Path) -> Iterator[Database]:
    database = Database(database_target).open()
    seed(database)
    yield database
    database.close()


def seed(db: Database) -> None:
    db.upsert_artists([{"artist_id": "ar_1", "name": "Band", "genres": ["pop"], "fetched_at": 1.0}])
    db.upsert_tracks([{"track_id": f"tr_{i}", "name": f"Song {i}", "artist_id": "ar_1", "artist_name": "Band"}
                      for i in range(20)])
    for uid in range(MEMBERS):
        db.ensure_user(uid, f"member {uid}")
    db.set_guild_members(GUILD, range(MEMBERS))


def write_batch(db: Database, writer: int) -> int:
    """One writer's transaction: unique plays for one member, plus a top-list sync."""
    uid = writer % MEMBERS
    plays = [(writer * 1_000_000 + i, f"tr_{i % 20}", 1000, "spotify", 0) for i in range(PLAYS_PER_WRITE)]
    added = db.insert_plays(uid, plays)
    db.store_sync(uid, artists=[], tracks=[], top_tracks={"short_term": [f"tr_{writer % 20}"]}, top_artists={},
                  plays=[], recent_cursor_ms=writer, synced_at=float(writer))
    db.set_feedback(uid, "track", f"band - song {writer}", 1)
    return added


def read_all(db: Database, reader: int) -> int:
    profile = db.load_profile(reader % MEMBERS)
    db.whoknows(GUILD, "Band")
    db.visible_members(GUILD)
    db.counts()
    return profile["totals"]["plays"]


def total_plays(db: Database) -> int:
    """Counted on a new connection of its own, as any other tool would read it."""
    other = Database(db.url if hasattr(db, "url") else db.path).open()
    try:
        return other.scalar("SELECT COUNT(*) FROM plays")
    finally:
        other.close()


async def test_many_concurrent_writers_and_readers_through_one_pool(db: Database) -> None:
    jobs = [db.run(write_batch, db, w) for w in range(WRITERS)] + [db.run(read_all, db, r) for r in range(READERS)]
    results = await asyncio.gather(*jobs)  # any "database is locked" would raise here
    assert results[:WRITERS] == [PLAYS_PER_WRITE] * WRITERS
    assert total_plays(db) == WRITERS * PLAYS_PER_WRITE
    assert len(await db.run(db.get_feedback, 0)) == WRITERS // MEMBERS
    assert (await db.run(db.whoknows, GUILD, "Band"))[0]["plays"] == WRITERS // MEMBERS * PLAYS_PER_WRITE


async def test_two_databases_on_one_file_share_writes(db: Database, database_target: str | Path) -> None:
    second = Database(database_target, pool_size=3).open()
    try:
        jobs = []
        for w in range(WRITERS):
            owner = db if w % 2 else second
            jobs.append(owner.run(write_batch, owner, w))
            reader = second if w % 2 else db
            jobs.append(reader.run(read_all, reader, w))
        await asyncio.gather(*jobs)
        assert total_plays(db) == WRITERS * PLAYS_PER_WRITE
        # What one pool committed, the other reads at once.
        both = await asyncio.gather(db.run(db.counts), second.run(second.counts))
        assert both[0] == both[1] and both[0]["plays"] == WRITERS * PLAYS_PER_WRITE
    finally:
        second.close()


async def test_a_link_spent_through_two_pools_at_once_works_once(db: Database, database_target: str | Path) -> None:
    second = Database(database_target).open()
    try:
        await db.run(db.create_state, "hash-1", "connect", 1, None, 600)
        jobs = [(db if i % 2 else second).run((db if i % 2 else second).spend_state, "hash-1", "connect")
                for i in range(40)]
        statuses = [status for status, _ in await asyncio.gather(*jobs)]
        assert statuses.count("ok") == 1 and statuses.count("used") == 39
    finally:
        second.close()


def race(path: str | Path, action: str) -> list[BaseException]:
    """Two new Database objects do `action` on the same file at the same moment; return what went wrong."""
    start = threading.Barrier(2)
    errors: list[BaseException] = []
    opened: list[Database] = []

    def one() -> None:
        database = Database(path)
        opened.append(database)
        start.wait()
        try:
            database.open() if action == "open" else database.schema_version()
        except BaseException as error:  # report it from the test thread
            errors.append(error)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for database in opened:
        database.close()
    return errors


def test_two_databases_opening_a_new_file_at_once_both_work(tmp_path: Path) -> None:
    """Starts at the same moment (e.g. a restart overlapping the old process) must not fail or break the schema."""
    for attempt in range(10 if not storing_on_postgres() else 4):
        with database_target(tmp_path / f"open{attempt}") as target:
            assert [repr(error) for error in race(target, "open")] == []
            database = Database(target)
            try:
                assert database.schema_version() == SCHEMA_VERSION
            finally:
                database.close()


@pytest.mark.sqlite_only("switching a new file to WAL")


def test_two_connections_to_a_new_file_at_once_never_report_locked(tmp_path: Path) -> None:
    """Switching a new file to WAL is the narrow spot: a clash there fails at once, without waiting.

    The clash is timing-dependent (a few percent of tries), so many new files are tried: one failure fails the test.
    """
    errors = [error for attempt in range(80) for error in race(tmp_path / f"bot{attempt}.db", "connect")]
    assert [repr(error) for error in errors] == []


def user_version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("PRAGMA user_version").fetchone()[0]


@pytest.mark.sqlite_only("holds SQLite's write lock by hand")
def test_opening_while_another_connection_is_migrating_waits_for_it(tmp_path: Path) -> None:
    """Deterministic form of the race above: the other opener holds the write lock mid-migration."""
    path = tmp_path / "bot.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    register_sql_functions(other)  # migrations recompute keys with the bot's own normaliser
    other.execute("PRAGMA journal_mode = WAL")
    other.execute("BEGIN IMMEDIATE")
    for version in range(1, SCHEMA_VERSION + 1):
        for statement in MIGRATIONS[version]:
            if SQLITE.runs(statement):
                other.execute(statement)
    other.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    timer = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    timer.start()
    try:
        db = Database(path).open()
        db.ensure_user(1)
        assert db.schema_version() == SCHEMA_VERSION
        db.close()
    finally:
        timer.join()
        other.close()


async def test_reads_are_answered_while_long_writes_queue(db: Database) -> None:
    """Two imports at once must not tie up the threads that every command's reads need."""
    writing, release = threading.Event(), threading.Event()

    def long_import(writer: int) -> int:
        with db.transaction():
            writing.set()
            release.wait(10)
        return write_batch(db, writer)

    imports = [asyncio.ensure_future(db.run_write(long_import, w)) for w in range(2)]
    try:
        assert await asyncio.to_thread(writing.wait, 10)
        reads = [db.run(db.get_user, uid) for uid in range(4)]
        users = await asyncio.wait_for(asyncio.gather(*reads), timeout=5)  # the first import is still open
        assert [u["display_name"] for u in users] == [f"member {uid}" for uid in range(4)]
        assert not any(task.done() for task in imports)
    finally:
        release.set()
    assert await asyncio.gather(*imports) == [PLAYS_PER_WRITE, PLAYS_PER_WRITE]
