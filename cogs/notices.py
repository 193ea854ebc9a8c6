"""What the bot says on its own, outside any command: the DM after linking or importing, a link that stopped
working, and the weekly digest. The bot decides when (bot.py); this cog decides the words and pictures, so the bot
never reaches up into the cogs (it calls `bot.notices`, which this cog sets while it is loaded)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord

from cogs._base import BaseCog, server_names
from cogs.ui.charts import digest_chart
from cogs.ui.embeds import digest_embed, error_embed, import_embed, message_embed
from utils.models import Digest, ImportSummary

if TYPE_CHECKING:
    from bot import MusicBot

SOURCE_NAMES = {"lastfm": "Last.fm", "listenbrainz": "ListenBrainz"}


class Notices(BaseCog):
    """Messages the bot sends by itself; no commands."""

    async def cog_load(self) -> None:
        self.bot.notices = self

    async def cog_unload(self) -> None:
        if self.bot.notices is self:
            self.bot.notices = None

    @staticmethod
    def linked() -> discord.Embed:
        return message_embed("You're linked! I'm fetching your listening now; try `/profile` or `/recommend` in a minute.",
                             title="Spotify linked")

    @staticmethod
    def not_fetched(problem: str) -> discord.Embed:
        """The first sync after linking failed: they were told "in a minute", so say it didn't work, and what to do."""
        # The problem says when to try again; name the command unless it already names one (/connect).
        how = "" if "`/" in problem else "\nYour link is saved: when you try again, run `/sync`."
        embed = error_embed(f"I couldn't fetch your listening just now. {problem}{how}")
        embed.title = "Not fetched yet"
        return embed

    @staticmethod
    def source_broken(source: str, words: str) -> discord.Embed:
        embed = error_embed(words)
        embed.title = SOURCE_NAMES.get(source, source) + " link stopped working"
        return embed

    @staticmethod
    def history_in(source: str, words: str) -> discord.Embed:
        """A long Last.fm or ListenBrainz history finished coming in, after its reply could no longer show it."""
        # Not "you count in every server feature": a member who hid their listening gets this too.
        return message_embed(f"{words} It all counts now: try `/recap` or `/recommend`.",
                             title=f"Your {SOURCE_NAMES.get(source, source)} history is in")

    @staticmethod
    def imported(summary: ImportSummary) -> discord.Embed:
        return import_embed(summary)

    async def digest(self, guild: discord.Guild, digest: Digest) -> dict[str, Any]:
        """`send` arguments for a server's weekly digest: the embed, and its chart when pictures are on."""
        names = await server_names(self.bot.db, guild, [uid for change in digest.crown_changes
                                                        for uid in (change.discord_id, change.previous_id)])
        return await digest_chart(self.services, digest, digest_embed(digest, guild.name, names))


async def setup(bot: MusicBot) -> None:
    await bot.add_cog(Notices(bot))
