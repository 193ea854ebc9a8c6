"""Personal music commands: profile, top lists, recent plays, recommendations, playlists."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from cogs._base import BaseCog
from cogs.errors import Refusal
from cogs.ui.embeds import item_pages, playlist_embed, profile_embed, recent_pages, recommendations_embed
from cogs.ui.format import (
    MEMBER_NOT_FOUND,
    RANGE_LABELS,
    freshness,
    is_range,
    member_or_range_words,
    not_member_or_range,
    parse_range,
    prefix_leftover,
    range_label,
    short,
)
from cogs.ui.music_views import ProfileView, RecommendView
from cogs.ui.views import link_view

if TYPE_CHECKING:
    from bot import MusicBot
    from utils.models import Profile

PLAYLIST_SOURCES = [
    app_commands.Choice(name="My last recommendations", value="last"),
    app_commands.Choice(name="My top tracks, last 4 weeks", value="top_short"),
    app_commands.Choice(name="My top tracks, last 6 months", value="top_medium"),
    app_commands.Choice(name="My top tracks, last year", value="top_long"),
]
_SOURCE_WORDS = {"last": "last", "recommendations": "last", "short": "top_short", "medium": "top_medium",
                 "long": "top_long", **{c.value: c.value for c in PLAYLIST_SOURCES}}


class Music(BaseCog):
    """Your own listening: profile, tops, recent plays, recommendations."""

    async def _target(self, ctx: commands.Context, member: discord.Member | discord.User | None) -> discord.abc.User:
        """The member asked about; another member's data only where server features show it (see check_can_view)."""
        if member is None or member.id == ctx.author.id:
            return ctx.author
        if member.bot:
            raise Refusal("Bots don't listen to music, sadly.")
        await self.services.community.access.check_can_view(ctx.guild.id if ctx.guild else None, member.id, ctx.author.id)
        return member

    async def _member_and_range(self, ctx: commands.Context, member: discord.Member | None,
                                time_range: str | None) -> tuple[discord.Member | None, str]:
        """The member and time range asked for. Typed after `!`, they may come in either order, and a word that is
        neither a member here nor a range is answered in words (discord.py would pass it as a range, or drop it)."""
        if ctx.interaction is not None:
            return member, parse_range(time_range)
        text = " ".join(w for w in (time_range or "", prefix_leftover(ctx)) if w)
        if not text or is_range(text) or member is not None:
            return member, parse_range(text)
        meant_a_member = False
        for words, rest in member_or_range_words(text):
            if rest and not is_range(rest):
                continue
            try:
                found = await commands.MemberConverter().convert(ctx, words)
            except commands.BadArgument:
                meant_a_member = meant_a_member or bool(rest)  # the other words are a range
                continue
            return found, parse_range(rest)
        raise Refusal(MEMBER_NOT_FOUND if meant_a_member else not_member_or_range(text))

    @commands.hybrid_command(name="profile", description="Your (or a member's) top artists and tracks")
    @app_commands.describe(member="Whose profile to show (you by default)", time_range="Which period")
    @app_commands.rename(time_range="range")
    async def profile(self, ctx: commands.Context, member: discord.Member | None = None,
                      time_range: str | None = None) -> None:
        """Show top artists and tracks, with a menu to switch the time range."""
        member, chosen = await self._member_and_range(ctx, member, time_range)
        await self.begin(ctx, private=True)
        target = await self._target(ctx, member)
        music = self.services.music

        async def load(time_range: str) -> Profile:
            # named as this server knows them (their nickname here), like every other reply
            return replace(await music.profile(target.id, time_range), display_name=target.display_name)

        profile = await load(chosen)
        years = await self.bot.db.run(self.bot.db.listening_years, target.id)
        ranges = [*RANGE_LABELS, *(str(y) for y in sorted(years, reverse=True))][:25]
        if chosen not in ranges:
            ranges.append(chosen)
        avatar = target.display_avatar.url if target.display_avatar else None

        view = ProfileView(ctx.author.id, chosen, ranges, load, avatar)
        await self.send(ctx, embed=profile_embed(profile, avatar_url=avatar), view=view, private=True)

    profile.autocomplete("time_range")(BaseCog.range_autocomplete)

    @commands.hybrid_group(name="top", description="Your most played tracks or artists", invoke_without_command=True)
    async def top(self, ctx: commands.Context) -> None:
        """Your most played tracks or artists: top tracks, top artists."""
        await self._top(ctx, "tracks", None, None)

    @top.command(name="tracks", description="Your most played tracks", aliases=["songs", "song", "track"])
    @app_commands.describe(time_range="Which period", member="Whose top tracks (you by default)")
    @app_commands.rename(time_range="range")
    async def top_tracks(self, ctx: commands.Context, time_range: str | None = None,
                         member: discord.Member | None = None) -> None:
        """Your most played tracks for a period."""
        await self._top(ctx, "tracks", time_range, member)

    @top.command(name="artists", description="Your most played artists", aliases=["artist"])
    @app_commands.describe(time_range="Which period", member="Whose top artists (you by default)")
    @app_commands.rename(time_range="range")
    async def top_artists(self, ctx: commands.Context, time_range: str | None = None,
                          member: discord.Member | None = None) -> None:
        """Your most played artists for a period."""
        await self._top(ctx, "artists", time_range, member)

    top_tracks.autocomplete("time_range")(BaseCog.range_autocomplete)
    top_artists.autocomplete("time_range")(BaseCog.range_autocomplete)

    async def _top(self, ctx: commands.Context, kind: str, time_range: str | None,
                   member: discord.Member | None) -> None:
        member, chosen = await self._member_and_range(ctx, member, time_range)
        await self.begin(ctx, private=True)
        target = await self._target(ctx, member)
        items = await self.services.music.top(target.id, kind, chosen, 50)
        whose = "Your" if target.id == ctx.author.id else f"{short(target.display_name)}'s"
        title = f"{whose} top {kind} \u00b7 {range_label(chosen)}"
        pages = item_pages(title, items, footer=freshness(await self.last_synced(target.id)))
        await self.send_pages(ctx, pages, private=True)

    @commands.hybrid_command(name="recent", description="What you played lately")
    async def recent(self, ctx: commands.Context) -> None:
        """The songs you played most recently."""
        await self.begin(ctx, private=True)
        plays = await self.services.music.recent(ctx.author.id, 50)
        if not plays:
            raise Refusal("I don't have any recent plays for you yet. If you've linked Spotify, run `/sync` after "
                          "listening for a bit; if not, `/link lastfm`, `/link listenbrainz`, `/connect` or "
                          "`/import file` first.")
        pages = recent_pages(plays, footer=freshness(await self.last_synced(ctx.author.id)))
        await self.send_pages(ctx, pages, private=True)

    @commands.hybrid_command(name="recommend", description="New music picked for you, each with its reason")
    @app_commands.describe(count="How many songs (1-25)", mode="Balanced, more discovery, or closer to what you know")
    async def recommend(self, ctx: commands.Context, count: commands.Range[int, 1, 25] = 10,
                        mode: Literal["balanced", "discover", "familiar"] = "balanced") -> None:
        """Songs picked for you, each with the reason, plus Like / Not for me / Save buttons."""
        guild_id = ctx.guild.id if ctx.guild else None
        result = await self.begin_with(ctx, self.services.music.recommend(ctx.author.id, guild_id, count, mode))
        footer = f"{mode.capitalize()} mode \u00b7 {freshness(result.synced_at)}"
        embed = recommendations_embed(result, title="Picked for you", footer=footer)
        view = RecommendView(ctx.author.id, result, self.services, playlists=self.bot.settings.feature_playlists)
        await self.send(ctx, embed=embed, view=view, private=True)

    @commands.hybrid_command(name="playlist", description="Save your last recommendations or top tracks to Spotify")
    @app_commands.describe(source="What to save")
    @app_commands.choices(source=PLAYLIST_SOURCES)
    @commands.cooldown(1, 60, commands.BucketType.user)
    async def playlist(self, ctx: commands.Context, source: str = "last") -> None:
        """Save a playlist to your Spotify: last (recommendations), short, medium or long (top tracks)."""
        value = _SOURCE_WORDS.get(source.strip().lower())
        if value is None:
            raise Refusal("I can save `last` (your last recommendations) or your top tracks: `short`, `medium` or `long`.")
        await self.begin(ctx, private=True)
        result = await self.services.playlists.save_playlist(ctx.author.id, value)
        await self.send(ctx, embed=playlist_embed(result), view=link_view("Open in Spotify", result.url), private=True)


async def setup(bot: MusicBot) -> None:
    await bot.add_cog(Music(bot))
