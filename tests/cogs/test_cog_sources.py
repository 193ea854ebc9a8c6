"""Last.fm and ListenBrainz from Discord: /link, the browser round trip, the history, and every server feature."""

from __future__ import annotations

import asyncio
import json
import time

import requests

from fakes.listening_history import Scrobble
from storage.errors import DatabaseUnavailable
from tests.cogs.support import BotWorld, embed_text

NOW = int(time.time()) - 3_600  # recent, so it counts in "last 4 weeks" and "last 6 months"


def scrobbles_like(world: BotWorld, who: str, count: int = 300) -> list[Scrobble]:
    """Plays of the songs a Spotify-linked member plays, so both meet in the server's features."""
    member = world.user(who).id
    songs = world.db.query("SELECT DISTINCT t.artist_name, t.name FROM plays p JOIN tracks t USING (track_id) "
                           "WHERE p.discord_id = ? ORDER BY t.artist_name, t.name", (member,))
    return [Scrobble(NOW - i * 200, songs[i % len(songs)]["artist_name"], songs[i % len(songs)]["name"])
            for i in range(count)]


async def test_a_member_linking_last_fm_counts_in_every_server_feature(world: BotWorld) -> None:
    await world.link("alice")
    assert world.lastfm is not None
    world.lastfm.add_user("carol_fm", scrobbles_like(world, "alice"), now_playing=Scrobble(0, "Кино", "Кукушка"))
    reply = await world.link_lastfm("carol", "carol_fm")
    assert "Link your Last.fm" in embed_text(reply)
    link = await world.wait_history("carol", "lastfm")
    assert link["status"] == "current" and link["account_name"] == "carol_fm"
    carol = world.user("carol").id
    assert world.db.scalar("SELECT COUNT(*) FROM plays WHERE discord_id = ?", (carol,)) == 300
    # the member's own reply shows how it went
    edited = await world.wait_for(lambda: "whole history is in" in embed_text(
        world.discord.message(int(reply["id"])) or {}), "the reply to show the history is in")
    assert edited
    artist = scrobbles_like(world, "alice", 1)[0].artist
    whoknows = embed_text(await world.answer(await world.slash("bob", "whoknows", {"artist": artist})))
    assert "Carol" in whoknows and "Alice" in whoknows
    top = embed_text(await world.answer(await world.slash("bob", "server top", {"kind": "artists",
                                                                                 "range": "all_time"})))
    assert "2 listeners" in top  # Alice (Spotify) and Carol (Last.fm) both count
    taste = embed_text(await world.answer(await world.slash("alice", "taste", {"member": world.user("carol")})))
    assert "% match" in taste
    blend = embed_text(await world.answer(await world.slash("alice", "blend", {"member1": world.user("carol")})))
    assert "Alice, Carol" in blend
    picks = embed_text(await world.answer(await world.slash("carol", "recommend")))
    assert "↳" in picks
    profile = embed_text(await world.answer(await world.slash("carol", "profile")))
    assert "Last.fm" in profile and "300 plays stored" in profile


async def test_last_fm_callback_refuses_forged_reused_and_taken_links_and_stores_nothing(world: BotWorld) -> None:
    assert world.lastfm is not None
    world.lastfm.add_user("shared", [Scrobble(NOW, "Sigur Rós", "Hoppípolla")])
    callback = world.web.url + "/lastfm/callback"
    forged = requests.get(callback, params={"state": "made-up", "token": "x"}, timeout=10)
    assert forged.status_code == 400 and "recognise this link" in forged.text
    reply = await world.answer(await world.slash("alice", "link lastfm"))
    url = next(c["url"] for row in reply["components"] for c in row["components"] if c.get("url"))
    first = requests.get(url, params={"login_as": "shared"}, allow_redirects=False, timeout=10)
    back = first.headers["Location"]
    assert requests.get(back, timeout=10).status_code == 200
    reused = requests.get(back, timeout=10)
    assert reused.status_code == 410 and "already been used" in reused.text
    # bob tries to link the same Last.fm account: refused, told why, nothing stored for him
    reply = await world.answer(await world.slash("bob", "link lastfm"))
    url = next(c["url"] for row in reply["components"] for c in row["components"] if c.get("url"))
    taken = requests.get(url, params={"login_as": "shared"}, timeout=10)
    assert taken.status_code == 409 and "already linked to another Discord member" in taken.text
    assert world.db.source_link(world.user("bob").id, "lastfm") is None
    # unlink keeps the plays until /privacy forget, and says so
    await world.wait_history("alice", "lastfm")
    text = embed_text(await world.answer(await world.slash("alice", "unlink lastfm")))
    assert "unlinked" in text and "/privacy forget" in text
    assert world.db.source_link(world.user("alice").id, "lastfm") is None


