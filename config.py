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
DEFAULT_LASTFM_API_URL = "https://ws.audioscrobbler.com/2.0/"
DEFAULT_LASTFM_AUTH_URL = "https://www.last.fm/api/auth/"
DEFAULT_LISTENBRAINZ_API_URL = "https://api.listenbrainz.org/"
# Where chart covers and avatars may be fetched from: Spotify's image hosts and Discord's avatar host.
DEFAULT_IMAGE_HOSTS = ("i.scdn.co", "mosaic.scdn.co", "image-cdn-ak.spotifycdn.com", "image-cdn-fa.spotifycdn.com",
                       "cdn.discordapp.com")
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
    image_hosts: tuple[str, ...] = DEFAULT_IMAGE_HOSTS
    image_cache_mb: int = 200
    shard_count: int | None = None  # total shards across every process; None: one unsharded connection
    shard_ids: tuple[int, ...] | None = None  # the shards this process runs; None: all of them
    # Processes of their own for recommendation work (0: in the bot's process). load_settings picks the default
    # from the machine (`default_engine_processes`); built by hand (tests), settings keep everything in one process.
    engine_processes: int = 0
    lastfm_api_key: str = field(default="", repr=False)
    lastfm_shared_secret: str = field(default="", repr=False)
    lastfm_api_url: str = DEFAULT_LASTFM_API_URL
    lastfm_auth_url: str = DEFAULT_LASTFM_AUTH_URL
    listenbrainz_api_url: str = DEFAULT_LISTENBRAINZ_API_URL
    public_url: str = ""  # PUBLIC_URL; empty means the origin of the redirect URI

    @property
    def sharded(self) -> bool:
        """Whether this process runs discord.py's AutoShardedBot (SHARD_COUNT set)."""
        return self.shard_count is not None

    @property
    def public_base_url(self) -> str:
        """Where members' browsers reach our web server: PUBLIC_URL, or else the origin of the redirect URI."""
        if self.public_url:
            return self.public_url.rstrip("/")
        parts = urlsplit(self.spotify_redirect_uri)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def lastfm_enabled(self) -> bool:
        """Whether this bot has a Last.fm API account (both the key and the shared secret)."""
        return bool(self.lastfm_api_key and self.lastfm_shared_secret)

    @property
    def database(self) -> str:
        """Where the data lives: DATABASE_URL (a PostgreSQL server) when set, else the SQLite file DATABASE_PATH."""
        return self.database_url or self.database_path

    def secrets(self) -> list[str]:
        """Every secret value, for the log filter to mask."""
        password = urlsplit(self.database_url).password if self.database_url else None
        extra = [self.lastfm_shared_secret] if self.lastfm_shared_secret else []
        return [self.discord_token, self.spotify_client_secret, *self.token_encryption_keys, *extra,
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


def _image_hosts(reader: _Reader) -> tuple[str, ...]:
    """IMAGE_HOSTS: host names (or host:port) separated by commas; empty means the default list."""
    raw = reader.raw("IMAGE_HOSTS")
    if not raw:
        return DEFAULT_IMAGE_HOSTS
    hosts = tuple(dict.fromkeys(h.strip().lower() for h in raw.split(",") if h.strip()))
    for host in hosts:
        parts = urlsplit(f"//{host}")
        try:
            parts.port  # noqa: B018 - raises for a bad port
            valid = bool(parts.hostname) and parts.netloc == host and " " not in host
        except ValueError:
            valid = False
        if not valid:
            reader.problems.append(f"IMAGE_HOSTS must be host names separated by commas, like i.scdn.co "
                                   f"(no http:// or paths; got {host!r}).")
    return hosts


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


def _read_shards(reader: _Reader) -> tuple[int | None, tuple[int, ...] | None]:
    """SHARD_COUNT alone: this process runs every shard; with SHARD_IDS, only those; neither: no shards."""
    count = reader.integer("SHARD_COUNT", None, 1, 100_000)
    raw_ids = reader.raw("SHARD_IDS")
    if not raw_ids:
        return count, None
    ids: set[int] = set()
    for part in raw_ids.replace(" ", ",").split(","):
        if not part:
            continue
        if not part.isdigit():
            reader.problems.append(f"SHARD_IDS must be shard numbers separated by commas, like 0,1 (got {part!r}).")
            return count, None
        ids.add(int(part))
    if count is None:
        if not reader.raw("SHARD_COUNT"):
            reader.problems.append("SHARD_IDS needs SHARD_COUNT too: the total number of shards across all your "
                                   "processes (for example SHARD_COUNT=4 with SHARD_IDS=0,1 here and 2,3 elsewhere).")
        return None, None
    outside = sorted(i for i in ids if i >= count)
    if outside:
        reader.problems.append(f"SHARD_IDS may only name shards 0 to {count - 1} when SHARD_COUNT is {count} "
                               f"(got {', '.join(map(str, outside))}).")
        return count, None
    return count, tuple(sorted(ids)) or None


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
    lastfm_key, lastfm_secret = _lastfm_account(reader)
    public_url = reader.url("PUBLIC_URL", "https://unset.invalid") if reader.raw("PUBLIC_URL") else ""
    shard_count, shard_ids = _read_shards(reader)
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
        lastfm_api_key=lastfm_key,
        lastfm_shared_secret=lastfm_secret,
        lastfm_api_url=_with_slash(reader.url("LASTFM_API_URL", DEFAULT_LASTFM_API_URL)),
        lastfm_auth_url=_with_slash(reader.url("LASTFM_AUTH_URL", DEFAULT_LASTFM_AUTH_URL)),
        listenbrainz_api_url=_with_slash(reader.url("LISTENBRAINZ_API_URL", DEFAULT_LISTENBRAINZ_API_URL)),
        public_url=public_url.rstrip("/"),
        image_hosts=_image_hosts(reader),
        image_cache_mb=reader.integer("IMAGE_CACHE_MB", 200, 0, 100_000) or 0,
        shard_count=shard_count,
        shard_ids=shard_ids,
        engine_processes=reader.integer("ENGINE_PROCESSES", default_engine_processes(), 0, 16) or 0,
    )
    if reader.problems:
        raise ConfigError(reader.problems)
    return settings


def default_engine_processes() -> int:
    """Two engine processes when this process may use more than one core (they work beside the event loop, at a
    lower priority, so a burst of /recommend uses every core; measured: one alone is the floor of a 200-member burst),
    none on a single core (they would only take turns with the bot there)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cores = os.cpu_count() or 1
    return 2 if cores > 1 else 0


def _lastfm_account(reader: _Reader) -> tuple[str, str]:
    """LASTFM_API_KEY and LASTFM_SHARED_SECRET come as a pair: both (Last.fm linking on) or neither (off)."""
    key, secret = reader.raw("LASTFM_API_KEY"), reader.raw("LASTFM_SHARED_SECRET")
    if bool(key) != bool(secret):
        missing = "LASTFM_SHARED_SECRET" if key else "LASTFM_API_KEY"
        reader.problems.append(f"{missing} is missing: Last.fm linking needs both LASTFM_API_KEY and "
                               "LASTFM_SHARED_SECRET from your Last.fm API account (or neither, to leave it off).")
    return key, secret


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
