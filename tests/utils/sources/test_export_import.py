"""Importing history into a real SQLite file: plays land once, private fields never stored, undo, links."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from config import Settings
from database import Database
from storage.keys import local_id, track_key
from storage.schema import USER_TABLES
from tests.helpers.export_files import (
    BASE_TIME,
    account_entry,
    extended_entry,
    make_zip,
    podcast_entry,
    to_json,
    track_uri,
)
from utils.errors import BadImportFile, LinkExpired
from utils.sources.export_import import HistoryImporter, hash_token, resolve_local_tracks

MEMBER = 111
OTHER = 222
GUILD = 9000
SECRET_IP = "198.51.100.231"
SECRET_PLATFORM = "Zorblax Fridge OS 3.1 (distinctive)"
SECRET_USERNAME = "distinct_user_q7x"
SECRET_COUNTRY = "QZ"
URI_HURT, URI_JOLENE = track_uri(11), track_uri(12)


def at(minutes: float, seconds: float = 0):
    return BASE_TIME + timedelta(minutes=minutes, seconds=seconds)


def ext(minutes: float, track: str, artist: str, uri: str | None, ms: int = 200_000, seconds: float = 40) -> dict:
    return extended_entry(at(minutes, seconds), track, artist, uri=uri, ms_played=ms, ip_addr=SECRET_IP,
                          platform=SECRET_PLATFORM, username=SECRET_USERNAME, conn_country=SECRET_COUNTRY)


def export_zip() -> bytes:
    """Two files: a duplicate across them, a 5 s play, a podcast, a broken entry, a track with no URI."""
    first = [ext(0, "Hurt", "Johnny Cash", URI_HURT), ext(4, "Jolene", "Dolly Parton", URI_JOLENE, ms=5_000),
             podcast_entry(at(8)), {"ts": "2021-03-01T12:20:00Z", "ms_played": "oops"}]
    second = [ext(0, "Hurt", "Johnny Cash", URI_HURT), ext(12, "Home Recording", "Johnny Cash", None)]
    return make_zip({"Streaming_History_Audio_2021_0.json": to_json(first),
                     "Streaming_History_Audio_2021_1.json": to_json(second),
                     "Streaming_History_Video_2021.json": to_json([])})


def settings(tmp_path: Path) -> Settings:
    return Settings(discord_token="not-a-token", spotify_client_id="id", spotify_client_secret="secret-secret",
                    token_encryption_keys=(Fernet.generate_key().decode(),), database_path=str(tmp_path / "bot.db"),
                    spotify_redirect_uri="http://127.0.0.1:8765/callback", log_dir="")


@pytest.fixture
def importer(db: Database, tmp_path: Path) -> HistoryImporter:
    return HistoryImporter(db, settings(tmp_path))


def run_import(importer: HistoryImporter, data: bytes, name: str = "my_spotify_data.zip", member: int = MEMBER,
               **kwargs: Any):
    return importer.import_file_blocking(member, "Member", io.BytesIO(data), name, **kwargs)


def table_counts(db: Database) -> dict[str, int]:
    return {name: db.scalar(f"SELECT COUNT(*) FROM {name}") for name in db.table_names()}


def plays(db: Database, member: int = MEMBER) -> list[dict[str, Any]]:
    return db.query("SELECT played_at, track_id, ms_played, source, skipped FROM plays WHERE discord_id = ? "
                    "ORDER BY played_at", (member,))


def raw_database_bytes(db: Database, tmp_path: Path) -> bytes:
    """Every byte of the SQLite file; on PostgreSQL, every value of every row of every table."""
    if db.dialect.name == "sqlite":
        db.conn.execute("PRAGMA wal_checkpoint(FULL)")
        return b"".join(path.read_bytes() for path in tmp_path.glob("bot.db*"))
    return "\n".join(repr(row) for table in db.table_names() for row in db.query(f"SELECT * FROM {table}")).encode()


def test_plays_land_once_with_skips_marked_and_private_fields_never_stored(
        db: Database, importer: HistoryImporter, tmp_path: Path) -> None:
    summary = run_import(importer, export_zip())
    assert (summary.plays_added, summary.plays_already_there, summary.skips) == (3, 1, 1)
    assert (summary.entries_skipped_broken, summary.podcasts_ignored, summary.files_read) == (1, 1, 2)
    assert summary.first_played_at == at(0, 40).timestamp() and summary.last_played_at == at(12, 40).timestamp()
    assert "Imported 3 plays from 2 files" in summary.message and "shorter than 30 seconds" in summary.message
    assert "1 damaged entry" in summary.message and "1 podcast" in summary.message

    stored = plays(db)
    home = local_id(track_key("Johnny Cash", "Home Recording"))
    assert [(p["track_id"], p["ms_played"], p["source"], p["skipped"]) for p in stored] == [
        (URI_HURT[14:], 200_000, "import", 0), (URI_JOLENE[14:], 5_000, "import", 1), (home, 200_000, "import", 0)]
    assert db.get_user(MEMBER)["link_state"] == "none"
    hurt = db.tracks_by_id([URI_HURT[14:]])[URI_HURT[14:]]
    assert (hurt["name"], hurt["artist_name"], hurt["album_name"]) == ("Hurt", "Johnny Cash", "Some Album")

    raw = raw_database_bytes(db, tmp_path)
    for secret in (SECRET_IP, SECRET_PLATFORM, SECRET_USERNAME, "QZ\x00", b"trackdone".decode()):
        assert secret.encode() not in raw, secret
    assert b"Johnny Cash" in raw  # the check above can see text in the file at all


def test_importing_the_same_file_again_adds_nothing(db: Database, importer: HistoryImporter) -> None:
    run_import(importer, export_zip())
    before = table_counts(db)
    again = run_import(importer, export_zip())
    assert (again.plays_added, again.plays_already_there) == (0, 4)
    assert "already here" in again.message
    assert table_counts(db) == before


def test_account_data_then_extended_history_does_not_count_a_play_twice(
        db: Database, importer: HistoryImporter) -> None:
    account = to_json([account_entry(at(0, 40), "Hurt", "Johnny Cash"), account_entry(at(30), "Jolene", "Dolly Parton")])
    assert run_import(importer, account, "StreamingHistory_music_0.json").plays_added == 2
    extended = to_json([ext(0, "Hurt", "Johnny Cash", URI_HURT), ext(29, "Jolene", "Dolly Parton", URI_JOLENE, seconds=50),
                        ext(60, "Jolene", "Dolly Parton", URI_JOLENE)])
    summary = run_import(importer, extended, "Streaming_History_Audio_2021.json")
    assert (summary.plays_added, summary.plays_already_there) == (1, 2)
    assert len(plays(db)) == 3


def test_a_play_already_synced_from_spotify_is_not_imported_again(db: Database, importer: HistoryImporter) -> None:
    db.ensure_user(MEMBER)
    db.upsert_tracks([{"track_id": URI_HURT[14:], "name": "Hurt", "artist_name": "Johnny Cash", "artist_id": "realartist"}])
    synced_at = int(at(0, 41.5).timestamp() * 1000)
    db.insert_plays(MEMBER, [(synced_at, URI_HURT[14:], None, "spotify", 0)])
    summary = run_import(importer, to_json([ext(0, "Hurt", "Johnny Cash", URI_HURT)]), "Streaming_History_Audio_1.json")
    assert (summary.plays_added, summary.plays_already_there) == (0, 1)
    # the synced track keeps its real artist: the import does not overwrite it with a name-only one
    assert db.tracks_by_id([URI_HURT[14:]])[URI_HURT[14:]]["artist_id"] == "realartist"


def test_rapid_repeats_in_one_file_are_all_kept(db: Database, importer: HistoryImporter) -> None:
    entries = [ext(0, "Hurt", "Johnny Cash", URI_HURT, ms=10_000, seconds=s) for s in (5, 20, 35)]
    assert run_import(importer, to_json(entries), "Streaming_History_Audio_1.json").plays_added == 3


def test_an_unlinked_member_who_imported_counts_in_community_features(db: Database, importer: HistoryImporter) -> None:
    db.ensure_user(OTHER, "Linked friend")
    db.add_guild_member(GUILD, OTHER)
    run_import(importer, export_zip(), guild_id=GUILD)
    who = db.whoknows(GUILD, "Johnny Cash")
    assert [(row["discord_id"], row["plays"]) for row in who] == [(MEMBER, 2)]
    assert MEMBER in db.visible_members(GUILD)
    counts = {(row["discord_id"], row["key"]): row["plays"] for row in db.play_counts(db.visible_members(GUILD), "artists")}
    assert counts == {(MEMBER, "johnny cash"): 2}  # the 5 s Jolene is a skip, not a listen


async def test_undo_removes_imported_plays_only(db: Database, importer: HistoryImporter) -> None:
    db.ensure_user(MEMBER)
    db.upsert_tracks([{"track_id": "syncedtrack", "name": "Song", "artist_name": "Band"}])
    db.insert_plays(MEMBER, [(1_700_000_000_000, "syncedtrack", 180_000, "spotify", 0)])
    summary = await importer.import_file(MEMBER, "Member", io.BytesIO(export_zip()), "my_spotify_data.zip")
    assert summary.plays_added == 3
    changed: list[int] = []
    importer.on_change.append(changed.append)
    assert await importer.undo(MEMBER) == 3
    assert [(p["track_id"], p["source"]) for p in plays(db)] == [("syncedtrack", "spotify")]
    assert changed == [MEMBER]
    assert await importer.undo(MEMBER) == 0


def test_erasing_a_member_removes_everything_imported(db: Database, importer: HistoryImporter) -> None:
    run_import(importer, export_zip(), guild_id=GUILD)
    importer.create_upload_link(MEMBER, GUILD)
    db.erase_user(MEMBER)
    for table, column in USER_TABLES:
        assert db.scalar(f"SELECT COUNT(*) FROM {table} WHERE {column} = ?", (MEMBER,)) == 0, table


BAD_FILES: list[tuple[bytes, str, str]] = [
    (b"GIF89a not an export", "cat.gif", "isn't a zip or a JSON file"),
    (make_zip({"Userdata.json": b"{}"}), "data.zip", "couldn't find any listening history"),
    (to_json([ext(0, "Hurt", "Johnny Cash", URI_HURT)])[:-30], "Streaming_History_Audio_1.json", "damaged"),
    (to_json([{"ts": 1}, "junk"]), "Streaming_History_Audio_1.json", "None of the 2 entries"),
    (make_zip({"Streaming_History_Audio_1.json": to_json([ext(50, "Hurt", "Johnny Cash", URI_HURT)]),
               "Streaming_History_Audio_2.json": to_json([extended_entry(at(51), "A", "B", username="someone_else")])}),
     "mixed.zip", "two different Spotify accounts"),
    (to_json([podcast_entry(at(0))]), "Streaming_History_Audio_1.json", "only has podcasts"),
]


@pytest.mark.parametrize(("data", "name", "words"), BAD_FILES,
                         ids=["not-export", "no-history", "malformed", "all-broken", "two-accounts", "podcasts"])
def test_a_bad_file_is_explained_and_changes_nothing(db: Database, importer: HistoryImporter, data: bytes,
                                                     name: str, words: str) -> None:
    run_import(importer, export_zip())
    before = table_counts(db)
    with pytest.raises(BadImportFile) as caught:
        run_import(importer, data, name, member=OTHER, guild_id=GUILD)
    assert words in caught.value.user_message
    assert table_counts(db) == before


def test_a_too_big_file_is_refused_and_changes_nothing(db: Database, tmp_path: Path) -> None:
    from utils.sources.export_reader import ImportLimits

    small = HistoryImporter(db, settings(tmp_path), limits=ImportLimits(max_upload_bytes=1000))
    before = table_counts(db)
    with pytest.raises(BadImportFile, match="too big"):
        run_import(small, to_json([ext(n, "Hurt", "Johnny Cash", URI_HURT) for n in range(10)]), "x.json")
    assert table_counts(db) == before


def test_a_failure_while_storing_leaves_nothing_behind(db: Database, importer: HistoryImporter,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    before = table_counts(db)

    def broken(*_args: object) -> None:
        raise RuntimeError("disk trouble")

    monkeypatch.setattr(db, "record_import", broken)
    with pytest.raises(RuntimeError):
        run_import(importer, export_zip(), guild_id=GUILD)
    assert table_counts(db) == before


# -- upload links ---------------------------------------------------------------------------------------------

def link_token(url: str) -> str:
    assert url.startswith("http://127.0.0.1:8765/import/")
    return url.rsplit("/", 1)[-1]


def test_an_upload_link_is_bound_to_the_member_stored_hashed_and_spent_only_on_success(
        db: Database, importer: HistoryImporter, tmp_path: Path) -> None:
    token = link_token(importer.create_upload_link(MEMBER, GUILD, "Member"))
    assert len(token) >= 40
    assert token.encode() not in raw_database_bytes(db, tmp_path)
    assert db.scalar("SELECT COUNT(*) FROM auth_states WHERE state_hash = ?", (hash_token(token),)) == 1
    link = importer.check_upload_link(token)
    assert (link.discord_id, link.guild_id, link.display_name) == (MEMBER, GUILD, "Member")

    with pytest.raises(BadImportFile):  # the wrong file: the member may try again
        importer.import_upload(token, io.BytesIO(b"not a zip"), "notes.txt")
    assert importer.check_upload_link(token).discord_id == MEMBER

    summary = importer.import_upload(token, io.BytesIO(export_zip()), "my_spotify_data.zip")
    assert summary.plays_added == 3 and MEMBER in db.visible_members(GUILD)
    with pytest.raises(LinkExpired):
        importer.check_upload_link(token)
    with pytest.raises(LinkExpired):
        importer.import_upload(token, io.BytesIO(export_zip()), "my_spotify_data.zip")


def test_a_link_survives_a_failed_store(db: Database, importer: HistoryImporter, monkeypatch: pytest.MonkeyPatch) -> None:
    token = link_token(importer.create_upload_link(MEMBER, None))
    monkeypatch.setattr(db, "record_import", lambda *_a: (_ for _ in ()).throw(RuntimeError("disk trouble")))
    with pytest.raises(RuntimeError):
        importer.import_upload(token, io.BytesIO(export_zip()), "x.zip")
    assert importer.check_upload_link(token).discord_id == MEMBER


@pytest.mark.parametrize("make", [
    lambda imp, db: "made-up-token-" + "x" * 30,
    lambda imp, db: "",
    lambda imp, db: link_token(HistoryImporter(db, imp.settings, link_ttl_seconds=-1).create_upload_link(MEMBER, None)),
    lambda imp, db: (db.ensure_user(MEMBER), db.create_state(hash_token("oauth-state-abc"), "oauth", MEMBER, None, 600),
                     "oauth-state-abc")[-1],
], ids=["unknown", "empty", "expired", "other-purpose"])
def test_unusable_links_are_refused(db: Database, importer: HistoryImporter,
                                    make: Callable[[HistoryImporter, Database], str]) -> None:
    token = make(importer, db)
    before = table_counts(db)
    with pytest.raises(LinkExpired) as caught:
        importer.import_upload(token, io.BytesIO(export_zip()), "x.zip")
    assert "expired" in caught.value.user_message
    assert table_counts(db) == before


# -- resolving local tracks (optional, off the import path) ---------------------------------------------------------

def test_local_tracks_are_resolved_to_spotify_ids_by_search(db: Database, importer: HistoryImporter,
                                                            fake_spotify: Any, make_client: Any) -> None:
    catalogue = fake_spotify.catalogue
    track = next(iter(catalogue.tracks.values()))
    artist = catalogue.artists[track.artist_ids[0]].name
    entries = [account_entry(at(0), track.name, artist), account_entry(at(10), track.name, artist),
               account_entry(at(20), "No Such Song Anywhere", "Nobody Known")]
    run_import(importer, to_json(entries), "StreamingHistory_music_0.json")
    client, _box = make_client("alice")
    assert resolve_local_tracks(db, client, limit=10) == 1
    assert sorted(p["track_id"] for p in plays(db)) == sorted(
        [track.id, track.id, local_id(track_key("Nobody Known", "No Such Song Anywhere"))])
    assert db.tracks_by_id([local_id(track_key(artist, track.name))]) == {}
    assert db.tracks_by_id([track.id])[track.id]["artist_id"] == track.artist_ids[0]
