"""The fake Discord deals servers to shards as Discord does, and real AutoShardedBots run against it."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator

import aiohttp
import discord
import pytest
from discord.ext import commands

from discord_endpoints import DEFAULT_API_URL, configure_discord_endpoints
from fakes.discord_gateway import shard_of
from fakes.discord_server import FakeDiscord


class Answers(commands.Cog):
    @commands.hybrid_command(description="Say which shard answers")
    async def where(self, ctx: commands.Context[ShardBot]) -> None:
        await ctx.send(f"{ctx.bot.name} on shard {ctx.guild.shard_id if ctx.guild else 0}")


class ShardBot(commands.AutoShardedBot):
    def __init__(self, name: str, **shards: object) -> None:
        intents = discord.Intents.default()
        intents.message_content = True
        intents.members = True
        super().__init__(command_prefix="!", intents=intents, help_command=None, guild_ready_timeout=0.05, **shards)
        self.name = name

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Discord wants 5 s between IDENTIFYs of one bot; the fake doesn't."""

    async def setup_hook(self) -> None:
        await self.add_cog(Answers())
        await self.tree.sync()


@pytest.fixture
def fake() -> Iterator[FakeDiscord]:
    """The default world (Test Server) plus a server on each of two shards."""
    fake = FakeDiscord(recommended_shards=2)
    fake.add_guild("Even", ["general"], owner=fake.user("alice"), shard=(0, 2))
    fake.add_guild("Odd", ["general"], owner=fake.user("alice"), shard=(1, 2))
    for guild in list(fake.world.guilds.values())[1:]:
        for name in ("alice", "bob"):
            fake.world.join(guild.id, fake.user(name).id)
    with fake:
        configure_discord_endpoints(fake.api_url, fake.token)
        yield fake
    configure_discord_endpoints(DEFAULT_API_URL)


@contextlib.asynccontextmanager
async def running(fake: FakeDiscord, *bots: ShardBot, shards: int) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(bot.start(fake.token)) for bot in bots]
    try:
        await fake.wait_connected(15, shards=shards)
        for bot in bots:
            await asyncio.wait_for(bot.wait_until_ready(), 15)
        await fake.wait_commands(None)
        yield
    finally:
        for bot in bots:
            await bot.close()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 10)


def guild(fake: FakeDiscord, name: str) -> object:
    return next(g for g in fake.world.guilds.values() if g.name == name)


async def test_two_processes_each_get_only_their_shards_servers_and_commands(fake: FakeDiscord) -> None:
    even_bot, odd_bot = ShardBot("even", shard_count=2, shard_ids=[0]), ShardBot("odd", shard_count=2, shard_ids=[1])
    even, odd = guild(fake, "Even"), guild(fake, "Odd")
    async with running(fake, even_bot, odd_bot, shards=2):
        assert {g.id for g in even_bot.guilds} == {g.id for g in fake.world.guilds.values() if shard_of(g.id, 2) == 0}
        assert {g.id for g in odd_bot.guilds} == {g.id for g in fake.world.guilds.values() if shard_of(g.id, 2) == 1}
        assert even.id in {g.id for g in even_bot.guilds} and odd.id in {g.id for g in odd_bot.guilds}
        for server, answerer in ((even, "even on shard 0"), (odd, "odd on shard 1")):
            record = await fake.slash(fake.user("bob"), server, server.channel("general"), "where")
            assert (await record.wait_original())["content"] == answerer
            assert record.shards == [(shard_of(server.id, 2), 2)]
            await asyncio.sleep(0.2)  # time for a second answer, if the other process had been sent it too
            assert record.callbacks == 1
        sent = await fake.send_message(fake.user("bob"), odd.channel("general"), "!where")
        reply = await fake.wait_message(odd.channel("general"), lambda m: int(m["id"]) > int(sent["id"]))
        assert reply["content"] == "odd on shard 1"
        dm = await fake.slash(fake.user("bob"), None, None, "where")  # DMs belong to shard 0
        assert (await dm.wait_original())["content"] == "even on shard 0" and dm.shards == [(0, 2)]


async def test_without_a_count_the_bot_runs_as_many_shards_as_gateway_bot_recommends(fake: FakeDiscord) -> None:
    bot = ShardBot("auto")
    async with running(fake, bot, shards=2):
        assert bot.shard_count == 2 and sorted(bot.shards) == [0, 1]
        assert {g.id for g in bot.guilds} == set(fake.world.guilds)
        odd = guild(fake, "Odd")
        record = await fake.slash(fake.user("alice"), odd, odd.channel("general"), "where")
        assert (await record.wait_original())["content"] == "auto on shard 1"


async def test_an_impossible_shard_is_refused_with_discords_close_code(fake: FakeDiscord) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(fake.gateway_url) as ws:
        hello = await ws.receive_json()
        assert hello["op"] == 10
        await ws.send_str(json.dumps({"op": 2, "d": {"token": fake.token, "intents": 0, "shard": [2, 2],
                                                     "properties": {}}}))
        await ws.receive()
        assert ws.close_code == 4010
