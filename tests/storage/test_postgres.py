"""PostgreSQL on a real server: the copy command, a server that goes away and comes back, the schema version.

Needs TEST_DATABASE_URL (scripts/test.sh starts a throwaway server); without it these tests skip and say why.
"""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from database import Database, DatabaseUnavailable
from storage.copy import CopyFailed, copy_database
from storage.postgres import TRUSTED_SECONDS
from storage.schema import SCHEMA_VERSION
from tests.test_database import ALICE, BOB, GUILD, fill_everything

REPO = Path(__file__).resolve().parents[2]


def filled_file(path: Path) -> Path:
    db = Database(path).open()
    fill_everything(db, ALICE, "alice")
    fill_everything(db, BOB, "bob")
    db.update_guild_settings(GUILD, digest_channel_id=7)
    db.set_state("last_global_sync", 123)
    db.close()
    return path


def everything(db: Database) -> dict[str, list[tuple]]:
    """Every row of every table, in a stable order, values as Python sees them."""
    result = {}
    for table in db.table_names():
        rows = [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row.values())
                for row in db.query(f"SELECT * FROM {table}")]
        result[table] = sorted(rows, key=repr)
    return result


def test_copy_moves_every_row_and_a_second_run_changes_nothing(tmp_path: Path, pg_url: str) -> None:
    source = filled_file(tmp_path / "bot.db")
    plays = Database(source).open()
    try:
        play_count = plays.scalar("SELECT COUNT(*) FROM plays")
    finally:
        plays.close()
    said: list[str] = []
    first = copy_database(source, pg_url, say=said.append)
    assert all(t.in_file == t.in_postgres for t in first) and sum(t.added for t in first) > 0
    assert "every row of all" in said[-1] and "rows added" in said[-1]
    assert any(line.strip().startswith(f"plays: {play_count} rows in the file, all in PostgreSQL") for line in said)

    file_db, server_db = Database(source).open(), Database(pg_url).open()
    try:
        assert everything(server_db) == everything(file_db)
        assert server_db.schema_version() == SCHEMA_VERSION
        assert server_db.get_tokens(ALICE)["access_token"] == file_db.get_tokens(ALICE)["access_token"]  # bytes
        assert server_db.whoknows(GUILD, "Artist alice") == file_db.whoknows(GUILD, "Artist alice")
        server_db.record_import(ALICE, "later.json", 1, 0)  # numbering goes on after the copied imports
        before = everything(server_db)
    finally:
        file_db.close()
        server_db.close()

    said.clear()
    second = copy_database(source, pg_url, say=said.append)
    assert [t.added for t in second] == [0] * len(second)
    assert "nothing needed adding" in said[-1]
    server_db = Database(pg_url).open()
    try:
        assert everything(server_db) == before
    finally:
        server_db.close()


def test_a_profile_reads_the_same_on_postgresql_as_on_sqlite(tmp_path: Path, pg_url: str) -> None:
    """The same bot copied to PostgreSQL shows every profile alike: values, their types, their order."""
    source = filled_file(tmp_path / "bot.db")
    db = Database(source).open()
    tracks = [{"track_id": f"tr_{n}", "name": f"Song {n}", "artist_id": "ar_alice", "artist_name": "Artist alice",
               "album_name": "Album", "image_url": f"http://img.example/{n}.jpg", "duration_ms": 1000 + n}
              for n in range(5)]
    db.store_sync(ALICE, artists=[{"artist_id": "ar_2", "name": "Two", "genres": ["jazz", "soul"], "fetched_at": 2.5}],
                  tracks=tracks, top_tracks={"medium_term": ["tr_3", "tr_gone", "tr_1"], "long_term": ["tr_4"]},
                  top_artists={"medium_term": ["ar_2", "ar_alice", "ar_gone"]},
                  plays=[(5_000 + n, f"tr_{n}", 90) for n in range(5)], recent_cursor_ms=5_004, synced_at=7.25)
    db.insert_plays(ALICE, [(4_000, "tr_2", 100, "import", 1), (4_500, "tr_gone", 100, "import", 0)])
    db.close()
    copy_database(source, pg_url, say=lambda _line: None)
    sqlite_db, pg = Database(source).open(), Database(pg_url).open()
    try:
        for member, recent in ((ALICE, 50), (ALICE, 3), (ALICE, 0), (BOB, 50), (12345, 50)):
            here, there = sqlite_db.load_profile(member, recent), pg.load_profile(member, recent)
            assert repr(there) == repr(here)
        shown = pg.load_profile(ALICE)
        # A song or artist never stored (only its id came) is left out, as before.
        assert [t["track_id"] for t in shown["top_tracks"]["medium_term"]] == ["tr_3", "tr_1"]
        assert [(a["rank"], a["genres"]) for a in shown["top_artists"]["medium_term"]] == [(1, ["jazz", "soul"]),
                                                                                          (2, ["pop"])]
        assert "tr_gone" not in [p["track_id"] for p in shown["recent"]] and shown["totals"]["plays"] == 9  # skips not counted
    finally:
        sqlite_db.close()
        pg.close()