async def test_listenbrainz_through_a_private_form(world: BotWorld) -> None:
    assert world.listenbrainz is not None
    token = world.listenbrainz.add_user("dora_lb", [Scrobble(NOW - i * 300, "YOASOBI", "夜に駆ける") for i in range(40)])
    record = await world.slash("bob", "link listenbrainz")
    response = await record.wait_response()
    assert response["type"] == 9 and response["data"]["title"] == "Link ListenBrainz"
    wrong = await world.discord.submit_modal(record, {"token": "not-a-token"})
    text = embed_text((await wrong.wait_followups(1))[0])
    assert "didn't accept that token" in text and "Nothing was saved" in text
    assert world.db.source_link(world.user("bob").id, "listenbrainz") is None
    record = await world.slash("bob", "link listenbrainz")
    await record.wait_response()
    right = await world.discord.submit_modal(record, {"token": token})
    message = (await right.wait_followups(1))[0]
    assert right.ephemeral and "Linked as **dora\\_lb**" in embed_text(message)
    await world.wait_history("bob", "listenbrainz")
    assert token not in json.dumps(world.db.query("SELECT * FROM source_links"))
    profile = embed_text(await world.answer(await world.slash("bob", "profile")))
    assert "40 plays stored" in profile and "ListenBrainz: last synced" in profile
    status = embed_text(await world.answer(await world.slash("alice", "status")))
    assert "ListenBrainz 1 linked, last sync" in status and "Last.fm No members linked yet" in status


