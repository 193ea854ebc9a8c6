"""The bot as a whole: start-up, intents, membership events, reconnects, errors, the web bridge, shutdown."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import re
import signal
from pathlib import Path

import discord
import pytest
import requests

from bot import MusicBot, Services, ShardedMusicBot, create_bot, make_intents, run_bot
from config import Settings
from database import Database
from tests.cogs.support import BotWorld, bot_world, embed_text

pytest_plugins = ["tests.cogs.conftest"]

EVERY_COMMAND = {"connect", "disconnect", "sync", "profile", "top", "recent", "recommend", "playlist", "taste",
                 "whoknows", "server", "blend", "privacy", "import", "stats", "status", "settings", "reload",
                 "sync-commands", "shutdown", "Compare taste", "chart", "crowns", "affinity", "recap", "link", "unlink"}


def test_intents_are_only_what_is_used() -> None:
    intents = make_intents()
    assert intents.guilds and intents.members and intents.message_content
    assert intents.guild_messages and intents.dm_messages
    assert not intents.presences and not intents.voice_states and not intents.guild_reactions
    assert not intents.guild_typing and not intents.dm_typing


async def test_commands_are_published_to_the_dev_guild_at_start(world: BotWorld) -> None:
    names = {c["name"] for c in await world.discord.wait_commands(world.guild)}
    assert names == EVERY_COMMAND
    assert world.discord.commands.get(None) in (None, [])


async def test_membership_follows_join_and_leave_events(linked: BotWorld) -> None:
    bob = linked.user("bob").id
    assert bob in linked.db.visible_members(linked.guild.id)
    await asyncio.to_thread(linked.discord.remove_member, linked.guild, bob)
    await linked.wait_for(lambda: bob not in linked.db.visible_members(linked.guild.id), "bob to leave")
    await asyncio.to_thread(linked.discord.add_member, linked.guild, bob)
    await linked.wait_for(lambda: bob in linked.db.visible_members(linked.guild.id), "bob to come back")


async def test_dropped_gateway_connection_resumes_and_answers(world: BotWorld) -> None:
    assert await asyncio.to_thread(world.discord.drop_connection) == 1
    await world.discord.wait_resumed()
    message = await world.answer(await world.slash("alice", "stats"))
    assert "Bot stats" in embed_text(message)
    reply = await world.prefix("bob", "privacy")
    assert "Your data" in embed_text(reply)


async def test_unexpected_error_shows_an_id_and_the_bot_goes_on(world: BotWorld, monkeypatch: pytest.MonkeyPatch,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(world.services.music, "recent", broken)
    caplog.set_level(logging.ERROR, logger="bot.errors")
    text = embed_text(await world.answer(await world.slash("bob", "recent")))
    match = re.search(r"error id ([0-9a-f]{6})", text)
    assert match and "database on fire" not in text
    assert match.group(1) in caplog.text and "database on fire" in caplog.text
    reply = await world.prefix("bob", "recent")
    assert "error id" in embed_text(reply)
    assert "Bot stats" in embed_text(await world.answer(await world.slash("alice", "stats")))


async def test_web_status_pages_see_the_bot(linked: BotWorld) -> None:
    status = linked.bot.status()
    assert status["connected"] and status["guilds"] == 1
    ready = await asyncio.to_thread(requests.get, linked.web.url + "/ready", timeout=5)
    assert ready.status_code == 200
    api = (await asyncio.to_thread(requests.get, linked.web.url + "/api/status", timeout=5)).json()
    assert api["bot_connected"] and api["guilds"] == 1 and api["linked_users"] == 2


async def test_owner_shutdown_stops_everything(world: BotWorld) -> None:
    reply = await world.prefix("alice", "shutdown")
    assert "Shutting down" in embed_text(reply)
    await world.wait_for(lambda: world.bot.is_closed() and not world.db.is_open, "the bot to stop")
    assert world.web._thread is None
    assert not world.bot.scheduled_sync.is_running() and not world.bot.weekly_digest.is_running()
    await asyncio.sleep(0.05)
    assert not world.bot._background


async def test_sigterm_shuts_down_cleanly(tmp_path: Path) -> None:
    async with bot_world(tmp_path, start_bot=False, feature_scheduled_sync=True) as world:
        runner = asyncio.create_task(run_bot(world.bot))
        await world.discord.wait_connected()
        await asyncio.wait_for(world.bot.wait_until_ready(), 10)
        assert world.bot.scheduled_sync.is_running()
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(runner, 15)
        assert world.bot.is_closed() and not world.db.is_open and world.web._thread is None
        assert not world.bot.scheduled_sync.is_running()
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
        assert not [t for t in others if "discord" in repr(t.get_coro()) or "bot" in repr(t.get_coro())]
        loop = asyncio.get_running_loop()
        loop.remove_signal_handler(signal.SIGTERM)
        loop.remove_signal_handler(signal.SIGINT)


async def test_bridge_drops_events_when_the_bot_is_not_running(tmp_path: Path) -> None:
    async with bot_world(tmp_path, start_bot=False) as world:
        bot: MusicBot = world.bot
        bot.on_linked(1, None)  # no loop yet: logged and dropped, never raised
        assert bot.status() == {"connected": False, "guilds": 0, "latency_ms": None}


def test_shard_settings_make_an_auto_sharded_bot_for_the_listed_shards_and_none_make_a_plain_one(tmp_path: Path) -> None:
    base = Settings(discord_token="t", spotify_client_id="c", spotify_client_secret="s", token_encryption_keys=("k",))
    services = Services(auth=None, sync=None, music=None, community=None, playlists=None, privacy=None)
    db = Database(tmp_path / "bot.db")
    plain = create_bot(base, db, services)
    assert type(plain) is MusicBot and not isinstance(plain, discord.AutoShardedClient)
    sharded = create_bot(dataclasses.replace(base, shard_count=4, shard_ids=(1, 3)), db, services)
    assert isinstance(sharded, ShardedMusicBot) and isinstance(sharded, discord.AutoShardedClient)
    assert (sharded.shard_count, sharded.shard_ids) == (4, [1, 3])
    every = create_bot(dataclasses.replace(base, shard_count=2), db, services)
    assert (every.shard_count, every.shard_ids) == (2, None)  # discord.py then runs shards 0 and 1


def test_starting_says_nothing_about_voice_the_bot_never_uses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(discord.VoiceClient, "warn_nacl", True)  # as in a fresh process without PyNaCl
    monkeypatch.setattr(discord.VoiceClient, "warn_dave", True)
    settings = Settings(discord_token="t", spotify_client_id="c", spotify_client_secret="s", token_encryption_keys=("k",))
    services = Services(auth=None, sync=None, music=None, community=None, playlists=None, privacy=None)
    with caplog.at_level(logging.WARNING):
        create_bot(settings, Database(tmp_path / "bot.db"), services)
    assert "voice" not in caplog.text
