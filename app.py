"""Composition: build the database, services, web server and bot from the settings, then run them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot import Services, create_bot, run_bot
from config import Settings
from database import Database
from keep_alive import WebContext, WebServer, create_app
from spotify_auth import SpotifyAuth
from utils.community.access import CommunityAccess
from utils.community.model import ModelCache
from utils.community.service import CommunityService
from utils.images.service import ImageService
from utils.logger import setup_logging
from utils.music.engine_process import EngineProcesses
from utils.music.playlists import PlaylistService
from utils.music.service import MusicService
from utils.privacy import PrivacyService
from utils.sources import spotify_client
from utils.sources.export_import import HistoryImporter
from utils.sources.history_sync import HistorySync
from utils.sources.lastfm import LastFmClient
from utils.sources.listenbrainz import ListenBrainzClient
from utils.sources.source_links import SourceLinks
from utils.sources.spotify_sync import SyncService
from utils.workers import EngineWorkers


def build_services(db: Database, settings: Settings, *, source_options: dict[str, Any] | None = None,
                   **sync_options: Any) -> Services:
    """Every service, with the music caches dropped whenever a member's data changes.

    `sync_options` go to SyncService and `source_options` to HistorySync (the test world shortens their waits).
    """
    auth = SpotifyAuth(settings, db)
    sync = SyncService(db, auth, settings, **sync_options)
    workers = EngineWorkers()
    access = CommunityAccess(db, settings)
    community = CommunityService(db, access, ModelCache(background=workers.start_fit), workers)
    # started by the bot's set-up (MusicBot.setup_hook), stopped at its shutdown; until ready, the bot answers itself
    engine = EngineProcesses(settings.database, settings.engine_processes) if settings.engine_processes else None
    music = MusicService(db, auth, settings, community, workers, engine=engine)
    playlists = PlaylistService(db, auth, settings, access)
    privacy = PrivacyService(db, auth)
    importer = HistoryImporter(db, settings)
    sources = build_sources(db, settings, auth.vault, **(source_options or {}))
    music.watch(privacy.on_change, importer.on_removed)  # data taken back: stop using it at once
    music.watch_listening(sync.on_synced, importer.on_change, sources.history.on_change)
    for listeners in (sync.on_synced, privacy.on_change, importer.on_change, sources.history.on_change):
        listeners.append(community.invalidate)
    return Services(auth=auth, sync=sync, music=music, community=community, playlists=playlists, privacy=privacy,
                    importer=importer, workers=workers, engine=engine, spotify_stats=spotify_client.stats,
                    images=build_images(settings), sources=sources)


def build_images(settings: Settings) -> ImageService:
    """The one image fetcher and its caches; the disk cache sits beside the database."""
    folder = Path(settings.database_path).parent / "image-cache"
    return ImageService(settings.image_hosts, folder, settings.image_cache_mb)


def build_sources(db: Database, settings: Settings, vault: Any, **history_options: Any) -> SourceLinks:
    """Last.fm (when the bot has an API account) and ListenBrainz: their clients, history sync and linking."""
    lastfm, client_options = None, history_options.pop("lastfm_client_options", {})
    if settings.lastfm_enabled:
        lastfm = LastFmClient(settings.lastfm_api_url, settings.lastfm_auth_url, settings.lastfm_api_key,
                              settings.lastfm_shared_secret, **client_options)
    listenbrainz = ListenBrainzClient(settings.listenbrainz_api_url)
    history = HistorySync(db, vault, lastfm=lastfm, listenbrainz=listenbrainz, **history_options)
    return SourceLinks(db, settings, vault, history, lastfm=lastfm, listenbrainz=listenbrainz)


async def run_app(settings: Settings) -> None:
    """Start the web server in its thread first (health checks answer at once), then run the bot until stopped."""
    log = setup_logging(settings.log_level, settings.log_dir, settings.secrets())
    db = Database(settings.database).open()  # DatabaseStartError if DATABASE_URL's server can't be used
    services = build_services(db, settings)
    ctx = WebContext(settings=settings, db=db, auth=services.auth, importer=services.importer, sources=services.sources)
    web = WebServer(create_app(ctx), settings.web_host, settings.web_port).start()
    log.info("Web server listening on %s:%s", settings.web_host, web.port)
    bot = create_bot(settings, db, services, web_server=web)
    ctx.bridge = bot
    await run_bot(bot)
