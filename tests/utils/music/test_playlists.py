"""PlaylistService: saving recommendations, top tracks and blends to the fake Spotify over HTTP."""

from __future__ import annotations

import asyncio

import pytest

from tests.utils.services_support import (  # noqa: F401 - the `services` fixture
    GUILD,
    IDS,
    Services,
    known_track_keys,
    ms,
    services_fixture,
    sync_members,
)
from utils.errors import BotError, NotLinked


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


async def test_searching_spotify_for_songs_known_by_name_holds_no_database_thread(services: Services) -> None:
    """A save that searches Spotify for many songs (slowly) must leave every database thread free for the
    commands other members run meanwhile."""
    import time

    from storage.keys import track_key

    alice, *_ = await sync_members(services)
    unknown = [(f"Nobody {i}", f"Unknown Song {i}", ms(2020, 1, 1 + i)) for i in range(8)]
    services.add_imported(alice, "Alice", unknown)
    known = services.db.query("SELECT name_key FROM tracks WHERE track_id NOT LIKE 'local:%' LIMIT 1")[0]["name_key"]
    services.db.save_last_recommendations(alice, {"items": [{"key": known}] + [
        {"key": track_key(artist, title)} for artist, title, _ in unknown]})
    services.fake.set_delay(0.4)  # each search takes a while: eight of them, over 3 s
    services.fake.clear_log()
    save = asyncio.create_task(services.playlists.save_playlist(alice, "last"))
    while not services.fake.requests_to("/v1/search"):
        await asyncio.sleep(0.02)
    # Every database thread asked for 0.5 s of work at once: 0.5 s if all are free, 1 s if one is searching.
    threads = services.db._pool._max_workers
    started = time.monotonic()
    await asyncio.gather(*(services.db.run(time.sleep, 0.5) for _ in range(threads)))
    took = time.monotonic() - started
    assert not save.done(), "the searches were meant to still be running"
    assert took < 0.85, f"a database thread was busy searching Spotify ({took:.2f} s)"
    result = await save
    assert result.track_count == 1
