"""Personal commands: profile, tops, recent, recommendations, playlists; buttons and selects."""

from __future__ import annotations

import threading
import time

import pytest

from cogs.ui import views
from database import Database
from tests.cogs.support import BotWorld, components, custom_id, embed_text


async def test_profile_time_range_select_switches_in_place(linked: BotWorld) -> None:
    record = await linked.slash("alice", "profile")
    message = await linked.answer(record)
    assert record.ephemeral
    embed = message["embeds"][0]
    assert embed["title"] == "Alice's music" and "Last 6 months" in embed["description"]
    assert embed["thumbnail"]["url"].startswith(linked.spotify.base_url + "image/")  # a cover on the image host
    assert embed["footer"]["text"] == "Synced just now"
    choice = await linked.discord.select(message, custom_id(message, kind=3), ["short_term"], linked.user("alice"))
    assert (await choice.wait_response())["type"] == 6
    await linked.wait_for(lambda: "Last 4 weeks" in linked.discord.message(message["id"])["embeds"][0]["description"],
                          "the profile to switch range")
    options = components(linked.discord.message(message["id"]))[0]["options"]
    assert [o["value"] for o in options if o.get("default")] == ["short_term"]


async def test_profile_of_another_member_and_of_a_hidden_one(linked: BotWorld) -> None:
    text = embed_text(await linked.answer(await linked.slash("alice", "profile", {"member": linked.user("bob")})))
    assert "Bob's music" in text
    await linked.answer(await linked.slash("bob", "privacy visibility", {"setting": "hide"}))
    text = embed_text(await linked.answer(await linked.slash("alice", "profile", {"member": linked.user("bob")})))
    assert "Bob keeps their listening private" in text


async def test_another_members_lists_follow_the_servers_features_switch(linked: BotWorld) -> None:
    """The connect page promises others see your lists only where server features are on."""
    assert "Bob's music" in embed_text(await linked.answer(await linked.slash("alice", "profile",
                                                                              {"member": linked.user("bob")})))
    await linked.prefix("alice", "settings community off")
    for command in ("profile", "top tracks"):
        text = embed_text(await linked.answer(await linked.slash("alice", command, {"member": linked.user("bob")})))
        assert "Server features are turned off here" in text and "Bob" not in text, command
    assert "Alice's music" in embed_text(await linked.answer(await linked.slash("alice", "profile")))


async def test_top_tracks_pages_with_buttons(linked: BotWorld) -> None:
    message = await linked.answer(await linked.slash("alice", "top tracks", {"range": "long_term"}))
    embed = message["embeds"][0]
    assert embed["title"] == "Your top tracks · Last year"
    assert embed["footer"]["text"].startswith("Page 1 of ")
    assert "open.spotify.com/track/" in embed["description"]
    labels = [c["label"] for c in components(message)]
    assert labels == ["First", "Previous", "Next", "Last"]
    press = await linked.discord.click(message, custom_id(message, "Next"), linked.user("alice"))
    assert (await press.wait_response())["type"] == 7
    page = linked.discord.message(message["id"])
    assert page["embeds"][0]["footer"]["text"].startswith("Page 2 of ")
    assert page["embeds"][0]["description"].startswith("`11.`")
    press = await linked.discord.click(page, custom_id(page, "Last"), linked.user("alice"))
    await press.wait_response()
    last = linked.discord.message(message["id"])
    total = last["embeds"][0]["footer"]["text"].split(" of ")[1].split(" ")[0]
    assert last["embeds"][0]["footer"]["text"].startswith(f"Page {total} of {total}")
    assert [c["disabled"] for c in components(last)] == [False, False, True, True]


async def test_pagination_refuses_another_member(linked: BotWorld) -> None:
    message = await linked.answer(await linked.slash("alice", "server top", {"kind": "tracks"}))
    before = message["embeds"][0]["footer"]["text"]
    press = await linked.discord.click(message, custom_id(message, "Next"), linked.user("bob"))
    refusal = await press.wait_original()
    assert "belong to the person who ran the command" in refusal["content"] and press.ephemeral
    assert linked.discord.message(message["id"])["embeds"][0]["footer"]["text"] == before


