"""Fetching members' listening from Spotify into the database, periodically and on demand.

Per member and sync: 6 top lists (tracks and artists for three time ranges) + 1 recently-played page
read from the stored `after` cursor, then one-by-one artist look-ups only for artists whose details are
missing or stale. Everything fetched for a member is written in one transaction (`db.store_sync`).
A 429 pauses the whole run until Retry-After; one member's failure never stops the others.

Several bot processes may share one database (shards): a run takes each member with a lease in the database
just before syncing them, so whichever process gets there first syncs them and the others pass them by.
Runs are rounds of SYNC_INTERVAL_MINUTES aligned to the clock, the same for every process: a member synced in
a round stays held until the round ends, and a process that dies mid-sync lets go when its lease runs out.
"""

from __future__ import annotations

import asyncio
import math
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from database import TIME_RANGES, Database
from utils.errors import BotError, LinkBroken, NotLinked, RateLimited, describe_wait
from utils.events import ChangeListeners
from utils.logger import get_logger
from utils.models import SyncResult

log = get_logger(__name__)

TOP_LIMIT = 50
RECENT_LIMIT = 50
SYNCED, SKIPPED, FAILED = "synced", "skipped_recent", "failed"
_EVER = 1e18  # "now", for a forced run: every lease counts as run out


@dataclass
class SyncRunInfo:
    """What the last full run did, for status pages and the owner's /status."""

    started_at: float | None = None
    finished_at: float | None = None
    synced: int = 0
    skipped: int = 0
    failed: int = 0
    paused_seconds: float = 0.0
    running: bool = False
    errors: list[str] = field(default_factory=list)


def parse_played_at(text: str) -> int:
    """Spotify's ISO 8601 `played_at` ("2026-08-01T12:34:56.789Z") as Unix milliseconds."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return round(moment.timestamp() * 1000)


def _image(obj: dict[str, Any] | None) -> str | None:
    images = (obj or {}).get("images") or []
    return images[0].get("url") if images else None


def artist_row(artist: dict[str, Any], *, full: bool, fetched_at: float) -> dict[str, Any]:
    """A database artist row; `full` objects (top lists, look-ups) carry genres and images."""
    row: dict[str, Any] = {"artist_id": artist["id"], "name": artist.get("name") or "Unknown artist"}
    if full:
        row.update(genres=list(artist.get("genres") or []), image_url=_image(artist), fetched_at=fetched_at)
    return row


def track_rows(track: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A database track row and the (simplified) artist rows it names."""
    artists = [a for a in track.get("artists") or [] if a.get("id")]
    album = track.get("album") or {}
    first = artists[0] if artists else {}
    row = {
        "track_id": track["id"], "name": track.get("name") or "Unknown track",
        "artist_id": first.get("id"), "artist_name": first.get("name") or "Unknown artist",
        "album_id": album.get("id"), "album_name": album.get("name"), "image_url": _image(album),
        "duration_ms": track.get("duration_ms"),
    }
    return row, [{"artist_id": a["id"], "name": a.get("name") or "Unknown artist"} for a in artists]


@dataclass
class _Fetched:
    """Everything one member's sync gathered before it is written."""

    artists: dict[str, dict[str, Any]] = field(default_factory=dict)
    tracks: dict[str, dict[str, Any]] = field(default_factory=dict)
    top_tracks: dict[str, list[str]] = field(default_factory=dict)
    top_artists: dict[str, list[str]] = field(default_factory=dict)
    plays: list[tuple[int, str, int | None]] = field(default_factory=list)
    cursor_ms: int | None = None

    def add_artist(self, row: dict[str, Any]) -> None:
        # a full row (with fetched_at) wins over a simplified one
        if "fetched_at" in row or row["artist_id"] not in self.artists:
            self.artists[row["artist_id"]] = row

    def add_track(self, track: dict[str, Any]) -> str | None:
        if not track or not track.get("id"):
            return None  # local files and podcast episodes have no usable id
        row, artists = track_rows(track)
        self.tracks[row["track_id"]] = row
        for artist in artists:
            self.add_artist(artist)
        return row["track_id"]


