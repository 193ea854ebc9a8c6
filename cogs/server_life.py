"""Server life: crowns, who matches you best, and a year in music."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from cogs._base import BaseCog, server_names
from cogs.errors import Refusal
from cogs.ui.format import clip
from cogs.ui.server_embeds import affinity_embed, crown_board_embed, member_crowns_embed, recap_embed
from utils.errors import BotError
from utils.listening.periods import parse_period

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

    # -- a year in music --------------------------------------------------------------------------------

    @commands.hybrid_group(name="recap", description="A year in music: yours or a member's", fallback="year")
    @app_commands.describe(year="Which year (your latest by default)", member="Whose year (yours by default)")
    async def recap(self, ctx: commands.Context, year: str | None = None, member: discord.Member | None = None) -> None:
        """A year in music: plays, minutes, tops, new artists, busiest month, songs on repeat."""
        if ctx.interaction is None and year is not None and member is None and not _looks_like_year(year):
            member = await commands.MemberConverter().convert(ctx, year)  # `!recap @bob`
            year = None
        chosen = _year(year)
        target = member or ctx.author
        if target.bot:
            raise Refusal("Bots don't listen to music, sadly.")
        await self.begin(ctx, private=ctx.guild is None)
        result = await self.services.community.member_recap(ctx.guild.id if ctx.guild else None, target.id,
                                                            ctx.author.id, chosen)
        whose = "Your" if target.id == ctx.author.id else f"{target.display_name}'s"
        # Chart hook (utils/images, another branch): `result.monthly_plays` holds the twelve monthly counts, January
        # first. Draw them there, then pass `file=` to self.send and `embed.set_image(url="attachment://<name>")`.
        await self.send(ctx, embed=recap_embed(result, whose), private=ctx.guild is None)

    @recap.command(name="server", description="This server's year in music")
    @app_commands.describe(year="Which year (the latest by default)")
    async def recap_server(self, ctx: commands.Context, year: str | None = None) -> None:
        """This server's year in music, from everyone who shares their listening here."""
        guild = self._guild(ctx)
        chosen = _year(year)
        await self.begin(ctx, private=False)
        result = await self.services.community.server_recap(guild.id, chosen)
        await self.send(ctx, embed=recap_embed(result, f"{guild.name}'s"), private=False)

    @recap.autocomplete("year")
    async def recap_year_autocomplete(self, interaction: discord.Interaction,
                                      current: str) -> list[app_commands.Choice[str]]:
        """The years the member has plays in, newest first."""
        years = await self.bot.db.run(self.bot.db.listening_years, interaction.user.id)
        return [app_commands.Choice(name=str(y), value=str(y)) for y in sorted(years, reverse=True)
                if current.strip() in str(y)][:25]

    recap_server.autocomplete("year")(recap_year_autocomplete)


def _looks_like_year(text: str) -> bool:
    return text.strip().isdigit()


def _year(text: str | None) -> int | None:
    """The year a member typed, or a plain refusal for one that makes no sense."""
    if text is None or not text.strip():
        return None
    try:
        period = parse_period(text)
    except BotError as error:
        raise Refusal(error.user_message) from None
    if period is None or not period.isdigit():
        raise Refusal(f"A recap covers a whole year: pick one like `2023`, not \u201c{clip(text.strip(), 40)}\u201d.")
    return int(period)


async def setup(bot: MusicBot) -> None:
    await bot.add_cog(ServerLife(bot))
