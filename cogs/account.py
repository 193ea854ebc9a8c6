"""Linking: connect, disconnect, and refreshing one's own data now."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from cogs._base import BaseCog, call
from cogs.ui.embeds import error_embed, message_embed
from cogs.ui.format import SPOTIFY_GREEN, plural
from cogs.ui.views import link_view

if TYPE_CHECKING:
    from bot import MusicBot

WHAT_WE_STORE = (
    "**What I keep:** your Spotify display name, your top artists and tracks, and the songs you play "
    "(from now on, plus any history you import). Your Spotify login is stored encrypted and never shown to anyone.\n"
    "**Who can see it:** members of the servers you share with me can look at your profile and top lists, "
    "and see you in taste matches, who-knows lists, server charts, blends and server picks (only where that "
    "server has server features on). Hide yourself from all of that with `/privacy visibility hide`, download "
    "everything with `/privacy export`, or delete it all with `/privacy forget`.\n"
    "**What I never do:** play, change or delete anything in your Spotify account. The only thing I ever add "
    "is a playlist, and only when you press Save."
)


class Account(BaseCog):
    """Link or unlink your Spotify account."""

    @commands.hybrid_command(name="connect", description="Link your Spotify account")
    @commands.cooldown(1, 20, commands.BucketType.user)
    async def connect(self, ctx: commands.Context) -> None:
        """Link your Spotify account (I'll send you a private link)."""
        await self.begin(ctx, private=True)
        guild_id = ctx.guild.id if ctx.guild else None
        url = await call(self.services.auth.create_link, ctx.author.id, guild_id, ctx.author.display_name)
        state = await call(self.services.auth.link_state, ctx.author.id)
        intro = ("You're already linked. Linking again replaces your current link.\n\n" if state == "linked" else
                 "Your old link stopped working; linking again fixes it.\n\n" if state == "broken" else "")
        embed = discord.Embed(title="Link your Spotify", colour=SPOTIFY_GREEN, description=intro + WHAT_WE_STORE)
        embed.set_footer(text="The button works once and for 10 minutes. Only you can see this message.")
        if ctx.interaction is None and ctx.guild is not None:
            # A prefix command answers in the channel: keep the personal link out of it.
            try:
                await ctx.author.send(embed=embed, view=link_view("Link Spotify", url))
                await ctx.reply(embed=message_embed("I've sent you a private message with your link."),
                                mention_author=False)
            except discord.Forbidden:
                await ctx.reply(embed=error_embed("I can't send you direct messages. Use `/connect` instead, "
                                                  "or allow messages from server members."), mention_author=False)
            return
        await self.send(ctx, embed=embed, view=link_view("Link Spotify", url), private=True)

    @commands.hybrid_command(name="disconnect", description="Unlink your Spotify account")
    async def disconnect(self, ctx: commands.Context) -> None:
        """Unlink your Spotify account (your stored listening stays until /privacy forget)."""
        await self.begin(ctx, private=True)
        await call(self.services.auth.disconnect, ctx.author.id)
        await self.send(ctx, private=True, embed=message_embed(
            "Done: your Spotify account is unlinked and I've deleted your Spotify login. "
            "The listening I had stored stays until you run `/privacy forget`.", title="Unlinked"))

    @commands.hybrid_command(name="sync", description="Refresh your listening data from Spotify now")
    @commands.cooldown(1, 120, commands.BucketType.user)
    async def sync(self, ctx: commands.Context) -> None:
        """Fetch your latest listening from Spotify now."""
        await self.begin(ctx, private=True)
        await call(self.services.auth.link_state, ctx.author.id, require=True)
        result = await self.services.sync.sync_member(ctx.author.id, force=True)
        if result.status == "failed":
            ctx.command.reset_cooldown(ctx)  # nothing was fetched: they may try again at once
            await self.send(ctx, embed=error_embed(result.message), private=True)
            return
        text = result.message or f"Done! I added {plural(result.plays_added, 'new play')}."
        await self.send(ctx, embed=message_embed(text, title="Up to date"), private=True)


async def setup(bot: MusicBot) -> None:
    await bot.add_cog(Account(bot))