class SyncService:
    """Keeps stored listening current. `auth.client_for(id)` gives a member's SpotifyClient."""

    def __init__(self, db: Database, auth: Any, settings: Any, *, stagger_seconds: float = 1.0,
                 recent_seconds: float = 600.0, artist_stale_days: float = 30.0, max_artist_lookups: int = 25,
                 max_pause_seconds: float = 900.0, inline_wait_seconds: float = 30.0,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
                 clock: Callable[[], float] = time.time, holder: str | None = None,
                 claim_seconds: float = 1800.0) -> None:
        self.db = db
        self.auth = auth
        self.settings = settings
        self.stagger_seconds = stagger_seconds
        self.recent_seconds = recent_seconds
        self.artist_stale_seconds = artist_stale_days * 86400
        self.max_artist_lookups = max_artist_lookups
        self.max_pause_seconds = max_pause_seconds
        self.inline_wait_seconds = inline_wait_seconds
        self._sleep = sleep
        self._clock = clock
        # Names this process on its leases; a lease lasts claim_seconds while its member is being synced.
        self.holder = holder or f"process-{os.getpid()}-{secrets.token_hex(4)}"
        self.claim_seconds = claim_seconds
        self.round_seconds = float(getattr(settings, "sync_interval_minutes", 60)) * 60
        self._paused_until = 0.0
        self._member_locks: dict[int, asyncio.Lock] = {}
        self._run_lock = asyncio.Lock()
        self.last_run = SyncRunInfo()
        # called with the member id after their stored data changed (the music service drops cached models)
        self.on_synced = ChangeListeners("sync")

    # -- public -------------------------------------------------------------------------------------

    async def sync_member(self, discord_id: int, force: bool = False) -> SyncResult:
        """Sync one member now (the /sync command). Never raises for Spotify trouble: see `status`/`message`."""
        wait = self._paused_until - self._clock()
        if wait > self.inline_wait_seconds:
            broken = await self._link_problem(discord_id)
            return broken or SyncResult(discord_id, FAILED, 0, RateLimited(wait).user_message)
        if wait > 0:
            await self._sleep(wait)
        try:
            return await self._sync_guarded(discord_id, force)
        except RateLimited as error:
            self._pause(error.retry_after)
            if error.retry_after > self.inline_wait_seconds:
                return SyncResult(discord_id, FAILED, 0, error.user_message)
            await self._sleep(error.retry_after)
            try:
                return await self._sync_guarded(discord_id, force)
            except RateLimited as again:
                self._pause(again.retry_after)
                return SyncResult(discord_id, FAILED, 0, again.user_message)

    async def _link_problem(self, discord_id: int) -> SyncResult | None:
        """While the Web API makes us wait, the token service still answers: a link that no longer works is said
        at once ("/connect again") rather than "try again in an hour". None when the link works (or can't be told)."""
        try:
            await asyncio.to_thread(self.auth.check_link, discord_id)  # a network call: not on a database thread
        except (NotLinked, LinkBroken) as error:
            return SyncResult(discord_id, FAILED, 0, error.user_message)
        except BotError:
            return None  # the token service is busy or down too: the wait is still the honest answer
        return None

    @property
    def running(self) -> bool:
        """Whether a run is going in this process."""
        return self._run_lock.locked()

    async def sync_all(self, force: bool = False) -> list[SyncResult]:
        """Sync every linked member who is due and not taken by another process, one after another.

        Members another process holds are left out of the results. With `force`, everyone linked is synced,
        held or not. A run that found nobody to sync leaves `last_run` and the stored summary as they were.
        """
        if self._run_lock.locked():
            log.info("a sync run is already going; this one is skipped")
            return []
        async with self._run_lock:
            return await self._run_all(force)

    async def set_guild_members(self, guild_id: int, ids: Iterable[int]) -> None:
        """Replace a guild's known members (the bot calls this on ready and on guild join)."""
        await self.db.run(self.db.set_guild_members, guild_id, list(ids))
        self.on_synced.notify(None)

    async def add_member(self, guild_id: int, discord_id: int) -> None:
        await self.db.run(self.db.add_guild_member, guild_id, discord_id)
        self.on_synced.notify(discord_id)

    async def remove_member(self, guild_id: int, discord_id: int) -> None:
        await self.db.run(self.db.remove_guild_member, guild_id, discord_id)
        self.on_synced.notify(discord_id)

    async def remove_guild(self, guild_id: int) -> None:
        """The bot left a guild: forget who was in it and its settings."""
        await self.db.run(self.db.remove_guild, guild_id)
        self.on_synced.notify(None)

    # -- the run ----------------------------------------------------------------------------------------

    async def _run_all(self, force: bool) -> list[SyncResult]:
        info = SyncRunInfo(started_at=self._clock(), running=True)
        cutoff = info.started_at if force else info.started_at - self.recent_seconds
        due = await self.db.run(self.db.users_due_for_scheduled_sync, cutoff, _EVER if force else info.started_at)
        results: list[SyncResult] = []
        stopped = False
        for discord_id in due:
            if stopped:
                results.append(SyncResult(discord_id, FAILED, 0, "Spotify asked us to slow down; "
                                          "your data will be refreshed in the next round."))
                continue
            if not await self._claim(discord_id, cutoff, force):
                continue  # another process has them, or synced them since the list was read
            if results and self.stagger_seconds > 0:
                await self._sleep(self.stagger_seconds)
            self.last_run = info
            result, stopped = await self._sync_in_run(discord_id, force, info)
            await self.db.run(self.db.extend_sync_claim, discord_id, self.holder, self._round_end())
            results.append(result)
        if not results:
            return results
        info.synced = sum(r.status == SYNCED for r in results)
        info.skipped = sum(r.status == SKIPPED for r in results)
        info.failed = sum(r.status == FAILED for r in results)
        info.finished_at = self._clock()
        info.running = False
        await self.db.run(self.db.set_state, "last_sync_at", info.finished_at)
        await self.db.run(self.db.set_state, "last_sync_summary",
                          {"synced": info.synced, "skipped": info.skipped, "failed": info.failed,
                           "started_at": info.started_at, "finished_at": info.finished_at})
        log.info("sync run: %d synced, %d skipped, %d failed", info.synced, info.skipped, info.failed)
        return results

    async def _sync_in_run(self, discord_id: int, force: bool, info: SyncRunInfo) -> tuple[SyncResult, bool]:
        """One member inside a run; a 429 pauses the whole run and the member is tried again. -> (result, stop?)"""
        for _attempt in range(3):
            wait = self._paused_until - self._clock()
            if wait > self.max_pause_seconds:
                return SyncResult(discord_id, FAILED, 0, RateLimited(wait).user_message), True
            if wait > 0:
                info.paused_seconds += wait
                log.warning("Spotify rate limit: pausing the sync for %.0f s", wait)
                await self._sleep(wait)
            try:
                return await self._sync_guarded(discord_id, force), False
            except RateLimited as error:
                self._pause(error.retry_after)
        return SyncResult(discord_id, FAILED, 0, RateLimited(self._paused_until - self._clock()).user_message), True

    async def _claim(self, discord_id: int, synced_before: float, force: bool) -> bool:
        now = self._clock()
        return await self.db.run(self.db.claim_sync, discord_id, self.holder, now + self.claim_seconds,
                                 _EVER if force else now, synced_before)

    def _round_end(self) -> float:
        """When the current round of the schedule ends: the same moment for every process."""
        return (math.floor(self._clock() / self.round_seconds) + 1) * self.round_seconds

    def _pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self._clock() + max(0.0, float(seconds)))

    @property
    def paused_for(self) -> float:
        """Seconds left before Spotify may be called again (0 when not paused)."""
        return max(0.0, self._paused_until - self._clock())

    # -- one member -------------------------------------------------------------------------------------

    async def _sync_guarded(self, discord_id: int, force: bool) -> SyncResult:
        """Sync one member; RateLimited propagates, every other error becomes a failed result."""
        lock = self._member_locks.setdefault(discord_id, asyncio.Lock())
        async with lock:
            try:
                return await self._sync_one(discord_id, force)
            except RateLimited:
                raise
            except LinkBroken as error:
                await self.db.run(self.db.set_link_state, discord_id, "broken")
                log.info("member %s: Spotify link broken, marked", discord_id)
                return SyncResult(discord_id, FAILED, 0, error.user_message)
            except BotError as error:
                log.info("member %s: sync failed: %s", discord_id, type(error).__name__)
                return SyncResult(discord_id, FAILED, 0, error.user_message)
            except Exception:
                log.exception("member %s: sync failed unexpectedly", discord_id)
                return SyncResult(discord_id, FAILED, 0, "Something went wrong while refreshing your listening "
                                                         "data. It will be tried again later.")

    async def _sync_one(self, discord_id: int, force: bool) -> SyncResult:
        user = await self.db.run(self.db.get_user, discord_id)
        if user is None or user["link_state"] == "none":
            raise NotLinked()
        if user["link_state"] == "broken":
            raise LinkBroken()
        now = self._clock()
        last = user.get("last_synced_at")
        if not force and last and now - last < self.recent_seconds:
            return SyncResult(discord_id, SKIPPED, 0, f"Your listening data was refreshed {_ago(now - last)}, "
                                                       "so there is nothing new to fetch yet.")
        client = await self.db.run(self.auth.client_for, discord_id)
        fetched = await self._fetch(client, user.get("recent_cursor_ms"))
        await self._fetch_artist_details(client, fetched, now)
        added = await self.db.run_write(
            self.db.store_sync, discord_id, artists=list(fetched.artists.values()), tracks=list(fetched.tracks.values()),
            top_tracks=fetched.top_tracks, top_artists=fetched.top_artists, plays=fetched.plays,
            recent_cursor_ms=fetched.cursor_ms, synced_at=now)
        self.on_synced.notify(discord_id)
        message = ("Your listening data is up to date." if not added else
                   f"Your listening data is up to date ({added} new {'play' if added == 1 else 'plays'}).")
        return SyncResult(discord_id, SYNCED, added, message)

    async def _fetch(self, client: Any, cursor_ms: int | None) -> _Fetched:
        """The 7 calls: top tracks and artists per range, then plays after the stored cursor."""
        fetched = _Fetched()
        stamp = self._clock()
        for time_range in TIME_RANGES:
            tracks = await client.async_top_tracks(time_range, TOP_LIMIT)
            ids = [fetched.add_track(t) for t in tracks or []]
            fetched.top_tracks[time_range] = list(dict.fromkeys(i for i in ids if i))
            artists = await client.async_top_artists(time_range, TOP_LIMIT)
            fetched.top_artists[time_range] = []
            for artist in artists or []:
                if artist and artist.get("id") and artist["id"] not in fetched.top_artists[time_range]:
                    fetched.add_artist(artist_row(artist, full=True, fetched_at=stamp))
                    fetched.top_artists[time_range].append(artist["id"])
        page = await client.async_recently_played(cursor_ms, RECENT_LIMIT)
        newest = cursor_ms or 0
        for entry in (page or {}).get("items") or []:
            track_id = fetched.add_track(entry.get("track") or {})
            if not track_id or not entry.get("played_at"):
                continue
            played_ms = parse_played_at(entry["played_at"])
            if cursor_ms is not None and played_ms <= cursor_ms:
                continue  # already stored by an earlier sync
            fetched.plays.append((played_ms, track_id, None))
            newest = max(newest, played_ms)
        # our own newest play is the safe cursor: a play at or before it is stored, one after it is not
        fetched.cursor_ms = newest or None
        return fetched

    async def _fetch_artist_details(self, client: Any, fetched: _Fetched, now: float) -> None:
        """Look up, one by one, artists we hold no fresh details on (batch look-ups are closed to new apps)."""
        candidates = [a for a, row in fetched.artists.items() if "fetched_at" not in row]
        needing = await self.db.run(self.db.artists_needing_details, candidates, now - self.artist_stale_seconds)
        for artist_id in needing[: self.max_artist_lookups]:
            artist = await client.async_artist(artist_id)
            if artist and artist.get("id"):
                fetched.artists[artist_id] = artist_row(artist, full=True, fetched_at=now)



def _ago(seconds: float) -> str:
    return "just now" if seconds < 60 else f"{describe_wait(seconds)} ago"
