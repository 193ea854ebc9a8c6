"""Behaviour of the database queries a member would notice, on real SQLite files (no mocks)."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from database import Database
from storage.keys import artist_key, local_id, normalise, track_key

GUILD = 900_000_000_000_000_001
OTHER_GUILD = 900_000_000_000_000_002


def add_artist(db: Database, artist_id: str, name: str, genres: list[str] | None = None) -> None:
    db.upsert_artists([{"artist_id": artist_id, "name": name, "genres": genres or [], "fetched_at": time.time()}])


def add_track(db: Database, track_id: str, name: str, artist_id: str | None, artist_name: str) -> None:
    db.upsert_tracks([{"track_id": track_id, "name": name, "artist_id": artist_id, "artist_name": artist_name,
                       "album_name": "Album", "duration_ms": 200_000}])


def listen(db: Database, discord_id: int, track_id: str, times: int, *, start_ms: int = 1_700_000_000_000,
           skipped: int = 0, source: str = "spotify") -> int:
    db.ensure_user(discord_id, f"user{discord_id}")
    plays = [(start_ms + i * 60_000, track_id, 180_000, source, skipped) for i in range(times)]
    return db.insert_plays(discord_id, plays)



# -- names in any script ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("first", "second"), [
    ("夜に駆ける", "群青"),  # Japanese
    ("ハート", "バート"),  # differ only by a dakuten
    ("Кино", "Ария"),  # Cyrillic
    ("Мой", "Мои"),  # "й" is a letter of its own
    ("방탄소년단", "블랙핑크"),  # Korean
    ("عمرو دياب", "فيروز"),  # Arabic
    ("Μάνος", "Νίκος"),  # Greek
    ("🔥", "💧"),  # only emoji
    ("!!!", "???"),  # only punctuation
    ("Røyksopp", "Ryksopp"),  # letters ASCII has not are kept
    ("Straße", "Strae"),
])
def test_different_names_in_any_script_keep_different_keys(first: str, second: str) -> None:
    assert normalise(first) and normalise(second)
    assert normalise(first) != normalise(second)
    assert track_key("YOASOBI", first) != track_key("YOASOBI", second)


@pytest.mark.parametrize(("one", "other"), [
    ("Beyoncé", "Beyonce"), ("BEYONCÉ", "beyonce"), ("Sigur Rós", "sigur ros"), ("Straße", "STRASSE"),
    ("Ｙｏａｓｏｂｉ", "YOASOBI"), ("Ёлка", "Елка"), ("Μάνος", "ΜΑΝΟΣ"), ("Song (feat. Drake)", "song"),
    ("hello_world", "Hello World!"), ("夜に駆ける", " 夜に駆ける "),
])
def test_spellings_of_one_name_share_a_key(one: str, other: str) -> None:
    assert normalise(one) == normalise(other)


@pytest.mark.parametrize("name", ["夜に駆ける", "AC/DC", "a - b", " - ", "- - -", "? - !", "🔥 - 🔥", "(feat. X)",
                                  "Beyoncé", "", "Мой - Мои"])
def test_a_key_part_never_holds_the_track_key_separator_and_is_stable(name: str) -> None:
    key = normalise(name)
    assert " - " not in key
    assert normalise(key) == key  # keys are normalised again in places (artist_key of a stored key)
    assert track_key(name, name).split(" - ", 1)[0] == key  # what artist_of() does


def test_two_japanese_titled_songs_by_one_artist_stay_two_songs(db: Database) -> None:
    add_artist(db, "ar_yoa", "YOASOBI")
    add_track(db, "tr_yoru", "夜に駆ける", "ar_yoa", "YOASOBI")
    add_track(db, "tr_gun", "群青", "ar_yoa", "YOASOBI")
    listen(db, 1, "tr_yoru", 3)
    listen(db, 1, "tr_gun", 2, start_ms=1_800_000_000_000)

    counts = {r["key"]: r["plays"] for r in db.play_counts([1], "tracks")}
    assert counts == {track_key("YOASOBI", "夜に駆ける"): 3, track_key("YOASOBI", "群青"): 2}
    assert [(r["name"], r["plays"]) for r in db.yearly_counts(1, "tracks", None)] == [("夜に駆ける", 3), ("群青", 2)]
    found = db.tracks_by_key(counts)
    assert {k: row["track_id"] for k, row in found.items()} == {
        track_key("YOASOBI", "夜に駆ける"): "tr_yoru", track_key("YOASOBI", "群青"): "tr_gun"}
    assert sorted(db.catalogue_for_artists(["yoasobi"])["yoasobi"]) == sorted(counts)


def test_two_cyrillic_artists_stay_two_artists_in_top_artists_and_whoknows(db: Database) -> None:
    add_artist(db, "ar_kino", "Кино")
    add_artist(db, "ar_aria", "Ария")
    add_track(db, "tr_kino", "Группа крови", "ar_kino", "Кино")
    add_track(db, "tr_aria", "Беспечный ангел", "ar_aria", "Ария")
    kino_fan, aria_fan = 1, 2
    listen(db, kino_fan, "tr_kino", 5)
    listen(db, aria_fan, "tr_aria", 3)
    db.set_guild_members(GUILD, [kino_fan, aria_fan])

    assert {(r["discord_id"], r["key"], r["plays"]) for r in db.play_counts([kino_fan, aria_fan], "artists")} == {
        (kino_fan, "кино", 5), (aria_fan, "ария", 3)}
    assert [(r["key"], r["plays"]) for r in db.yearly_counts(kino_fan, "artists", None)] == [("кино", 5)]
    assert [(r["discord_id"], r["plays"]) for r in db.whoknows(GUILD, "Кино")] == [(kino_fan, 5)]
    assert [(r["discord_id"], r["plays"]) for r in db.whoknows(GUILD, "АРИЯ")] == [(aria_fan, 3)]
    assert db.whoknows(GUILD, "") == []  # the key every non-Latin name used to share
    assert db.known_artist_names("ки") == ["Кино"]
    assert sorted(db.artists_by_key(["кино", "ария"])) == ["ария", "кино"]


def test_an_accented_name_still_matches_its_plain_spelling(db: Database) -> None:
    add_artist(db, "ar_bey", "Beyoncé")
    add_track(db, "tr_halo", "Halo", "ar_bey", "Beyoncé")
    local = {"track_id": local_id(track_key("Beyonce", "Halo")), "name": "Halo", "artist_name": "Beyonce"}
    db.upsert_tracks([local])  # the same song, imported under a plainer spelling
    listen(db, 1, "tr_halo", 2)
    listen(db, 1, local["track_id"], 1, start_ms=1_800_000_000_000, source="import")
    db.set_guild_members(GUILD, [1])

    assert track_key("Beyoncé", "Halo") == track_key("Beyonce", "Halo") == "beyonce - halo"
    assert [(r["key"], r["plays"]) for r in db.play_counts([1], "tracks")] == [("beyonce - halo", 3)]
    assert [(r["key"], r["plays"]) for r in db.play_counts([1], "artists")] == [("beyonce", 3)]
    assert [r["plays"] for r in db.whoknows(GUILD, "beyonce")] == [3]
    assert db.tracks_by_key(["beyonce - halo"])["beyonce - halo"]["track_id"] == "tr_halo"


def test_whoknows_play_counts_and_yearly_counts_agree_on_an_artist_without_an_artist_row(db: Database) -> None:
    add_artist(db, "ar_kino", "Кино")
    add_track(db, "tr_blood", "Группа крови", "ar_kino", "Кино")
    add_track(db, "tr_star", "Звезда по имени Солнце", None, "КИНО")  # no artist row: known by its name only
    listen(db, 1, "tr_blood", 2)
    listen(db, 1, "tr_star", 3, start_ms=1_800_000_000_000)
    db.set_guild_members(GUILD, [1])

    key = artist_key("Кино")
    assert [(r["key"], r["plays"]) for r in db.play_counts([1], "artists")] == [(key, 5)]
    assert [(r["discord_id"], r["plays"]) for r in db.whoknows(GUILD, "кино")] == [(1, 5)]
    assert [(r["key"], r["plays"]) for r in db.yearly_counts(1, "artists", None)] == [(key, 5)]
    assert [(r["key"], r["plays"]) for r in db.yearly_counts(1, "artists", 2027)] == [(key, 3)]


# -- whoknows and visible members ------------------------------------------------------------------


def test_whoknows_ranks_by_listens_then_top_rank_and_leaves_out_hidden_and_outsiders(db: Database) -> None:
    add_artist(db, "ar_x", "The Examples")
    add_artist(db, "ar_y", "Someone Else")
    add_track(db, "tr_x1", "Song One", "ar_x", "The Examples")
    add_track(db, "tr_y1", "Other Song", "ar_y", "Someone Else")
    heavy, light, fan_only, hidden, outsider, other_artist = 1, 2, 3, 4, 5, 6
    listen(db, heavy, "tr_x1", 10)
    listen(db, light, "tr_x1", 3)
    listen(db, light, "tr_x1", 20, start_ms=1_800_000_000_000, skipped=1)  # skips are not listens
    db.ensure_user(fan_only)
    db.store_sync(fan_only, artists=[], tracks=[], top_tracks={}, top_artists={"short_term": ["ar_y", "ar_x"]},
                  plays=[], recent_cursor_ms=None, synced_at=time.time())
    listen(db, hidden, "tr_x1", 50)
    db.set_hidden(hidden, True)
    listen(db, outsider, "tr_x1", 40)
    listen(db, other_artist, "tr_y1", 30)
    db.set_guild_members(GUILD, [heavy, light, fan_only, hidden, other_artist])
    db.set_guild_members(OTHER_GUILD, [outsider])

    rows = db.whoknows(GUILD, "the examples!")  # typed loosely: matched by normalised name
    assert [(r["discord_id"], r["plays"], r["best_rank"]) for r in rows] == [
        (heavy, 10, None), (light, 3, None), (fan_only, 0, 2)]
    assert db.whoknows(GUILD, "Nobody Plays This") == []
    assert [r["discord_id"] for r in db.whoknows(GUILD, "The Examples", limit=1)] == [heavy]

    db.set_hidden(hidden, False)
    assert db.whoknows(GUILD, "The Examples")[0]["discord_id"] == hidden


def test_visible_members_need_data_and_not_hidden(db: Database) -> None:
    add_artist(db, "ar_x", "The Examples")
    add_track(db, "tr_x1", "Song One", "ar_x", "The Examples")
    with_plays, with_tops, hidden, no_data, elsewhere = 11, 12, 13, 14, 15
    listen(db, with_plays, "tr_x1", 1)
    db.ensure_user(with_tops)
    db.store_sync(with_tops, artists=[], tracks=[], top_tracks={"long_term": ["tr_x1"]}, top_artists={}, plays=[],
                  recent_cursor_ms=None, synced_at=time.time())
    listen(db, hidden, "tr_x1", 1)
    db.set_hidden(hidden, True)
    db.ensure_user(no_data)
    listen(db, elsewhere, "tr_x1", 1)
    db.set_guild_members(GUILD, [with_plays, with_tops, hidden, no_data, 99])  # 99: never used the bot
    db.add_guild_member(OTHER_GUILD, elsewhere)

    assert db.visible_members(GUILD) == [with_plays, with_tops]
    assert db.visible_members(OTHER_GUILD) == [elsewhere]
    db.remove_guild_member(GUILD, with_tops)
    assert db.visible_members(GUILD) == [with_plays]
    db.set_guild_members(GUILD, [no_data])  # replaces the list
    assert db.visible_members(GUILD) == []


# -- single-use states ------------------------------------------------------------------------------


def test_state_can_be_spent_once(db: Database) -> None:
    db.ensure_user(1)
    db.create_state("hash-a", "connect", 1, GUILD, ttl_seconds=600)
    assert db.peek_state("hash-a", "connect")[0] == "ok"
    status, row = db.spend_state("hash-a", "connect")
    assert status == "ok" and row is not None and row["discord_id"] == 1 and row["guild_id"] == GUILD
    assert db.spend_state("hash-a", "connect")[0] == "used"
    assert db.peek_state("hash-a", "connect")[0] == "used"


def test_state_expired_unknown_or_wrong_purpose(db: Database) -> None:
    db.ensure_user(1)
    db.create_state("hash-old", "connect", 1, None, ttl_seconds=-1)
    assert db.spend_state("hash-old", "connect")[0] == "expired"
    assert db.spend_state("hash-old", "connect")[0] == "expired"  # an expired link never becomes usable
    assert db.spend_state("no-such-hash", "connect") == ("unknown", None)
    db.create_state("hash-up", "upload", 1, None, ttl_seconds=600)
    assert db.spend_state("hash-up", "connect")[0] == "unknown"  # a state only works for its own purpose
    assert db.spend_state("hash-up", "upload")[0] == "ok"


async def test_state_spent_by_many_at_once_succeeds_once(db: Database) -> None:
    import asyncio

    db.ensure_user(1)
    db.create_state("hash-race", "connect", 1, None, ttl_seconds=600)
    results = await asyncio.gather(*(db.run(db.spend_state, "hash-race", "connect") for _ in range(30)))
    statuses = [status for status, _ in results]
    assert statuses.count("ok") == 1 and statuses.count("used") == 29


# -- listening data -----------------------------------------------------------------------------------


def test_plays_are_stored_once(db: Database) -> None:
    add_track(db, "tr_1", "Song", None, "Artist")
    assert listen(db, 1, "tr_1", 5) == 5
    assert listen(db, 1, "tr_1", 5) == 0  # the same history synced again adds nothing
    assert listen(db, 1, "tr_1", 7) == 2
    plays = [(1_700_000_000_000, "tr_1", 1000), (1_900_000_000_000, "tr_1", 1000)]
    added = db.store_sync(1, artists=[], tracks=[], top_tracks={}, top_artists={}, plays=plays,
                          recent_cursor_ms=1_900_000_000_000, synced_at=time.time())
    assert added == 1
    assert db.load_profile(1)["totals"]["plays"] == 8
    assert listen(db, 2, "tr_1", 5) == 5  # another member's identical plays are theirs


def test_store_sync_replaces_top_lists_and_keeps_the_newest_cursor(db: Database) -> None:
    db.ensure_user(1)
    tracks = [{"track_id": f"tr_{c}", "name": f"Song {c}", "artist_id": "ar_1", "artist_name": "Artist"} for c in "abcd"]
    artists = [{"artist_id": "ar_1", "name": "Artist", "genres": ["pop"], "fetched_at": 1.0}]
    db.store_sync(1, artists=artists, tracks=tracks,
                  top_tracks={"short_term": ["tr_a", "tr_b", "tr_c"], "long_term": ["tr_d"]},
                  top_artists={"short_term": ["ar_1"]}, plays=[], recent_cursor_ms=500, synced_at=1000.0)
    db.store_sync(1, artists=[], tracks=[], top_tracks={"short_term": ["tr_c", "tr_d"]}, top_artists={},
                  plays=[], recent_cursor_ms=200, synced_at=2000.0)

    profile = db.load_profile(1)
    assert [(t["rank"], t["track_id"]) for t in profile["top_tracks"]["short_term"]] == [(1, "tr_c"), (2, "tr_d")]
    assert [t["track_id"] for t in profile["top_tracks"]["long_term"]] == ["tr_d"]  # ranges not sent stay
    assert [a["artist_id"] for a in profile["top_artists"]["short_term"]] == ["ar_1"]
    assert profile["user"]["last_synced_at"] == 2000.0
    assert profile["user"]["recent_cursor_ms"] == 500  # an older cursor never moves it back


def test_store_sync_is_all_or_nothing(db: Database) -> None:
    db.ensure_user(1)
    add_track(db, "tr_a", "A", None, "Artist")
    db.store_sync(1, artists=[], tracks=[], top_tracks={"short_term": ["tr_a"]}, top_artists={}, plays=[],
                  recent_cursor_ms=None, synced_at=1.0)
    with pytest.raises(ValueError):
        db.store_sync(1, artists=[], tracks=[], top_tracks={"short_term": [], "yearly": ["tr_a"]}, top_artists={},
                      plays=[(1, "tr_a", 1)], recent_cursor_ms=None, synced_at=2.0)
    profile = db.load_profile(1)
    assert [t["track_id"] for t in profile["top_tracks"]["short_term"]] == ["tr_a"]
    assert profile["totals"]["plays"] == 0 and profile["user"]["last_synced_at"] == 1.0


@pytest.mark.parametrize("local_first", [True, False])
def test_tracks_by_key_prefers_the_real_spotify_track(db: Database, local_first: bool) -> None:
    key = track_key("The Examples", "Song One")
    local = {"track_id": local_id(key), "name": "Song One", "artist_name": "The Examples"}
    real = {"track_id": "6rqhFgbbKwnb9MLmUQDhG6", "name": "Song One (feat. Guest)", "artist_name": "The Examples",
            "artist_id": "ar_x", "image_url": "http://img.example/1.jpg"}
    db.upsert_tracks([local, real] if local_first else [real, local])
    found = db.tracks_by_key([key, key, "nobody - nothing"])
    assert list(found) == [key]
    assert found[key]["track_id"] == "6rqhFgbbKwnb9MLmUQDhG6"
    assert found[key]["image_url"] == "http://img.example/1.jpg"


def test_load_profile_contents(db: Database) -> None:
    db.ensure_user(1, "Alice")
    db.set_link_state(1, "linked", spotify_user_id="alice_sp", spotify_display_name="Alice S")
    add_artist(db, "ar_1", "Artist One", ["indie", "rock"])
    add_track(db, "tr_1", "First", "ar_1", "Artist One")
    add_track(db, "tr_2", "Second", "ar_1", "Artist One")
    db.store_sync(1, artists=[], tracks=[], top_tracks={"medium_term": ["tr_2", "tr_1"]},
                  top_artists={"long_term": ["ar_1"]}, plays=[(1_000, "tr_1", 100), (3_000, "tr_2", 100)],
                  recent_cursor_ms=3_000, synced_at=10.0)
    db.insert_plays(1, [(2_000, "tr_1", 100, "import", 0), (4_000, "tr_2", 5, "spotify", 1)])

    profile = db.load_profile(1, recent_limit=3)
    assert profile["user"]["display_name"] == "Alice" and profile["user"]["link_state"] == "linked"
    assert profile["user"]["spotify_display_name"] == "Alice S"
    assert set(profile["top_tracks"]) == {"short_term", "medium_term", "long_term"}
    assert [(t["rank"], t["name"], t["artist_name"]) for t in profile["top_tracks"]["medium_term"]] == [
        (1, "Second", "Artist One"), (2, "First", "Artist One")]
    assert profile["top_tracks"]["short_term"] == []
    assert profile["top_artists"]["long_term"][0]["genres"] == ["indie", "rock"]
    assert [(p["played_at"], p["name"], p["source"]) for p in profile["recent"]] == [
        (4_000, "Second", "spotify"), (3_000, "Second", "spotify"), (2_000, "First", "import")]
    assert profile["totals"] == {"plays": 3, "first_played_at": 1_000, "imported": 1}  # skips not counted


def test_load_profile_of_a_stranger_is_empty(db: Database) -> None:
    profile = db.load_profile(12345)
    assert profile["user"] is None and profile["recent"] == []
    assert profile["totals"]["plays"] == 0
    assert all(items == [] for items in profile["top_tracks"].values())


def test_undo_imports_keeps_synced_plays(db: Database) -> None:
    add_track(db, "tr_1", "Song", None, "Artist")
    listen(db, 1, "tr_1", 4, source="import")
    listen(db, 1, "tr_1", 2, start_ms=1_800_000_000_000)
    db.record_import(1, "history.json", 4, 0)
    assert db.undo_imports(1) == 4
    assert db.load_profile(1)["totals"]["plays"] == 2
    assert db.export_user(1)["imports"] == []


# -- guild settings -------------------------------------------------------------------------------------


def test_guild_settings_defaults_updates_and_digest_list(db: Database) -> None:
    assert db.get_guild_settings(GUILD) == {"guild_id": GUILD, "community_enabled": 1, "digest_channel_id": None,
                                            "last_digest_at": None}
    db.update_guild_settings(GUILD, digest_channel_id=42)
    db.update_guild_settings(GUILD, last_digest_at=5.0)  # a second change keeps the first
    assert db.get_guild_settings(GUILD) == {"guild_id": GUILD, "community_enabled": 1, "digest_channel_id": 42,
                                            "last_digest_at": 5.0}
    db.update_guild_settings(OTHER_GUILD, digest_channel_id=43, community_enabled=0)
    assert [g["guild_id"] for g in db.digest_guilds()] == [GUILD]  # community off: no digest
    with pytest.raises(ValueError):
        db.update_guild_settings(GUILD, prefix="?")
    db.remove_guild(GUILD)
    assert db.get_guild_settings(GUILD)["digest_channel_id"] is None


def test_feedback_and_saved_recommendations(db: Database) -> None:
    db.set_feedback(1, "track", "a - b", 1)
    db.set_feedback(1, "track", "a - b", -1)
    db.set_feedback(1, "artist", "c", 1)
    assert db.get_feedback(1) == {"a - b": -1, "c": 1}
    assert db.last_recommendations(1) is None
    db.ensure_user(1)
    db.save_last_recommendations(1, {"items": ["x"]})
    db.save_last_recommendations(1, {"items": ["y"]})
    assert db.last_recommendations(1) == {"items": ["y"]}


# -- privacy: erasure and export --------------------------------------------------------------------------

ALICE = 111_111_111_111_111_111
BOB = 222_222_222_222_222_222
ACCESS_CIPHERTEXT = b"gAAAAA-access-ciphertext-alice"
REFRESH_CIPHERTEXT = b"gAAAAA-refresh-ciphertext-alice"


def fill_everything(db: Database, uid: int, tag: str) -> None:
    """Give one member a row in every table the bot has (shared tables are filled too)."""
    db.ensure_user(uid, f"name-{tag}")
    db.set_link_state(uid, "linked", spotify_user_id=f"sp-{tag}")
    access = ACCESS_CIPHERTEXT if uid == ALICE else b"gAAAAA-access-other"
    refresh = REFRESH_CIPHERTEXT if uid == ALICE else b"gAAAAA-refresh-other"
    db.save_tokens(uid, access, refresh, time.time() + 3600, "user-top-read")
    db.create_state(f"state-{tag}", "connect", uid, GUILD, ttl_seconds=600)
    artists = [{"artist_id": f"ar_{tag}", "name": f"Artist {tag}", "genres": ["pop"], "fetched_at": 1.0}]
    tracks = [{"track_id": f"tr_{tag}", "name": f"Song {tag}", "artist_id": f"ar_{tag}", "artist_name": f"Artist {tag}"}]
    db.store_sync(uid, artists=artists, tracks=tracks, top_tracks={"short_term": [f"tr_{tag}"]},
                  top_artists={"short_term": [f"ar_{tag}"]}, plays=[(1_000, f"tr_{tag}", 100)],
                  recent_cursor_ms=1_000, synced_at=time.time())
    db.insert_plays(uid, [(2_000, f"tr_{tag}", 100, "import", 0)])
    db.record_import(uid, "history.json", 1, 0)
    db.add_guild_member(GUILD, uid)
    db.set_feedback(uid, "track", f"artist {tag} - song {tag}", 1)
    db.save_last_recommendations(uid, {"items": [f"tr_{tag}"]})
    db.save_source_link(uid, "lastfm", f"fm_{tag}", f"SESSION-CIPHER-{tag}".encode())
    db.store_source_page(uid, "lastfm", [(10_000, f"Artist {tag}", f"Song {tag}", None, None)], cursor=10_000)
    db.save_song_match(f"artist {tag} - song {tag}", None)
    db.set_crown_settings(GUILD, threshold=1)
    db.save_crowns(GUILD, [(f"artist {tag}", uid, 2, 1.0)], [], [(f"artist {tag}", uid, None, 2, 1.0)])
    assert db.claim_sync(uid, f"process-{tag}", time.time() + 600, time.time())


def all_tables(db: Database) -> list[str]:
    return db.table_names()


def columns(db: Database, table: str) -> list[str]:
    return db.column_names(table)


def rows_mentioning(db: Database, uid: int) -> dict[str, int]:
    """Rows in any column of any table that hold the member's id, as a number or as text."""
    found: dict[str, int] = {}
    for table in all_tables(db):
        where = " OR ".join(f'CAST("{c}" AS TEXT) LIKE ?' for c in columns(db, table))  # numbers too
        params = [f"%{uid}%" for _ in columns(db, table)]
        count = db.scalar(f"SELECT COUNT(*) FROM {table} WHERE {where}", params)
        if count:
            found[table] = count
    return found


