"""The one Spotify client that every command and the sync use: spotipy underneath, our retry policy around it.

spotipy is given a plain `requests.Session()` (no urllib3 retries), so a 429 reaches us at once with its
`Retry-After` and we decide: wait it out when short, fail fast with `RateLimited` when long. 5xx answers,
dropped connections and timeouts are retried with exponential backoff and jitter, then `SpotifyUnavailable`.
Writes (create a playlist, add to it) are not idempotent: they are retried only when Spotify cannot have done
them (429, 503, a connection that never opened); a 500/502/504 or a reply that timed out may have landed, so
they raise `WriteUncertain` at once and the caller decides (see MusicService: it fills the same playlist later).
Writes get a longer read timeout than reads, so a slow Spotify finishes them rather than leaving us unsure.
A 401 asks the token provider for a forced refresh once. The rate limit is per app, so it is remembered
module-wide: while Spotify has asked us to wait, every client waits or fails fast instead of hammering it.

Calls block; from async code use `await client.run(lambda c: c.top_tracks("short_term"))` or the
`async_*` methods, which run on a small shared thread pool so the event loop never blocks.
Logs carry the method and path only, never a token or a query string.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import spotipy
import urllib3
from spotipy.exceptions import SpotifyException

from utils.errors import BotError, LinkBroken, NotAllowlisted, RateLimited, SpotifyUnavailable

TokenProvider = Callable[[bool], str]
T = TypeVar("T")

log = logging.getLogger(__name__)
# spotipy logs every HTTP error itself (we log our own, shorter line) and its debug lines include the
# Authorization header: keep it quiet.
logging.getLogger("spotipy.client").setLevel(logging.CRITICAL)

MAX_PAGE = 50  # top items, recently played, album tracks
MAX_SEARCH_PAGE = 10  # search and artist albums since Feb 2026
MAX_ADD_BATCH = 100  # items per "add to playlist" request
POOL_SIZE = 8

_EXECUTOR = ThreadPoolExecutor(max_workers=POOL_SIZE, thread_name_prefix="spotify")
_NOT_ALLOWLISTED_HINTS = ("not registered", "may not be registered", "developer dashboard")


class SpotifyRequestFailed(BotError):
    """Spotify refused a request for a reason retrying will not fix (400, 403, 404...); `status` says which."""

    default_message = "Spotify couldn't do that. Please try again later, or ask the bot owner if it keeps happening."

    def __init__(self, status: int, reason: str | None = None, user_message: str | None = None) -> None:
        self.status = status
        self.reason = reason
        super().__init__(user_message)


class WriteUncertain(SpotifyUnavailable):
    """A write (playlist create or add) failed in a way that may have happened at Spotify all the same."""


class _AppStats:
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


_STATS = _AppStats()


def stats() -> dict[str, Any]:
    """App-wide Spotify figures for the admin command (plain dict, safe to show)."""
    with _STATS.lock:
        until = max(_STATS.blocked_until.values(), default=0.0)
        return {
            "calls": _STATS.calls,
            "errors": _STATS.errors,
            "http_429": _STATS.http_429,
            "retries": _STATS.retries,
            "forced_refreshes": _STATS.forced_refreshes,
            "gave_up": _STATS.gave_up,
            "last_error": _STATS.last_error,
            "rate_limited_until": until,
            "rate_limited": until > time.time(),
        }


def reset_stats() -> None:
    """Zero the counters and lift any rate-limit block (tests, or an admin after a quota reset)."""
    with _STATS.lock:
        _STATS.reset()


def new_session() -> requests.Session:
    """A plain session: no urllib3 retries (so no sleeping through Retry-After), pool sized for our threads."""
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE * 2, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


_SHARED_SESSION = new_session()


class _Spotipy(spotipy.Spotify):
    """spotipy reading the bearer token from a per-thread slot, so one client is safe across threads."""

    def __init__(self, slot: threading.local, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._slot = slot

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._slot.token}"}

    def __del__(self) -> None:
        # spotipy closes its session here; ours is shared by every client, so leave it open.
        pass


def _retry_after(exc: SpotifyException) -> float:
    headers = exc.headers or {}
    try:
        return max(0.0, float(headers.get("Retry-After") or headers.get("retry-after") or 1))
    except (TypeError, ValueError):
        return 1.0


def _is_not_allowlisted(exc: SpotifyException) -> bool:
    text = f"{exc.msg} {exc.reason or ''}".lower()
    return any(hint in text for hint in _NOT_ALLOWLISTED_HINTS)


def _path_of(url: str) -> str:
    return urlsplit(url).path


def _never_sent(exc: requests.RequestException) -> bool:
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


class SpotifyClient:
    """Spotify Web API calls for one member (whose token `token_provider` supplies), with our retry policy."""

    def __init__(
        self,
        token_provider: TokenProvider,
        api_url: str,
        *,
        timeout: float = 10.0,
        write_timeout: float = 30.0,
        max_wait: float = 30.0,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        session: requests.Session | None = None,
    ) -> None:
        self._token_provider = token_provider
        self.api_url = api_url if api_url.endswith("/") else api_url + "/"
        self.timeout = timeout
        self.write_timeout = max(timeout, write_timeout)
        self.max_wait = max_wait
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._session = session or _SHARED_SESSION
        self._slot = threading.local()
        self._sp = self._spotipy(timeout)
        self._sp_write = self._spotipy(self.write_timeout)

    def _spotipy(self, timeout: float) -> _Spotipy:
        sp = _Spotipy(self._slot, requests_session=self._session, requests_timeout=timeout, retries=0,
                      status_retries=0)
        sp.prefix = self.api_url
        return sp

    def impatient(self) -> SpotifyClient:
        """The same member's client for optional look-ups: a 429 (or a slow-down already in force) fails at once
        with RateLimited instead of being waited out, and a failing Spotify is tried twice, not four times."""
        return SpotifyClient(self._token_provider, self.api_url, timeout=self.timeout,
                             write_timeout=self.write_timeout, max_wait=0.0, max_retries=min(1, self.max_retries),
                             backoff_base=self.backoff_base, backoff_max=self.backoff_max, session=self._session)

    # ---- the retry policy ----

    def call(self, label: str, fn: Callable[[spotipy.Spotify], T], *, idempotent: bool = True) -> T:
        """Run one spotipy call under our policy; `label` ("GET me/top/tracks") is all that is logged.

        `idempotent=False` (a write) runs with the longer write timeout and is retried only when Spotify cannot
        have done it; otherwise it raises WriteUncertain at once."""
        failures = 0
        waited = 0.0
        refreshed = force_refresh = False
        sp = self._sp if idempotent else self._sp_write
        while True:
            waited += self._wait_for_app_limit(label, waited)
            self._slot.token = self._token_provider(force_refresh)
            force_refresh = False
            _STATS.add(calls=1)
            try:
                return fn(sp)
            except SpotifyException as exc:
                status = exc.http_status
                _STATS.error(label, f"HTTP {status}")
                if status == 429:
                    retry_after = _retry_after(exc)
                    _STATS.add(http_429=1)
                    _STATS.block(self.api_url, time.time() + retry_after)
                    log.warning("Spotify rate limit on %s: asked to wait %.0f s", label, retry_after)
                    continue  # the app-wide block above decides: wait it out or fail fast
                if status == 401 and not refreshed:
                    refreshed = force_refresh = True
                    _STATS.add(forced_refreshes=1)
                    log.info("Spotify said 401 on %s: refreshing the token once", label)
                    continue
                if status == 401:
                    raise self._give_up(LinkBroken()) from None
                if status == 403 and _is_not_allowlisted(exc):
                    raise self._give_up(NotAllowlisted()) from None
                if status < 500:
                    log.warning("Spotify refused %s with %s", label, status)
                    raise self._give_up(SpotifyRequestFailed(status, exc.reason)) from None
                if not idempotent and status != 503:
                    # A 500/502/504 may come after the write was done: retrying could make it twice.
                    log.warning("Spotify answered %s to %s: it may have been done, not retrying", status, label)
                    raise self._give_up(WriteUncertain()) from None
                failures = self._backoff(label, failures, f"HTTP {status}")
            except requests.RequestException as exc:
                _STATS.error(label, type(exc).__name__)
                if not idempotent and not _never_sent(exc):
                    # The write may have landed (a timed-out or cut-off reply): retrying could make it twice.
                    log.warning("%s on %s: it may have been done, not retrying", type(exc).__name__, label)
                    raise self._give_up(WriteUncertain()) from None
                failures = self._backoff(label, failures, type(exc).__name__)

    def _wait_for_app_limit(self, label: str, waited: float) -> float:
        """Sleep through a short app-wide block; raise RateLimited at once for a long one."""
        remaining = _STATS.remaining_block(self.api_url)
        if remaining <= 0:
            return 0.0
        if waited + remaining > self.max_wait:
            log.warning("Spotify is rate limiting us for %.0f s more: %s fails fast", remaining, label)
            raise self._give_up(RateLimited(remaining))
        time.sleep(remaining)
        return remaining

    def _backoff(self, label: str, failures: int, what: str) -> int:
        """Sleep before the next attempt after a transient failure, or give up with SpotifyUnavailable."""
        failures += 1
        if failures > self.max_retries:
            log.warning("Spotify kept failing on %s (%s): giving up after %d attempts", label, what, failures)
            raise self._give_up(SpotifyUnavailable())
        delay = min(self.backoff_max, self.backoff_base * 2 ** (failures - 1)) * random.uniform(0.5, 1.0)
        log.info("Spotify %s on %s: retrying in %.2f s", what, label, delay)
        _STATS.add(retries=1)
        time.sleep(delay)
        return failures

    @staticmethod
    def _give_up(exc: BotError) -> BotError:
        _STATS.add(gave_up=1)
        return exc

    def _pages(self, label: str, first: dict[str, Any], limit: int | None) -> list[dict[str, Any]]:
        """Items of a paging object and its `next` pages, up to `limit` (None: all)."""
        items = list(first.get("items") or [])
        page = first
        while page.get("next") and (limit is None or len(items) < limit):
            url = page["next"]
            page = self.call(f"GET {_path_of(url)}", lambda sp, url=url: sp._get(url)) or {}
            items.extend(page.get("items") or [])
        return items if limit is None else items[:limit]

    # ---- the calls the bot uses ----

    def me(self) -> dict[str, Any]:
        return self.call("GET me", lambda sp: sp.me())

    def top_tracks(self, time_range: str = "medium_term", limit: int = 50) -> list[dict[str, Any]]:
        """The member's top tracks, best first (pages followed up to `limit`)."""
        first = self.call("GET me/top/tracks", lambda sp: sp.current_user_top_tracks(
            limit=min(limit, MAX_PAGE), offset=0, time_range=time_range))
        return self._pages("GET me/top/tracks", first, limit)

    def top_artists(self, time_range: str = "medium_term", limit: int = 50) -> list[dict[str, Any]]:
        first = self.call("GET me/top/artists", lambda sp: sp.current_user_top_artists(
            limit=min(limit, MAX_PAGE), offset=0, time_range=time_range))
        return self._pages("GET me/top/artists", first, limit)

    def recently_played(self, after_ms: int | None = None, limit: int = 50) -> dict[str, Any]:
        """{"items": plays newest first, "cursor": Unix ms to pass as `after_ms` next time (None if unknown)}."""
        page = self.call("GET me/player/recently-played", lambda sp: sp.current_user_recently_played(
            limit=min(limit, MAX_PAGE), after=after_ms)) or {}
        cursors = page.get("cursors") or {}
        cursor = int(cursors["after"]) if cursors.get("after") else after_ms
        return {"items": list(page.get("items") or []), "cursor": cursor}

    def artist(self, artist_id: str) -> dict[str, Any]:
        return self.call("GET artists/{id}", lambda sp: sp.artist(artist_id))

    def artist_albums(
        self, artist_id: str, limit: int = 20, include_groups: str = "album,single"
    ) -> list[dict[str, Any]]:
        first = self.call("GET artists/{id}/albums", lambda sp: sp.artist_albums(
            artist_id, include_groups=include_groups, limit=min(limit, MAX_SEARCH_PAGE)))
        return self._pages("GET artists/{id}/albums", first, limit)

    def album_tracks(self, album_id: str) -> list[dict[str, Any]]:
        """Every track of the album (all pages)."""
        first = self.call("GET albums/{id}/tracks", lambda sp: sp.album_tracks(album_id, limit=MAX_PAGE))
        return self._pages("GET albums/{id}/tracks", first, None)

    def track(self, track_id: str) -> dict[str, Any]:
        return self.call("GET tracks/{id}", lambda sp: sp.track(track_id))

    def search(self, q: str, types: Iterable[str] = ("track",), limit: int = 10) -> dict[str, list[dict[str, Any]]]:
        """{"tracks": [...], "artists": [...], ...}: up to `limit` each, paged 10 at a time as Spotify requires."""
        wanted = list(dict.fromkeys(types))
        results: dict[str, list[dict[str, Any]]] = {f"{t}s": [] for t in wanted}
        page_size = max(1, min(limit, MAX_SEARCH_PAGE))
        offset = 0
        while wanted and offset <= 1000:
            kinds = ",".join(wanted)
            answer = self.call("GET search", lambda sp, k=kinds, o=offset: sp.search(
                q, limit=page_size, offset=o, type=k)) or {}
            still = []
            for kind in wanted:
                block = answer.get(f"{kind}s") or {}
                results[f"{kind}s"].extend(block.get("items") or [])
                if block.get("next") and len(results[f"{kind}s"]) < limit:
                    still.append(kind)
            wanted = still
            offset += page_size
        return {key: items[:limit] for key, items in results.items()}

    def playlist_uris(self, playlist_id: str) -> list[str]:
        """The URIs of every item now in a playlist, in order (GET playlists/{id}/items, all pages)."""
        first = self.call("GET playlists/{id}/items", lambda sp: sp.playlist_items(
            playlist_id, limit=MAX_PAGE, additional_types=("track",)))
        entries = self._pages("GET playlists/{id}/items", first or {}, None)
        uris = []
        for entry in entries:
            item = (entry or {}).get("item") or (entry or {}).get("track") or {}  # "track" before Feb 2026
            if item.get("uri"):
                uris.append(item["uri"])
        return uris

    def create_playlist(self, name: str, description: str = "", public: bool = False) -> dict[str, Any]:
        """A new playlist in the member's account (POST me/playlists), returned as Spotify describes it.
        Raises WriteUncertain when Spotify may have made it without telling us (never retried then)."""
        return self.call("POST me/playlists", lambda sp: sp.current_user_playlist_create(
            name, public=public, collaborative=False, description=description), idempotent=False)

    def add_to_playlist(self, playlist_id: str, uris: Sequence[str]) -> str | None:
        """Append `uris` in order, at most 100 a request; returns the last snapshot id. On WriteUncertain, the
        earlier batches are in and the failed one may be: `playlist_uris` tells what is there."""
        snapshot = None
        for start in range(0, len(uris), MAX_ADD_BATCH):
            chunk = list(uris[start:start + MAX_ADD_BATCH])
            answer = self.call("POST playlists/{id}/items", lambda sp, c=chunk: sp.playlist_add_items(
                playlist_id, c), idempotent=False) or {}
            snapshot = answer.get("snapshot_id", snapshot)
        return snapshot

    # ---- async facade ----

    async def run(self, fn: Callable[[SpotifyClient], T]) -> T:
        """Run `fn(self)` on the Spotify thread pool: `await client.run(lambda c: c.me())`."""
        return await asyncio.get_running_loop().run_in_executor(_EXECUTOR, fn, self)

    async def _async(self, method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(_EXECUTOR, functools.partial(method, *args, **kwargs))

    async def async_me(self) -> dict[str, Any]:
        return await self._async(self.me)

    async def async_top_tracks(self, time_range: str = "medium_term", limit: int = 50) -> list[dict[str, Any]]:
        return await self._async(self.top_tracks, time_range, limit)

    async def async_top_artists(self, time_range: str = "medium_term", limit: int = 50) -> list[dict[str, Any]]:
        return await self._async(self.top_artists, time_range, limit)

    async def async_recently_played(self, after_ms: int | None = None, limit: int = 50) -> dict[str, Any]:
        return await self._async(self.recently_played, after_ms, limit)

    async def async_artist(self, artist_id: str) -> dict[str, Any]:
        return await self._async(self.artist, artist_id)

    async def async_artist_albums(
        self, artist_id: str, limit: int = 20, include_groups: str = "album,single"
    ) -> list[dict[str, Any]]:
        return await self._async(self.artist_albums, artist_id, limit, include_groups)

    async def async_album_tracks(self, album_id: str) -> list[dict[str, Any]]:
        return await self._async(self.album_tracks, album_id)

    async def async_track(self, track_id: str) -> dict[str, Any]:
        return await self._async(self.track, track_id)

    async def async_search(
        self, q: str, types: Iterable[str] = ("track",), limit: int = 10
    ) -> dict[str, list[dict[str, Any]]]:
        return await self._async(self.search, q, tuple(types), limit)

    async def async_playlist_uris(self, playlist_id: str) -> list[str]:
        return await self._async(self.playlist_uris, playlist_id)

    async def async_create_playlist(self, name: str, description: str = "", public: bool = False) -> dict[str, Any]:
        return await self._async(self.create_playlist, name, description, public)

    async def async_add_to_playlist(self, playlist_id: str, uris: Sequence[str]) -> str | None:
        return await self._async(self.add_to_playlist, playlist_id, list(uris))
