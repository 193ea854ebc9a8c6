"""Schema migrations: a fresh file and an old one end at the same schema, and old data survives."""

from __future__ import annotations

import io
import json
import re
import sqlite3
import unicodedata
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

import storage.keys
import storage.schema
from config import Settings
from database import Database
from storage.keys import artist_key, local_id, track_key
from storage.music import MusicStore
from storage.schema import MIGRATIONS, SCHEMA_VERSION
from tests.helpers.export_files import BASE_TIME, account_entry, to_json
from utils.listening.reads import items_for_keys
from utils.sources.export_import import HistoryImporter


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
    assert {table for table, _ in storage.schema.USER_TABLES} <= names


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


# -- version 3: keys for names in any script ------------------------------------------------------------------


def old_normalise(text: str) -> str:
    """The normaliser of versions 1 and 2: ASCII only, so every non-Latin name became "" and "ø" vanished."""
    text = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode().lower()
    text = re.sub(r"\s*[\(\[](feat|ft|with)\.?\s[^\)\]]*[\)\]]", "", text)
    text = re.sub(r"[^a-z0-9]+", " ", text)
    return text.strip()


def old_track_key(artist: str, title: str) -> str:
    return f"{old_normalise(artist)} - {old_normalise(title)}"


OLD_SHARED_ARTIST = local_id("")  # the one local id an old import gave every artist with a non-Latin name
V2_ARTISTS = [("ar_yoa", "YOASOBI"), ("ar_kino", "Кино"), ("ar_aria", "Ария"), ("ar_roy", "Røyksopp"),
              (OLD_SHARED_ARTIST, "Сплин")]
V2_TRACKS = [("tr_yoru", "夜に駆ける", "ar_yoa", "YOASOBI"), ("tr_gun", "群青", "ar_yoa", "YOASOBI"),
             ("tr_kino", "Группа крови", "ar_kino", "Кино"), ("tr_aria", "Беспечный ангел", "ar_aria", "Ария"),
             ("tr_eple", "Eple", "ar_roy", "Røyksopp"),
             ("tr_splin", "Орбит без сахара", OLD_SHARED_ARTIST, "Сплин"),  # imported, artist known by name only
             ("tr_ddt", "Что такое осень", OLD_SHARED_ARTIST, "ДДТ"),  # ... and so given the same artist row
             ("tr_mo", "Final Song", None, "MØ")]  # no artist row at all
V2_RECOMMENDED = [("YOASOBI", "夜に駆ける", "tr_yoru"), ("YOASOBI", "群青", "tr_gun"), ("Røyksopp", "Eple", "tr_eple"),
                  ("Gone", "Song", None)]


def make_version_2_file(path: Path) -> None:
    """An old bot's file at version 2 whose keys were made by the ASCII-only normaliser."""
    old = Database(path)
    old.migrate(target=2)
    with old.transaction() as conn:
        conn.execute("INSERT INTO users (discord_id, display_name, created_at) VALUES (1, 'Alice', 1.0)")
        conn.execute("INSERT INTO guild_members VALUES (5, 1)")
        conn.executemany("INSERT INTO artists (artist_id, name, name_key) VALUES (?, ?, ?)",
                         [(aid, name, old_normalise(name)) for aid, name in V2_ARTISTS])
        conn.executemany("INSERT INTO tracks (track_id, name, name_key, artist_id, artist_name) VALUES (?, ?, ?, ?, ?)",
                         [(tid, name, old_track_key(artist, name), aid, artist) for tid, name, aid, artist in V2_TRACKS])
        conn.executemany("INSERT INTO plays (discord_id, played_at, track_id, ms_played) VALUES (1, ?, ?, 1000)",
                         [(1000 * i, tid) for i, (tid, *_) in enumerate(V2_TRACKS)])
        conn.executemany("INSERT INTO feedback VALUES (1, ?, ?, ?, ?)", [
            ("track", "ryksopp - eple", 1, 1.0), ("artist", "ryksopp", -1, 2.0),
            ("artist", "m", 1, 3.0),  # MØ: no artist row, found through its track
            ("track", "gone - song", 1, 4.0)])  # no row at all: stays as it is
        payload = {"mode": "balanced", "guild_id": 5, "items": [
            {"key": old_track_key(artist, title), "name": title, "artist_name": artist, "spotify_id": tid,
             "reason": "because", "score": 0.5} for artist, title, tid in V2_RECOMMENDED]}
        conn.execute("INSERT INTO saved_recommendations VALUES (1, ?, 9.0)", (json.dumps(payload),))
    assert old.scalar("SELECT COUNT(DISTINCT name_key) FROM tracks WHERE artist_id = 'ar_yoa'") == 1  # the bug
    old.close()


def row_counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}


