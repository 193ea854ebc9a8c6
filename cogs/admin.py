"""Admin: figures and health and server settings for server admins (Manage Server), owner-only maintenance."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, TypeVar

import discord
from discord import app_commands
from discord.ext import commands

from cogs._base import BaseCog
from cogs.errors import Refusal
from cogs.ui.embeds import info_embed, message_embed
from cogs.ui.format import ago
from utils.community.crowns import MAX_THRESHOLD
from utils.errors import describe_wait

if TYPE_CHECKING:
    from bot import MusicBot
    from config import Settings

T = TypeVar("T")


def manage_server_or_owner(what: str) -> Callable[[T], T]:
    """Only members with Manage Server (or the bot's owner) may `what`; anyone else is told so plainly.

    Pair it with `app_commands.default_permissions(manage_guild=True)` so Discord hides the slash command
    from members who would only be refused. It lives here, not in cogs/_base.py, because a module that is
    not an extension keeps the Refusal class of the first cogs.errors it saw, and after a reload of the
    errors cog that old class would no longer be recognised (the member would see a vague "can't use that").
    """

    async def predicate(ctx: commands.Context) -> bool:
        if await ctx.bot.is_owner(ctx.author):
            return True
        if ctx.guild is None or not isinstance(ctx.author, discord.Member):
            raise Refusal(f"Use this inside a server where you have the Manage Server permission to {what}.")
        if ctx.author.guild_permissions.manage_guild:
            return True
        raise Refusal(f"Only server admins with the Manage Server permission can {what}. "
                      "If you need it, ask one of them.")

    return commands.check(predicate)


def _uptime(seconds: float) -> str:
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days}d"] if days else []
    parts += [f"{hours}h"] if hours or days else []
    return " ".join([*parts, f"{minutes}m"])


def shards_line(settings: Settings, shard_id: int | None) -> str:
    """Which shard answered (direct messages come to shard 0), and which shards this process runs."""
    ids = ", ".join(map(str, settings.shard_ids)) if settings.shard_ids else "all"
    where = "Direct messages come to shard 0" if shard_id is None else f"This server is on shard {shard_id}"
    return f"{where} of {settings.shard_count}; this process runs shards: {ids}"


def _yes(ok: bool | None, good: str = "Working", bad: str = "Not working") -> str:
    return "\u2014 not running here" if ok is None else (f"\u2705 {good}" if ok else f"\u274c {bad}")


class Admin(BaseCog):
    """Bot figures and health, server settings, and owner tools."""

    @commands.hybrid_command(name="stats", description="How busy the bot is")
    @manage_server_or_owner("see the bot's stats")
    @app_commands.default_permissions(manage_guild=True)
    async def stats(self, ctx: commands.Context) -> None:
        """Servers, linked members, stored plays, Spotify calls, uptime and latency (needs Manage Server)."""
        await self.begin(ctx, private=True)
        counts = await self.bot.db.run(self.bot.db.counts)
        spotify = self.bot.spotify_stats()
        latency = self.bot.latency
        fields = {
            "Servers": f"{len(self.bot.guilds):,}",
            "Linked members": f"{counts['linked_users']:,}",
            "Stored plays": f"{counts['plays']:,}",
            "Spotify requests": f"{spotify.get('calls', 0):,} ({spotify.get('errors', 0):,} failed)",
            "Uptime": _uptime(time.time() - self.bot.started_at),
            "Discord latency": f"{latency * 1000:.0f} ms" if latency == latency and latency != float("inf") else "unknown",
        }
        await self.send(ctx, embed=info_embed("Bot stats", fields), private=True)

    @commands.hybrid_command(name="status", description="Is everything working?")
    @manage_server_or_owner("see how the bot is doing")
    @app_commands.default_permissions(manage_guild=True)
    async def status(self, ctx: commands.Context) -> None:
        """Database, web server, Spotify, the last sync and any Spotify slow-down (needs Manage Server)."""
        await self.begin(ctx, private=True)
        health = await self.bot.health(ctx.guild.id if ctx.guild else None)
        limited = health["rate_limited_until"]
        paused = health["sync_paused_for"]
        if limited and limited > time.time():
            slow = f"Spotify asked us to slow down; back in {describe_wait(limited - time.time())}"
        elif paused:
            slow = f"Syncing paused for {describe_wait(paused)}"
        else:
            slow = "None"
        fields = {
            "Database": _yes(health["database"]),
            "Web server": _yes(health["web"]),
            "Spotify": _yes(health["spotify"], "Reachable", "Not reachable"),
            "Last sync": ago(health["last_sync"]) if health["last_sync"] else "Not yet",
            "Scheduled sync": "On" if self.bot.settings.feature_scheduled_sync else "Off",
            "Slow-downs": slow,
        }
        if self.bot.settings.sharded:
            fields["Shards"] = shards_line(self.bot.settings, ctx.guild.shard_id if ctx.guild else None)
        if health.get("recommendations"):
            fields["Recommendations"] = health["recommendations"]
        fields.update(await self._sources_status())
        await self.send(ctx, embed=info_embed("Status", fields), private=True)

    async def _sources_status(self) -> dict[str, str]:
        """Last.fm and ListenBrainz: set up or not, how many links, and when one last synced."""
        summary = await self.bot.db.run(self.bot.db.source_link_summary)
        sources = self.services.sources
        lines = {}
        for source, name in (("lastfm", "Last.fm"), ("listenbrainz", "ListenBrainz")):
            if source == "lastfm" and (sources is None or not sources.lastfm_ready):
                lines[name] = ("Not set up on this bot: its owner can add a free Last.fm API account "
                               "(the README's \"Setting up Last.fm\" says how)")
                continue
            row = summary.get(source)
            if not row:
                lines[name] = "No members linked yet"
                continue
            parts = [f"{row['links']} linked", "last sync " + (ago(row["last_synced_at"]) if row["last_synced_at"]
                                                               else "not yet")]
            if row["backfilling"]:
                parts.append(f"{row['backfilling']} still bringing in their history")
            if row["broken"]:
                parts.append(f"{row['broken']} need to link again")
            lines[name] = ", ".join(parts)
        return lines

    # -- server settings -----------------------------------------------------------------------------------

    @commands.hybrid_group(name="settings", description="This server's settings for the bot", fallback="show")
    @commands.guild_only()
    @commands.has_guild_permissions(manage_guild=True)
    @app_commands.default_permissions(manage_guild=True)
    async def settings(self, ctx: commands.Context) -> None:
        """Show this server's settings (needs Manage Server)."""
        assert ctx.guild is not None
        await self.begin(ctx, private=True)
        current = await self.bot.db.run(self.bot.db.get_guild_settings, ctx.guild.id)
        channel_id = current.get("digest_channel_id")
        crowns = await self.services.community.crowns.settings(ctx.guild.id)
        fields = {
            "Server features": "On" if current.get("community_enabled", 1) else "Off",
            "Weekly digest": f"<#{channel_id}>" if channel_id else "Off",
            "Crowns": f"On, from {crowns['threshold']:,} plays" if crowns["enabled"] else "Off",
        }
        await self.send(ctx, embed=info_embed(f"Settings for {ctx.guild.name}", fields, description=(
            "Change them with `/settings community on` or `/settings community off`, "
            "`/settings digest #channel` (no channel switches the digest off), and `/settings crowns on`, "
            "`/settings crowns off` or `/settings crowns threshold 30`.")), private=True)

    @settings.command(name="community", description="Turn server features (charts, taste, blends) on or off")
    @app_commands.describe(state="on or off")
    @commands.guild_only()
    @commands.has_guild_permissions(manage_guild=True)
    async def settings_community(self, ctx: commands.Context, state: Literal["on", "off"]) -> None:
        """Turn server features on or off (needs Manage Server)."""
        # a Literal, not a bool: Discord shows it as an "on"/"off" choice rather than True/False
        assert ctx.guild is not None
        await self.begin(ctx, private=True)
        enabled = state == "on"
        await self.services.community.access.set_community(ctx.guild.id, enabled)
        text = ("Server features are on: charts, taste matches, who knows and blends work here." if enabled else
                "Server features are off: nobody's listening is compared or shown here. "
                "Personal commands keep working.")
        await self.send(ctx, embed=message_embed(text), private=True)

    @settings.command(name="digest", description="Choose the channel for the weekly digest (empty turns it off)")
    @app_commands.describe(channel="Where to post the weekly digest; leave empty to turn it off")
    @commands.guild_only()
    @commands.has_guild_permissions(manage_guild=True)
    async def settings_digest(self, ctx: commands.Context, channel: discord.TextChannel | None = None) -> None:
        """Choose the weekly digest channel, or turn the digest off (needs Manage Server)."""
        assert ctx.guild is not None
        await self.begin(ctx, private=True)
        if channel is not None:
            me = ctx.guild.me
            if me is not None and not channel.permissions_for(me).send_messages:
                raise Refusal(f"I can't post in {channel.mention}. Give me permission to send messages there first.")
        await self.bot.db.run(self.bot.db.update_guild_settings, ctx.guild.id,
                              digest_channel_id=channel.id if channel else None)
        text = (f"The weekly digest will be posted in {channel.mention} once a week." if channel else
                "The weekly digest is off.")
        await self.send(ctx, embed=message_embed(text), private=True)

    @settings.group(name="crowns", description="Crowns: who plays each artist most here", invoke_without_command=True)
    @commands.guild_only()
    @commands.has_guild_permissions(manage_guild=True)
    async def settings_crowns(self, ctx: commands.Context) -> None:
        """Crowns: `on`, `off`, or `threshold N` (needs Manage Server)."""
        raise Refusal("Say what to change: `/settings crowns on`, `/settings crowns off`, or "
                      "`/settings crowns threshold 30` (the plays an artist's crown needs).")

    @settings_crowns.command(name="on", description="Turn crowns on in this server")
    @commands.guild_only()
    @commands.has_guild_permissions(manage_guild=True)
    async def settings_crowns_on(self, ctx: commands.Context) -> None:
        """Turn crowns on (needs Manage Server)."""
        await self._set_crowns(ctx, True)

    @settings_crowns.command(name="off", description="Turn crowns off in this server")
    @commands.guild_only()
    @commands.has_guild_permissions(manage_guild=True)
    async def settings_crowns_off(self, ctx: commands.Context) -> None:
        """Turn crowns off (needs Manage Server)."""
        await self._set_crowns(ctx, False)

    async def _set_crowns(self, ctx: commands.Context, enabled: bool) -> None:
        assert ctx.guild is not None
        await self.begin(ctx, private=True)
        await self.services.community.crowns.set_enabled(ctx.guild.id, enabled)
        text = ("Crowns are on: whoever plays an artist most here holds its crown. See `/crowns server`." if enabled
                else "Crowns are off: `/whoknows` shows no crowns and `/crowns` is closed here.")
        await self.send(ctx, embed=message_embed(text), private=True)

    @settings_crowns.command(name="threshold", description="How many plays an artist's crown needs (30 by default)")
    @app_commands.describe(plays="Plays of an artist a member needs before they can hold its crown")
    @commands.guild_only()
    @commands.has_guild_permissions(manage_guild=True)
    async def settings_crowns_threshold(self, ctx: commands.Context,
                                        plays: commands.Range[int, 1, MAX_THRESHOLD]) -> None:
        """Set how many plays a crown needs (needs Manage Server)."""
        assert ctx.guild is not None
        await self.begin(ctx, private=True)
        threshold = await self.services.community.crowns.set_threshold(ctx.guild.id, plays)
        await self.send(ctx, embed=message_embed(
            f"Crowns now need at least {threshold:,} plays of an artist. I've counted them again."), private=True)

    # -- owner tools -----------------------------------------------------------------------------------------

    @commands.hybrid_command(name="reload", description="Owner only: reload a part of the bot")
    @app_commands.describe(cog="Which part, e.g. music")
    @commands.is_owner()
    async def reload(self, ctx: commands.Context, cog: str) -> None:
        """Owner only: reload one cog after an update."""
        await self.begin(ctx, private=True)
        name = cog if cog.startswith("cogs.") else f"cogs.{cog}"
        if name not in self.bot.extensions:
            known = ", ".join(sorted(n.removeprefix("cogs.") for n in self.bot.extensions))
            raise Refusal(f"There's no part called `{cog}`. Loaded parts: {known}.")
        await self.bot.reload_extension(name)
        await self.send(ctx, embed=message_embed(f"Reloaded `{name.removeprefix('cogs.')}`."), private=True)

    @commands.hybrid_command(name="sync-commands", description="Owner only: publish the slash commands again")
    @commands.is_owner()
    async def sync_commands(self, ctx: commands.Context) -> None:
        """Owner only: publish the slash commands again."""
        await self.begin(ctx, private=True)
        count = await self.bot.sync_commands()
        where = "the development server" if self.bot.settings.dev_guild_id else "every server (may take up to an hour)"
        await self.send(ctx, embed=message_embed(f"Published {count} commands to {where}."), private=True)

    @commands.hybrid_command(name="shutdown", description="Owner only: stop the bot cleanly")
    @commands.is_owner()
    async def shutdown(self, ctx: commands.Context) -> None:
        """Owner only: stop the bot cleanly."""
        await self.send(ctx, embed=message_embed("Shutting down. Bye!"), private=True)
        self.bot.spawn(self.bot.shutdown())


async def setup(bot: MusicBot) -> None:
    await bot.add_cog(Admin(bot))