async def test_pagination_buttons_disable_themselves_on_time_out(linked: BotWorld,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(views, "VIEW_TIMEOUT", 0.3)
    message = await linked.answer(await linked.slash("alice", "top artists", {"range": "medium_term"}))
    await linked.wait_for(lambda: all(c.get("disabled") for c in components(linked.discord.message(message["id"]))),
                          "the buttons to grey out", timeout=5)
    with pytest.raises(PermissionError):
        await linked.discord.click(message, custom_id(message, "Next"), linked.user("alice"))


async def test_top_by_prefix_understands_words_and_refuses_unknown_ranges(linked: BotWorld) -> None:
    reply = await linked.prefix("alice", "top artists long")
    assert reply["embeds"][0]["title"] == "Your top artists · Last year"
    reply = await linked.prefix("alice", "top tracks forever")
    assert "I don't know the time range" in embed_text(reply)


async def test_range_autocomplete_offers_ranges_and_years(linked: BotWorld) -> None:
    record = await linked.discord.autocomplete(linked.user("alice"), linked.guild, linked.general, "top tracks",
                                               {"range": ""}, focused="range")
    choices = (await record.wait_response())["data"]["choices"]
    names = [c["name"] for c in choices]
    assert names[:4] == ["Last 4 weeks", "Last 6 months", "Last year", "All time"]
    assert any(c["value"].isdigit() for c in choices)
    year = next(c["value"] for c in choices if c["value"].isdigit())
    message = await linked.answer(await linked.slash("alice", "top tracks", {"range": year}))
    assert message["embeds"][0]["title"] == f"Your top tracks · {year}"


async def test_recent_plays(linked: BotWorld) -> None:
    message = await linked.answer(await linked.slash("bob", "recent"))
    embed = message["embeds"][0]
    assert embed["title"] == "Recently played" and "<t:" in embed["description"]


async def test_recommend_reasons_feedback_and_save(linked: BotWorld) -> None:
    record = await linked.slash("alice", "recommend", {"count": 5, "mode": "discover"})
    message = await linked.answer(record)
    embed = message["embeds"][0]
    assert embed["title"] == "Picked for you" and embed["description"].count("↳") == 5
    assert embed["footer"]["text"].startswith("Discover mode")
    pick = await linked.discord.select(message, custom_id(message, kind=3), ["1"], linked.user("alice"))
    assert "now press Like" in (await pick.wait_original())["content"]
    like = await linked.discord.click(message, custom_id(message, "Like"), linked.user("alice"))
    assert "Noted: you like" in (await like.wait_original())["content"]
    feedback = linked.db.get_feedback(linked.user("alice").id)
    assert list(feedback.values()) == [1]
    nope = await linked.discord.click(message, custom_id(message, "Not for me"), linked.user("alice"))
    assert "not for you" in (await nope.wait_original())["content"]
    save = await linked.discord.click(message, custom_id(message, "Save as playlist"), linked.user("alice"))
    saved = (await save.wait_followups(1, timeout=10))[0]
    assert "Playlist saved" in embed_text(saved)
    assert len(linked.spotify.playlists) == 1


async def test_recommend_by_prefix_has_buttons(linked: BotWorld) -> None:
    reply = await linked.prefix("bob", "recommend 3")
    assert reply["embeds"][0]["description"].count("↳") == 3
    assert {"Like", "Not for me", "Save as playlist"} <= {c.get("label") for c in components(reply)}
    reply = await linked.prefix("bob", "recommend 99")
    assert "Pick a number from 1 to 25" in embed_text(reply)


async def test_playlist_of_top_tracks(linked: BotWorld) -> None:
    message = await linked.answer(await linked.slash("bob", "playlist", {"source": "top_medium"}))
    assert "Playlist saved" in embed_text(message)
    assert components(message)[0]["url"].startswith("https://open.spotify.com/playlist/")
    again = await linked.answer(await linked.slash("bob", "playlist", {"source": "top_medium"}))
    assert "You can use this again in" in embed_text(again)


async def test_member_without_data_gets_told_what_to_do(world: BotWorld) -> None:
    for name, options in (("profile", None), ("top tracks", None), ("recommend", None), ("recent", None)):
        text = embed_text(await world.answer(await world.slash("carol", name, options)))
        assert ("/connect" in text or "/sync" in text or "/import" in text), (name, text)
        assert "error id" not in text


async def test_a_slow_spotify_still_gets_an_answer_within_three_seconds(linked: BotWorld) -> None:
    linked.spotify.set_delay(0.6)  # a sync makes 7+ calls: well over 3 s in all
    record = await linked.slash("alice", "sync")
    response = await record.wait_response()
    assert response["type"] == 5 and response["elapsed"] < 3
    message = (await record.wait_followups(1, timeout=30))[0]
    assert "Up to date" in embed_text(message)


async def test_recommend_says_when_server_features_are_off(linked: BotWorld) -> None:
    await linked.link("carol")
    await linked.prefix("alice", "settings community off")  # the prefix takes on/off whatever the slash option is
    text = embed_text(await linked.answer(await linked.slash("bob", "recommend", {"count": 3})))
    assert "Server features are off here, so these come from your own listening." in text
    assert "Only a few members" not in text


async def test_recommend_reasons_name_songs_as_song_by_artist(linked: BotWorld) -> None:
    message = await linked.answer(await linked.slash("alice", "recommend", {"count": 10}))
    reasons = [line.split("↳", 1)[1] for line in message["embeds"][0]["description"].splitlines() if "↳" in line]
    rows = linked.db.query("SELECT DISTINCT t.name, t.artist_name FROM plays p JOIN tracks t USING (track_id) "
                           "WHERE p.discord_id = ?", (linked.user("alice").id,))
    assert rows
    song_by_artist = [f"{r['name']} by {r['artist_name']}" for r in rows]
    artist_dash_song = [f"{r['artist_name']} - {r['name']}" for r in rows]
    assert any(label in reason for reason in reasons for label in song_by_artist), reasons
    assert not any(label in reason for reason in reasons for label in artist_dash_song), reasons


async def test_one_hiccup_at_spotifys_token_service_does_not_fail_the_command(linked: BotWorld) -> None:
    linked.spotify.expire_access_tokens()
    linked.spotify.fail_next("/api/token", 503)  # the refresh fails once, then works
    message = await linked.answer(await linked.slash("alice", "playlist", {"source": "top_short"}), timeout=20)
    assert "Playlist saved" in embed_text(message)
    assert len(linked.spotify.playlists) == 1
    assert linked.db.get_user(linked.user("alice").id)["link_state"] == "linked"


async def test_recommend_answers_at_once_when_spotify_asks_to_slow_down_during_extra_look_ups(linked: BotWorld) -> None:
    # bob is one of two members sharing here, so /recommend looks up more songs of his favourite artists
    linked.spotify.fail_next("/v1/search", 429, retry_after=20)
    linked.spotify.fail_next("/v1/artists", 429, retry_after=20)
    linked.spotify.clear_log()
    started = time.monotonic()
    message = await linked.answer(await linked.slash("bob", "recommend", {"count": 25}), timeout=60)
    took = time.monotonic() - started
    assert "Picked for you" in embed_text(message) and message["embeds"][0]["description"].count("↳") >= 5
    assert took < 5, f"/recommend took {took:.1f} s"
    looked_up = [r.path for r in linked.spotify.request_log if not r.path.startswith("/api/token")]
    assert len(looked_up) == 1  # the first slow-down ended the look-ups: nothing else was asked


def _hold_write_lock(db: Database, seconds: float) -> threading.Thread:
    """Another connection (a big import, a backup, another bot process) holds the database's write lock a while."""
    started = threading.Event()

    def run() -> None:
        other = Database(getattr(db, "url", db.path))  # a second pool of its own, as another process would have
        try:
            with other.transaction():
                started.set()
                time.sleep(seconds)
        finally:
            other.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(5)
    return thread


async def test_like_and_not_for_me_answer_in_time_while_the_database_is_busy(linked: BotWorld) -> None:
    message = await linked.answer(await linked.slash("alice", "recommend", {"count": 3}))
    holder = _hold_write_lock(linked.db, 4)
    like = await linked.discord.click(message, custom_id(message, "Like"), linked.user("alice"))
    response = await like.wait_response(timeout=10)
    assert not response["late"] and response["elapsed"] < 2  # not "This interaction failed"
    text = embed_text(await linked.answer(like, timeout=15))
    assert text.startswith("Noted: you like **")
    holder.join()
    assert list(linked.db.get_feedback(linked.user("alice").id).values()) == [1]
    nope = await linked.discord.click(message, custom_id(message, "Not for me"), linked.user("alice"))
    assert "is not for you" in embed_text(await linked.answer(nope))