@pytest.fixture
def two_members(db: Database) -> Database:
    fill_everything(db, ALICE, "alice")
    fill_everything(db, BOB, "bob")
    db.update_guild_settings(GUILD, digest_channel_id=7)
    db.set_state("last_global_sync", 123)
    empty = [t for t in all_tables(db) if not db.scalar(f"SELECT COUNT(*) FROM {t}")]
    assert not empty, f"fill_everything must put rows in every table, also new ones: {empty}"
    return db


def test_erase_user_leaves_no_row_about_the_member_anywhere(two_members: Database) -> None:
    db = two_members
    bob_before = rows_mentioning(db, BOB)
    # Every table with a column naming a member must hold Alice's data before, or the check proves nothing.
    member_tables = {t for t in all_tables(db) if any(c in ("discord_id", "user_id") or c.endswith("_user_id")
                                                      for c in columns(db, t))}
    assert member_tables <= set(rows_mentioning(db, ALICE)), "a table naming members was not filled"

    db.erase_user(ALICE)

    assert rows_mentioning(db, ALICE) == {}
    assert rows_mentioning(db, BOB) == bob_before
    assert db.get_user(ALICE) is None and db.get_tokens(ALICE) is None
    assert db.load_profile(BOB)["totals"]["plays"] == 3  # synced, imported, scrobbled
    assert db.whoknows(GUILD, "Artist bob")[0]["discord_id"] == BOB


