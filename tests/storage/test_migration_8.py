"""Migration 8 on a PostgreSQL database already holding rows (an upgrade, not a new database): every row stays, the
keys refuse the same duplicates, and they carry the columns a profile reads."""

from __future__ import annotations

import psycopg
import pytest

from database import Database
from storage.schema import SCHEMA_VERSION
from tests.storage.test_postgres import everything
from tests.test_database import ALICE, BOB, fill_everything


def test_migration_8_upgrades_a_filled_postgresql_database(pg_url: str) -> None:
    old = Database(pg_url)
    try:
        old.migrate(target=7)
        fill_everything(old, ALICE, "alice")
        fill_everything(old, BOB, "bob")
        before = everything(old)
        old.migrate()
        assert old.schema_version() == SCHEMA_VERSION >= 8
        assert everything(old) == before
        play = old.query("SELECT discord_id, played_at, track_id FROM plays LIMIT 1")[0]
        with psycopg.connect(pg_url) as raw, pytest.raises(psycopg.errors.UniqueViolation):  # a play is stored once
            raw.execute("INSERT INTO plays (discord_id, played_at, track_id, ms_played, source, skipped) "
                               "VALUES (%s, %s, %s, 1, 'sync', 0)",
                               (play["discord_id"], play["played_at"], play["track_id"]))
        keys = {row["table_name"]: row["definition"] for row in old.query(
            "SELECT c.relname AS table_name, pg_get_indexdef(i.indexrelid) AS definition FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indrelid WHERE i.indisprimary AND c.relnamespace = "
            "current_schema()::regnamespace AND c.relname IN ('plays', 'top_tracks', 'top_artists')")}
        assert "INCLUDE (ms_played, source, skipped)" in keys["plays"]
        assert "INCLUDE (track_id)" in keys["top_tracks"] and "INCLUDE (artist_id)" in keys["top_artists"]
    finally:
        old.close()
