"""Saving playlists when Spotify fails part-way, and the Save button: what the member is told, and what ends up in
their (fake) Spotify account."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.cogs.support import BotWorld, components, custom_id, embed_text
from utils.sources import spotify_client


def shown_track_ids(message: dict[str, Any]) -> list[str]:
    """The Spotify track ids a /recommend message lists, in order."""
    lines = message["embeds"][0]["description"].splitlines()
    return [line.split("open.spotify.com/track/")[1].split(")")[0] for line in lines if "open.spotify.com/track/" in line]


def playlist_ids(world: BotWorld, owner: str) -> list[list[str]]:
    """Every playlist in the member's fake Spotify, as the track ids it holds."""
    return [[uri.rsplit(":", 1)[1] for uri in p.uris] for p in world.spotify.playlists.values() if p.owner == owner]


def save_button(world: BotWorld, message: dict[str, Any]) -> dict[str, Any]:
    current = world.discord.message(message["id"])
    return next(c for c in components(current) if c.get("custom_id") == custom_id(message, "Save as playlist")
                or c.get("label") in ("Saving\u2026", "Saved"))


def a_minute_passes(world: BotWorld) -> None:
    """/playlist's one-minute cooldown is over (a failed save keeps it)."""
    world.bot.get_command("playlist")._buckets._cache.clear()


async def press_save(world: BotWorld, message: dict[str, Any], who: str) -> str:
    press = await world.discord.click(world.discord.message(message["id"]), custom_id(message, "Save as playlist"),
                                      world.user(who))
    return embed_text((await press.wait_followups(1, timeout=30))[0])


async def test_songs_that_could_not_be_added_go_into_the_same_playlist_next_time(linked: BotWorld) -> None:
    linked.spotify.fail_next("/v1/playlists/", 500, count=50)  # making the playlist works; adding songs fails
    text = embed_text(await linked.answer(await linked.slash("bob", "playlist", {"source": "top_medium"}), timeout=30))
    (made,) = linked.spotify.playlists.values()
    assert "I made the playlist **[Your top tracks of the last 6 months" in text
    assert f"](https://open.spotify.com/playlist/{made.id})**" in text
    assert "couldn't add the songs: Spotify isn't answering" in text
    assert "Save again in a few minutes and I'll fill the same playlist" in text
    assert "error id" not in text and made.uris == ()
    assert len(linked.spotify.requests_to(f"/v1/playlists/{made.id}/items", "POST")) == 1  # a 500 is not retried

    linked.spotify.clear_failures()
    a_minute_passes(linked)
    again = await linked.answer(await linked.slash("bob", "playlist", {"source": "top_medium"}), timeout=30)
    assert "Playlist saved" in embed_text(again)
    assert components(again)[0]["url"] == f"https://open.spotify.com/playlist/{made.id}"
    assert playlist_ids(linked, "bob") == [linked.spotify.top_tracks("bob", "medium_term")[:50]]


async def test_save_button_after_a_long_slow_down_fills_the_playlist_it_made(linked: BotWorld) -> None:
    message = await linked.answer(await linked.slash("alice", "recommend", {"count": 5}))
    linked.spotify.fail_next("/v1/playlists/", 429, retry_after=3600)
    text = await press_save(linked, message, "alice")
    assert "I made the playlist **[Recommended for you" in text
    assert "Spotify asked me to slow down. Run `/playlist last` in about an hour and I'll fill the same playlist" in text
    assert save_button(linked, message)["label"] == "Save as playlist"
    assert not save_button(linked, message).get("disabled")  # the member can try again
    assert playlist_ids(linked, "alice") == [[]]

    spotify_client.reset_stats()  # the hour passes
    text = await press_save(linked, message, "alice")
    assert "Playlist saved" in text and "5 songs" in text
    assert playlist_ids(linked, "alice") == [shown_track_ids(message)]
    await linked.wait_for(lambda: save_button(linked, message)["label"] == "Saved", "the button to say Saved")
    assert save_button(linked, message)["disabled"]


