"""What a member typed after `!` that is not what the command expects: told in words, never quietly ignored."""

from __future__ import annotations

import asyncio

from tests.cogs.support import BotWorld, embed_text

NOT_FOUND = "I couldn't find that member in this server. Mention them, like @name."


async def test_profile_of_someone_not_in_the_server(linked: BotWorld) -> None:
    assert NOT_FOUND in embed_text(await linked.prefix("alice", "profile @nobody"))
    stranger = linked.discord.add_user("zed", "Zed")  # on Discord, but not in this server
    text = embed_text(await linked.prefix("alice", f"profile <@{stranger.id}>"))
    assert NOT_FOUND in text and "time range" not in text
    text = embed_text(await linked.prefix("alice", "profile nobody"))
    assert "I don't know the time range \u201cnobody\u201d, and no member here goes by that name." in text
    assert "mention a member, like @name" in text


async def test_profile_member_and_range_in_either_order(linked: BotWorld) -> None:
    bob = f"<@{linked.user('bob').id}>"
    for typed in (f"profile {bob} short", f"profile short {bob}"):
        reply = await linked.prefix("alice", typed)
        assert reply["embeds"][0]["title"] == "Bob's music", typed
        assert reply["embeds"][0]["description"] == "**Last 4 weeks**", typed
    reply = await linked.prefix("alice", "profile all time")
    assert reply["embeds"][0]["title"] == "Alice's music" and reply["embeds"][0]["description"] == "**All time**"


async def test_top_with_a_member_who_is_not_here_or_a_range_that_is_not_one(linked: BotWorld) -> None:
    assert NOT_FOUND in embed_text(await linked.prefix("alice", "top tracks @nobody"))
    text = embed_text(await linked.prefix("alice", "top tracks short @nobody"))
    assert NOT_FOUND in text and "Your top tracks" not in text
    reply = await linked.prefix("alice", f"top artists <@{linked.user('bob').id}>")
    assert reply["embeds"][0]["title"] == "Bob's top artists · Last 6 months"
    reply = await linked.prefix("alice", f"top tracks long <@{linked.user('bob').id}>")
    assert reply["embeds"][0]["title"] == "Bob's top tracks · Last year"
    assert "I don't know the time range \u201cforever\u201d" in embed_text(await linked.prefix("alice", "top tracks forever"))
    reply = await linked.prefix("alice", "top songs short")  # "songs" is what many members call tracks
    assert reply["embeds"][0]["title"] == "Your top tracks · Last 4 weeks"


async def test_a_member_who_left_is_not_found(linked: BotWorld) -> None:
    bob = linked.user("bob")
    await asyncio.to_thread(linked.discord.remove_member, linked.guild, bob)
    await linked.wait_for(lambda: linked.bot.get_guild(linked.guild.id).get_member(bob.id) is None, "bob to leave")
    assert NOT_FOUND in embed_text(await linked.prefix("alice", f"profile <@{bob.id}>"))


async def test_a_member_whose_name_has_a_space_is_found_without_quotes(linked: BotWorld) -> None:
    erin = linked.discord.add_user("erin", "Erin")
    linked.discord.add_member(linked.guild, erin, nick="Mary Jane")
    await linked.link("erin", spotify_user="carol")
    for typed, title in (("profile Mary Jane", "Mary Jane's music"),
                         ("top tracks Mary Jane all time", "Mary Jane's top tracks · All time"),
                         ("top tracks all time Mary Jane", "Mary Jane's top tracks · All time")):
        reply = await linked.prefix("alice", typed)
        assert reply["embeds"][0]["title"] == title, typed