def test_a_copy_failing_half_way_leaves_postgresql_as_it_was(tmp_path: Path, pg_url: str) -> None:
    copy_database(filled_file(tmp_path / "first.db"), pg_url, say=lambda _: None)
    server_db = Database(pg_url).open()
    before = everything(server_db)
    server_db.close()

    broken = tmp_path / "broken.db"
    db = Database(broken).open()
    fill_everything(db, 77, "carol")
    db.close()
    with sqlite3.connect(broken) as conn:  # a play of nobody (made with the file's checks off): PostgreSQL refuses it
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute("INSERT INTO plays (discord_id, played_at, track_id) VALUES (999, 1, 'tr_carol')")
    with pytest.raises(CopyFailed, match="Nothing was changed"):
        copy_database(broken, pg_url, say=lambda _: None)

    server_db = Database(pg_url).open()
    try:
        assert everything(server_db) == before  # carol's users, tracks... rows copied before plays are gone too
    finally:
        server_db.close()


def test_the_copy_command_says_what_it_did_and_never_prints_the_password(tmp_path: Path, pg_url: str) -> None:
    source = filled_file(tmp_path / "bot.db")
    parts = urlsplit(pg_url)
    with_password = urlunsplit(parts._replace(netloc=f"{parts.username or 'postgres'}:pw-s3cret-9@{parts.hostname}"
                                                     f":{parts.port}"))
    done = run_copy(source, with_password)
    assert done.returncode == 0, done.stderr
    assert "users: 2 rows in the file, all in PostgreSQL" in done.stdout and "pw-s3cret-9" not in done.stdout
    missing = run_copy(tmp_path / "nothing-here.db", with_password)
    assert missing.returncode == 2 and "There is no SQLite file" in missing.stderr
    assert "pw-s3cret-9" not in missing.stdout + missing.stderr and "Traceback" not in missing.stderr


def run_copy(source: Path, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "database", "copy", "--from", str(source), "--to", url], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