async def test_new_picks_in_between_still_fill_the_half_made_playlist(linked: BotWorld) -> None:
    await linked.answer(await linked.slash("alice", "recommend", {"count": 4}))
    linked.spotify.fail_next("/v1/playlists/", 503, count=50)
    text = embed_text(await linked.answer(await linked.slash("alice", "playlist", {"source": "last"}), timeout=30))
    assert "couldn't add the songs" in text
    newer = await linked.answer(await linked.slash("alice", "recommend", {"count": 3, "mode": "discover"}))
    linked.spotify.clear_failures()
    a_minute_passes(linked)
    text = embed_text(await linked.answer(await linked.slash("alice", "playlist", {"source": "last"}), timeout=30))
    assert "Playlist saved" in text
    assert playlist_ids(linked, "alice") == [shown_track_ids(newer)]


async def test_a_create_spotify_may_have_done_is_not_repeated(linked: BotWorld) -> None:
    linked.spotify.fail_next("/v1/me/playlists", 502)
    text = embed_text(await linked.answer(await linked.slash("bob", "playlist", {"source": "top_short"}), timeout=30))
    assert "Spotify didn't tell me in time whether it made the playlist **Your top tracks of the last 4 weeks" in text
    assert "Have a look in your Spotify: if it isn't there, save again in a few minutes." in text
    assert len(linked.spotify.requests_to("/v1/me/playlists", "POST")) == 1


async def test_save_on_an_older_message_saves_the_songs_it_shows(linked: BotWorld) -> None:
    first = await linked.answer(await linked.slash("alice", "recommend", {"count": 5, "mode": "familiar"}))
    second = await linked.answer(await linked.slash("alice", "recommend", {"count": 3, "mode": "discover"}))
    assert shown_track_ids(first) != shown_track_ids(second)
    text = await press_save(linked, first, "alice")
    assert "Playlist saved" in text and "5 songs" in text
    assert playlist_ids(linked, "alice") == [shown_track_ids(first)]


async def test_a_double_press_saves_once(linked: BotWorld) -> None:
    linked.spotify.set_delay(0.3)
    message = await linked.answer(await linked.slash("bob", "recommend", {"count": 5}))
    cid = custom_id(message, "Save as playlist")
    # both presses reach the bot before it has answered either (a fast double click)
    first, second = await asyncio.gather(linked.discord.click(message, cid, linked.user("bob")),
                                         linked.discord.click(message, cid, linked.user("bob")))
    answers = [embed_text((await first.wait_followups(1, timeout=20))[0]),
               embed_text(await second.wait_original(timeout=20))]
    linked.spotify.set_delay(0)
    assert "Playlist saved" in answers[0]
    assert "already saving this to your Spotify" in answers[1]
    assert playlist_ids(linked, "bob") == [shown_track_ids(message)]
    await linked.wait_for(lambda: save_button(linked, message)["label"] == "Saved", "the button to say Saved")
    assert save_button(linked, message)["disabled"]


async def test_the_save_button_greys_out_at_once(linked: BotWorld) -> None:
    linked.spotify.set_delay(0.5)
    message = await linked.answer(await linked.slash("bob", "recommend", {"count": 3}))
    press = await linked.discord.click(message, custom_id(message, "Save as playlist"), linked.user("bob"))
    response = await press.wait_response()
    assert response["type"] == 7 and response["elapsed"] < 1  # the message itself is updated, before any saving
    assert save_button(linked, message)["label"] == "Saving\u2026" and save_button(linked, message)["disabled"]
    await press.wait_followups(1, timeout=20)
    linked.spotify.set_delay(0)
    assert len(linked.spotify.playlists) == 1


async def test_two_saves_at_once_fill_a_half_made_playlist_once(linked: BotWorld) -> None:
    message = await linked.answer(await linked.slash("alice", "recommend", {"count": 5}))
    linked.spotify.fail_next("/v1/playlists/", 500, count=50)
    text = embed_text(await linked.answer(await linked.slash("alice", "playlist", {"source": "last"}), timeout=30))
    assert "couldn't add the songs" in text
    (half_made,) = linked.spotify.playlists.values()
    linked.spotify.clear_failures()
    a_minute_passes(linked)

    linked.spotify.set_delay(0.3)  # the Save button and /playlist last, both before either is answered
    press = await linked.discord.click(message, custom_id(message, "Save as playlist"), linked.user("alice"))
    slash = await linked.slash("alice", "playlist", {"source": "last"})
    answers = [embed_text((await press.wait_followups(1, timeout=30))[0]), embed_text(await linked.answer(slash, timeout=30))]
    linked.spotify.set_delay(0)
    assert all("Playlist saved" in answer for answer in answers)
    assert linked.spotify.playlists[half_made.id].uris and all(  # every song once, in every playlist
        len(songs) == len(set(songs)) == 5 for songs in playlist_ids(linked, "alice"))


