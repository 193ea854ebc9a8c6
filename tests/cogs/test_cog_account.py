"""Linking, unlinking and refreshing, as a member sees them."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.cogs.support import BotWorld, components, embed_text


async def test_connect_explains_what_is_stored_and_gives_a_private_link(world: BotWorld) -> None:
    record = await world.slash("bob", "connect")
    message = await world.answer(record)
    assert record.ephemeral
    text = embed_text(message)
    assert "What I keep" in text and "Who can see it" in text and "/privacy forget" in text
    [button] = components(message)
    assert button["label"] == "Link Spotify"
    assert urlsplit(button["url"]).path.endswith("/authorize")


async def test_linking_sends_a_dm_and_syncs(world: BotWorld) -> None:
    bob_id = await world.link("bob")
    dm = await world.discord.wait_dm(bob_id)
    assert "You're linked" in embed_text(dm)
    assert world.db.counts()["plays"] > 0
    # the member now counts in the server where they linked
    assert bob_id in world.db.visible_members(world.guild.id)
    assert not any("Not fetched yet" in embed_text(m) for m in world.discord.dms(bob_id))


async def test_a_first_fetch_that_fails_is_followed_by_a_dm_saying_what_to_do(world: BotWorld) -> None:
    world.spotify.fail_next("/v1/me/top", 429, count=200, retry_after=600)
    bob_id = await world.link("bob", wait_sync=False)
    dm = await world.discord.wait_dm(bob_id, lambda m: "Not fetched yet" in embed_text(m), timeout=15)
    text = embed_text(dm)
    assert "Spotify asked me to slow down. Please try again in about 10 minutes." in text
    assert "when you try again, run `/sync`" in text and "in a few minutes" not in text  # one wait, not two
    assert world.db.get_user(bob_id)["link_state"] == "linked"


async def test_connect_by_prefix_sends_the_link_by_dm_not_in_the_channel(world: BotWorld) -> None:
    reply = await world.prefix("carol", "connect")
    assert "private message" in embed_text(reply)
    dm = await world.discord.wait_dm(world.user("carol"))
    assert components(dm)[0]["label"] == "Link Spotify"
    assert all("/authorize" not in str(m) for m in world.discord.messages(world.general))


async def test_sync_refreshes_and_then_asks_to_wait(linked: BotWorld) -> None:
    message = await linked.answer(await linked.slash("alice", "sync"))
    assert "Up to date" in embed_text(message)
    again = await linked.answer(await linked.slash("alice", "sync"))
    assert "You can use this again in" in embed_text(again)


async def test_sync_when_not_linked_says_how_to_link(world: BotWorld) -> None:
    message = await world.answer(await world.slash("carol", "sync"))
    assert "haven't linked your Spotify account yet" in embed_text(message)
    assert "/connect" in embed_text(message)


async def test_broken_link_tells_the_member_to_reconnect(linked: BotWorld) -> None:
    linked.spotify.revoke("alice")
    linked.spotify.expire_access_tokens()
    text = embed_text(await linked.answer(await linked.slash("alice", "sync")))
    assert "stopped working" in text and "Run `/connect` again" in text
    assert "400" not in text and "invalid_grant" not in text
    # the same words on a command that saves to Spotify
    text = embed_text(await linked.answer(await linked.slash("alice", "playlist", {"source": "top_short"})))
    assert "stopped working" in text


async def test_spotify_rate_limit_gives_a_wait_in_words_and_the_bot_goes_on(linked: BotWorld) -> None:
    linked.spotify.fail_next("/v1/me", 429, count=50, retry_after=600)
    text = embed_text(await linked.answer(await linked.slash("alice", "sync")))
    assert "try again in about 10 minutes" in text and "429" not in text
    profile = await linked.answer(await linked.slash("bob", "profile"))
    assert "Bob's music" in embed_text(profile)


async def test_spotify_server_error_gives_friendly_words_and_the_bot_goes_on(linked: BotWorld) -> None:
    linked.spotify.fail_next("/v1/me", 500, count=50)
    text = embed_text(await linked.answer(await linked.slash("bob", "sync")))
    assert "Spotify isn't answering right now" in text and "500" not in text
    linked.spotify.clear_failures()
    profile = await linked.answer(await linked.slash("bob", "profile"))
    assert "Bob's music" in embed_text(profile)


async def test_disconnect_unlinks(linked: BotWorld) -> None:
    message = await linked.answer(await linked.slash("bob", "disconnect"))
    assert "unlinked" in embed_text(message)
    assert linked.db.get_user(linked.user("bob").id)["link_state"] == "none"
    assert linked.db.get_tokens(linked.user("bob").id) is None


async def test_a_broken_link_is_said_at_once_even_while_spotify_asks_us_to_wait(linked: BotWorld) -> None:
    """An hour-long wait from Spotify's Web API does not stop its token service: a revoked link says /connect."""
    linked.spotify.fail_next("/v1/", 429, count=500, retry_after=3600)
    text = embed_text(await linked.answer(await linked.slash("bob", "sync")))
    assert "about an hour" in text  # the Web API's wait, for a member whose link works
    linked.spotify.revoke("alice")  # alice removes the app; her access token has not even expired yet
    text = embed_text(await linked.answer(await linked.slash("alice", "sync")))
    assert "stopped working" in text and "/connect" in text and "hour" not in text
    text = embed_text(await linked.answer(await linked.slash("alice", "playlist", {"source": "top_short"})))
    assert "stopped working" in text and "hour" not in text
    text = embed_text(await linked.answer(await linked.slash("bob", "sync")))
    assert "about an hour" in text and "stopped working" not in text
