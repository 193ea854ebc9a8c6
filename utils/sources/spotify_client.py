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

import requests
import spotipy
from spotipy.exceptions import SpotifyException

from utils.errors import BotError, LinkBroken, NotAllowlisted, RateLimited, SpotifyUnavailable
from utils.sources.spotify_http import (
    POOL_SIZE,
    SHARED_SESSION,
    STATS,
    SpotifyRequestFailed,
    Spotipy,
    WriteUncertain,
    is_not_allowlisted,
    never_sent,
    new_session,
    path_of,
    reset_stats,
    seconds_to_wait,
    stats,
)

# The client is the package's public face: callers take its errors and app-wide figures from here.
__all__ = ["SpotifyClient", "SpotifyRequestFailed", "WriteUncertain", "new_session", "reset_stats", "stats"]

TokenProvider = Callable[[bool], str]
T = TypeVar("T")

log = logging.getLogger(__name__)
# spotipy logs every HTTP error itself (we log our own, shorter line) and its debug lines include the
# Authorization header: keep it quiet.
logging.getLogger("spotipy.client").setLevel(logging.CRITICAL)

MAX_PAGE = 50  # top items, recently played, album tracks
MAX_SEARCH_PAGE = 10  # search and artist albums since Feb 2026
MAX_ADD_BATCH = 100  # items per "add to playlist" request
_EXECUTOR = ThreadPoolExecutor(max_workers=POOL_SIZE, thread_name_prefix="spotify")


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
        self._session = session or SHARED_SESSION
        self._slot = threading.local()
        self._sp = self._spotipy(timeout)
        self._sp_write = self._spotipy(self.write_timeout)

    def _spotipy(self, timeout: float) -> Spotipy:
        sp = Spotipy(self._slot, requests_session=self._session, requests_timeout=timeout, retries=0,
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
            STATS.add(calls=1)
            try:
                return fn(sp)
            except SpotifyException as exc:
                status = exc.http_status
                STATS.error(label, f"HTTP {status}")
                if status == 429:
                    retry_after = seconds_to_wait(exc)
                    STATS.add(http_429=1)
                    STATS.block(self.api_url, time.time() + retry_after)
                    log.warning("Spotify rate limit on %s: asked to wait %.0f s", label, retry_after)
                    continue  # the app-wide block above decides: wait it out or fail fast
                if status == 401 and not refreshed:
                    refreshed = force_refresh = True
                    STATS.add(forced_refreshes=1)
                    log.info("Spotify said 401 on %s: refreshing the token once", label)
                    continue
                if status == 401:
                    raise self._give_up(LinkBroken()) from None
                if status == 403 and is_not_allowlisted(exc):
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
                STATS.error(label, type(exc).__name__)
                if not idempotent and not never_sent(exc):
                    # The write may have landed (a timed-out or cut-off reply): retrying could make it twice.
                    log.warning("%s on %s: it may have been done, not retrying", type(exc).__name__, label)
                    raise self._give_up(WriteUncertain()) from None
                failures = self._backoff(label, failures, type(exc).__name__)

    def _wait_for_app_limit(self, label: str, waited: float) -> float:
        """Sleep through a short app-wide block; raise RateLimited at once for a long one."""
        remaining = STATS.remaining_block(self.api_url)
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
        STATS.add(retries=1)
        time.sleep(delay)
        return failures

    @staticmethod
    def _give_up(exc: BotError) -> BotError:
        STATS.add(gave_up=1)
        return exc

    def _pages(self, label: str, first: dict[str, Any], limit: int | None) -> list[dict[str, Any]]:
        """Items of a paging object and its `next` pages, up to `limit` (None: all)."""
        items = list(first.get("items") or [])
        page = first
        while page.get("next") and (limit is None or len(items) < limit):
            url = page["next"]
            page = self.call(f"GET {path_of(url)}", lambda sp, url=url: sp._get(url)) or {}
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
