"""The Spotify client's plumbing: its own error types, the app-wide rate-limit memory and counters, the shared HTTP
session, and reading what Spotify's errors mean. `spotify_client.SpotifyClient` builds on these.
"""

from __future__ import annotations

import threading
import time
from typing import Any
from urllib.parse import urlsplit

import requests
import spotipy
import urllib3
from spotipy.exceptions import SpotifyException

from utils.errors import BotError, SpotifyUnavailable

POOL_SIZE = 8

NOT_ALLOWLISTED_HINTS = ("not registered", "may not be registered", "developer dashboard")


class SpotifyRequestFailed(BotError):
    """Spotify refused a request for a reason retrying will not fix (400, 403, 404...); `status` says which."""

    default_message = "Spotify couldn't do that. Please try again later, or ask the bot owner if it keeps happening."

    def __init__(self, status: int, reason: str | None = None, user_message: str | None = None) -> None:
        self.status = status
        self.reason = reason
        super().__init__(user_message)


class WriteUncertain(SpotifyUnavailable):
    """A write (playlist create or add) failed in a way that may have happened at Spotify all the same."""


class AppStats:
    """App-wide counters and the rate-limit block, shared by every client (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.calls = self.errors = self.http_429 = self.retries = self.forced_refreshes = self.gave_up = 0
        self.last_error: str | None = None
        # keyed by API base URL: one deployment talks to one Spotify, tests run many fakes side by side
        self.blocked_until: dict[str, float] = {}

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def error(self, label: str, what: str) -> None:
        with self.lock:
            self.errors += 1
            self.last_error = f"{label}: {what}"

    def block(self, api_url: str, until: float) -> None:
        with self.lock:
            self.blocked_until[api_url] = max(until, self.blocked_until.get(api_url, 0.0))

    def remaining_block(self, api_url: str) -> float:
        with self.lock:
            return max(0.0, self.blocked_until.get(api_url, 0.0) - time.time())


STATS = AppStats()


def stats() -> dict[str, Any]:
    """App-wide Spotify figures for the admin command (plain dict, safe to show)."""
    with STATS.lock:
        until = max(STATS.blocked_until.values(), default=0.0)
        return {
            "calls": STATS.calls,
            "errors": STATS.errors,
            "http_429": STATS.http_429,
            "retries": STATS.retries,
            "forced_refreshes": STATS.forced_refreshes,
            "gave_up": STATS.gave_up,
            "last_error": STATS.last_error,
            "rate_limited_until": until,
            "rate_limited": until > time.time(),
        }


def reset_stats() -> None:
    """Zero the counters and lift any rate-limit block (tests, or an admin after a quota reset)."""
    with STATS.lock:
        STATS.reset()


def new_session() -> requests.Session:
    """A plain session: no urllib3 retries (so no sleeping through Retry-After), pool sized for our threads."""
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE * 2, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


SHARED_SESSION = new_session()


class Spotipy(spotipy.Spotify):
    """spotipy reading the bearer token from a per-thread slot, so one client is safe across threads."""

    def __init__(self, slot: threading.local, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._slot = slot

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._slot.token}"}

    def __del__(self) -> None:
        # spotipy closes its session here; ours is shared by every client, so leave it open.
        pass


def seconds_to_wait(exc: SpotifyException) -> float:
    headers = exc.headers or {}
    try:
        return max(0.0, float(headers.get("Retry-After") or headers.get("retry-after") or 1))
    except (TypeError, ValueError):
        return 1.0


def is_not_allowlisted(exc: SpotifyException) -> bool:
    text = f"{exc.msg} {exc.reason or ''}".lower()
    return any(hint in text for hint in NOT_ALLOWLISTED_HINTS)


def path_of(url: str) -> str:
    return urlsplit(url).path


def never_sent(exc: requests.RequestException) -> bool:
    """True when the request cannot have reached Spotify (no connection was made), so a write is safe to retry."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    cause: BaseException | None = exc
    for _ in range(4):  # requests wraps urllib3's MaxRetryError, which wraps the real reason
        if cause is None:
            break
        if isinstance(cause, ConnectionRefusedError | urllib3.exceptions.NewConnectionError):
            return True
        cause = getattr(cause, "reason", None) or (cause.args[0] if cause.args and
                                                   isinstance(cause.args[0], BaseException) else None)
    return False
