"""Server features: taste match, who knows an artist, server charts and picks, blends."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from cogs._base import BaseCog
from cogs.errors import Refusal
from cogs.ui.embeds import blend_embed, item_pages, recommendations_embed, taste_embed, whoknows_embed
from cogs.ui.format import MEMBER_NOT_FOUND, parse_range, prefix_leftover, range_label, short
from cogs.ui.views import OwnedView, SaveOnce
from utils.community import server as community
from utils.errors import BotError
from utils.models import BlendResult

if TYPE_CHECKING:
    from bot import MusicBot

ARTIST_MAX = 100  # Discord stops a member typing more into the slash option; the prefix form says so in words


class ArtistName(app_commands.Transformer, commands.Converter[str]):
    """The artist text as typed, with a length limit Discord applies to the slash option (1 to ARTIST_MAX).

    The prefix form gets the same text unchanged, and the command itself says in words when it is too long
    (a plain `Range[str, ...]` would answer a prefix member with a message about numbers).
    """

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.string

    @property
    def min_value(self) -> int:
        return 1

    @property
    def max_value(self) -> int:
        return ARTIST_MAX

    async def transform(self, interaction: discord.Interaction, value: str) -> str:
        return value

    async def convert(self, ctx: commands.Context, argument: str) -> str:
        return argument


class BlendView(OwnedView):
    """Lets the member who asked for a blend save it to their Spotify: the very songs the blend holds."""

    def __init__(self, owner_id: int, guild_id: int, result: BlendResult, names: dict[int, str], playlists: Any) -> None:
        super().__init__(owner_id, timeout=600)
        self.guild_id = guild_id
        self.result = result
        self.names = names
        self.playlists = playlists
        self._save = SaveOnce()

    @discord.ui.button(label="Save to my Spotify", emoji="\U0001f4be", style=discord.ButtonStyle.primary)
    async def save(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await self._save.press(interaction, button, lambda: self.playlists.save_blend(
            self.owner_id, self.guild_id, self.result, self.names))


class Community(BaseCog):
    """Compare and share music with the people in this server."""

    def __init__(self, bot: MusicBot) -> None:
        super().__init__(bot)
        self.compare_menu = app_commands.ContextMenu(name="Compare taste", callback=self.compare_taste)
        self.compare_menu.guild_only = True

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.compare_menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.compare_menu.name, type=self.compare_menu.type)

    async def _taste_embed(self, guild: discord.Guild, author: discord.abc.User, other: discord.abc.User) -> discord.Embed:
        if other.id == author.id:
            raise BotError("That's you! Pick someone else to compare with.")
        if other.bot:
            raise BotError("Bots don't listen to music, sadly.")
        match = await self.services.community.taste(guild.id, author.id, other.id)
        return taste_embed(match, author.display_name, other.display_name)

    @commands.hybrid_command(name="taste", description="How well your taste matches another member's")
    @app_commands.describe(member="Who to compare with")
    @commands.guild_only()
    async def taste(self, ctx: commands.Context, member: discord.Member) -> None:
        """How well your music taste matches another member's."""
        await self.begin(ctx, private=False)
        assert ctx.guild is not None
        await self.send(ctx, embed=await self._taste_embed(ctx.guild, ctx.author, member), private=False)

    async def compare_taste(self, interaction: discord.Interaction, member: discord.Member) -> None:
        """The right-click "Compare taste" menu on a member: the same as /taste."""
        if interaction.guild is None:
            raise BotError("That only works inside a server.")
        await interaction.response.defer(thinking=True)
        embed = await self._taste_embed(interaction.guild, interaction.user, member)
        await interaction.followup.send(embed=embed)

    @commands.hybrid_command(name="whoknows", description="Who in this server listens to an artist the most")
    @app_commands.describe(artist="The artist's name")
    @commands.guild_only()
    async def whoknows(self, ctx: commands.Context, *, artist: ArtistName) -> None:
        """Who in this server listens to an artist the most."""
        if len(artist.strip()) > ARTIST_MAX:
            raise Refusal(f"That artist name is too long: I can look up names of up to {ARTIST_MAX} characters. "
                          "Try a shorter name, like `/whoknows Daft Punk`.")
        await self.begin(ctx, private=False)
        assert ctx.guild is not None
        name, entries = await self.services.community.whoknows(ctx.guild.id, artist)
        await self.send(ctx, embed=whoknows_embed(name, entries, ctx.guild.name), private=False)

    @whoknows.autocomplete("artist")
    async def artist_autocomplete(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        names = await self.services.music.artist_names(current)
        return [app_commands.Choice(name=n[:100], value=n[:100]) for n in names[:25]]

    @commands.hybrid_group(name="server", description="This server's music", invoke_without_command=True)
    @commands.guild_only()
    async def server(self, ctx: commands.Context) -> None:
        """This server's music: server top, server recommend."""
        await self._server_top(ctx, "artists", None)

    @server.command(name="top", description="This server's most played tracks or artists")
    @app_commands.describe(kind="Tracks or artists", time_range="Which period")
    @app_commands.rename(time_range="range")
    async def server_top(self, ctx: commands.Context, kind: Literal["tracks", "artists"] = "artists",
                         time_range: str | None = None) -> None:
        """This server's most played tracks or artists."""
        await self._server_top(ctx, kind, time_range)

    server_top.autocomplete("time_range")(BaseCog.range_autocomplete)

    async def _server_top(self, ctx: commands.Context, kind: str, time_range: str | None) -> None:
        if ctx.guild is None:
            raise commands.NoPrivateMessage()
        await self.begin(ctx, private=False)
        chosen = parse_range(time_range)
        items = await self.services.community.server_top(ctx.guild.id, kind, chosen, 50)
        title = f"Top {kind} in {short(ctx.guild.name)} \u00b7 {range_label(chosen)}"
        footer = f"{community.server_top_order(chosen)} Members who hid their listening aren't counted."
        pages = item_pages(title, items, footer=footer)
        await self.send_pages(ctx, pages, private=False)

    @server.command(name="recommend", description="Songs this server could enjoy together")
    async def server_recommend(self, ctx: commands.Context) -> None:
        """Songs this server could enjoy together."""
        if ctx.guild is None:
            raise commands.NoPrivateMessage()
        await self.begin(ctx, private=False)
        result = await self.services.community.server_recommend(ctx.guild.id, 10)
        embed = recommendations_embed(result, title=f"Picks for {short(ctx.guild.name)}",
                                      footer="Blended fairly from everyone who shares their listening here")
        await self.send(ctx, embed=embed, private=False)

    @commands.hybrid_command(name="blend", description="A shared mix for you and up to four others")
    @app_commands.describe(member1="Someone to blend with", member2="Another member (optional)",
                           member3="Another member (optional)", member4="Another member (optional)")
    @commands.guild_only()
    async def blend(self, ctx: commands.Context, member1: discord.Member, member2: discord.Member | None = None,
                    member3: discord.Member | None = None, member4: discord.Member | None = None) -> None:
        """A shared mix for you and up to four other members."""
        assert ctx.guild is not None
        chosen = [m for m in (member1, member2, member3, member4) if m is not None]
        if prefix_leftover(ctx):  # discord.py would leave out whoever it could not fit or find, without a word
            if len(chosen) == 4:
                raise Refusal("A blend has room for you and up to four others. Pick up to four members, like "
                              "`!blend @bob @carol`.")
            raise Refusal(MEMBER_NOT_FOUND)
        if any(m.bot for m in chosen):
            raise Refusal("Bots can't join a blend.")
        ids = list(dict.fromkeys([ctx.author.id, *(m.id for m in chosen)]))
        if len(ids) < 2:
            raise Refusal("Pick at least one other member to blend with.")
        await self.begin(ctx, private=False)
        result: BlendResult = await self.services.community.blend(ctx.guild.id, ids, asker=ctx.author.id)
        names = {m.id: m.display_name for m in (ctx.author, *chosen)}
        view = (BlendView(ctx.author.id, ctx.guild.id, result, names, self.services.playlists)
                if self.bot.settings.feature_playlists else None)
        await self.send(ctx, embed=blend_embed(result, names), view=view, private=False)


async def setup(bot: MusicBot) -> None:
    await bot.add_cog(Community(bot))
