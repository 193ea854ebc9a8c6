"""The whole bot, for real, against fakes over sockets: FakeSpotify + FakeDiscord + our web server + MusicBot.

Used by the tests in tests/cogs, tests/test_bot.py, scripts/bench_bot.py and `main.py --demo`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from cryptography.fernet import Fernet

import app
from bot import MusicBot, Services
from config import Settings
from database import Database
from discord_endpoints import DEFAULT_API_URL, configure_discord_endpoints
from fakes.discord_server import FakeDiscord
from fakes.discord_world import FakeUser
from fakes.lastfm_server import FakeLastFm
from fakes.listenbrainz_server import FakeListenBrainz
from fakes.postgres import database_target
from fakes.spotify_server import FakeSpotify
from keep_alive import WebContext, WebServer, create_app
from utils.sources import spotify_client

CLIENT_ID = "bot-test-client-id"
CLIENT_SECRET = "bot-test-client-secret-0123456789"
LASTFM_KEY = "bot-test-lastfm-key"
LASTFM_SECRET = "bot-test-lastfm-secret"


class LateApp:
    """A WSGI app set after the server bound its port (the redirect URI names the port)."""

    def __init__(self) -> None:
        self.target: Callable[..., Any] | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        assert self.target is not None
        return self.target(environ, start_response)


@dataclass
class BotWorld:
    discord: FakeDiscord
    spotify: FakeSpotify
    db: Database
    settings: Settings
    services: Services
    web: WebServer
    bot: MusicBot
    guild_channel: Any = None
    links: dict[int, str] = field(default_factory=dict)
    lastfm: FakeLastFm | None = None
    listenbrainz: FakeListenBrainz | None = None

    # -- people and places --------------------------------------------------------------------------

    @property
    def guild(self) -> Any:
        return self.discord.guild

    @property
    def general(self) -> Any:
        return self.discord.guild.channel("general")

    def user(self, name: str) -> FakeUser:
        return self.discord.user(name)

    # -- driving ---------------------------------------------------------------------------------------

    async def slash(self, who: str, name: str, options: dict[str, Any] | None = None, *, guild: bool = True) -> Any:
        """Run a slash command as member `who` in #general (or in DMs with guild=False)."""
        return await self.discord.slash(self.user(who), self.guild if guild else None,
                                        self.general if guild else None, name, options)

    async def answer(self, record: Any, timeout: float = 10.0) -> dict[str, Any]:
        """The member-visible answer to an interaction: the filled original (or its first follow-up)."""
        response = await record.wait_response(timeout)
        assert not response["late"], f"{record.label} was acknowledged too late ({response['elapsed']:.2f}s)"
        if response["type"] == 5:
            return (await record.wait_followups(1, timeout))[0]
        return await record.wait_original(timeout=timeout)

    async def prefix(self, who: str, text: str, timeout: float = 10.0,
                     predicate: Callable[[dict[str, Any]], bool] | None = None) -> dict[str, Any]:
        """Post `!text` in #general as `who`; return the bot's reply there."""
        sent = await self.discord.send_message(self.user(who), self.general, self.settings.command_prefix + text)

        def replied(message: dict[str, Any]) -> bool:
            ref = (message.get("message_reference") or {}).get("message_id")
            after = int(message["id"]) > int(sent["id"]) or ref == sent["id"]
            return after and (predicate is None or predicate(message))

        return await self.discord.wait_message(self.general, replied, timeout)

    async def link(self, who: str, spotify_user: str | None = None, *, wait_sync: bool = True) -> int:
        """The real OAuth round trip: create_link, the fake's /authorize as `spotify_user`, our /callback."""
        member = self.user(who)
        url = await asyncio.to_thread(self.services.auth.create_link, member.id, self.guild.id, member.global_name)
        response = await asyncio.to_thread(requests.get, url, params={"login_as": spotify_user or who}, timeout=15)
        assert response.status_code == 200, response.text[:500]
        if wait_sync:
            await self.wait_for(lambda: (self.db.get_user(member.id) or {}).get("last_synced_at"), "the first sync")
        return member.id

    async def link_lastfm(self, who: str, lastfm_user: str) -> dict[str, Any]:
        """/link lastfm, then the browser: Last.fm's page (allowing as `lastfm_user`), our /lastfm/callback.

        Returns the member's reply (the one that then shows the history's progress)."""
        assert self.lastfm is not None
        record = await self.slash(who, "link lastfm")
        reply = await self.answer(record)
        url = next(c["url"] for c in components(reply) if c.get("url"))
        page = await asyncio.to_thread(requests.get, url, params={"login_as": lastfm_user}, timeout=15)
        assert page.status_code == 200, page.text[:500]
        return reply

    async def wait_history(self, who: str, source: str, timeout: float = 30.0) -> dict[str, Any]:
        """Until the member's whole history from `source` is in."""
        member = self.user(who).id
        return await self.wait_for(lambda: (lambda link: link if link and link["status"] != "backfill" else None)(
            self.db.source_link(member, source)), f"the {source} history", timeout)

    async def wait_for(self, predicate: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = await asyncio.to_thread(predicate)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}")
            await asyncio.sleep(0.05)


