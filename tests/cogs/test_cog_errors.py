"""The words a member reads when a command goes wrong: here, when a prefix command is missing an option."""

from __future__ import annotations

from discord.ext import commands

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