def test_version_2_keys_are_rebuilt_for_names_in_any_script_and_every_row_kept(tmp_path: Path) -> None:
    path, fresh_path = tmp_path / "v2.db", tmp_path / "fresh.db"
    make_version_2_file(path)
    before = row_counts(path)

    db = Database(path).open()
    Database(fresh_path).open().close()
    assert db.schema_version() == SCHEMA_VERSION and schema_of(path) == schema_of(fresh_path)
    after = row_counts(path)
    assert not any(after[t] for t in set(after) - set(before))  # tables of later versions start empty
    after = {t: n for t, n in after.items() if t in before}
    assert after == {**before, "artists": before["artists"] + 1}  # ДДТ got its own artist row
    assert all(row["name_key"] == track_key(row["artist_name"], row["name"]) for row in db.query("SELECT * FROM tracks"))
    assert all(row["name_key"] == artist_key(row["name"]) for row in db.query("SELECT * FROM artists"))
    assert {aid for aid, _ in V2_ARTISTS} <= {row["artist_id"] for row in db.query("SELECT artist_id FROM artists")}

    # Two songs by one artist are two songs again; every artist is its own.
    tracks = {row["key"]: row["plays"] for row in db.play_counts([1], "tracks")}
    assert len(tracks) == len(V2_TRACKS) and "yoasobi - 群青" in tracks and "yoasobi - 夜に駆ける" in tracks
    artists = {row["key"]: row["plays"] for row in db.play_counts([1], "artists")}
    assert artists == {"yoasobi": 2, "кино": 1, "ария": 1, "røyksopp": 1, "сплин": 1, "ддт": 1, "mø": 1}
    assert [(r["discord_id"], r["plays"]) for r in db.whoknows(5, "ДДТ")] == [(1, 1)]
    assert [(r["discord_id"], r["plays"]) for r in db.whoknows(5, "Сплин")] == [(1, 1)]
    assert db.tracks_by_id(["tr_ddt", "tr_splin"])["tr_ddt"]["artist_id"] == local_id("ддт")  # what imports now use
    assert db.tracks_by_id(["tr_splin"])["tr_splin"]["artist_id"] == OLD_SHARED_ARTIST

    # Feedback follows its items; a key with no row stays.
    assert db.get_feedback(1) == {"røyksopp - eple": 1, "røyksopp": -1, "mø": 1, "gone - song": 1}
    # The last recommendations still name their songs, so "save as playlist" finds them all.
    saved = db.last_recommendations(1)
    keys = [item["key"] for item in saved["items"]]
    assert keys == ["yoasobi - 夜に駆ける", "yoasobi - 群青", "røyksopp - eple", "gone - song"]
    assert [(i["name"], i["spotify_id"], i["reason"]) for i in saved["items"]] == [
        (title, tid, "because") for _, title, tid in V2_RECOMMENDED]
    assert (saved["mode"], saved["guild_id"]) == ("balanced", 5)
    assert [item.uri for item in items_for_keys(db, keys, "tracks")] == [
        "spotify:track:tr_yoru", "spotify:track:tr_gun", "spotify:track:tr_eple", None]
    db.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


@pytest.mark.parametrize(("newer", "expected"), [("Straße", -1), ("Strasse", 1)])
def test_feedback_on_two_old_keys_of_one_item_keeps_the_newer(tmp_path: Path, newer: str, expected: int) -> None:
    path = tmp_path / "v2.db"
    old = Database(path)
    old.migrate(target=2)
    with old.transaction() as conn:
        conn.execute("INSERT INTO users (discord_id, created_at) VALUES (1, 1.0)")
        conn.executemany("INSERT INTO artists (artist_id, name, name_key) VALUES (?, ?, ?)",
                         [("ar_a", "Straße", "strae"), ("ar_b", "Strasse", "strasse")])  # old keys differ, new don't
        conn.executemany("INSERT INTO feedback VALUES (1, 'artist', ?, ?, ?)",
                         [("strae", -1, 5.0 if newer == "Straße" else 3.0),
                          ("strasse", 1, 5.0 if newer == "Strasse" else 3.0)])
    old.close()
    db = Database(path).open()
    assert db.get_feedback(1) == {"strasse": expected}
    db.close()