def make_settings(spotify: FakeSpotify, discord: FakeDiscord, redirect_uri: str, db_path: Path,
                  **overrides: Any) -> Settings:
    base: dict[str, Any] = dict(
        discord_token=discord.token, spotify_client_id=CLIENT_ID, spotify_client_secret=CLIENT_SECRET,
        token_encryption_keys=(Fernet.generate_key().decode(),), spotify_redirect_uri=redirect_uri,
        database_path=str(db_path), spotify_api_url=spotify.api_url, spotify_accounts_url=spotify.accounts_url,
        discord_api_url=discord.api_url, log_dir="", dev_guild_id=discord.guild.id,
        owner_ids=frozenset({discord.user("alice").id}), feature_scheduled_sync=False,
        image_hosts=(f"127.0.0.1:{spotify.port}",),  # the fake Spotify's covers; nothing else is fetched
    )
    base.update(overrides)
    return Settings(**base)


def build_services(db: Database, settings: Settings) -> Services:
    """The production wiring, with sync's waits shortened for tests."""
    sources = {"outage_waits": (0.05, 0.1, 0.2), "lastfm_client_options": {"min_gap": 0.0}}
    return app.build_services(db, settings, stagger_seconds=0.0, inline_wait_seconds=1.0, source_options=sources)


@contextlib.asynccontextmanager
async def bot_world(tmp_path: Path, *, spotify_delay: float = 0.0, start_bot: bool = True,
                    **overrides: Any) -> AsyncIterator[BotWorld]:
    """Start every piece, yield a ready BotWorld (the bot not yet started with start_bot=False), stop all after."""
    spotify_client.reset_stats()
    holder = LateApp()
    web = WebServer(holder, "127.0.0.1", 0, threads=8).start()
    redirect_uri = f"http://127.0.0.1:{web.port}/callback"
    spotify = FakeSpotify(CLIENT_ID, CLIENT_SECRET, redirect_uris=[redirect_uri]).start()
    spotify.set_delay(spotify_delay)
    discord = FakeDiscord().start()
    lastfm = FakeLastFm(LASTFM_KEY, LASTFM_SECRET).start()
    listenbrainz = FakeListenBrainz().start()
    storage_place = contextlib.ExitStack()
    target = storage_place.enter_context(database_target(tmp_path))  # a file, or a PostgreSQL schema in test runs
    db = Database(target)
    if not isinstance(target, Path):
        overrides.setdefault("database_url", target)
    sources = {"lastfm_api_key": LASTFM_KEY, "lastfm_shared_secret": LASTFM_SECRET, "lastfm_api_url": lastfm.api_url,
               "lastfm_auth_url": lastfm.auth_url, "listenbrainz_api_url": listenbrainz.api_url}
    settings = make_settings(spotify, discord, redirect_uri, tmp_path / "bot.db", **{**sources, **overrides})
    import cogs.sources

    cogs.sources.PROGRESS_EVERY_SECONDS = 0.1  # the member's reply follows the history closely in tests
    db.open()
    services = build_services(db, settings)
    bot = MusicBot(settings, db, services, web_server=web, guild_ready_timeout=0.05)
    ctx = WebContext(settings=settings, db=db, auth=services.auth, bridge=bot, importer=services.importer,
                     sources=services.sources)
    holder.target = create_app(ctx)
    world = BotWorld(discord, spotify, db, settings, services, web, bot, lastfm=lastfm, listenbrainz=listenbrainz)
    try:
        if start_bot:
            async with discord.running(bot):
                await discord.wait_commands(discord.guild)
                yield world
                await bot.shutdown()
        else:
            yield world
    finally:
        if not bot.is_closed():
            await bot.shutdown()
        web.stop()
        if services.images is not None:
            services.images.close()
        if db.is_open:
            db.close()
        discord.stop()
        spotify.stop()
        lastfm.stop()
        listenbrainz.stop()
        storage_place.close()
        configure_discord_endpoints(DEFAULT_API_URL)


def components(message: dict[str, Any]) -> list[dict[str, Any]]:
    """Every button and select of a message, flattened."""
    found = []
    for row in message.get("components", []):
        found.extend(row.get("components", []))
    return found


def custom_id(message: dict[str, Any], label: str | None = None, *, kind: int = 2) -> str:
    """The custom_id of the button with `label` (or the first select with kind=3)."""
    for component in components(message):
        if component["type"] == kind and (label is None or component.get("label") == label):
            return component["custom_id"]
    raise LookupError(f"no component {label!r} in {[c.get('label') for c in components(message)]}")


def embed_text(message: dict[str, Any]) -> str:
    """All the words of a message's content and embeds, for assertions."""
    parts = [message.get("content") or ""]
    for embed in message.get("embeds", []):
        parts += [embed.get("title") or "", embed.get("description") or "", (embed.get("footer") or {}).get("text", "")]
        parts += [f"{f['name']} {f['value']}" for f in embed.get("fields", [])]
    return "\n".join(parts)
