"""Chart pictures: `/chart` (yours, a member's, or with `server` the whole server's), a grid of covers with names and plays."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from cogs._base import BaseCog
from cogs.errors import Refusal
from cogs.ui.charts import KIND_WORDS, LABELS_OFF_WORDS, SIZES, alt_text, chart_embed, chart_file, parse_size
from cogs.ui.format import MEMBER_NOT_FOUND, freshness, is_range, parse_range, prefix_leftover, range_label, short
from utils.community import server as community
from utils.images.charts import member_entries, server_entries

if TYPE_CHECKING:
    from bot import MusicBot

SIZE_CHOICES = [app_commands.Choice(name=s, value=s) for s in SIZES]
KIND_CHOICES = [app_commands.Choice(name=k.capitalize(), value=k) for k in ("albums", "artists", "tracks")]
LABEL_CHOICES = [app_commands.Choice(name="Names on the covers", value="on"),
                 app_commands.Choice(name="Off: a clean grid", value="off")]
SIZE_WORDS = "Pick a size from 3x3 to 10x10, like `5x5`."


class ChartRequest:
    """What a member asked for, from slash options or from words typed after `!chart` in any order."""

    def __init__(self, size: str | None, time_range: str | None, kind: str | None, labels: str | None) -> None:
        grid = parse_size(size) if size else 3
        if grid is None or not 3 <= grid <= 10:
            raise Refusal(f"I can't draw a {size!s:.20} chart. {SIZE_WORDS}")
        self.grid = grid
        self.time_range = parse_range(time_range)
        self.kind = KIND_WORDS.get((kind or "albums").strip().lower(), "")
        if not self.kind:
            raise Refusal("A chart can show `albums`, `artists` or `tracks`.")
        self.labels = (labels or "on").strip().lower() not in LABELS_OFF_WORDS

    @classmethod
    def from_words(cls, words: list[str]) -> tuple[ChartRequest, list[str]]:
        """Sort typed words into size, kind, labels and range; the words left over may name a member."""
        size = kind = labels = None
        rest: list[str] = []
        for word in words:
            lowered = word.lower()
            if "x" in lowered.replace("\u00d7", "x") and parse_size(word) is not None and size is None:
                size = word
            elif lowered in KIND_WORDS and kind is None:
                kind = lowered
            elif lowered in LABELS_OFF_WORDS | {"labels:on", "on"}:
                labels = lowered
            else:
                rest.append(word)
        ranged = [w for w in rest if not w.startswith("<@")]
        range_text = " ".join(ranged) if ranged and is_range(" ".join(ranged)) else None
        leftover = [w for w in rest if range_text is None or w.startswith("<@")]
        return cls(size, range_text, kind, labels), leftover


class Charts(BaseCog):
    """Pictures of what you and this server play."""

    async def _request(self, ctx: commands.Context, size: str | None, time_range: str | None, kind: str | None,
                       labels: str | None) -> tuple[ChartRequest, str, bool]:
        """The request, for a prefix command the words that were neither size, kind, labels nor range, and whether
        a prefix command began with `server` (`!chart server 4x4`)."""
        if ctx.interaction is not None:
            return ChartRequest(size, time_range, kind, labels), "", False
        words = [w for part in (size, time_range, kind, labels, prefix_leftover(ctx)) if part for w in part.split()]
        server = bool(words) and words[0].lower() == "server"
        request, leftover = ChartRequest.from_words(words[1:] if server else words)
        if any(re.fullmatch(r"\d+\s*[x\u00d7*]\s*\d+", word.lower()) for word in leftover):
            raise Refusal(f"A chart is square: {SIZE_WORDS}")
        return request, " ".join(leftover), server

    async def _send_chart(self, ctx: commands.Context, request: ChartRequest, entries: list, title: str,
                          footer: str, *, private: bool) -> None:
        if self.services.images is None:
            raise Refusal("Pictures are switched off on this bot. Try `/top` for your list.")
        grid = request.grid
        png = await self.services.images.chart(entries, grid, request.labels)
        embed = chart_embed(title, request.kind, grid, entries, footer)
        await self.send(ctx, embed=embed, file=chart_file(png, alt_text(request.kind, grid, entries)), private=private)

    @commands.hybrid_command(name="chart", description="A picture of your top albums, artists or tracks")
    @app_commands.describe(size="How many covers (3x3 to 10x10)", time_range="Which period",
                           kind="Albums, artists or tracks", member="Whose chart (you by default)",
                           labels="Names on the covers, or a clean grid",
                           server="The whole server's chart instead of one member's")
    @app_commands.rename(time_range="range")
    @app_commands.choices(size=SIZE_CHOICES, kind=KIND_CHOICES, labels=LABEL_CHOICES)
    async def chart(self, ctx: commands.Context, size: str | None = None, time_range: str | None = None,
                    kind: str | None = None, member: discord.Member | None = None, labels: str | None = None,
                    server: bool | None = None) -> None:
        """A grid of covers of your (or a member's, or the server's) top albums, artists or tracks:
        `!chart 5x5 artists`, `!chart server 4x4 tracks`."""
        request, leftover, typed_server = await self._request(ctx, size, time_range, kind, labels)
        if server or typed_server:
            await self._server_chart(ctx, request, leftover, member)
            return
        if leftover and member is None:
            try:
                member = await commands.MemberConverter().convert(ctx, leftover)
            except commands.BadArgument as error:
                raise Refusal(MEMBER_NOT_FOUND) from error
        await self.begin(ctx, private=False)
        target = ctx.author
        if member is not None and member.id != ctx.author.id:
            if member.bot:
                raise Refusal("Bots don't listen to music, sadly.")
            await self.services.community.access.check_can_view(ctx.guild.id if ctx.guild else None, member.id,
                                                                ctx.author.id)
            target = member
        entries = await member_entries(self.services.music, self.bot.db, target.id, request.kind,
                                       request.time_range, request.grid ** 2)
        whose = "Your" if target.id == ctx.author.id else f"{short(target.display_name)}'s"
        title = f"{whose} top {request.kind} \u00b7 {range_label(request.time_range)}"
        footer = freshness(await self.last_synced(target.id))
        await self._send_chart(ctx, request, entries, title, footer, private=False)

    chart.autocomplete("time_range")(BaseCog.range_autocomplete)

    async def _server_chart(self, ctx: commands.Context, request: ChartRequest, leftover: str,
                            member: discord.Member | None) -> None:
        """A grid of covers of what this server plays most."""
        if leftover or member is not None:
            raise Refusal("A server chart counts everyone who shares their listening here, so it takes no member. "
                          f"{SIZE_WORDS} Add `albums`, `artists` or `tracks`, a period like `short` or `2024`, "
                          "and `off` for no names.")
        if ctx.guild is None:
            raise commands.NoPrivateMessage()
        await self.begin(ctx, private=False)
        entries = await server_entries(self.services.community, self.bot.db, ctx.guild.id, request.kind,
                                       request.time_range, request.grid ** 2)
        title = f"Top {request.kind} in {short(ctx.guild.name)} \u00b7 {range_label(request.time_range)}"
        order = "Ranked by plays." if request.kind == "albums" else community.server_top_order(request.time_range)
        footer = f"{order} Members who hid their listening aren't counted."
        await self._send_chart(ctx, request, entries, title, footer, private=False)


async def setup(bot: MusicBot) -> None:
    await bot.add_cog(Charts(bot))