def test_feedback_whose_old_key_now_means_several_items_is_dropped_not_misplaced(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    make_version_2_file(path)
    old = Database(path)
    with old.transaction() as conn:  # under the old keys, "Кино" and "Ария" were both "" and their songs " - ..."
        conn.executemany("INSERT INTO feedback VALUES (1, ?, ?, ?, ?)", [
            ("artist", old_normalise("Кино"), -1, 5.0), ("track", old_track_key("YOASOBI", "群青"), -1, 6.0)])
    old.close()
    db = Database(path).open()
    feedback = db.get_feedback(1)
    assert "" not in feedback and "yoasobi - " not in feedback
    assert not {"кино", "ария", "сплин", "ддт", "yoasobi - 群青", "yoasobi - 夜に駆ける"} & set(feedback)
    assert feedback == {"røyksopp - eple": 1, "røyksopp": -1, "mø": 1, "gone - song": 1}  # the clear ones follow
    db.close()


def account_data(songs: list[tuple[str, str]]) -> bytes:
    """An "Account data" export (no Spotify ids: imports give its songs local ids made from their keys)."""
    return to_json([account_entry(BASE_TIME + timedelta(minutes=5 * i), title, artist)
                    for i, (title, artist) in enumerate(songs)])


def import_history(db: Database, export: bytes):
    settings = Settings(discord_token="not-a-token", spotify_client_id="id", spotify_client_secret="secret-secret",
                        token_encryption_keys=(Fernet.generate_key().decode(),), database_path=db.path,
                        spotify_redirect_uri="http://127.0.0.1:8765/callback", log_dir="")
    return HistoryImporter(db, settings).import_file_blocking(1, "Alice", io.BytesIO(export),
                                                               "StreamingHistory_music_0.json")


def import_before_the_upgrade(path: Path, export: bytes, monkeypatch: pytest.MonkeyPatch) -> int:
    """Import into a version-2 file the way the bot did before version 3; return the plays added."""
    old = Database(path)
    old.migrate(target=2)
    with monkeypatch.context() as patch:
        patch.setattr(storage.keys, "normalise", old_normalise)
        patch.setattr(MusicStore, "upsert_tracks", upsert_tracks_before_version_4)
        added = import_history(old, export).plays_added
    old.close()
    return added


def upsert_tracks_before_version_4(db: Database, tracks: list[dict]) -> None:
    """How tracks were stored before they kept their artist's key (version 4)."""
    with db.transaction() as conn:
        conn.executemany(
            "INSERT INTO tracks (track_id, name, name_key, artist_id, artist_name, album_name) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(track_id) DO NOTHING",
            [(t["track_id"], t["name"], storage.keys.track_key(t["artist_name"], t["name"]), t.get("artist_id"),
              t["artist_name"], t.get("album_name")) for t in tracks])


def test_importing_the_same_history_again_after_the_upgrade_stores_no_play_twice(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "bot.db"
    songs = [("Eple", "Røyksopp"), ("夜に駆ける", "YOASOBI"), ("Группа крови", "Кино"), ("Halo", "Beyoncé"),
             ("Straße", "Die Band"), ("Old Song", "Old Band")]
    export = account_data(songs)
    assert import_before_the_upgrade(path, export, monkeypatch) == len(songs)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT name_key FROM tracks WHERE name = 'Группа крови'").fetchone()[0] == " - "

    db = Database(path).open()
    assert db.schema_version() == SCHEMA_VERSION
    again = import_history(db, export)
    assert (again.plays_added, again.plays_already_there) == (0, len(songs))
    assert db.scalar("SELECT COUNT(*) FROM plays") == len(songs)
    tracks = {row["key"]: row["plays"] for row in db.play_counts([1], "tracks")}
    assert tracks == {track_key(artist, title): 1 for title, artist in songs}
    artists = {row["key"]: row["plays"] for row in db.play_counts([1], "artists")}
    assert artists == {artist_key(artist): 1 for _, artist in songs}
    db.close()


def test_songs_an_old_import_merged_are_separated_by_undo_and_importing_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "bot.db"
    songs = [("夜に駆ける", "YOASOBI"), ("群青", "YOASOBI"), ("Группа крови", "Кино"), ("Кукушка", "Кино")]
    export = account_data(songs)
    assert import_before_the_upgrade(path, export, monkeypatch) == len(songs)

    db = Database(path).open()
    # An old import gave both YOASOBI songs one local id, so one track row: the upgrade can't tell their plays apart.
    assert len(db.play_counts([1], "tracks")) == 2
    assert db.undo_imports(1) == len(songs)
    assert import_history(db, export).plays_added == len(songs)
    tracks = {row["key"]: row["plays"] for row in db.play_counts([1], "tracks")}
    assert tracks == {track_key(artist, title): 1 for title, artist in songs}
    assert {row["key"]: row["plays"] for row in db.play_counts([1], "artists")} == {"yoasobi": 2, "кино": 2}
    db.close()


def test_importing_again_after_the_upgrade_separates_merged_songs_and_counts_each_play_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "bot.db"
    songs = [("夜に駆ける", "YOASOBI"), ("群青", "YOASOBI"), ("Группа крови", "Кино"), ("Кукушка", "Кино")]
    assert import_before_the_upgrade(path, account_data(songs), monkeypatch) == len(songs)

    db = Database(path).open()
    later = [*songs, ("Ещё одна", "Кино")]  # a newer export covers the same months and one more play
    again = import_history(db, account_data(later))
    assert (again.plays_added, again.plays_already_there) == (1, len(songs))
    assert db.scalar("SELECT COUNT(*) FROM plays") == len(later)
    tracks = {row["key"]: row["plays"] for row in db.play_counts([1], "tracks")}
    assert tracks == {track_key(artist, title): 1 for title, artist in later}
    assert {row["key"]: row["plays"] for row in db.play_counts([1], "artists")} == {"yoasobi": 2, "кино": 3}
    db.close()
