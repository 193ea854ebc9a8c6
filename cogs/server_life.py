"""Server life: crowns, who matches you best, and a year in music."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from cogs._base import BaseCog, server_names
from cogs.errors import Refusal
from cogs.ui.server_embeds import affinity_embed, crown_board_embed, member_crowns_embed

if TYPE_CHECKING:
    from bot import MusicBot


class ServerLife(BaseCog):
    """Crowns, your best matches here, and a year in music."""

    def _guild(self, ctx: commands.Context) -> discord.Guild:
        if ctx.guild is None:
            raise commands.NoPrivateMessage()
        return ctx.guild

    # -- crowns ------------------------------------------------------------------------------------------

    @commands.hybrid_group(name="crowns", description="Crowns: who plays each artist most here", fallback="member")
    @app_commands.describe(member="Whose crowns (yours by default)")
    @commands.guild_only()
    async def crowns(self, ctx: commands.Context, member: discord.Member | None = None) -> None:
        """The crowns a member holds here: artists they play more than anyone else in this server."""
        guild = self._guild(ctx)
        target = member or ctx.author
        if target.bot:
            raise Refusal("Bots don't listen to music, sadly.")
        await self.begin(ctx, private=False)
        service = self.services.community.crowns
        held = await service.member_crowns(guild.id, target.id, ctx.author.id)
        settings = await service.settings(guild.id)
        await self.send(ctx, embed=member_crowns_embed(target.display_name, held, guild.name,
                                                       int(settings["threshold"])), private=False)

    @crowns.command(name="server", description="This server's crown leaderboard")
    async def crowns_server(self, ctx: commands.Context) -> None:
        """Who holds the most crowns in this server."""
        guild = self._guild(ctx)
        await self.begin(ctx, private=False)
        service = self.services.community.crowns
        board = await service.leaderboard(guild.id)
        settings = await service.settings(guild.id)
        names = await server_names(self.bot.db, guild, [member for member, _ in board])
        await self.send(ctx, embed=crown_board_embed(guild.name, board, names, int(settings["threshold"])),
                        private=False)

    # -- who matches you --------------------------------------------------------------------------------

    @commands.hybrid_command(name="affinity", description="The ten members here whose taste is closest to yours")
    @commands.guild_only()
    async def affinity(self, ctx: commands.Context) -> None:
        """The ten members of this server closest to your taste, with the score /taste gives and what ties you."""
        guild = self._guild(ctx)
        await self.begin(ctx, private=False)
        matches = await self.services.community.affinity(guild.id, ctx.author.id)
        names = await server_names(self.bot.db, guild, [member for member, _, _ in matches])
        await self.send(ctx, embed=affinity_embed(ctx.author.display_name, guild.name, matches, names), private=False)


async def setup(bot: MusicBot) -> None:
    await bot.add_cog(ServerLife(bot))
