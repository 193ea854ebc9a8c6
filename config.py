"""Typed, frozen settings read from the environment (and `.env`), checked all at once at start-up."""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

DEFAULT_DISCORD_API_URL = "https://discord.com/api/v10"
DEFAULT_SPOTIFY_API_URL = "https://api.spotify.com/v1/"
DEFAULT_SPOTIFY_ACCOUNTS_URL = "https://accounts.spotify.com/"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(Exception):
    """Every missing or malformed setting, gathered so the owner can fix them in one go."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        lines = ["The bot can't start because some settings are missing or wrong:"]
        lines += [f"  - {problem}" for problem in self.problems]
        lines.append("Put them in a file called .env next to main.py (copy .env.example to start) "
                     "or in your host's secrets panel, then start the bot again.")
        return "\n".join(lines)


@dataclass(frozen=True)
class Settings:
    discord_token: str = field(repr=False)
    spotify_client_id: str
    spotify_client_secret: str = field(repr=False)
    token_encryption_keys: tuple[str, ...] = field(repr=False)
    spotify_redirect_uri: str = "http://127.0.0.1:8080/callback"
    database_path: str = "data/bot.db"
    database_url: str = field(default="", repr=False)  # postgresql://...: PostgreSQL instead of the SQLite file
    web_host: str = "0.0.0.0"
    web_port: int = 8080
    command_prefix: str = "!"
    owner_ids: frozenset[int] = frozenset()
    dev_guild_id: int | None = None
    log_level: str = "INFO"
    log_dir: str = "logs"
    sync_interval_minutes: int = 60
    feature_community: bool = True
    feature_playlists: bool = True
    feature_scheduled_sync: bool = True
    discord_api_url: str = DEFAULT_DISCORD_API_URL
    spotify_api_url: str = DEFAULT_SPOTIFY_API_URL
    spotify_accounts_url: str = DEFAULT_SPOTIFY_ACCOUNTS_URL

    @property
    def public_base_url(self) -> str:
        """Where members' browsers reach our web server: the origin of the redirect URI."""
        parts = urlsplit(self.spotify_redirect_uri)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def database(self) -> str:
        """Where the data lives: DATABASE_URL (a PostgreSQL server) when set, else the SQLite file DATABASE_PATH."""
        return self.database_url or self.database_path

    def secrets(self) -> list[str]:
        """Every secret value, for the log filter to mask."""
        password = urlsplit(self.database_url).password if self.database_url else None
        return [self.discord_token, self.spotify_client_secret, *self.token_encryption_keys,
                *([unquote(password), password] if password else [])]


