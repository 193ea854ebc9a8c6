"""Server life: crowns, who matches you best, and a year in music.

`/crowns` and `/recap` are one command each, as the issue spells them: `/crowns [member]`, `/crowns server`
(slash: `server:True`), `/recap [year] [member]`, `/recap server [year]`. Typed after the prefix, the word
`server` comes first: `!crowns server`, `!recap server 2023`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from cogs._base import BaseCog, server_names
from cogs.errors import Refusal
from cogs.ui.charts import recap_chart
from cogs.ui.format import MEMBER_NOT_FOUND, clip, prefix_leftover
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

    @commands.hybrid_command(name="crowns", description="Crowns: the artists a member plays more than anyone here")
    @app_commands.describe(member="Whose crowns (yours by default)",
                           server="The server's crown leaderboard instead of one member's crowns")
    @commands.guild_only()
    async def crowns(self, ctx: commands.Context, member: discord.Member | None = None,
                     server: bool | None = None) -> None:
        """A member's crowns here (`!crowns`, `!crowns @bob`), or the server's leaderboard (`!crowns server`)."""
        guild = self._guild(ctx)
        typed = prefix_leftover(ctx)  # `!crowns server`: neither a member nor a yes/no, so left over
        if typed:
            if typed.lower() != "server":
                raise Refusal(MEMBER_NOT_FOUND if member is None else
                              "Name one member, like `!crowns @bob`, or ask `!crowns server` for the leaderboard.")
            server = True
        if server:
            if member is not None:
                raise Refusal("The leaderboard is the whole server's, so it takes no member. Ask `/crowns` with just "
                              "the member for their crowns.")
            await self._crown_board(ctx, guild)
            return
        target = member or ctx.author
        if target.bot:
            raise Refusal("Bots don't listen to music, sadly.")
        await self.begin(ctx, private=False)
        service = self.services.community.crowns
        held = await service.member_crowns(guild.id, target.id, ctx.author.id)
        settings = await service.settings(guild.id)
        await self.send(ctx, embed=member_crowns_embed(target.display_name, held, guild.name,
                                                       int(settings["threshold"])), private=False)

    async def _crown_board(self, ctx: commands.Context, guild: discord.Guild) -> None:
        """Who holds the most crowns in this server."""
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

    @commands.hybrid_command(name="recap", description="A year in music: yours, a member's, or the server's")
    @app_commands.describe(year="Which year (the latest with plays by default)", member="Whose year (yours by default)",
                           server="The whole server's year instead of one member's")
    async def recap(self, ctx: commands.Context, year: str | None = None, member: discord.Member | None = None,
                    server: bool | None = None) -> None:
        """A year in music: plays, minutes, tops, new artists, busiest month, songs on repeat.
        `!recap`, `!recap 2023`, `!recap 2023 @bob`, `!recap server 2023`."""
        if ctx.interaction is None:
            year, member, server = await self._recap_words(ctx, year, member)
        chosen = _year(year)
        if server:
            if member is not None:
                raise Refusal("A server's year counts everyone who shares their listening here, so it takes no "
                              "member. Ask `/recap` with just the member for their year.")
            guild = self._guild(ctx)
            await self.begin(ctx, private=False)
            result = await self.services.community.server_recap(guild.id, chosen)
            picture = await recap_chart(self.services.images, result.monthly_plays, result.year,
                                        recap_embed(result, f"{guild.name}'s"))
            await self.send(ctx, **picture, private=False)
            return
        target = member or ctx.author
        if target.bot:
            raise Refusal("Bots don't listen to music, sadly.")
        await self.begin(ctx, private=ctx.guild is None)
        result = await self.services.community.member_recap(ctx.guild.id if ctx.guild else None, target.id,
                                                            ctx.author.id, chosen)
        whose = "Your" if target.id == ctx.author.id else f"{target.display_name}'s"
        picture = await recap_chart(self.services.images, result.monthly_plays, result.year, recap_embed(result, whose))
        await self.send(ctx, **picture, private=ctx.guild is None)

    async def _recap_words(self, ctx: commands.Context, year: str | None,
                           member: discord.Member | None) -> tuple[str | None, discord.Member | None, bool]:
        """Typed after the prefix: `server` first if at all, a year, and a member, in any order after it."""
        words = " ".join(w for w in (year or "", prefix_leftover(ctx)) if w).split()
        server = bool(words) and words[0].lower() == "server"
        words = words[1:] if server else words
        text = " ".join(words)
        if text and _is_period(text):
            return text, member, server
        years = [w for w in words if w.isdigit()]
        rest = " ".join(w for w in words if not w.isdigit())
        if rest and member is None:
            try:
                member = await commands.MemberConverter().convert(ctx, rest)
            except commands.BadArgument:
                raise Refusal(MEMBER_NOT_FOUND) from None
        elif rest:
            raise Refusal(f"I didn't understand \u201c{clip(rest, 40)}\u201d. Try `!recap 2023 @bob` or "
                          "`!recap server 2023`.")
        return (years[0] if years else None), member, server

    @recap.autocomplete("year")
    async def recap_year_autocomplete(self, interaction: discord.Interaction,
                                      current: str) -> list[app_commands.Choice[str]]:
        """The years with plays, newest first: the server's when `server` is set, else the chosen member's or yours."""
        chosen = getattr(interaction.namespace, "member", None)
        years = await self.services.community.recap_years(
            interaction.guild_id, interaction.user.id, chosen.id if chosen is not None else None,
            server=bool(getattr(interaction.namespace, "server", False)))
        return [app_commands.Choice(name=str(y), value=str(y)) for y in years if current.strip() in str(y)][:25]


def _is_period(text: str) -> bool:
    try:
        return parse_period(text) is not None
    except BotError:
        return True  # a period that makes no sense: `_year` says what is wrong with it


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
