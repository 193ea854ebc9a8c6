"""Admin commands: stats, status, server settings with permission checks, owner-only tools."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.cogs.support import BotWorld, embed_text


def _fields(message: dict[str, Any]) -> dict[str, str]:
    return {f["name"]: f["value"] for f in message["embeds"][0]["fields"]}


async def test_stats_show_counts_and_spotify_figures(linked: BotWorld) -> None:
    fields = _fields(await linked.answer(await linked.slash("alice", "stats")))
    assert fields["Servers"] == "1" and fields["Linked members"] == "2"
    assert int(fields["Stored plays"].replace(",", "")) > 0
    assert "failed" in fields["Spotify requests"] and fields["Discord latency"]


async def test_status_reports_each_part(linked: BotWorld) -> None:
    fields = _fields(await linked.answer(await linked.slash("alice", "status")))
    assert "Working" in fields["Database"] and "Working" in fields["Web server"]
    assert "Reachable" in fields["Spotify"] and fields["Slow-downs"] == "None"
    # Two members are too few to tune on: the line says the standard settings are in use, and why.
    assert fields["Recommendations"].startswith("Standard settings (")


async def _dm_reply(world: BotWorld, who: str, text: str) -> str:
    sent = await world.discord.send_dm(world.user(who), text)
    reply = await world.discord.wait_dm(world.user(who), lambda m: int(m["id"]) > int(sent["id"]))
    return embed_text(reply)


async def test_stats_and_status_are_for_server_admins(world: BotWorld) -> None:
    for name in ("stats", "status"):
        with pytest.raises(PermissionError):  # Discord hides them from members without Manage Server
            await world.slash("bob", name)
    refused = embed_text(await world.prefix("bob", "stats"))
    assert "Only server admins with the Manage Server permission can see the bot's stats." in refused
    assert "Bot stats" not in refused
    refused = embed_text(await world.prefix("bob", "status"))
    assert "Only server admins with the Manage Server permission can see how the bot is doing." in refused
    # a server admin who is not the bot's owner may use both
    dave = world.discord.add_user("dave")
    await asyncio.to_thread(world.discord.add_member, world.guild, dave, admin=True)
    assert "Bot stats" in embed_text(await world.answer(await world.slash("dave", "stats")))
    assert "Database" in embed_text(await world.prefix("dave", "status"))
    # in direct messages only the bot's owner gets an answer
    assert "Bot stats" in await _dm_reply(world, "alice", "!stats")
    assert "inside a server where you have the Manage Server permission" in await _dm_reply(world, "bob", "!status")


async def test_status_last_sync_counts_a_members_own_sync(world: BotWorld) -> None:
    fields = _fields(await world.answer(await world.slash("alice", "status")))
    assert fields["Last sync"] == "Not yet"
    # the scheduled run was three hours ago; a member's /sync since then is the last sync
    await asyncio.to_thread(world.db.set_state, "last_sync_at", time.time() - 3 * 3600)
    fields = _fields(await world.answer(await world.slash("alice", "status")))
    assert fields["Last sync"] == "3 hours ago"
    await world.link("alice")
    synced = embed_text(await world.answer(await world.slash("alice", "sync")))
    assert "Up to date" in synced
    fields = _fields(await world.answer(await world.slash("alice", "status")))
    assert fields["Last sync"] == "just now"


async def test_settings_need_manage_server(world: BotWorld) -> None:
    with pytest.raises(PermissionError):  # Discord hides the command from members without the permission
        await world.slash("bob", "settings show")
    reply = await world.prefix("bob", "settings community off")
    assert "You need the Manage Server permission" in embed_text(reply)
    assert world.db.get_guild_settings(world.guild.id)["community_enabled"] == 1


async def test_admin_turns_server_features_off_and_on_by_choosing_on_or_off(world: BotWorld) -> None:
    published = {c["name"]: c for c in await world.discord.wait_commands(world.guild)}
    community = next(o for o in published["settings"]["options"] if o["name"] == "community")
    assert [c["name"] for c in community["options"][0]["choices"]] == ["on", "off"]  # what the admin picks from
    text = embed_text(await world.answer(await world.slash("alice", "settings community", {"state": "off"})))
    assert "Server features are off" in text
    assert world.db.get_guild_settings(world.guild.id)["community_enabled"] == 0
    assert "Server features are on" in embed_text(await world.prefix("alice", "settings community on"))
    assert world.db.get_guild_settings(world.guild.id)["community_enabled"] == 1
    wrong = embed_text(await world.prefix("alice", "settings community true"))
    assert "That isn't one of the options. Pick one of: `on`, `off`." in wrong
    shown = embed_text(await world.answer(await world.slash("alice", "settings show")))
    assert "`/settings community on` or `/settings community off`" in shown and "on|off" not in shown


async def test_admin_sets_the_digest_channel_and_the_digest_is_posted(linked: BotWorld) -> None:
    music = linked.guild.channel("music")
    text = embed_text(await linked.answer(await linked.slash("alice", "settings digest", {"channel": music.id})))
    assert "once a week" in text
    assert linked.db.get_guild_settings(linked.guild.id)["digest_channel_id"] == music.id
    shown = embed_text(await linked.answer(await linked.slash("alice", "settings show")))
    assert f"<#{music.id}>" in shown
    await linked.bot._digest_tick()
    digest = await linked.discord.wait_message(music)
    assert digest["embeds"][0]["title"] == "This week in Test Server"
    await linked.bot._digest_tick()  # not again within the week
    assert len([m for m in linked.discord.messages(music) if m["embeds"]]) == 1


async def test_owner_tools_refuse_others_and_work_for_the_owner(world: BotWorld) -> None:
    for name, options in (("reload", {"cog": "music"}), ("sync-commands", None), ("shutdown", None)):
        text = embed_text(await world.answer(await world.slash("bob", name, options)))
        assert "Only the bot's owner can do that." in text
    text = embed_text(await world.answer(await world.slash("alice", "reload", {"cog": "music"})))
    assert "Reloaded `music`" in text
    assert "Picked for you" not in text
    text = embed_text(await world.answer(await world.slash("alice", "reload", {"cog": "nothing"})))
    assert "There's no part called" in text
    text = embed_text(await world.answer(await world.slash("alice", "sync-commands")))
    assert "Published" in text and "development server" in text
    reply = await world.prefix("alice", "reload community")
    assert "Reloaded `community`" in embed_text(reply)
    # After the error handler itself is reloaded, the other parts' plain refusals still read as written.
    assert "Reloaded `errors`" in embed_text(await world.answer(await world.slash("alice", "reload", {"cog": "errors"})))
    text = embed_text(await world.answer(await world.slash("alice", "blend", {"member1": world.user("alice")})))
    assert "Pick at least one other member to blend with." in text
