"""The Discord bot: a commands.Bot that loads the cogs, keeps guild membership current, runs the
scheduled sync and the weekly digest, and implements BotBridge for the web server's thread.

With SHARD_COUNT set, `create_bot` makes it an AutoShardedBot for the shards in SHARD_IDS, and several such
processes share one database: the scheduled sync takes members by lease and the digest is claimed per server
in the database (storage/coordination.py), and each process records members who linked through another's
web server in its own servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import discord
from discord.ext import commands, tasks

from config import DEFAULT_DISCORD_API_URL, Settings
from database import Database
from utils.logger import get_logger
from utils.models import ImportSummary
from utils.sources.history_sync import describe_link

log = get_logger("bot")

COGS = ("cogs.errors", "cogs.notices", "cogs.account", "cogs.music", "cogs.community", "cogs.server_life",
        "cogs.privacy", "cogs.history", "cogs.admin", "cogs.charts", "cogs.sources")
DIGEST_EVERY_SECONDS = 7 * 86400
DIGEST_CHECK_MINUTES = 60
# The schedule itself lives in the database (rounds of SYNC_INTERVAL_MINUTES with leases): each process
# only looks every minute for members due and not taken, so several processes share the work.
SYNC_CHECK_MINUTES = 1
NEW_MEMBERS_CHECK_SECONDS = 5


@dataclass
class Services:
    """The plain-Python services the cogs call (built by app.build_services)."""

    auth: Any  # spotify_auth.SpotifyAuth
    sync: Any  # utils.sources.spotify_sync.SyncService
    music: Any  # utils.music.service.MusicService
    community: Any  # utils.community.service.CommunityService
    playlists: Any  # utils.music.playlists.PlaylistService
    privacy: Any  # utils.privacy.PrivacyService
    importer: Any | None = None  # utils.sources.export_import.HistoryImporter
    workers: Any | None = None  # utils.workers.EngineWorkers
    engine: Any | None = None  # utils.music.engine_process.EngineProcesses (ENGINE_PROCESSES; None: none)
    spotify_stats: Callable[[], dict[str, Any]] | None = None  # utils.sources.spotify_client.stats
    images: Any | None = None  # utils.images.service.ImageService (None: answers without pictures)
    sources: Any | None = None  # utils.sources.source_links.SourceLinks (Last.fm, ListenBrainz; .history syncs)


def make_intents() -> discord.Intents:
    """Only what the bot uses: guilds, members (who is in which server), messages (prefix commands)."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.members = True  # privileged: guild membership decides who counts in community features
    intents.guild_messages = True  # prefix commands arrive as messages
    intents.dm_messages = True
    intents.message_content = True  # privileged: without it prefix commands can't read the command text
    return intents


