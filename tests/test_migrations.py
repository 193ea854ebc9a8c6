"""Schema migrations: a fresh file and an old one end at the same schema, and old data survives."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import storage_schema
from database import Database
from storage_schema import MIGRATIONS, SCHEMA_VERSION


def schema_of(path: Path) -> list[tuple[str, str, str, str | None]]:
    """The whole schema as SQLite stores it (tables, indexes, their SQL), without page numbers."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").fetchall()
    return rows


def user_version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("PRAGMA user_version").fetchone()[0]


def make_version_1_file(path: Path) -> None:
    """An old bot's file: schema version 1, with a member, tokens, tops and plays in it."""
    old = Database(path)
    old.migrate(target=1)
    assert old.schema_version() == 1
    with old.transaction() as conn:
        conn.execute("INSERT INTO users (discord_id, display_name, link_state, hidden, created_at) "
                     "VALUES (1, 'Alice', 'linked', 0, 1.0), (2, 'Bob', 'none', 1, 2.0)")
        conn.execute("INSERT INTO tokens VALUES (1, x'0102', x'0304', 99.0, 'user-top-read', 5.0)")
        conn.execute("INSERT INTO artists (artist_id, name, name_key, genres) VALUES ('ar_1', 'Old Band', 'old band', "
                     "'[\"rock\"]')")
        conn.execute("INSERT INTO tracks (track_id, name, name_key, artist_id, artist_name) "
                     "VALUES ('tr_1', 'Old Song', 'old band - old song', 'ar_1', 'Old Band')")
        conn.execute("INSERT INTO top_tracks VALUES (1, 'short_term', 1, 'tr_1')")
        conn.execute("INSERT INTO top_artists VALUES (1, 'long_term', 1, 'ar_1')")
        conn.executemany("INSERT INTO plays (discord_id, played_at, track_id, ms_played) VALUES (1, ?, 'tr_1', 1000)",
                         [(t,) for t in (10, 20, 30)])
        conn.execute("INSERT INTO guild_members VALUES (5, 1)")
        conn.execute("INSERT INTO feedback VALUES (1, 'track', 'old band - old song', 1, 3.0)")
        conn.execute("INSERT INTO app_state VALUES ('k', '1')")
    old.close()


def test_migrations_are_numbered_from_one_without_gaps() -> None:
    assert sorted(MIGRATIONS) == list(range(1, SCHEMA_VERSION + 1))


def test_fresh_file_is_at_the_current_version(tmp_path: Path) -> None:
    db = Database(tmp_path / "sub" / "dir" / "bot.db").open()  # missing folders are created
    assert db.schema_version() == SCHEMA_VERSION
    db.close()
    names = {row[1] for row in schema_of(tmp_path / "sub" / "dir" / "bot.db") if row[0] == "table"}
    assert {table for table, _ in storage_schema.USER_TABLES} <= names


def test_old_file_upgrades_to_exactly_the_fresh_schema_and_keeps_its_data(tmp_path: Path) -> None:
    old_path, fresh_path = tmp_path / "old.db", tmp_path / "fresh.db"
    make_version_1_file(old_path)
    assert user_version(old_path) == 1

    db = Database(old_path).open()
    Database(fresh_path).open().close()
    assert db.schema_version() == SCHEMA_VERSION
    assert schema_of(old_path) == schema_of(fresh_path)

    profile = db.load_profile(1)
    assert profile["user"]["display_name"] == "Alice" and profile["user"]["link_state"] == "linked"
    assert [t["name"] for t in profile["top_tracks"]["short_term"]] == ["Old Song"]
    assert profile["top_artists"]["long_term"][0]["genres"] == ["rock"]
    assert [(p["played_at"], p["source"], p["skipped"]) for p in profile["recent"]] == [
        (30, "spotify", 0), (20, "spotify", 0), (10, "spotify", 0)]  # old plays get the new columns' defaults
    assert db.get_tokens(1)["access_token"] == b"\x01\x02"
    assert db.get_user(2)["hidden"] == 1
    assert db.get_feedback(1) == {"old band - old song": 1}
    assert db.visible_members(5) == [1]
    # The new version's features work on upgraded data.
    db.record_import(1, "history.json", 1, 0)
    assert db.insert_plays(1, [(40, "tr_1", 1000, "import", 0)]) == 1
    assert db.undo_imports(1) == 1
    db.close()
    with sqlite3.connect(old_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


def test_opening_again_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    Database(path).open().close()
    before = schema_of(path)
    db = Database(path).open()
    db.ensure_user(1)
    db.close()
    Database(path).open().close()
    assert schema_of(path) == before and user_version(path) == SCHEMA_VERSION


def test_a_failing_migration_leaves_the_file_at_its_previous_version(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "bot.db"
    db = Database(path).open()
    db.ensure_user(1, "Alice")
    broken = ["CREATE TABLE half_done (x INTEGER)", "ALTER TABLE users ADD COLUMN nickname TEXT", "NOT VALID SQL"]
    monkeypatch.setitem(MIGRATIONS, SCHEMA_VERSION + 1, broken)
    with pytest.raises(sqlite3.OperationalError):
        db.migrate(target=SCHEMA_VERSION + 1)
    db.close()
    assert user_version(path) == SCHEMA_VERSION
    assert "half_done" not in {row[1] for row in schema_of(path)}
    reopened = Database(path).open()
    assert reopened.get_user(1)["display_name"] == "Alice"
    assert "nickname" not in reopened.get_user(1)
    reopened.close()