def test_erasing_a_member_unnames_them_in_crowns_taken_from_them(two_members: Database) -> None:
    db = two_members
    db.save_crowns(GUILD, [("artist alice", BOB, 3, 2.0)], [], [("artist alice", BOB, ALICE, 3, 2.0)])
    assert str(BOB) not in json.dumps(db.export_user(ALICE), default=str)  # the change is Bob's, not hers
    db.erase_user(ALICE)
    assert rows_mentioning(db, ALICE) == {}
    assert [(r["discord_id"], r["previous_id"]) for r in db.crown_changes_since(GUILD, 2.0)] == [(BOB, None)]


def test_erase_user_twice_or_unknown_is_harmless(two_members: Database) -> None:
    db = two_members
    db.erase_user(ALICE)
    db.erase_user(ALICE)
    db.erase_user(333)
    assert db.get_user(BOB) is not None


def test_export_holds_every_row_about_the_member_and_no_token(two_members: Database) -> None:
    db = two_members
    export = db.export_user(ALICE)
    text = json.dumps(export, default=str)  # a member receives it as a file: it must serialise
    for table in all_tables(db):
        if "discord_id" not in columns(db, table) or table == "tokens":
            continue
        held = db.scalar(f"SELECT COUNT(*) FROM {table} WHERE discord_id = ?", (ALICE,))
        assert len(export.get(table, [])) == held, f"export is missing rows of {table}"
    assert export["spotify_link"]["linked"] is True
    assert {t["track_id"] for t in export["tracks"]} == {"tr_alice"}
    assert ACCESS_CIPHERTEXT.decode() not in text and REFRESH_CIPHERTEXT.decode() not in text
    assert "state-alice" not in text  # the state hash is a secret too
    assert "SESSION-CIPHER" not in text and export["source_links"][0]["account_name"] == "fm_alice"
    assert str(BOB) not in text and "bob" not in text