class Proxy:
    """A TCP relay to the server that can be cut (as a server going away) and put back on the same port."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener: socket.socket | None = None
        self.port = 0
        self.links: list[socket.socket] = []

    def start(self) -> Proxy:
        self.listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            self.links += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := a.recv(65536):
                b.sendall(data)
        with contextlib.suppress(OSError):
            b.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """The server goes away: every connection drops, and new ones are refused."""
        assert self.listener is not None
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread (close alone doesn't, on Linux)
        self.listener.close()
        for link in self.links:
            with contextlib.suppress(OSError):
                link.shutdown(socket.SHUT_RDWR)
            link.close()
        self.links.clear()


@contextlib.contextmanager
def behind_proxy(url: str) -> Iterator[tuple[str, Proxy]]:
    parts = urlsplit(url)
    proxy = Proxy(parts.hostname or "127.0.0.1", parts.port or 5432).start()
    netloc = parts.netloc.rsplit(":", 1)[0] if parts.port else parts.netloc
    try:
        yield urlunsplit(parts._replace(netloc=f"{netloc}:{proxy.port}")), proxy
    finally:
        with contextlib.suppress(Exception):
            proxy.cut()


def test_a_server_that_goes_away_asks_to_try_again_loses_nothing_and_is_reconnected(pg_url: str) -> None:
    with behind_proxy(pg_url) as (url, proxy):
        db = Database(url).open()
        try:
            db.ensure_user(ALICE, "Alice")
            db.insert_plays(ALICE, [(1_000, "tr_x", 1, "spotify", 0)])
            proxy.cut()
            started = time.monotonic()
            with pytest.raises(DatabaseUnavailable):
                db.get_user(ALICE)
            with pytest.raises(DatabaseUnavailable):
                db.ensure_user(BOB, "Bob")  # a write while it is away: refused whole, not half-done
            assert time.monotonic() - started < 8  # a member hears back, rather than waiting on a dead socket
            proxy.start()  # the server is back on the same address: no restart of the bot
            deadline = time.monotonic() + 15
            while True:
                try:
                    user = db.get_user(ALICE)
                    break
                except DatabaseUnavailable:
                    assert time.monotonic() < deadline, "the pool did not reconnect"
                    time.sleep(0.2)
            print(f"back {time.monotonic() - started:.1f} s after the server went away")
            assert user["display_name"] == "Alice" and db.load_profile(ALICE)["totals"]["plays"] == 1
            assert db.get_user(BOB) is None
            db.ensure_user(BOB, "Bob")
            assert db.get_user(BOB)["display_name"] == "Bob"
        finally:
            db.close()


def test_a_server_back_before_the_next_command_goes_unnoticed(pg_url: str) -> None:
    """A connection idle past TRUSTED_SECONDS is checked before it is lent: a restart in between costs no error."""
    with behind_proxy(pg_url) as (url, proxy):
        db = Database(url).open()
        try:
            db.ensure_user(ALICE, "Alice")
            proxy.cut()
            proxy.start()
            time.sleep(TRUSTED_SECONDS + 0.1)
            assert db.load_profile(ALICE)["user"]["display_name"] == "Alice"
        finally:
            db.close()


def test_a_new_database_reaches_the_newest_version_and_opening_again_changes_nothing(pg_url: str) -> None:
    old = Database(pg_url)
    old.migrate(target=2)
    assert old.schema_version() == 2
    old.ensure_user(ALICE, "Alice")  # a version-2 database in use
    old.close()
    db = Database(pg_url).open()
    try:
        assert db.schema_version() == SCHEMA_VERSION
        assert "artist_key" in db.column_names("tracks") and "schema_version" not in db.table_names()
        db.close()
        db = Database(pg_url).open()
        assert db.schema_version() == SCHEMA_VERSION and db.get_user(ALICE)["display_name"] == "Alice"
    finally:
        db.close()


def test_version_8_keeps_every_play_and_top_list_and_still_refuses_a_play_twice(pg_url: str) -> None:
    """Version 8 rebuilds the keys of plays and top lists on PostgreSQL (carrying the columns a profile reads)."""
    old = Database(pg_url)
    old.migrate(target=7)
    fill_everything(old, ALICE, "alice")
    before = old.load_profile(ALICE)
    old.close()
    db = Database(pg_url).open()
    try:
        assert db.schema_version() == SCHEMA_VERSION and repr(db.load_profile(ALICE)) == repr(before)
        play = before["recent"][0]
        assert db.insert_plays(ALICE, [(play["played_at"], play["track_id"], 1, "import", 0)]) == 0
        assert db.load_profile(ALICE)["totals"] == before["totals"]
        db.store_sync(ALICE, artists=[], tracks=[], top_tracks={"short_term": ["tr_alice"]}, top_artists={},
                      plays=[], recent_cursor_ms=None, synced_at=1.0)
        assert [t["track_id"] for t in db.load_profile(ALICE)["top_tracks"]["short_term"]] == ["tr_alice"]
    finally:
        db.close()


def test_reads_sent_as_one_message_take_any_value_and_survive_a_column_added_under_them(pg_url: str) -> None:
    """A profile's reads are prepared once per connection: another process adding a column later (a newer bot's
    migration) must not break them, and a value with quotes or % is read as it is."""
    db = Database(pg_url).open()
    try:
        fill_everything(db, ALICE, "alice")
        db.ensure_user(BOB, "O'Brien 100%")
        before = db.load_profile(ALICE)
        [(names, rows)] = db.queries([("SELECT display_name FROM users WHERE display_name = ? AND display_name LIKE "
                                       "'%100\\%' ESCAPE '\\'", ("O'Brien 100%",))])
        assert names == ["display_name"] and rows == [("O'Brien 100%",)]
        with db.reading():  # one connection: a read prepared there, then failed, is prepared again after
            with pytest.raises(psycopg.errors.DivisionByZero):
                db.queries([("SELECT 10 / ? AS share", (0,))])
            assert db.queries([("SELECT 10 / ? AS share", (5,))]) == [(["share"], [(2,)])]
        with db.reading():  # on the connection that prepared the profile's reads
            db.load_profile(ALICE)
            with db.transaction() as conn:
                conn.execute("ALTER TABLE users ADD COLUMN nickname TEXT")
            after = db.load_profile(ALICE)
        assert after["user"]["nickname"] is None and after["top_tracks"] == before["top_tracks"]
        with db.transaction():  # inside a transaction the reads go the usual way, and read the same
            assert repr(db.load_profile(ALICE)) == repr(after)
    finally:
        db.close()
