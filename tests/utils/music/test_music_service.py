"""MusicService over real stored listening (synced from the fake Spotify over HTTP, or imported)."""

from __future__ import annotations

import asyncio
import calendar
import collections
import dataclasses
import sqlite3
import threading
import time

import pytest

from storage.keys import artist_key
from tests.utils.services_support import GUILD, IDS, Services, services_fixture  # noqa: F401 - the `services` fixture
from utils.errors import BotError, NotEnoughData, NotLinked

MEMBERS = ("alice", "bob", "carol", "dave", "erin")


async def sync_members(svc: Services, names: tuple[str, ...] = MEMBERS) -> list[int]:
    ids = [svc.link(n) for n in names]
    for discord_id in ids:
        assert (await svc.sync.sync_member(discord_id)).status == "synced"
    return ids


def known_track_keys(svc: Services, discord_id: int) -> set[str]:
    rows = svc.db.query("SELECT t.name_key FROM plays p JOIN tracks t ON t.track_id = p.track_id WHERE p.discord_id = ? "
                        "UNION SELECT t.name_key FROM top_tracks x JOIN tracks t ON t.track_id = x.track_id "
                        "WHERE x.discord_id = ?", (discord_id, discord_id))
    return {r["name_key"] for r in rows}


def ms(year: int, month: int, day: int) -> int:
    return calendar.timegm((year, month, day, 12, 0, 0)) * 1000


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


async def test_hidden_member_is_never_shown_counted_or_named(services: Services) -> None:
    alice, bob, *_ = await sync_members(services)
    await services.privacy.set_visibility(bob, True)
    for mode in ("balanced", "discover", "familiar"):
        recs = await services.music.recommend(alice, GUILD, count=15, mode=mode)
        assert not any("Bob" in r.reason for r in recs.items)
    model = services.community.models.get(services.db, GUILD, services.db.visible_members(GUILD), 0)
    assert bob not in model.members
    # bob's own favourite artist: whoknows and the server top must not count him
    bob_artist = services.fake.catalogue.artists[services.fake.top_artists("bob", "medium_term")[0]].name
    _, entries = await services.community.whoknows(GUILD, bob_artist)
    assert bob not in [e.discord_id for e in entries]
    listeners_now = {i.key: i.listeners for i in await services.community.server_top(GUILD, "artists", "medium_term")}
    await services.privacy.set_visibility(bob, False)
    listeners_shown = {i.key: i.listeners for i in await services.community.server_top(GUILD, "artists", "medium_term")}
    assert listeners_shown[artist_key(bob_artist)] == listeners_now.get(artist_key(bob_artist), 0) + 1
    # a hidden member still gets their own recommendations
    await services.privacy.set_visibility(bob, True)
    own = await services.music.recommend(bob, GUILD, count=5)
    assert own.items and not set(r.item.key for r in own.items) & known_track_keys(services, bob)
    with pytest.raises(BotError):
        await services.community.taste(GUILD, alice, bob)


async def test_taste_is_symmetric_and_between_0_and_100(services: Services) -> None:
    alice, bob, carol, *_ = await sync_members(services)
    ab, ba = await services.community.taste(GUILD, alice, bob), await services.community.taste(GUILD, bob, alice)
    assert ab.score == ba.score and 0 <= ab.score <= 100
    assert {i.key for i in ab.shared_artists} == {i.key for i in ba.shared_artists}
    assert "Alice" in ab.summary and "Bob" in ab.summary
    ac = await services.community.taste(GUILD, alice, carol)
    assert 0 <= ac.score <= 100


async def test_blend_represents_every_member(services: Services) -> None:
    ids = await sync_members(services)
    result = await services.community.blend(GUILD, ids, size=10)
    assert len(result.items) == 10 and sorted(result.members) == sorted(ids)
    represented = {m for _, who in result.items for m in who}
    assert represented == set(ids)


async def test_saving_a_blend_saves_the_songs_shown_unless_someone_hid_since(services: Services) -> None:
    alice, bob = await sync_members(services, ("alice", "bob"))
    shown = await services.community.blend(GUILD, [alice, bob], asker=alice)
    assert len(shown.items) == 30
    names = {alice: "Alice", bob: "Bob"}
    saved = await services.playlists.save_blend(alice, GUILD, shown, names)
    assert saved.name.startswith("Blend: Alice, Bob \u00b7 ") and saved.track_count == 30
    assert list(services.fake.playlists[saved.playlist_id].uris) == [item.uri for item, _ in shown.items]
    await services.privacy.set_visibility(bob, True)
    with pytest.raises(BotError, match="Bob keeps their listening private"):
        await services.playlists.save_blend(alice, GUILD, shown, names)
    assert len(services.fake.playlists) == 1


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