class _Reader:
    """Reads raw strings and collects problems instead of stopping at the first."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def raw(self, name: str) -> str:
        return self.env.get(name, "").strip()

    def required(self, name: str, what: str) -> str:
        value = self.raw(name)
        if not value:
            self.problems.append(f"{name} is missing: {what}.")
        return value

    def integer(self, name: str, default: int | None, minimum: int | None = None, maximum: int | None = None,
                fallback_name: str | None = None) -> int | None:
        value = self.raw(name) or (self.raw(fallback_name) if fallback_name else "")
        if not value:
            return default
        try:
            number = int(value)
        except ValueError:
            self.problems.append(f"{name} must be a whole number (got {value!r}).")
            return default
        if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
            self.problems.append(f"{name} must be between {minimum} and {maximum} (got {number}).")
            return default
        return number

    def boolean(self, name: str, default: bool) -> bool:
        value = self.raw(name).lower()
        if name not in self.env or not self.raw(name):
            return default
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        self.problems.append(f"{name} must be true or false (got {self.raw(name)!r}).")
        return default

    def id_list(self, name: str) -> frozenset[int]:
        ids: set[int] = set()
        for part in self.raw(name).replace(" ", ",").split(","):
            if not part:
                continue
            if part.isdigit():
                ids.add(int(part))
            else:
                self.problems.append(f"{name} must be Discord user ids separated by commas (got {part!r}).")
        return frozenset(ids)

    def url(self, name: str, default: str) -> str:
        value = self.raw(name) or default
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            self.problems.append(f"{name} must be a web address starting with http:// or https:// (got {value!r}).")
        return value


def _check_fernet_keys(reader: _Reader, raw: str) -> tuple[str, ...]:
    keys = tuple(key.strip() for key in raw.split(",") if key.strip())
    for position, key in enumerate(keys, start=1):
        try:
            valid = len(base64.urlsafe_b64decode(key.encode())) == 32
        except (binascii.Error, ValueError):
            valid = False
        if not valid:
            reader.problems.append(
                f"TOKEN_ENCRYPTION_KEY key number {position} is not a valid key. Make one with: "
                'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
            )
    return keys


def _check_redirect_uri(reader: _Reader, uri: str) -> None:
    parts = urlsplit(uri)
    if parts.hostname == "localhost":
        reader.problems.append("SPOTIFY_REDIRECT_URI may not use 'localhost': Spotify refuses it. Use http://127.0.0.1:PORT/callback.")
    elif parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "[::1]", "::1"):
        reader.problems.append("SPOTIFY_REDIRECT_URI must start with https:// (plain http:// is only allowed for 127.0.0.1).")
    elif parts.scheme not in ("http", "https") or not parts.netloc:
        reader.problems.append(f"SPOTIFY_REDIRECT_URI must be a full web address (got {uri!r}).")


def load_settings(env: Mapping[str, str] | None = None, *, read_dotenv: bool = True) -> Settings:
    """Build the settings from `env` (default: the process environment plus `.env`); raise ConfigError."""
    if env is None:
        if read_dotenv:
            from dotenv import load_dotenv

            load_dotenv(override=False)
        env = os.environ
    reader = _Reader(env)
    discord_token = reader.required("DISCORD_TOKEN", "the bot token from the Discord developer portal (Bot tab)")
    client_id = reader.required("SPOTIFY_CLIENT_ID", "the Client ID of your app in the Spotify developer dashboard")
    client_secret = reader.required("SPOTIFY_CLIENT_SECRET", "the Client secret of your Spotify app")
    raw_keys = reader.required("TOKEN_ENCRYPTION_KEY", "a key that keeps members' Spotify tokens encrypted")
    keys = _check_fernet_keys(reader, raw_keys) if raw_keys else ()
    redirect_uri = reader.raw("SPOTIFY_REDIRECT_URI") or Settings.spotify_redirect_uri
    _check_redirect_uri(reader, redirect_uri)
    log_level = (reader.raw("LOG_LEVEL") or "INFO").upper()
    if log_level not in LOG_LEVELS:
        reader.problems.append(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)} (got {log_level!r}).")
        log_level = "INFO"
    settings = Settings(
        discord_token=discord_token,
        spotify_client_id=client_id,
        spotify_client_secret=client_secret,
        token_encryption_keys=keys,
        spotify_redirect_uri=redirect_uri,
        database_path=reader.raw("DATABASE_PATH") or Settings.database_path,
        database_url=_database_url(reader),
        web_host=reader.raw("WEB_HOST") or Settings.web_host,
        web_port=reader.integer("WEB_PORT", 8080, 1, 65535, fallback_name="PORT") or 8080,
        command_prefix=reader.raw("COMMAND_PREFIX") or "!",
        owner_ids=reader.id_list("OWNER_IDS"),
        dev_guild_id=reader.integer("DEV_GUILD_ID", None, 1),
        log_level=log_level,
        log_dir=reader.raw("LOG_DIR") or "logs",
        sync_interval_minutes=reader.integer("SYNC_INTERVAL_MINUTES", 60, 5, 10080) or 60,
        feature_community=reader.boolean("FEATURE_COMMUNITY", True),
        feature_playlists=reader.boolean("FEATURE_PLAYLISTS", True),
        feature_scheduled_sync=reader.boolean("FEATURE_SCHEDULED_SYNC", True),
        discord_api_url=reader.url("DISCORD_API_URL", DEFAULT_DISCORD_API_URL).rstrip("/"),
        spotify_api_url=_with_slash(reader.url("SPOTIFY_API_URL", DEFAULT_SPOTIFY_API_URL)),
        spotify_accounts_url=_with_slash(reader.url("SPOTIFY_ACCOUNTS_URL", DEFAULT_SPOTIFY_ACCOUNTS_URL)),
    )
    if reader.problems:
        raise ConfigError(reader.problems)
    return settings


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def _database_url(reader: _Reader) -> str:
    """DATABASE_URL, checked for its form only (whether the server answers is checked when the bot opens it)."""
    url = reader.raw("DATABASE_URL")
    if url:
        from storage.postgres_url import url_problem

        problem = url_problem(url)
        if problem:
            reader.problems.append(problem)
    return url
