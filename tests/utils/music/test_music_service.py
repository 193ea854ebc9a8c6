"""MusicService over real stored listening (synced from the fake Spotify over HTTP, or imported)."""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import sqlite3
import threading
import time

import pytest

from storage.keys import artist_key
from tests.utils.services_support import (  # noqa: F401 - the `services` fixture
    GUILD,
    IDS,
    Services,
    known_track_keys,
    ms,
    services_fixture,
    sync_members,
)
from utils.errors import NotEnoughData


async def test_profile_shows_synced_favourites(services: Services) -> None:
    (alice,) = await sync_members(services, ("alice",))
    profile = await services.music.profile(alice, "short_term")
    fake_top = services.fake.top_artists("alice", "short_term")
    assert profile.linked and profile.total_plays == 50 and profile.imported_plays == 0
    assert [a.spotify_id for a in profile.top_artists] == fake_top[: len(profile.top_artists)]
    assert profile.top_tracks[0].url == f"https://open.spotify.com/track/{profile.top_tracks[0].spotify_id}"
    assert profile.genres and profile.since is not None
    with pytest.raises(NotEnoughData):
        await services.music.profile(4242, "short_term")


async def test_top_all_time_and_a_year_count_imported_plays(services: Services) -> None:
    plays = [("Old Band", "First Song", ms(2019, 3, d)) for d in range(1, 6)]
    plays += [("Old Band", "Second Song", ms(2019, 4, 1)), ("New Band", "Fresh", ms(2021, 5, 1)),
              ("New Band", "Fresh", ms(2021, 5, 2)), ("New Band", "Fresh", ms(2021, 5, 3))]
    services.add_imported(77, "Importer", plays)
    year = await services.music.top(77, "tracks", "2019")
    assert [(i.name, i.plays) for i in year] == [("First Song", 5), ("Second Song", 1)]
    assert year[0].uri is None  # known by name only: can't go into a Spotify playlist
    all_time = await services.music.top(77, "artists", "all_time")
    assert [(i.name, i.plays) for i in all_time] == [("Old Band", 6), ("New Band", 3)]
    with pytest.raises(NotEnoughData):
        await services.music.top(77, "tracks", "2005")


async def test_recommend_skips_what_you_know_and_what_you_turned_down(services: Services) -> None:
    alice, *_ = await sync_members(services)
    services.fake.clear_log()
    first = await services.music.recommend(alice, GUILD, count=10)
    assert services.fake.request_log == []  # enough is stored: no Spotify on the normal path
    keys = [r.item.key for r in first.items]
    assert len(keys) == 10 and len(set(keys)) == 10
    assert not set(keys) & known_track_keys(services, alice)
    assert all(r.reason for r in first.items)
    await services.music.feedback(alice, keys[0], "track", -1)
    disliked_artist = artist_key(first.items[1].item.artist_name or "")
    await services.music.feedback(alice, disliked_artist, "artist", -1)
    second = await services.music.recommend(alice, GUILD, count=10)
    again = [r.item.key for r in second.items]
    assert keys[0] not in again
    assert all(k.split(" - ")[0] != disliked_artist for k in again)
    saved = services.db.last_recommendations(alice)
    assert [entry["key"] for entry in saved["items"]] == again


async def test_what_you_play_after_a_sync_leaves_your_next_recommendations(services: Services) -> None:
    alice, *_ = await sync_members(services)
    # hidden, she is out of the server's model: her own stored listening is what keeps known songs out
    await services.privacy.set_visibility(alice, True)
    first = await services.music.recommend(alice, GUILD, count=10)
    heard = first.items[0].item
    services.fake.add_play("alice", heard.spotify_id, int(time.time() * 1000))
    assert (await services.sync.sync_member(alice, force=True)).status == "synced"
    second = await services.music.recommend(alice, GUILD, count=10)
    assert heard.key not in [r.item.key for r in second.items]


async def test_a_member_asking_again_is_answered_from_stored_data_read_once(services: Services) -> None:
    alice, *_ = await sync_members(services)
    first = await services.music.recommend(alice, GUILD, count=10)
    reads = services.music.personal.misses
    again = await services.music.recommend(alice, GUILD, count=10)
    assert [r.item.key for r in again.items] == [r.item.key for r in first.items]
    assert services.music.personal.misses == reads and services.music.personal.hits >= 1