async def test_server_features_can_be_turned_off(services: Services) -> None:
    await sync_members(services, ("alice", "bob"))
    assert await services.community.server_top(GUILD, "artists", "short_term")
    await services.community.access.set_community(GUILD, False)
    with pytest.raises(BotError, match="turned off"):
        await services.community.server_top(GUILD, "artists", "short_term")
    with pytest.raises(BotError, match="turned off"):
        await services.community.whoknows(GUILD, "anyone")
    # personal recommendations keep working without the community, and say why they are personal only
    recs = await services.music.recommend(IDS["alice"], GUILD, count=5)
    assert recs.items and recs.note == "Server features are off here, so these come from your own listening."


async def test_recommend_note_when_the_owner_turned_server_features_off(services: Services) -> None:
    await sync_members(services, ("alice", "bob", "carol"))
    assert (await services.music.recommend(IDS["alice"], GUILD, count=5)).note is None  # three members share
    services.music.settings = services.community.access.settings = dataclasses.replace(services.settings, feature_community=False)
    recs = await services.music.recommend(IDS["alice"], GUILD, count=5)
    assert recs.note == "Server features are off for this bot, so these come from your own listening."


async def test_save_playlist_creates_it_with_the_right_items_in_order_chunked(services: Services) -> None:
    alice, *_ = await sync_members(services)
    rows = services.db.query("SELECT name_key FROM tracks WHERE track_id NOT LIKE 'local:%' ORDER BY track_id LIMIT 130")
    keys = [r["name_key"] for r in rows]
    assert len(keys) == 130
    services.add_imported(alice, "Alice", [("Local Only", "Demo Tape", ms(2020, 1, 1))])
    payload = {"items": [{"key": k} for k in keys[:60]] + [{"key": "local only - demo tape"}] +
               [{"key": k} for k in keys[60:]]}
    services.db.save_last_recommendations(alice, payload)
    services.fake.clear_log()
    result = await services.playlists.save_playlist(alice, "last", name="Test mix")
    playlist = services.fake.playlists[result.playlist_id]
    expected = [f"spotify:track:{services.db.tracks_by_key([k])[k]['track_id']}" for k in keys]
    assert list(playlist.uris) == expected
    assert playlist.public is False and playlist.owner == "alice" and playlist.name == "Test mix"
    assert result.track_count == 130 and result.skipped_local == 1
    assert len(services.fake.requests_to(f"/v1/playlists/{result.playlist_id}/items", "POST")) == 2
    with pytest.raises(NotLinked):
        await services.playlists.save_playlist(77, "last")


async def test_weekly_digest_and_server_recommendations(services: Services) -> None:
    await sync_members(services)
    digest = await services.community.weekly_digest(GUILD)
    assert digest.guild_id == GUILD and digest.top_artists
    assert len(digest.recommendations) <= 5
    server = await services.community.server_recommend(GUILD, count=8)
    assert 0 < len(server.items) <= 8
    assert await services.music.artist_names(digest.top_artists[0].name[:3])


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


async def test_forget_during_a_failing_save_is_not_an_error(services: Services) -> None:
    """/privacy forget while a save is under way: the half-made playlist is not remembered for an erased member."""
    (bob,) = await sync_members(services, ("bob",))
    services.fake.set_delay(0.4)
    services.fake.fail_next("/v1/playlists/", 500, count=50)  # the playlist is made, the songs can't be added
    save = asyncio.create_task(services.playlists.save_playlist(bob, "top_short"))
    for _ in range(200):
        if services.fake.requests_to("/v1/me/playlists", "POST"):
            break
        await asyncio.sleep(0.02)
    await services.privacy.forget(bob)
    with pytest.raises(BotError) as caught:
        await save
    services.fake.set_delay(0)
    assert "couldn't add the songs" in caught.value.user_message
    assert services.db.get_user(bob) is None and services.db.last_recommendations(bob) is None
