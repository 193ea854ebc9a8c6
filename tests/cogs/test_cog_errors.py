"""The words a member reads when a command goes wrong: here, when a prefix command is missing an option."""

from __future__ import annotations

import sqlite3

from discord import app_commands
from discord.ext import commands

from cogs.errors import describe
from database import DatabaseBusy, DatabaseUnavailable
from tests.cogs.support import BotWorld, embed_text


async def test_missing_options_are_named_in_plain_words(world: BotWorld) -> None:
    expected = {
        "whoknows": "That command needs an artist name. Try: `!whoknows <artist>`",
        "blend": "That command needs a member to blend with (mention them, like @name).",
        "taste": "That command needs a member (mention them, like @name). Try: `!taste <member>`",
        "settings community": "That command needs a choice: on or off.",
    }
    for typed, sentence in expected.items():
        text = embed_text(await world.prefix("alice", typed))
        assert sentence in text, typed
        assert "needs a artist" not in text and "member1." not in text


async def test_an_option_without_plain_words_still_reads_correctly(world: BotWorld) -> None:
    async def paint(ctx: commands.Context, colour_scheme: str) -> None:
        await ctx.send("painted")

    world.bot.add_command(commands.Command(paint, name="paint"))
    text = embed_text(await world.prefix("bob", "paint"))
    assert "That command is missing something it needs: colour scheme. Try: `!paint <colour_scheme>`" in text


async def test_a_refused_try_does_not_spend_the_cooldown(linked: BotWorld) -> None:
    assert "I can save `last`" in embed_text(await linked.prefix("bob", "playlist top"))  # a typo
    text = embed_text(await linked.prefix("bob", "playlist medium"))
    assert "Easy there" not in text and "Playlist saved" in text
    assert "Easy there" in embed_text(await linked.prefix("bob", "playlist medium"))  # a real second save waits


async def test_sync_refused_before_linking_can_be_run_right_after_linking(world: BotWorld) -> None:
    assert "/connect" in embed_text(await world.answer(await world.slash("carol", "sync")))
    await world.link("carol", "carol")
    assert "Easy there" not in embed_text(await world.answer(await world.slash("carol", "sync")))


def test_a_database_that_stays_busy_asks_the_member_to_retry() -> None:
    for busy in (sqlite3.OperationalError("database is locked"), DatabaseBusy("lock timeout on PostgreSQL")):
        text, unexpected = describe(busy)
        assert text == "I'm very busy right now. Please try again in a moment." and not unexpected
    assert describe(sqlite3.OperationalError("no such table: plays"))[1]  # a real fault is still reported as one


def test_a_database_server_that_is_away_asks_the_member_to_retry() -> None:
    """PostgreSQL gone (restarting, network down): the pool raises DatabaseUnavailable, the member hears plainly."""
    away = DatabaseUnavailable("The database server can't be reached right now, or stayed busy.")
    for error in (away, commands.CommandInvokeError(away), app_commands.CommandInvokeError(_command(), away)):
        text, unexpected = describe(error)
        assert text == "I can't reach my storage right now. Please try again in a moment." and not unexpected


def _command() -> app_commands.Command:
    async def sync(interaction) -> None:
        pass

    return app_commands.Command(name="sync", description="stand-in", callback=sync)


def test_a_text_out_of_range_is_described_in_characters_not_numbers() -> None:
    text, _ = describe(commands.RangeError("x" * 300, minimum=1, maximum=100))
    assert text == "That's too long or too short: use 1 to 100 characters."
    assert describe(commands.RangeError(500, minimum=1, maximum=25))[0] == "Pick a number from 1 to 25."


async def test_a_failure_after_the_work_began_keeps_the_cooldown(world: BotWorld) -> None:
    """Else a member whose reply fails could repeat the work (and its Spotify calls) as fast as they type."""
    work: list[str] = []

    async def fetch(ctx: commands.Context) -> None:
        work.append("called Spotify")
        raise RuntimeError("the reply could not be posted")

    world.bot.add_command(commands.cooldown(1, 60, commands.BucketType.user)(commands.Command(fetch, name="fetch")))
    assert "error id" in embed_text(await world.prefix("bob", "fetch"))
    assert "Easy there" in embed_text(await world.prefix("bob", "fetch"))
    assert work == ["called Spotify"]
