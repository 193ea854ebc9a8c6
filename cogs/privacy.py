"""Privacy: download everything held on you, delete it all, hide yourself from server features."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from cogs._base import BaseCog
from cogs.errors import Refusal
from cogs.ui.embeds import error_embed, message_embed
from cogs.ui.format import SPOTIFY_GREEN, clip, prefix_leftover
from cogs.ui.views import ConfirmView

if TYPE_CHECKING:
    from bot import MusicBot

SUMMARY = (
    "I keep your Spotify display name, top artists and tracks, the songs you play, any history you import or "
    "bring from Last.fm or ListenBrainz, and your likes. Your Spotify login and Last.fm key are stored encrypted.\n\n"
    "`/privacy export` sends you all of it as a file. `/privacy forget` deletes all of it. "
    "`/privacy visibility` hides you from (or shows you in) server features like taste matches and charts, "
    "in every server we share."
)


class Privacy(BaseCog):
    """Your data: export it, delete it, or hide it from others."""

    @commands.hybrid_group(name="privacy", description="Your data: export, delete, or hide it",
                           invoke_without_command=True)
    async def privacy(self, ctx: commands.Context) -> None:
        """What I keep about you, and how to export, delete or hide it."""
        await self.send(ctx, embed=discord.Embed(title="Your data", description=SUMMARY, colour=SPOTIFY_GREEN),
                        private=True)

    @privacy.command(name="export", description="Get a file with everything I hold about you")
    async def export(self, ctx: commands.Context) -> None:
        """Send you a file with everything I hold about you."""
        await self.begin(ctx, private=True)
        data = await self.services.privacy.export(ctx.author.id)
        name = "my-music-bot-data.json"
        text = "Here's everything I hold about you. Your Spotify login and Last.fm key are never included."
        if ctx.interaction is None and ctx.guild is not None:
            try:
                await ctx.author.send(text, file=discord.File(io.BytesIO(data), filename=name))
            except discord.Forbidden:
                await ctx.reply(embed=error_embed("I can't send you direct messages. Use `/privacy export` "
                                                  "instead and I'll give you the file privately."), mention_author=False)
                return
            await ctx.reply(embed=message_embed("I've sent your data to you in a direct message."), mention_author=False)
            return
        await ctx.send(text, file=discord.File(io.BytesIO(data), filename=name), ephemeral=True)

    @privacy.command(name="forget", description="Delete everything I hold about you")
    async def forget(self, ctx: commands.Context) -> None:
        """Delete everything I hold about you (asks first)."""
        privacy = self.services.privacy
        member_id = ctx.author.id

        async def confirm() -> str:
            await privacy.forget(member_id)
            return ("Done. I've deleted everything I held about you and unlinked Spotify, Last.fm and ListenBrainz. "
                    "You can start again any time with `/connect` or `/link`.")

        view = ConfirmView(member_id, confirm, confirm_label="Yes, delete everything")
        embed = discord.Embed(title="Delete all your data?", colour=0xE0564B, description=(
            "This deletes your Spotify link, your Last.fm and ListenBrainz links, your listening history (imported "
            "too), your likes and your saved "
            "recommendations. It can't be undone. Playlists I saved in your Spotify stay there."))
        await self.send(ctx, embed=embed, view=view, private=True)

    @privacy.command(name="visibility", description="Hide yourself from, or show yourself in, server features")
    @app_commands.describe(setting="hide: others can't see your listening; show: you count in server features")
    async def visibility(self, ctx: commands.Context, setting: Literal["hide", "show"] | None = None) -> None:
        """Hide yourself from server features (taste, who knows, charts), or show yourself again."""
        typed = prefix_leftover(ctx)  # `!privacy visibility hdie`: discord.py would drop the word and show the state
        if setting is None and typed:
            raise Refusal(f"I didn't understand \u201c{clip(typed, 40)}\u201d. Use `hide` or `show`, like "
                          "`/privacy visibility hide`.")
        await self.begin(ctx, private=True)
        if setting is None:
            user = await self.bot.db.run(self.bot.db.get_user, ctx.author.id)
            hidden = bool(user and user.get("hidden"))
            state = "hidden from" if hidden else "shown in"
            await self.send(ctx, private=True, embed=message_embed(
                f"You're currently **{state}** server features, in every server we share. "
                "Use `/privacy visibility hide` or `/privacy visibility show` to change it."))
            return
        hidden = setting == "hide"
        await self.services.privacy.set_visibility(ctx.author.id, hidden)
        text = ("Done: you're hidden, in every server we share. Nobody else sees your listening in taste matches, "
                "who-knows lists, charts, blends or recommendations. Your own recommendations still use it."
                if hidden else
                "Done: you're visible again. You count in taste matches, who-knows lists, charts, blends and "
                "server picks in every server we share.")
        await self.send(ctx, embed=message_embed(text), private=True)


async def setup(bot: MusicBot) -> None:
    await bot.add_cog(Privacy(bot))