@pytest.mark.sqlite_only("checks the file with SQLite's own tools")
def test_a_database_file_is_valid_sqlite_after_use(two_members: Database, tmp_path: Path) -> None:
    two_members.close()
    with sqlite3.connect(tmp_path / "bot.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


def test_play_counts_by_age_bands_plays_like_counting_each_window(db: Database) -> None:
    day = 86_400_000
    now = 1_800_000_000_000
    add_artist(db, "ar_1", "Band")
    add_track(db, "tr_1", "Song", "ar_1", "Band")
    for age_days, times in ((1, 3), (29, 1), (31, 2), (400, 4), (900, 5)):
        listen(db, 7, "tr_1", times, start_ms=now - age_days * day)
    listen(db, 7, "tr_1", 2, start_ms=now - 2 * day, skipped=1)  # skips never count
    cutoffs = [now - 30 * day, now - 90 * day, now - 730 * day]
    rows = db.play_counts_by_age([7], "tracks", cutoffs)
    assert {r["band"]: r["plays"] for r in rows} == {0: 4, 1: 2, 2: 4, 3: 5}
    assert {r["key"] for r in rows} == {track_key("Band", "Song")}
    windows = [(cutoffs[0], None), (cutoffs[1], cutoffs[0]), (cutoffs[2], cutoffs[1]), (0, cutoffs[2])]
    by_window = [sum(r["plays"] for r in db.play_counts([7], "artists", since, until)) for since, until in windows]
    artist_rows = db.play_counts_by_age([7], "artists", cutoffs)
    assert [sum(r["plays"] for r in artist_rows if r["band"] == b) for b in range(4)] == by_window
