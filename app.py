"""Composition: build the database, services, web server and bot from the settings, then run them."""

from __future__ import annotations

from typing import Any

from bot import MusicBot, Services, run_bot
from config import Settings
from database import Database
from keep_alive import WebContext, WebServer, create_app
from spotify_auth import SpotifyAuth
from utils.logger import setup_logging
from utils.music.service import MusicService
from utils.privacy import PrivacyService
from utils.sources import spotify_client
from utils.sources.export_import import HistoryImporter
from utils.sources.spotify_sync import SyncService


def build_services(db: Database, settings: Settings, **sync_options: Any) -> Services:
    """Every service, with the music caches dropped whenever a member's data changes.

    `sync_options` go to SyncService (the test world shortens its waits).
    """
    auth = SpotifyAuth(settings, db)
    sync = SyncService(db, auth, settings, **sync_options)
    music = MusicService(db, auth, settings)
    privacy = PrivacyService(db, auth)
    importer = HistoryImporter(db, settings)
    music.watch(sync.on_synced, privacy.on_change, importer.on_change)
    return Services(auth=auth, sync=sync, music=music, privacy=privacy, importer=importer,
                    spotify_stats=spotify_client.stats)


async def run_app(settings: Settings) -> None:
    """Start the web server in its thread first (health checks answer at once), then run the bot until stopped."""
    log = setup_logging(settings.log_level, settings.log_dir, settings.secrets())
    db = Database(settings.database).open()  # DatabaseStartError if DATABASE_URL's server can't be used
    services = build_services(db, settings)
    ctx = WebContext(settings=settings, db=db, auth=services.auth, importer=services.importer)
    web = WebServer(create_app(ctx), settings.web_host, settings.web_port).start()
    log.info("Web server listening on %s:%s", settings.web_host, web.port)
    bot = MusicBot(settings, db, services, web_server=web)
    ctx.bridge = bot
    await run_bot(bot)
