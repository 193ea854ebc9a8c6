"""Set-up for the service tests: a real SQLite file, the fake Spotify over HTTP, real auth and services.

Imported by test_sync / test_music_service / test_privacy (tests/utils/conftest.py belongs to the
Spotify client tests; the lead may lift these fixtures into a shared conftest).
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

import app
from config import Settings
from database import Database
from fakes.spotify_server import FakeSpotify
from spotify_auth import SpotifyAuth
from storage.keys import local_id, track_key
from utils.community.service import CommunityService
from utils.music.playlists import PlaylistService
from utils.music.service import MusicService
from utils.privacy import PrivacyService
from utils.sources import spotify_client
from utils.sources.spotify_sync import SyncService

CLIENT_ID = "svc-client-id"
CLIENT_SECRET = "svc-client-secret-0123456789"
GUILD = 5000
# Discord ids of the fake's users
IDS = {"alice": 1001, "bob": 1002, "carol": 1003, "dave": 1004, "erin": 1005, "frank": 1006}


def make_settings(fake: FakeSpotify, db_path: Path, **overrides: object) -> Settings:
    base = dict(discord_token="not-a-real-token", spotify_client_id=CLIENT_ID, spotify_client_secret=CLIENT_SECRET,
                token_encryption_keys=(Fernet.generate_key().decode(),), database_path=str(db_path),
                spotify_api_url=fake.api_url, spotify_accounts_url=fake.accounts_url, log_dir="")
    base.update(overrides)
    return Settings(**base)  # type: ignore[arg-type]


@dataclass
class Services:
    fake: FakeSpotify
    db: Database
    settings: Settings
    auth: SpotifyAuth
    sync: SyncService
    music: MusicService
    community: CommunityService
    playlists: PlaylistService
    privacy: PrivacyService
    sleeps: list[float] = field(default_factory=list)

    def link(self, name: str, guild: int | None = GUILD) -> int:
        """Link the fake user `name` to their Discord id, as a finished /connect would."""
        discord_id = IDS[name]
        tokens = self.fake.issue_tokens(name)
        self.db.ensure_user(discord_id, name.title())
        self.db.save_tokens(discord_id, self.auth.vault.encrypt(tokens["access_token"]),
                            self.auth.vault.encrypt(tokens["refresh_token"]), time.time() + 3600, tokens["scope"])
        self.db.set_link_state(discord_id, "linked", spotify_user_id=name)
        if guild is not None:
            self.db.add_guild_member(guild, discord_id)
        return discord_id

    def add_imported(self, discord_id: int, name: str, plays: list[tuple[str, str, int]], guild: int | None = GUILD) -> None:
        """An importing member: plays (artist, title, played_at_ms) known by name only."""
        self.db.ensure_user(discord_id, name)
        tracks, rows = [], []
        for artist, title, at in plays:
            tid = local_id(track_key(artist, title))
            tracks.append({"track_id": tid, "name": title, "artist_name": artist})
            rows.append((at, tid, 200_000, "import", 0))
        self.db.upsert_tracks(tracks)
        self.db.insert_plays(discord_id, rows)
        if guild is not None:
            self.db.add_guild_member(guild, discord_id)




@pytest.fixture(name="services")
def services_fixture(tmp_path: Path) -> Iterator[Services]:
    spotify_client.reset_stats()
    with FakeSpotify(CLIENT_ID, CLIENT_SECRET, redirect_uris=["http://127.0.0.1:8765/callback"], seed=0) as fake:
        db = Database(tmp_path / "bot.db").open()
        settings = make_settings(fake, tmp_path / "bot.db")
        sleeps: list[float] = []

        async def fake_sleep(seconds: float) -> None:
            # time "passes": the client's app-wide rate-limit block is over once we have waited
            sleeps.append(seconds)
            spotify_client.reset_stats()

        built = app.build_services(db, settings, stagger_seconds=0, sleep=fake_sleep)
        try:
            yield Services(fake, db, settings, built.auth, built.sync, built.music, built.community, built.playlists,
                           built.privacy, sleeps)
        finally:
            built.workers.close()
            db.close()
            spotify_client.reset_stats()


MEMBERS = ("alice", "bob", "carol", "dave", "erin")


async def sync_members(svc: Services, names: tuple[str, ...] = MEMBERS) -> list[int]:
    ids = [svc.link(n) for n in names]
    for discord_id in ids:
        assert (await svc.sync.sync_member(discord_id)).status == "synced"
    return ids


def known_track_keys(svc: Services, discord_id: int) -> set[str]:
    rows = svc.db.query("SELECT t.name_key FROM plays p JOIN tracks t ON t.track_id = p.track_id WHERE p.discord_id = ? "
                        "UNION SELECT t.name_key FROM top_tracks x JOIN tracks t ON t.track_id = x.track_id "
                        "WHERE x.discord_id = ?", (discord_id, discord_id))
    return {r["name_key"] for r in rows}


def ms(year: int, month: int, day: int) -> int:
    return calendar.timegm((year, month, day, 12, 0, 0)) * 1000
