"""Composition: build the database, services, web server and bot from the settings, then run them."""

from __future__ import annotations

from typing import Any

from bot import Services, create_bot, run_bot
from config import Settings
from database import Database
from keep_alive import WebContext, WebServer, create_app
from spotify_auth import SpotifyAuth
from utils.community.access import CommunityAccess
from utils.community.model import ModelCache
from utils.community.service import CommunityService
from utils.logger import setup_logging
from utils.music.playlists import PlaylistService
from utils.music.service import MusicService
from utils.privacy import PrivacyService
from utils.sources import spotify_client
from utils.sources.export_import import HistoryImporter
from utils.sources.spotify_sync import SyncService
from utils.workers import EngineWorkers


def build_services(db: Database, settings: Settings, **sync_options: Any) -> Services:
    """Every service, with the music caches dropped whenever a member's data changes.

    `sync_options` go to SyncService (the test world shortens its waits).
    """
    auth = SpotifyAuth(settings, db)
    sync = SyncService(db, auth, settings, **sync_options)
    workers = EngineWorkers()
    access = CommunityAccess(db, settings)
    community = CommunityService(db, access, ModelCache(), workers)
    music = MusicService(db, auth, settings, community, workers)
    playlists = PlaylistService(db, auth, settings, access)
    privacy = PrivacyService(db, auth)
    importer = HistoryImporter(db, settings)
    music.watch(sync.on_synced, privacy.on_change, importer.on_change)
    return Services(auth=auth, sync=sync, music=music, community=community, playlists=playlists, privacy=privacy,
                    importer=importer, workers=workers, spotify_stats=spotify_client.stats)


async def run_app(settings: Settings) -> None:
    """Start the web server in its thread first (health checks answer at once), then run the bot until stopped."""
    log = setup_logging(settings.log_level, settings.log_dir, settings.secrets())
    db = Database(settings.database_path).open()
    services = build_services(db, settings)
    ctx = WebContext(settings=settings, db=db, auth=services.auth, importer=services.importer)
    web = WebServer(create_app(ctx), settings.web_host, settings.web_port).start()
    log.info("Web server listening on %s:%s", settings.web_host, web.port)
    bot = create_bot(settings, db, services, web_server=web)
    ctx.bridge = bot
    await run_bot(bot)
