"""Shared set-up for the linking and web tests: a fake Spotify, a real SQLite file, our real web server.

The web server starts first (port 0) behind a small holder, because the redirect URI Spotify needs names
the port; the real application is put in the holder once the settings can be built.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from cryptography.fernet import Fernet

from config import Settings
from database import Database
from fakes.spotify_server import FakeSpotify
from keep_alive import WebContext, WebServer, create_app
from spotify_auth import SpotifyAuth
from utils.events import NullBridge

CLIENT_ID = "test-client-id"
CLIENT_SECRET = "test-client-secret-0123456789"
DISCORD_ID = 111_222_333_444_555_666
GUILD_ID = 900_000_000_000_000_001


class LateApp:
    """A WSGI app whose target is set after the server has bound its port."""

    def __init__(self) -> None:
        self.target: Callable[..., Any] | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        assert self.target is not None, "the application was not set"
        return self.target(environ, start_response)


def make_settings(fake: FakeSpotify, redirect_uri: str, db_path: Path, keys: Iterable[str]) -> Settings:
    return Settings(
        discord_token="not-a-real-discord-token", spotify_client_id=CLIENT_ID, spotify_client_secret=CLIENT_SECRET,
        token_encryption_keys=tuple(keys), spotify_redirect_uri=redirect_uri, database_path=str(db_path),
        spotify_api_url=fake.api_url, spotify_accounts_url=fake.accounts_url, log_dir="",
    )


@dataclass
class World:
    """Everything one test needs, all real: fake Spotify over HTTP, SQLite file, waitress server."""

    fake: FakeSpotify
    db: Database
    settings: Settings
    auth: SpotifyAuth
    bridge: NullBridge
    ctx: WebContext
    server: WebServer
    keys: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def auth_with_keys(self, keys: Iterable[str]) -> SpotifyAuth:
        """Another SpotifyAuth on the same database, as after a restart with different keys."""
        settings = make_settings(self.fake, self.settings.spotify_redirect_uri, Path(self.db.path), keys)
        return SpotifyAuth(settings, self.db)

    def approve(self, authorise_url: str, user: str = "alice") -> requests.Response:
        """What the browser does at Spotify: approve as `user`; returns Spotify's 302 (not followed)."""
        response = requests.get(authorise_url, params={"login_as": user}, allow_redirects=False, timeout=10)
        assert response.status_code == 302, response.text
        return response

    def callback_args(self, authorise_url: str, user: str = "alice") -> dict[str, str]:
        """The query Spotify sends back to our /callback after `user` approves."""
        location = self.approve(authorise_url, user).headers["Location"]
        return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}

    def link(self, discord_id: int = DISCORD_ID, user: str = "alice", guild_id: int | None = GUILD_ID) -> None:
        """Link a member end to end through the service (no browser)."""
        url = self.auth.create_link(discord_id, guild_id, f"member-{user}")
        outcome = self.auth.handle_callback(self.callback_args(url, user))
        assert outcome.ok, outcome

    def token_rows(self) -> list[dict[str, Any]]:
        return self.db.query("SELECT * FROM tokens")

    def raw_database_bytes(self) -> bytes:
        """The database file and its WAL as they sit on disk."""
        data = b""
        for suffix in ("", "-wal", "-journal"):
            path = Path(self.db.path + suffix)
            if path.exists():
                data += path.read_bytes()
        return data

    def age_states(self, seconds: float) -> None:
        """Move every stored state `seconds` into the past (a test-only write, straight to the file)."""
        with sqlite3.connect(self.db.path) as conn:
            conn.execute("UPDATE auth_states SET created_at = created_at - ?, expires_at = expires_at - ?",
                         (seconds, seconds))


def build_world(tmp_path: Path, *, keys: list[str] | None = None, threads: int = 4) -> Iterator[World]:
    """Start everything; yields a World and stops it all afterwards."""
    keys = keys or [Fernet.generate_key().decode()]
    holder = LateApp()
    server = WebServer(holder, "127.0.0.1", 0, threads=threads).start()
    redirect_uri = f"http://127.0.0.1:{server.port}/callback"
    fake = FakeSpotify(CLIENT_ID, CLIENT_SECRET, redirect_uris=[redirect_uri]).start()
    db = Database(tmp_path / "bot.db").open()
    settings = make_settings(fake, redirect_uri, tmp_path / "bot.db", keys)
    auth = SpotifyAuth(settings, db)
    bridge = NullBridge()
    ctx = WebContext(settings=settings, db=db, auth=auth, bridge=bridge, version="9.9.9-test")
    holder.target = create_app(ctx)
    try:
        yield World(fake, db, settings, auth, bridge, ctx, server, keys)
    finally:
        server.stop()
        fake.stop()
        db.close()