async def test_no_last_fm_set_up_is_said_plainly(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.cogs.support import bot_world

    async with bot_world(tmp_path, lastfm_api_key="", lastfm_shared_secret="") as world:
        text = embed_text(await world.answer(await world.slash("alice", "link lastfm")))
        assert "This bot has no Last.fm set up" in text
        status = embed_text(await world.answer(await world.slash("alice", "status")))
        assert "Last.fm Not set up on this bot" in status and "LASTFM_" not in status  # words, not setting names


async def test_a_blend_with_a_last_fm_member_saves_their_songs_found_on_spotify(world: BotWorld) -> None:
    await world.link("alice")
    assert world.lastfm is not None
    known = {row["track_id"] for row in world.db.query("SELECT track_id FROM tracks")}
    catalogue = world.spotify.catalogue
    fresh = [t for t in catalogue.tracks.values() if t.id not in known][:12]
    songs = [(catalogue.artists[t.artist_ids[0]].name, t.name) for t in fresh]
    songs += [("Nobody Anywhere", "Song Spotify Lacks"), ("Кино", "Несуществующая песня")]
    world.lastfm.add_user("carol_fm", [Scrobble(NOW - i * 200, *songs[i % len(songs)]) for i in range(len(songs) * 6)])
    await world.link_lastfm("carol", "carol_fm")
    await world.wait_history("carol", "lastfm")
    message = await world.answer(await world.slash("alice", "blend", {"member1": world.user("carol")}))
    world.spotify.clear_log()
    save = await world.discord.click(message, next(c["custom_id"] for row in message["components"]
                                                   for c in row["components"] if c.get("label") == "Save to my Spotify"),
                                     world.user("alice"))
    saved = embed_text((await save.wait_followups(1, timeout=20))[0])
    assert "Playlist saved" in saved
    (playlist,) = world.spotify.playlists.values()
    found = {f"spotify:track:{t.id}" for t in fresh} & set(playlist.uris)
    assert found  # Carol's songs, known to the bot only by name, were found with Spotify's search
    searches = len(world.spotify.requests_to("/v1/search"))
    assert "2 songs I couldn't find on Spotify" in saved  # the two songs Spotify lacks, said plainly
    assert world.db.song_matches([songs[-1][0].casefold() + " - " + songs[-1][1].casefold()]) == {
        "кино - несуществующая песня": None}
    # saving again searches nothing: every answer, misses too, is remembered
    world.spotify.clear_log()
    again = await world.answer(await world.slash("alice", "blend", {"member1": world.user("carol")}))
    save = await world.discord.click(again, next(c["custom_id"] for row in again["components"]
                                                 for c in row["components"] if c.get("label") == "Save to my Spotify"),
                                     world.user("alice"))
    await save.wait_followups(1, timeout=20)
    assert searches and world.spotify.requests_to("/v1/search") == []


async def test_the_periodic_sync_brings_new_scrobbles(world: BotWorld) -> None:
    assert world.lastfm is not None
    world.lastfm.add_user("carol_fm", [Scrobble(NOW - 600, "Mø", "Lean On")])
    await world.link_lastfm("carol", "carol_fm")
    await world.wait_history("carol", "lastfm")
    world.lastfm.scrobble("carol_fm", Scrobble(NOW, "Mø", "Final Song"))
    await world.bot._scheduled_sync()
    carol = world.user("carol").id
    await world.wait_for(lambda: world.db.scalar("SELECT COUNT(*) FROM plays WHERE discord_id = ?", (carol,)) == 2,
                         "the new scrobble")


async def test_a_revoked_last_fm_link_is_told_to_the_member_and_late_or_refused_links_store_nothing(
        world: BotWorld) -> None:
    assert world.lastfm is not None
    world.lastfm.add_user("carol_fm", [Scrobble(NOW - 600, "Mø", "Lean On")])
    await world.link_lastfm("carol", "carol_fm")
    await world.wait_history("carol", "lastfm")
    world.lastfm.revoke("carol_fm")
    await world.bot._scheduled_sync()
    dm = await world.discord.wait_dm(world.user("carol"), lambda m: "stopped working" in embed_text(m))
    assert "Run `/link lastfm` to link again" in embed_text(dm)
    assert "Last.fm: link stopped working" in embed_text(await world.answer(await world.slash("carol", "profile")))
    # a late link: its 10 minutes are over
    reply = await world.answer(await world.slash("bob", "link lastfm"))
    url = next(c["url"] for row in reply["components"] for c in row["components"] if c.get("url"))
    world.db.conn.execute("UPDATE auth_states SET expires_at = 0 WHERE purpose = 'lastfm' AND used_at IS NULL")
    late = requests.get(url, params={"login_as": "carol_fm"}, timeout=10)
    assert late.status_code == 410 and "has expired" in late.text
    # Last.fm refuses the token (it waited too long on Last.fm's page): nothing stored, told what to do
    world.lastfm.add_user("bob_fm", [])
    reply = await world.answer(await world.slash("alice", "link lastfm"))  # (bob's /link lastfm is cooling down)
    url = next(c["url"] for row in reply["components"] for c in row["components"] if c.get("url"))
    first = requests.get(url, params={"login_as": "bob_fm"}, allow_redirects=False, timeout=10)
    world.lastfm.expire_tokens()
    refused = requests.get(first.headers["Location"], timeout=10)
    assert refused.status_code == 400 and "Nothing was saved" in refused.text and "/link lastfm" in refused.text
    assert world.db.source_link(world.user("alice").id, "lastfm") is None
    assert world.db.source_link(world.user("bob").id, "lastfm") is None


async def test_by_prefix_the_link_goes_to_dms_and_the_token_form_needs_the_slash_command(world: BotWorld) -> None:
    reply = await world.prefix("alice", "link lastfm")
    assert "private message with your link" in embed_text(reply)
    dm = await world.discord.wait_dm(world.user("alice"), lambda m: "Link your Last.fm" in embed_text(m))
    assert any(c.get("url", "").startswith(world.lastfm.auth_url) for row in dm["components"]  # type: ignore[union-attr]
               for c in row["components"])
    # allowed in the browser: the private message then follows the history, as the slash reply does
    world.lastfm.add_user("alice_fm", [Scrobble(NOW - i * 60, "Björk", "Jóga") for i in range(30)])  # type: ignore[union-attr]
    url = next(c["url"] for row in dm["components"] for c in row["components"] if c.get("url"))
    page = await asyncio.to_thread(requests.get, url, params={"login_as": "alice_fm"}, timeout=10)
    assert page.status_code == 200
    await world.wait_for(lambda: "whole history is in" in embed_text(world.discord.message(int(dm["id"])) or {}),
                         "the private message to show the history is in")
    text = embed_text(await world.prefix("bob", "link listenbrainz"))
    assert "Use the slash command `/link listenbrainz`" in text
    text = embed_text(await world.prefix("bob", "unlink lastfm"))
    assert "You have no Last.fm account linked." in text


async def test_a_listenbrainz_token_in_another_script_gets_a_plain_answer(world: BotWorld) -> None:
    record = await world.slash("bob", "link listenbrainz")
    await record.wait_response()
    pasted = await world.discord.submit_modal(record, {"token": "мой-токен"})
    text = embed_text((await pasted.wait_followups(1))[0])
    assert "didn't accept that token" in text and "Nothing was saved" in text
    assert world.db.source_link(world.user("bob").id, "listenbrainz") is None


async def test_an_unexpected_failure_behind_the_listenbrainz_form_is_said(world: BotWorld, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    async def broken(*_args: object) -> str:  # no fake reaches a bug of our own: stand one in
        raise RuntimeError("a bug")

    monkeypatch.setattr(world.services.sources, "link_listenbrainz", broken)
    record = await world.slash("bob", "link listenbrainz")
    await record.wait_response()
    submitted = await world.discord.submit_modal(record, {"token": "0b0b0b0b-1111-2222-3333-444455556666"})
    text = embed_text((await submitted.wait_followups(1))[0])
    assert "Something went wrong on my side (error id" in text and "a bug" not in text


async def test_a_last_fm_members_answers_say_when_they_were_synced(world: BotWorld) -> None:
    await world.link("alice")
    assert world.lastfm is not None
    world.lastfm.add_user("carol_fm", scrobbles_like(world, "alice"))
    await world.link_lastfm("carol", "carol_fm")
    await world.wait_history("carol", "lastfm")
    for command, options in (("top artists", {"range": "all_time"}), ("profile", {}), ("recommend", {})):
        text = embed_text(await world.answer(await world.slash("carol", command, options)))
        assert "Synced just now" in text and "Not synced" not in text, (command, text[-300:])


async def test_last_fm_down_at_the_link_back_says_to_ask_for_a_fresh_link(world: BotWorld) -> None:
    assert world.lastfm is not None
    world.lastfm.add_user("dora_fm", [Scrobble(NOW, "Sigur Rós", "Hoppípolla")])
    world.lastfm.fail_next(16, times=10, method="auth.getSession")  # down for every retry
    reply = await world.answer(await world.slash("carol", "link lastfm"))
    url = next(c["url"] for row in reply["components"] for c in row["components"] if c.get("url"))
    page = await asyncio.to_thread(requests.get, url, params={"login_as": "dora_fm"}, timeout=30)
    assert page.status_code == 502 and "Nothing was saved" in page.text
    assert "run /link lastfm to get a fresh link" in page.text  # this link is spent: reloading won't help
    assert world.db.source_link(world.user("carol").id, "lastfm") is None


async def test_a_history_longer_than_the_reply_can_follow_ends_with_a_direct_message(world: BotWorld,
                                                                                     monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Discord lets a reply be edited for 15 minutes; here the reply stops following after a second, and the
    history takes several (each page of it answered slowly)."""
    assert world.lastfm is not None and world.services.sources is not None
    monkeypatch.setattr(world.bot.get_cog("Sources"), "follow_for_seconds", 1.0)
    monkeypatch.setattr(world.services.sources.history, "reply_window_seconds", 1.0)
    world.lastfm.add_user("erin_fm", [Scrobble(NOW - i * 60, "Sigur Rós", f"Song {i % 30}") for i in range(1_000)])
    world.lastfm.delay = 1.5
    reply = await world.link_lastfm("carol", "erin_fm")
    carol = world.user("carol").id
    assert await world.wait_for(lambda: "send you a direct message when it's all in" in embed_text(
        world.discord.message(int(reply["id"])) or {}), "the reply to say a message will follow")
    assert not world.discord.dms(carol)  # still coming in: no message yet
    assert world.db.source_link(carol, "lastfm")["status"] == "backfill"
    # the promise is kept by the history's walk itself, not by whoever showed the reply (it holds after a restart)
    await world.bot.remove_cog("Sources")
    world.lastfm.delay = 0.0
    await world.wait_history("carol", "lastfm")
    message = await world.wait_for(lambda: [m for m in world.discord.dms(carol)
                                            if "Last.fm history is in" in embed_text(m)], "the direct message")
    assert "1,000 plays added" in embed_text(message[0])
    await asyncio.sleep(0.5)
    assert len([m for m in world.discord.dms(carol) if "history is in" in embed_text(m)]) == 1  # said once


async def test_a_short_history_sends_no_direct_message(world: BotWorld) -> None:
    assert world.lastfm is not None
    world.lastfm.add_user("fay_fm", [Scrobble(NOW - i * 60, "Sigur Rós", f"Song {i % 30}") for i in range(300)])
    reply = await world.link_lastfm("carol", "fay_fm")
    await world.wait_history("carol", "lastfm")
    assert await world.wait_for(lambda: "whole history is in" in embed_text(
        world.discord.message(int(reply["id"])) or {}), "the reply to show the history is in")
    assert not [m for m in world.discord.dms(world.user("carol").id) if "history is in" in embed_text(m)]


async def test_a_database_blip_while_the_reply_follows_a_history_does_not_stop_it(
        world: BotWorld, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    assert world.lastfm is not None
    world.lastfm.add_user("erin_fm", [Scrobble(NOW - i * 60, "Sigur Rós", f"Song {i % 30}") for i in range(1_000)])
    world.lastfm.delay = 1.0
    reply = await world.link_lastfm("carol", "erin_fm")
    assert await world.wait_for(lambda: "Bringing in your history" in embed_text(
        world.discord.message(int(reply["id"])) or {}), "the reply to show progress")
    real = world.db.source_link
    blips = [DatabaseUnavailable("away"), DatabaseUnavailable("away")]

    def sometimes_away(*args, **kwargs):  # type: ignore[no-untyped-def]
        if blips:  # the server is away for the next two looks (the walk itself read its link long before)
            raise blips.pop()
        return real(*args, **kwargs)

    monkeypatch.setattr(world.db, "source_link", sometimes_away)
    assert await world.wait_for(lambda: not blips, "the reply's follower to meet the blips")
    world.lastfm.delay = 0.0
    await world.wait_history("carol", "lastfm")
    assert await world.wait_for(lambda: "whole history is in" in embed_text(
        world.discord.message(int(reply["id"])) or {}), "the reply to show the history is in")
