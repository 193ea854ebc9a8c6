"""Bringing in each member's whole Last.fm / ListenBrainz history in the background, then keeping it current.

A walk goes back in time page by page (Last.fm `to`, ListenBrainz `max_ts`), storing each page with where the
walk stands in ONE transaction (storage.sources), so memory stays flat whatever the account's size and a restart
resumes after the last stored page. The page boundary's second is asked for again (two plays can share a second)
and the database keeps every play once. A rate limit or an outage is waited out (the service's own wait, or a
growing pause) and the walk goes on; if it lasts, the walk stops and the next periodic sync resumes it. A
revoked session, a vanished account or a profile gone private marks the link broken with words for the member.
Once the whole history is in, the periodic sync asks only for plays since the newest stored (`from`/`min_ts`).
Several bot processes on one database (shards) each run this; a lease on the link (renewed at every write and
wait) makes sure only one of them walks a history at a time, and a process that dies lets go when it runs out.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from cryptography.fernet import InvalidToken

from database import Database
from storage.sources import LinkGone
from utils.errors import describe_wait
from utils.events import ChangeListeners
from utils.logger import get_logger, register_secrets
from utils.sources.lastfm import LastFmClient
from utils.sources.listenbrainz import PAGE_SIZE as LB_PAGE_SIZE
from utils.sources.listenbrainz import ListenBrainzClient
from utils.sources.source_http import (
    SOURCE_NAMES,
    LinkRevoked,
    PrivateProfile,
    SourceError,
    SourceRateLimited,
    SourceUnavailable,
    UnknownAccount,
)

log = get_logger("history_sync")
T = TypeVar("T")

BACKFILL, CURRENT, BROKEN = "backfill", "current", "broken"
# How long a member's reply to /link follows their history (Discord lets a reply change for 15 minutes): a history
# still coming in after that is announced by direct message when it is all in.
REPLY_WINDOW_SECONDS = 14 * 60.0
OUTAGE_WAITS = (15.0, 30.0, 60.0, 120.0, 300.0)  # then the walk stops; the next periodic sync resumes it
NOTIFY_EVERY_WRITES = 2
WALKER_CACHE_KIB = 8192
# A walk's lease: renewed at every write and before every wait (the longest, OUTAGE_WAITS' last, is shorter)
WALK_LEASE_SECONDS = 900.0
BATCH_PLAYS = 5000  # a write: at 1,000 the commits alone held storing under 20,000 plays/s


class _Stopped(Exception):
    """The bot is shutting down: leave the walk where it stands (it resumes on the next start)."""


@dataclass(frozen=True)
class LinkProgress:
    """Where one link stands, in words a member reads."""

    source: str
    account_name: str
    status: str
    plays_fetched: int
    plays_expected: int | None
    last_synced_at: float | None
    text: str


class HistorySync:
    """Background walks of linked histories, at most one per link at a time, on a small pool of threads."""

    def __init__(self, db: Database, vault: Any, *, lastfm: LastFmClient | None,
                 listenbrainz: ListenBrainzClient | None, outage_waits: Sequence[float] = OUTAGE_WAITS,
                 workers: int = 2, batch_plays: int = BATCH_PLAYS) -> None:
        self.db = db
        self.vault = vault
        self.lastfm = lastfm
        self.listenbrainz = listenbrainz
        self.outage_waits = tuple(outage_waits)
        self.batch_plays = batch_plays
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"  # this process, for leases
        self.on_change = ChangeListeners("history")  # called with the member id when their plays changed
        # called with (member id, source, words for them) when a link stops working: the bot tells the member
        self.on_broken = ChangeListeners("history-broken")
        # called with (member id, source) when a whole history is in after the /link reply stopped following it
        self.on_long_history_in = ChangeListeners("history-in")
        self.reply_window_seconds = REPLY_WINDOW_SECONDS
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="history")
        self._running: dict[tuple[int, str], Future[str]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()

    # -- starting walks -----------------------------------------------------------------------------------

    def start(self, discord_id: int, source: str) -> Future[str]:
        """Walk this link in the background (or return the walk already under way)."""
        key = (discord_id, source)
        with self._lock:
            running = self._running.get(key)
            if running is not None and not running.done():
                return running
            future = self._executor.submit(self.run_link, discord_id, source)
            self._running[key] = future
        return future

    async def wait(self, discord_id: int, source: str) -> str | None:
        """Await the walk of this link under way, if any; its outcome ('current', 'broken', ...)."""
        with self._lock:
            future = self._running.get((discord_id, source))
        return None if future is None else await asyncio.wrap_future(future)

    async def sync_all(self) -> int:
        """The periodic sync: start every link not being walked (a backfill resumes, others fetch what's new)."""
        links = await self.db.run(self.db.all_source_links)
        for link in links:
            self.start(link["discord_id"], link["source"])
        return len(links)

    async def resume_unfinished(self) -> int:
        """After a start: carry on with every history not fully in yet (even with the periodic sync off)."""
        links = await self.db.run(self.db.all_source_links)
        unfinished = [link for link in links if link["status"] == BACKFILL]
        for link in unfinished:
            self.start(link["discord_id"], link["source"])
        return len(unfinished)

    def close(self, timeout: float = 10.0) -> None:
        """Stop every walk between two pages (they resume on the next start) and end the threads."""
        self._stop.set()
        self._executor.shutdown(wait=True, cancel_futures=True)

    # -- one walk -----------------------------------------------------------------------------------------

    def run_link(self, discord_id: int, source: str) -> str:
        """Walk one link to the end (blocking): the rest of its backfill, or the plays since the last sync."""
        # A walk streams pages through: a small page cache on this thread's connection keeps its memory flat.
        self.db.keep_page_cache_small(WALKER_CACHE_KIB)
        link = self.db.source_link(discord_id, source)
        if link is None or link["status"] == BROKEN:
            return "gone" if link is None else BROKEN
        if not self._claim(discord_id, source):
            return "elsewhere"  # another process of this bot is walking it
        try:
            if source == "lastfm":
                self._walk_lastfm(link)
            else:
                self._walk_listenbrainz(link)
        except _Stopped:
            return "stopped"
        except LinkGone:
            log.info("A %s link went away during its walk; the walk stopped", source)
            return "gone"
        except (LinkRevoked, UnknownAccount, PrivateProfile) as exc:
            log.info("A %s link stopped working (%s); marked broken", source, type(exc).__name__)
            self._update(discord_id, source, status=BROKEN, problem=exc.user_message)
            self.on_broken.notify((discord_id, source, exc.user_message))
            return BROKEN
        except (SourceUnavailable, SourceRateLimited) as exc:
            log.info("%s kept failing; the walk resumes at the next sync", source)
            # Not the error's own "please try again": there is nothing for the member to do.
            why = "asked me to slow down" if isinstance(exc, SourceRateLimited) else "isn't answering"
            self._update(discord_id, source, problem=f"{SOURCE_NAMES[source]} {why}, so I've paused; I'll carry on "
                                                     "by myself at the next sync, and nothing is lost.")
            return "paused"
        except Exception:
            log.exception("A %s history walk failed; it resumes at the next sync", source)
            return "failed"
        finally:
            self.db.release_walk(discord_id, source, self.holder)
            self.on_change.notify(discord_id)
        self._update(discord_id, source, status=CURRENT, problem=None, last_synced_at=time.time())
        if link["status"] == BACKFILL and time.time() - link["linked_at"] >= self.reply_window_seconds:
            # Said from here, not by whoever showed the reply: it holds after a restart, and once per history.
            self.on_long_history_in.notify((discord_id, source))
        return CURRENT

    def _claim(self, discord_id: int, source: str) -> bool:
        """Hold the link's walk a while longer (taken again at every write and every wait)."""
        now = time.time()
        return self.db.claim_walk(discord_id, source, self.holder, now + WALK_LEASE_SECONDS, now)

    def _walk_lastfm(self, link: dict[str, Any]) -> None:
        client = self.lastfm
        if client is None:
            raise SourceUnavailable("lastfm")
        discord_id, user = link["discord_id"], link["account_name"]
        try:
            session_key = self.vault.decrypt(link["session_key"]) if link["session_key"] else None
        except InvalidToken:  # the key that encrypted it was removed from TOKEN_ENCRYPTION_KEY
            log.error("A stored Last.fm session key can't be decrypted with the configured keys (was a key removed?)")
            raise LinkRevoked("lastfm") from None
        if session_key:
            register_secrets(session_key)  # never in a log line, whatever goes wrong
        backfill = link["status"] != CURRENT
        upper = link["backfill_cursor"] if backfill else None
        lower = None if backfill else link["newest_seen"]
        want_total = backfill and link["plays_expected"] is None
        with _Batch(self, discord_id, "lastfm", user) as batch:
            while True:
                page = self._patiently(discord_id, "lastfm", lambda upper=upper: client.recent_page(
                    user, 1, since=lower, until=upper, session_key=session_key))
                if not page.plays:
                    return
                oldest = min(play.uts for play in page.plays)
                after = oldest if upper is None or oldest < upper else upper - 1  # `to` counts its own second
                batch.add(page.plays, cursor=after if backfill else None, expected=page.total if want_total else None)
                want_total = False
                if page.total_pages <= 1:
                    return
                upper = after

    def _walk_listenbrainz(self, link: dict[str, Any]) -> None:
        client = self.listenbrainz
        if client is None:
            raise SourceUnavailable("listenbrainz")
        discord_id, user = link["discord_id"], link["account_name"]
        backfill = link["status"] != CURRENT
        upper = link["backfill_cursor"] if backfill else None
        lower = None if backfill or link["newest_seen"] is None else link["newest_seen"] - 1
        expected = None
        if backfill and link["plays_expected"] is None:
            expected = self._patiently(discord_id, "listenbrainz", lambda: client.listen_count(user))
        with _Batch(self, discord_id, "listenbrainz", user) as batch:
            while True:
                page = self._patiently(discord_id, "listenbrainz",
                                       lambda upper=upper: client.listens(user, max_ts=upper, min_ts=lower))
                if page.returned == 0 or page.oldest is None:
                    return
                # max_ts leaves its own second out: ask for the boundary second again, unless that makes no progress
                after = page.oldest + 1 if upper is None or page.oldest + 1 < upper else page.oldest
                batch.add(page.plays, cursor=after if backfill else None, expected=expected)
                expected = None
                if page.returned < LB_PAGE_SIZE:
                    return
                upper = after

    def _patiently(self, discord_id: int, source: str, call: Callable[[], T]) -> T:
        """`call`, waiting out rate limits and outages (and telling the member so) until the waits run out."""
        for attempt in range(len(self.outage_waits) + 1):
            if self._stop.is_set():
                raise _Stopped()
            try:
                result = call()
            except SourceRateLimited as exc:
                if attempt >= len(self.outage_waits):
                    raise
                wait, why = max(exc.retry_after, 1.0), "asked me to slow down"
            except SourceUnavailable:
                if attempt >= len(self.outage_waits):
                    raise
                wait, why = self.outage_waits[attempt], "isn't answering"
            else:
                if attempt:
                    self._update(discord_id, source, problem=None)
                return result
            self._update(discord_id, source, problem=f"{SOURCE_NAMES[source]} {why}, so I'm pausing for "
                                                     f"{describe_wait(wait)}; nothing is lost.")
            self.db.claim_walk(discord_id, source, self.holder, time.time() + wait + WALK_LEASE_SECONDS, time.time())
            if self._stop.wait(wait):
                raise _Stopped()
        raise SourceUnavailable(source)  # not reached

    def _update(self, discord_id: int, source: str, **values: Any) -> None:
        self.db.update_source_link(discord_id, source, **values)

    # -- progress ----------------------------------------------------------------------------------------

    def progress(self, discord_id: int) -> list[LinkProgress]:
        """Each of the member's links and where it stands (blocking)."""
        return [describe_link(link) for link in self.db.source_links(discord_id)]


class _Batch:
    """Pages on their way to the database: the first at once (the member counts from then on), then a few
    thousand plays a transaction (fewer commits, so storing keeps up with fetching). What is still here when the
    walk ends (or the service stops answering) is stored too; if the bot is stopping or something broke, it is
    fetched again on the next start."""

    def __init__(self, sync: HistorySync, discord_id: int, source: str, account: str) -> None:
        self.sync, self.discord_id, self.source, self.account = sync, discord_id, source, account
        self.plays: list[Any] = []
        self.cursor: int | None = None
        self.expected: int | None = None
        self.writes = 0

    def __enter__(self) -> _Batch:
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        if kind is None or issubclass(kind, SourceError):  # finished, or the service said no: keep what came
            self.flush()

    def add(self, plays: Sequence[Any], *, cursor: int | None, expected: int | None) -> None:
        self.plays.extend(plays)
        self.cursor = cursor if cursor is not None else self.cursor
        self.expected = expected if expected is not None else self.expected
        if self.writes == 0 or len(self.plays) >= self.sync.batch_plays:
            self.flush()

    def flush(self) -> None:
        if not self.plays:
            return
        if self.sync._stop.is_set():
            raise _Stopped()
        self.sync.db.store_source_page(self.discord_id, self.source, self.plays, cursor=self.cursor,
                                       expected=self.expected, account=self.account)
        if not self.sync._claim(self.discord_id, self.source):
            raise LinkGone(self.source)  # our lease ran out and another process took the walk over
        if self.writes % NOTIFY_EVERY_WRITES == 0:
            self.sync.on_change.notify(self.discord_id)
        self.plays, self.expected, self.writes = [], None, self.writes + 1


def describe_link(link: dict[str, Any], now: float | None = None) -> LinkProgress:
    """A link's state in a member's words: "12,400 of 48,000 plays so far", "up to date, synced 5 minutes ago"."""
    name = SOURCE_NAMES.get(link["source"], link["source"])
    fetched, expected = int(link["plays_fetched"] or 0), link["plays_expected"]
    if link["status"] == BROKEN:
        text = link["problem"] or f"Your {name} link stopped working. Run `/link {link['source']}` again."
    elif link["status"] == BACKFILL:
        if expected:
            text = f"Bringing in your history: {min(fetched, expected):,} of {expected:,} plays so far."
        else:
            text = f"Bringing in your history: {fetched:,} plays so far."
        if link["problem"]:
            text += " " + link["problem"]
    else:
        synced = link["last_synced_at"]
        when = "just now" if synced is None else describe_wait((now or time.time()) - synced) + " ago"
        text = f"Your whole history is in ({int(link['plays_added'] or 0):,} plays added); last synced {when}."
        if link["problem"]:
            text += " " + link["problem"]
    return LinkProgress(link["source"], link["account_name"], link["status"], fetched, expected,
                        link["last_synced_at"], text)


def latest_sync(user: dict[str, Any] | None, links: Iterable[dict[str, Any]]) -> float | None:
    """When a member's listening was last brought up to date: by Spotify (`user`) or a linked Last.fm/ListenBrainz."""
    times = [(user or {}).get("last_synced_at"), *(link.get("last_synced_at") for link in links)]
    return max((t for t in times if t), default=None)


def source_line(link: dict[str, Any], now: float | None = None) -> str:
    """One short line for a profile: which service, and how current it is (no account name)."""
    name = SOURCE_NAMES.get(link["source"], link["source"])
    if link["status"] == BROKEN:
        return f"{name}: link stopped working"
    if link["status"] == BACKFILL:
        fetched, expected = int(link["plays_fetched"] or 0), link["plays_expected"]
        so_far = f"{min(fetched, expected):,} of {expected:,}" if expected else f"{fetched:,}"
        return f"{name}: bringing in the history ({so_far} plays so far)"
    synced = link["last_synced_at"]
    when = "just now" if synced is None else describe_wait((now or time.time()) - synced) + " ago"
    return f"{name}: last synced {when}"