class MusicBot(commands.Bot):
    def __init__(self, settings: Settings, db: Database, services: Services, *, web_server: Any = None,
                 version: str = "", load_cogs: tuple[str, ...] = COGS, **options: Any) -> None:
        # The bot never joins voice: discord.py's "voice will NOT be supported" warnings would only worry an admin.
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        super().__init__(
            command_prefix=commands.when_mentioned_or(settings.command_prefix),
            intents=make_intents(),
            owner_ids=set(settings.owner_ids) or None,
            help_command=commands.DefaultHelpCommand(no_category="Other"),
            allowed_mentions=discord.AllowedMentions(everyone=False, roles=False, users=True, replied_user=False),
            activity=discord.Activity(type=discord.ActivityType.listening, name="/recommend"),
            **options,
        )
        self.settings = settings
        self.db = db
        self.services = services
        self.web_server = web_server
        self.version = version
        self.started_at = time.time()
        self.cog_names = load_cogs
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False
        self._shutdown_task: asyncio.Future[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self.notices: Any = None  # cogs.notices.Notices, set while that cog is loaded: the words of the bot's own messages
        self.scheduled_sync = tasks.loop(minutes=SYNC_CHECK_MINUTES)(self._scheduled_sync)
        self.scheduled_sync.before_loop(self._wait_ready)
        self.weekly_digest = tasks.loop(minutes=DIGEST_CHECK_MINUTES)(self._digest_tick)
        self.weekly_digest.before_loop(self._wait_ready)
        self.new_members = tasks.loop(seconds=NEW_MEMBERS_CHECK_SECONDS)(self._record_new_members)
        self.new_members.before_loop(self._wait_ready)
        self._members_seen_at = time.time()
        # Whenever a member gains listening (a sync, an import), they count in every server we share with them.
        self.watch_listening(getattr(services.sync, "on_synced", None), getattr(services.importer, "on_change", None),
                             services.sources.history.on_change if services.sources is not None else None)
        if services.sources is not None:  # a Last.fm / ListenBrainz link that stopped working: tell the member
            services.sources.history.on_broken.append(self._source_broken)
            services.sources.history.on_long_history_in.append(self._long_history_in)

    # -- start-up -----------------------------------------------------------------------------------

    async def login(self, token: str) -> None:
        if self.settings.discord_api_url != DEFAULT_DISCORD_API_URL:
            from discord_endpoints import configure_discord_endpoints

            await asyncio.to_thread(configure_discord_endpoints, self.settings.discord_api_url, token)
        await super().login(token)

    async def setup_hook(self) -> None:
        self._loop = asyncio.get_running_loop()
        if not self.db.is_open:
            await asyncio.to_thread(self.db.open)
        if self.services.engine is not None:  # after the database is migrated: the engine processes never migrate it
            await asyncio.to_thread(self.services.engine.start)
        for name in self.cog_names:
            await self.load_extension(name)
        await self.sync_commands()
        if self.settings.feature_scheduled_sync:
            self.scheduled_sync.start()
        if self.settings.feature_community:
            self.weekly_digest.start()
        if self.settings.sharded:  # other processes' web servers may link members in this process's servers
            self.new_members.start()

    async def sync_commands(self) -> int:
        """Publish the slash commands: to the dev guild at once when set, otherwise globally (slow to show)."""
        if self.settings.dev_guild_id:
            guild = discord.Object(id=self.settings.dev_guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
        else:
            synced = await self.tree.sync()
        log.info("published %d slash commands", len(synced))
        return len(synced)

    async def _wait_ready(self) -> None:
        await self.wait_until_ready()

    # -- guild membership --------------------------------------------------------------------------

    async def _record_guild(self, guild: discord.Guild) -> None:
        try:
            await self.services.sync.set_guild_members(guild.id, [m.id for m in guild.members if not m.bot])
        except Exception:
            log.exception("could not record the members of a guild")

    async def on_ready(self) -> None:
        log.info("connected as %s to %d servers", self.user, len(self.guilds))
        for guild in self.guilds:
            await self._record_guild(guild)
        if self.services.sources is not None:  # histories a restart interrupted carry on where they stopped
            await self.services.sources.history.resume_unfinished()

    async def on_guild_available(self, guild: discord.Guild) -> None:
        if self.is_ready():
            await self._record_guild(guild)

    async def on_guild_join(self, guild: discord.Guild) -> None:
        await self._record_guild(guild)

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        await self.services.sync.remove_guild(guild.id)

    def watch_listening(self, *sources: list[Callable[[int | None], Any]] | None) -> None:
        """Record a member's servers whenever a source (a service's ChangeListeners) reports their listening changed.

        Sources of listening added later (Last.fm, ListenBrainz) pass their ChangeListeners here, or call
        `record_member_servers` themselves.
        """
        for listeners in sources:
            if listeners is not None:
                listeners.append(self._listening_changed)

    def _listening_changed(self, discord_id: int | None) -> None:
        if discord_id is not None:
            self.record_member_servers(discord_id)

    def record_member_servers(self, discord_id: int, also: int | None = None) -> None:
        """Count the member in every server the bot shares with them (Discord's member cache), plus `also`.

        Call it whenever a member gains listening: a Spotify link, an import, another service linked. Safe from
        any thread, returns at once; the next server command waits for the recording to finish.
        """
        loop = self._loop
        if loop is None or loop.is_closed() or self._closing:
            return
        try:
            on_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            self._record_member_servers_now(discord_id, also)
        else:
            loop.call_soon_threadsafe(self._record_member_servers_now, discord_id, also)

    def _record_member_servers_now(self, discord_id: int, also: int | None = None) -> None:
        guild_ids = [g.id for g in self.guilds if g.get_member(discord_id) is not None]
        if also is not None and also not in guild_ids:
            guild_ids.append(also)  # where they linked, even if another process's shard has that server
        if not guild_ids or self._closing:
            return
        task = self.services.community.access.record_servers_soon(discord_id, guild_ids)
        self._background.add(task)  # type: ignore[arg-type]
        task.add_done_callback(self._record_done)

    def _record_done(self, task: asyncio.Future[Any]) -> None:
        self._background.discard(task)  # type: ignore[arg-type]
        if not task.cancelled() and task.exception() is not None:
            log.error("could not record a member's servers", exc_info=task.exception())

    async def on_member_join(self, member: discord.Member) -> None:
        if not member.bot:
            await self.services.sync.add_member(member.guild.id, member.id)

    async def on_member_remove(self, member: discord.Member) -> None:
        # A recording begun before they left (an import finishing) must not add them back after the removal.
        await self.services.community.access.settle_recordings()
        await self.services.sync.remove_member(member.guild.id, member.id)

    async def _record_new_members(self) -> None:
        """Record members who linked or uploaded lately, through any process, in this process's servers."""
        since, self._members_seen_at = self._members_seen_at - 120, time.time()  # overlap: clocks differ a little
        try:
            for discord_id in await self.db.run(self.db.users_joined_since, since):
                for guild in self.guilds:
                    if guild.get_member(discord_id) is not None:
                        await self.services.sync.add_member(guild.id, discord_id)
        except Exception:
            log.exception("could not record newly linked members; trying again shortly")

    # -- background work ---------------------------------------------------------------------------

    async def _scheduled_sync(self) -> None:
        if getattr(self.services.sync, "running", False):
            return  # the last check's run is still going
        try:
            results = await self.services.sync.sync_all()
            if results:
                log.info("scheduled sync: %d members", len(results))
        except Exception:
            log.exception("the scheduled sync failed; it will run again next time")
        if self.services.sources is not None:
            try:  # Last.fm / ListenBrainz: resumes unfinished histories, then fetches what is new (in threads)
                await self.services.sources.history.sync_all()
            except Exception:
                log.exception("the Last.fm / ListenBrainz sync could not start; it will run again next time")

    async def _digest_tick(self) -> None:
        if self.notices is None:  # its words live in cogs/notices.py; not loaded: nothing to post with
            return
        due_before = time.time() - DIGEST_EVERY_SECONDS
        for settings in await self.db.run(self.db.digest_guilds):
            if (settings.get("last_digest_at") or 0) > due_before:
                continue
            guild = self.get_guild(settings["guild_id"])  # None: another process's shard has it
            channel = guild.get_channel(settings["digest_channel_id"]) if guild else None
            if not isinstance(channel, discord.abc.Messageable) or guild is None:
                continue
            # Claimed before posting, so two processes that both see the server post once; a failed post
            # waits for next week rather than risk posting twice.
            if not await self.db.run(self.db.claim_digest, guild.id, time.time(), due_before):
                continue
            try:
                digest = await self.services.community.weekly_digest(guild.id)
                await channel.send(**await self.notices.digest(guild, digest))
            except Exception:
                log.exception("could not post the weekly digest in a server")

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        """Run a coroutine in the background and keep a reference so shutdown can wait for it."""
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    # -- BotBridge (called from the web server's thread) ----------------------------------------------

    def _submit(self, coro: Any) -> None:
        loop = self._loop
        if loop is None or loop.is_closed() or self._closing:
            coro.close()
            log.warning("the bot is not running; a web event was dropped")
            return
        asyncio.run_coroutine_threadsafe(self._in_background(coro), loop)

    async def _in_background(self, coro: Any) -> None:
        await self.spawn(coro)

    def on_linked(self, discord_id: int, guild_id: int | None) -> None:
        self._submit(self._after_link(discord_id, guild_id))

    def on_imported(self, discord_id: int, summary: ImportSummary) -> None:
        self._submit(self._after_import(discord_id, summary))

    def on_source_linked(self, discord_id: int, guild_id: int | None, source: str) -> None:
        self._submit(self.after_source_link(discord_id, guild_id, source))

    def status(self) -> dict[str, Any]:
        ready = self.is_ready() and not self.is_closed()
        latency = self.latency
        return {"connected": ready, "guilds": len(self.guilds),
                "latency_ms": round(latency * 1000, 1) if ready and latency == latency and latency != float("inf") else None}

    async def dm(self, discord_id: int, embed: discord.Embed | None) -> None:
        """A direct message to a member, through the REST API (any process); said in the log when they refuse them."""
        if embed is None:
            return
        try:
            user = self.get_user(discord_id) or await self.fetch_user(discord_id)
            await user.send(embed=embed)
        except discord.HTTPException:
            log.info("could not send a direct message (the member may have them switched off)")

    async def _after_link(self, discord_id: int, guild_id: int | None) -> None:
        # The server they ran /connect in counts even when another process's shard has it; their other
        # servers there are recorded by those processes (_record_new_members).
        self.record_member_servers(discord_id, also=guild_id)
        # A DM needs no shard: it goes through the REST API from whichever process got the callback.
        await self.dm(discord_id, self.notices and self.notices.linked())
        try:
            result = await self.services.sync.sync_member(discord_id, force=True)
            log.info("first sync after linking: %s", result.status)
            problem = result.message if result.status == "failed" else None
        except Exception:
            log.exception("the first sync after linking failed")
            problem = "Something went wrong on my side. Please try again in a few minutes."
        if problem:  # they were told "in a minute": say it didn't work, and what to do
            await self.dm(discord_id, self.notices and self.notices.not_fetched(problem))

    async def after_source_link(self, discord_id: int, guild_id: int | None, source: str) -> None:
        """A member linked Last.fm or ListenBrainz: record the servers they share with the bot, then bring the
        whole history in (in the background; they count from its first page, and each write records them again
        through `watch_listening`)."""
        self.record_member_servers(discord_id, also=guild_id)
        if self.services.sources is not None:
            await self.services.sources.start_history(discord_id, source)

    def _source_broken(self, event: tuple[int, str, str]) -> None:
        """Called from a history thread: DM the member what happened and how to link again."""
        discord_id, source, words = event
        self._submit(self._tell_source_broken(discord_id, source, words))

    async def _tell_source_broken(self, discord_id: int, source: str, words: str) -> None:
        await self.dm(discord_id, self.notices and self.notices.source_broken(source, words))

    def _long_history_in(self, event: tuple[int, str]) -> None:
        """Called from a history thread: a history that outlasted its /link reply is all in; say so by DM."""
        self._submit(self._tell_history_in(*event))

    async def _tell_history_in(self, discord_id: int, source: str) -> None:
        link = await self.db.run(self.db.source_link, discord_id, source)
        if link is not None and self.notices is not None:
            await self.dm(discord_id, self.notices.history_in(source, describe_link(link).text))

    async def _after_import(self, discord_id: int, summary: ImportSummary) -> None:
        self.record_member_servers(discord_id)
        await self.dm(discord_id, self.notices and self.notices.imported(summary))

    # -- health, for the owner's status command -------------------------------------------------------------

    async def health(self, guild_id: int | None = None) -> dict[str, Any]:
        """Database, web server, Spotify reachability, last sync and rate-limit state, in plain values.

        With a `guild_id`, also one line on how that server's recommendations are tuned (`recommendations`)."""
        report: dict[str, Any] = {}
        try:
            await self.db.run(self.db.scalar, "SELECT 1")
            report["database"] = True
        except Exception:
            report["database"] = False
        thread = getattr(self.web_server, "_thread", None)
        report["web"] = None if self.web_server is None else bool(thread is not None and thread.is_alive())
        report["web_url"] = getattr(self.web_server, "url", None)
        report["spotify"] = await asyncio.to_thread(_reachable, self.settings.spotify_api_url)
        report["last_sync"] = await self._last_sync()
        report["sync_paused_for"] = float(getattr(self.services.sync, "paused_for", 0.0) or 0.0)
        stats = self.spotify_stats()
        report["rate_limited_until"] = stats.get("rate_limited_until") if stats.get("rate_limited") else None
        tuning = getattr(self.services.music, "tuning_report", None)  # the engine processes' tuning counts too
        if guild_id is not None and tuning is not None:
            report["recommendations"] = tuning(guild_id).summary()
        return report

    async def _last_sync(self) -> float | None:
        """When any sync last ran: the scheduled run, or one member's (/sync, the first sync after linking).

        Counting only the scheduled run made /status say "Not yet" right after a member's /sync.
        """
        last_run = getattr(self.services.sync, "last_run", None)
        stored = await self.db.run(self.db.last_sync_at)
        return max((t for t in (getattr(last_run, "finished_at", None), stored) if t), default=None)

    def spotify_stats(self) -> dict[str, Any]:
        if self.services.spotify_stats is not None:
            return self.services.spotify_stats()
        from utils.sources.spotify_client import stats

        return stats()

    # -- shutdown --------------------------------------------------------------------------------------

    async def shutdown(self) -> None:
        """Stop everything cleanly: tasks, web server, Discord connection, database. Safe to call twice."""
        if self._shutdown_task is None:
            self._closing = True
            self._shutdown_task = asyncio.ensure_future(self._shutdown())
        await asyncio.shield(self._shutdown_task)

    async def _shutdown(self) -> None:
        log.info("shutting down")
        self.scheduled_sync.cancel()
        self.weekly_digest.cancel()
        self.new_members.cancel()
        current = asyncio.current_task()
        pending = [t for t in self._background if t is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for part in ("crowns", "tastes"):  # a big server's crowns or profiles being reread: let it finish first
            settled = getattr(getattr(self.services.community, part, None), "settled", None)
            if settled is not None:
                await settled()
        if self.web_server is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.web_server.stop)
        await self.close()
        if self.services.sources is not None:
            await asyncio.to_thread(self.services.sources.history.close)  # walks stop between pages; resume later
        if self.services.workers is not None:
            await asyncio.to_thread(self.services.workers.close)  # engine work still running uses the database: wait
        if self.services.engine is not None:
            await asyncio.to_thread(self.services.engine.close)  # the engine processes finish their work, then exit
        if self.db.is_open:
            await asyncio.to_thread(self.db.close)
        log.info("stopped")


class ShardedMusicBot(MusicBot, commands.AutoShardedBot):
    """The same bot on discord.py's AutoShardedBot: one gateway connection per shard in SHARD_IDS."""

    def __init__(self, settings: Settings, db: Database, services: Services, **options: Any) -> None:
        super().__init__(settings, db, services, shard_count=settings.shard_count,
                         shard_ids=list(settings.shard_ids) if settings.shard_ids else None, **options)

    def status(self) -> dict[str, Any]:
        report = super().status()
        report["shards"] = sorted(self.shards)
        return report


def create_bot(settings: Settings, db: Database, services: Services, **options: Any) -> MusicBot:
    """A MusicBot, or a ShardedMusicBot when SHARD_COUNT is set."""
    cls = ShardedMusicBot if settings.sharded else MusicBot
    return cls(settings, db, services, **options)


def _reachable(url: str) -> bool:
    """Any HTTP answer (even "unauthorised") means Spotify's servers are up."""
    import requests

    try:
        requests.get(url, timeout=3)
        return True
    except requests.RequestException:
        return False


async def run_bot(bot: MusicBot) -> None:
    """Run until SIGTERM, Ctrl-C or the owner's shutdown command, then close everything."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows, or not the main thread
            loop.add_signal_handler(sig, lambda: bot.spawn(bot.shutdown()))
    try:
        await bot.start(bot.settings.discord_token)
    finally:
        await bot.shutdown()