@pytest.mark.parametrize("disconnect_first", [True, False])
async def test_after_linking_another_spotify_account_saving_makes_a_new_playlist(world: BotWorld,
                                                                                disconnect_first: bool) -> None:
    await world.link("bob")
    world.spotify.fail_next("/v1/playlists/", 500, count=50)
    text = embed_text(await world.answer(await world.slash("bob", "playlist", {"source": "top_short"}), timeout=30))
    assert "couldn't add the songs" in text
    (old,) = world.spotify.playlists.values()
    world.spotify.clear_failures()

    if disconnect_first:
        await world.answer(await world.slash("bob", "disconnect"))
    await world.link("bob", spotify_user="carol")  # their other Spotify account
    a_minute_passes(world)
    text = embed_text(await world.answer(await world.slash("bob", "playlist", {"source": "top_short"}), timeout=30))
    assert "Playlist saved" in text
    (saved,) = playlist_ids(world, "carol")  # in the account linked now
    assert len(saved) == len(set(saved)) > 0
    assert not world.spotify.requests_to(f"/v1/playlists/{old.id}", "GET")  # the old account's playlist is forgotten


@pytest.mark.parametrize("refused", ["GET", "POST"])  # Spotify won't show it, or won't let the member add to it
async def test_a_half_made_playlist_spotify_refuses_is_replaced_by_a_new_one(linked: BotWorld, refused: str) -> None:
    linked.spotify.fail_next("/v1/playlists/", 500, count=50)
    embed_text(await linked.answer(await linked.slash("bob", "playlist", {"source": "top_short"}), timeout=30))
    (old,) = linked.spotify.playlists.values()
    linked.spotify.clear_failures()
    linked.spotify.fail_next(f"/v1/playlists/{old.id}", 403, count=50, method=refused)
    a_minute_passes(linked)
    text = embed_text(await linked.answer(await linked.slash("bob", "playlist", {"source": "top_short"}), timeout=30))
    assert "Playlist saved" in text
    (new,) = [p for p in linked.spotify.playlists.values() if p.id != old.id]
    assert [uri.rsplit(":", 1)[1] for uri in new.uris] == linked.spotify.top_tracks("bob", "short_term")[:50]
    linked.spotify.clear_failures()
    a_minute_passes(linked)  # and it stays forgotten: the next save makes its own playlist without asking about it
    linked.spotify.clear_log()
    await linked.answer(await linked.slash("bob", "playlist", {"source": "top_short"}), timeout=30)
    assert not linked.spotify.requests_to(f"/v1/playlists/{old.id}")


async def test_a_half_made_blend_is_filled_by_a_new_blend_of_the_same_members(linked: BotWorld) -> None:
    """The blend's Save button stops after 10 minutes, so the words name a way that works in an hour."""
    message = await linked.answer(await linked.slash("alice", "blend", {"member1": linked.user("bob")}))
    linked.spotify.fail_next("/v1/playlists/", 429, retry_after=3600)
    press = await linked.discord.click(message, custom_id(message, "Save to my Spotify"), linked.user("alice"))
    text = embed_text((await press.wait_followups(1, timeout=30))[0])
    assert ("Spotify asked me to slow down. Run `/blend` with the same members in about an hour and save it, "
            "and I'll fill the same playlist instead of making a new one.") in text
    (half_made,) = linked.spotify.playlists.values()

    spotify_client.reset_stats()  # the hour passes; the first message's button has stopped long ago
    again = await linked.answer(await linked.slash("alice", "blend", {"member1": linked.user("bob")}))
    press = await linked.discord.click(again, custom_id(again, "Save to my Spotify"), linked.user("alice"))
    assert "Playlist saved" in embed_text((await press.wait_followups(1, timeout=30))[0])
    assert list(linked.spotify.playlists) == [half_made.id] and linked.spotify.playlists[half_made.id].uris
