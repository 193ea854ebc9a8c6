"""Importing a Spotify listening-history export, and undoing it."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from cogs._base import BaseCog, call
from cogs.errors import Refusal
from cogs.ui.embeds import import_embed, message_embed
from cogs.ui.format import SPOTIFY_GREEN, plural
from cogs.ui.views import ConfirmView, link_view

if TYPE_CHECKING:
    from bot import MusicBot

MAX_ATTACHMENT_BYTES = 100 * 1024 * 1024
HOW_TO_EXPORT = (
    "1. On spotify.com open **Account \u2192 Privacy settings** and request **Extended streaming history**.\n"
    "2. Spotify e-mails you a download link (it can take up to 30 days, often less).\n"
    "3. Upload the zip (or the `.json` files inside it) with the button below, or attach it to `/import file`.\n\n"
    "Using ListenBrainz? Its own export (your ListenBrainz settings, **Export**) works here too, or link it with "
    "`/link listenbrainz`.\n\n"
    "Your imported history is private like the rest of your data, and `/import undo` removes it again."
)


class History(BaseCog):
    """Bring in your past listening from a Spotify data export."""

    def _importer(self) -> Any:
        if self.services.importer is None:
            raise Refusal("Importing listening history isn't available on this bot.")
        return self.services.importer

    @commands.hybrid_group(name="import", description="Bring in your Spotify listening history", fallback="file")
    @app_commands.describe(file="Your Spotify or ListenBrainz export (zip or json). Leave empty for a private upload link")
    async def import_(self, ctx: commands.Context, file: discord.Attachment | None = None) -> None:
        """Import your Spotify history: attach the zip/json, or get a private upload link."""
        importer = self._importer()
        await self.begin(ctx, private=True)
        if file is None:
            guild_id = ctx.guild.id if ctx.guild else None
            url = await call(importer.create_upload_link, ctx.author.id, guild_id)
            embed = discord.Embed(title="Import your listening history", description=HOW_TO_EXPORT, colour=SPOTIFY_GREEN)
            embed.set_footer(text="The upload link is just for you, works once, and expires in 30 minutes.")
            view = link_view("Upload my history", url)
            if ctx.interaction is None and ctx.guild is not None:
                try:
                    await ctx.author.send(embed=embed, view=view)
                except discord.Forbidden:
                    raise Refusal("I can't send you direct messages. Use `/import file` instead.") from None
                await ctx.reply(embed=message_embed("I've sent you a private upload link."), mention_author=False)
                return
            await self.send(ctx, embed=embed, view=view, private=True)
            return
        if file.size > MAX_ATTACHMENT_BYTES:
            raise Refusal("That file is too big to attach here. Run `/import file` without a file to get a private "
                          "upload link: it takes files up to 200 MB.")
        data = await file.read()
        summary = await importer.import_file(ctx.author.id, ctx.author.display_name, io.BytesIO(data), file.filename)
        await self.send(ctx, embed=import_embed(summary), private=True)

    @import_.command(name="undo", description="Remove the listening history you imported")
    async def undo(self, ctx: commands.Context) -> None:
        """Remove every play you imported (plays synced from Spotify stay)."""
        importer = self._importer()
        member_id = ctx.author.id

        async def confirm() -> str:
            removed = await importer.undo(member_id)
            if not removed:
                return "You had no imported plays, so nothing changed."
            return f"Done: I removed {plural(removed, 'imported play')}. Plays synced from Spotify are still there."

        embed = discord.Embed(title="Remove your imported history?", colour=0xE0564B,
                              description="This removes every play that came from an imported file. "
                                          "Plays I fetched from Spotify stay.")
        await self.send(ctx, embed=embed, view=ConfirmView(member_id, confirm, confirm_label="Yes, remove it"),
                        private=True)


async def setup(bot: MusicBot) -> None:
    await bot.add_cog(History(bot))
