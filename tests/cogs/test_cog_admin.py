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
    fields = _fields(await linked.answer(await linked.slash("bob", "stats")))
    assert fields["Servers"] == "1" and fields["Linked members"] == "2"
    assert int(fields["Stored plays"].replace(",", "")) > 0
    assert "failed" in fields["Spotify requests"] and fields["Discord latency"]


async def test_status_reports_each_part(linked: BotWorld) -> None:
    fields = _fields(await linked.answer(await linked.slash("alice", "status")))
    assert "Working" in fields["Database"] and "Working" in fields["Web server"]
    assert "Reachable" in fields["Spotify"] and fields["Slow-downs"] == "None"


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