async def test_no_artist_fills_the_list(services: Services) -> None:
    ids = await sync_members(services)
    caps = {"balanced": 2, "discover": 1, "familiar": 3}
    for member in ids:
        for mode, cap in caps.items():
            recs = await services.music.recommend(member, GUILD, count=15, mode=mode)
            per_artist = collections.Counter(artist_key(r.item.artist_name or "") for r in recs.items)
            assert max(per_artist.values()) <= cap, (mode, per_artist.most_common(2))


async def test_server_of_one_gets_catalogue_recommendations(services: Services) -> None:
    alice = services.link("alice", guild=7777)
    await services.sync.sync_member(alice)
    services.fake.clear_log()
    recs = await services.music.recommend(alice, 7777, count=10)
    assert len(recs.items) >= 5 and recs.note
    assert not {r.item.key for r in recs.items} & known_track_keys(services, alice)
    assert all(r.source == "catalogue" for r in recs.items)
    assert all(r.item.url and r.item.url.startswith("https://open.spotify.com/track/") for r in recs.items)
    calls = [r for r in services.fake.request_log if r.path.startswith("/v1/")]
    assert len(calls) <= 8 + 4  # the look-up cap (album tracks may take a second page)
    # the next time, what was looked up is stored: no Spotify needed
    services.fake.clear_log()
    await services.music.recommend(alice, 7777, count=5)
    assert len([r for r in services.fake.request_log if r.path.startswith("/v1/")]) <= 8


async def test_recommend_note_when_the_owner_turned_server_features_off(services: Services) -> None:
    await sync_members(services, ("alice", "bob", "carol"))
    assert (await services.music.recommend(IDS["alice"], GUILD, count=5)).note is None  # three members share
    services.music.settings = services.community.access.settings = dataclasses.replace(services.settings, feature_community=False)
    recs = await services.music.recommend(IDS["alice"], GUILD, count=5)
    assert recs.note == "Server features are off for this bot, so these come from your own listening."


async def test_closing_waits_for_engine_work_before_the_database_closes(services: Services) -> None:
    ids = await sync_members(services)
    services.music.invalidate()  # nothing cached: every request reads the database on an engine thread
    requests = [asyncio.ensure_future(services.music.recommend(m, GUILD, count=10)) for m in ids * 6]
    await asyncio.sleep(0.02)
    await asyncio.to_thread(services.community.workers.close)
    busy = [t.name for t in threading.enumerate() if t.name.startswith(("engine", "fit"))]
    assert busy == []  # nothing is left reading or writing the database it is about to lose
    services.db.close()
    for outcome in await asyncio.gather(*requests, return_exceptions=True):
        assert not isinstance(outcome, sqlite3.Error), outcome


async def test_a_genre_found_for_one_song_is_not_given_to_the_artists_other_songs(services: Services) -> None:
    from utils.community.model import artist_of
    from utils.music.recommend import load_personal

    alice, *_ = await sync_members(services)
    plain = load_personal(services.db, alice, time.time(), {})
    artist, tracks = next((a, ts) for a, ts in plain.catalogue.items() if len(ts) >= 2)
    found = load_personal(services.db, alice, time.time(), {"sea shanty": [tracks[0]]})
    assert "sea shanty" in found.genres[tracks[0]]
    assert all("sea shanty" not in found.genres[t] for t in tracks[1:] if artist_of(t) == artist)


async def test_reasons_can_name_a_liked_song_as_song_by_artist(services: Services) -> None:
    from utils.music.recommend import load_personal

    alice, bob = await sync_members(services, ("alice", "bob"))
    liked = sorted(known_track_keys(services, bob) - known_track_keys(services, alice))[0]
    await services.music.feedback(alice, liked, "track", 1)
    row = services.db.tracks_by_key([liked])[liked]
    labels = load_personal(services.db, alice, time.time()).labels
    assert labels[liked] == f"{row['name']} by {row['artist_name']}"
