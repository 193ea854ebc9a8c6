"""Crowns: in each server, the member who plays an artist most holds that artist's crown, once past a threshold.

Only members who share their listening in the server count (`CommunityAccess.visible_members`): a hidden member
holds no crown and none of theirs is shown. A server's first crowns are counted from the plays already stored;
after that a /whoknows checks one artist at once, and any change in listening (a sync, an import, a member hiding)
marks the crowns for a recount the next time they are asked for (less often for a server whose recount is slow).

`rebuild` and `check` are blocking (run them with `db.run`); `CrownService` is what the bot awaits.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from database import Database
from storage.keys import artist_key
from utils.community.access import CommunityAccess
from utils.errors import BotError
from utils.logger import get_logger
from utils.models import Crown, CrownChange, CrownCheck

log = get_logger(__name__)

WEEK_SECONDS = 7 * 86400
# A stale server's crowns are recounted from all its plays when asked for. A recount quicker than
# QUICK_RECOUNT_SECONDS (most servers) is done there and then; a slower one runs in the background while the answer
# shows the crowns as they are, and takes at most about 1/RECOUNT_SHARE of the time (a big server's 1.5 s recount
# waits 30 s), never waiting more than REBUILD_EVERY.
REBUILD_EVERY_SECONDS = 300.0
RECOUNT_SHARE = 20
QUICK_RECOUNT_SECONDS = 0.1
MAX_THRESHOLD = 100_000
CROWNS_OFF = "Crowns are off in this server. A server admin can turn them on with `/settings crowns on`."


def winners(counts: Iterable[Mapping[str, Any]], threshold: int,
            current: Mapping[str, int]) -> dict[str, tuple[int, int]]:
    """The holder and plays per artist key from `(discord_id, key, plays)` rows: the most plays, at least
    `threshold`; on a tie the current holder keeps it, else the lowest id (so a recount never shuffles ties)."""
    best: dict[str, tuple[int, int]] = {}
    for row in counts:
        plays = int(row["plays"])
        if plays < threshold:
            continue
        key = artist_key(row["key"])
        member = int(row["discord_id"])
        held = best.get(key)
        if held is None or plays > held[1] or (plays == held[1] and _wins_tie(member, held[0], current.get(key))):
            best[key] = (member, plays)
    return best


def _wins_tie(member: int, other: int, holder: int | None) -> bool:
    if holder in (member, other):
        return member == holder
    return member < other


def rebuild(db: Database, guild_id: int, members: Sequence[int], threshold: int, now: float, *,
            record: bool) -> list[tuple[str, int, int | None]]:
    """Recount every crown of a server from stored plays; save it; return the changes `(key, new, previous)`.

    `record` False (a server's first count, a new threshold) saves the crowns without calling them changes.
    """
    stored = {row["artist_key"]: row for row in db.guild_crowns(guild_id)}
    current = {key: int(row["discord_id"]) for key, row in stored.items()}
    best = winners(db.artist_play_counts(list(members), threshold), threshold, current)
    held: list[tuple[str, int, int, float]] = []
    changes: list[tuple[str, int, int | None, int, float]] = []
    for key, (member, plays) in best.items():
        before = stored.get(key)
        if before is not None and int(before["discord_id"]) == member:
            if int(before["plays"]) != plays:
                held.append((key, member, plays, float(before["since"])))
            continue
        held.append((key, member, plays, now))
        if record:
            changes.append((key, member, int(before["discord_id"]) if before else None, plays, now))
    dropped = [key for key in stored if key not in best]
    db.save_crowns(guild_id, held, dropped, changes)
    db.set_crown_settings(guild_id, built_at=now)
    return [(key, new, old) for key, new, old, _, _ in changes]


def check(db: Database, guild_id: int, key: str, entries: Sequence[tuple[int, int]], threshold: int,
          now: float) -> tuple[int | None, int, tuple[int, int | None] | None]:
    """One artist's crown from its listeners here `(discord_id, plays)` (visible members only): save it if it moved.

    Returns (holder or None, their plays, (new, previous) if it just changed hands)."""
    before = db.crown(guild_id, key)
    current = {key: int(before["discord_id"])} if before else {}
    best = winners(({"discord_id": m, "key": key, "plays": p} for m, p in entries), threshold, current).get(key)
    if best is None:
        if before is not None:
            db.save_crowns(guild_id, [], [key], [])
        return None, 0, None
    member, plays = best
    if before is not None and int(before["discord_id"]) == member:
        if int(before["plays"]) != plays:
            db.save_crowns(guild_id, [(key, member, plays, float(before["since"]))], [], [])
        return member, plays, None
    previous = int(before["discord_id"]) if before else None
    db.save_crowns(guild_id, [(key, member, plays, now)], [], [(key, member, previous, plays, now)])
    return member, plays, (member, previous)


def artist_names(db: Database, keys: Iterable[str]) -> dict[str, str]:
    """Display names of artist keys (the key itself, titled, when no row names it)."""
    keys = list(keys)
    rows = db.artists_by_key(keys)
    return {k: rows[k]["name"] if k in rows else k.title() for k in keys}


class CrownService:
    """Crowns of every server: settings, the first count, recounts after changes, checks, lists and changes."""

    def __init__(self, db: Database, access: CommunityAccess, *, clock: Callable[[], float] = time.time,
                 rebuild_every: float = REBUILD_EVERY_SECONDS) -> None:
        self.db = db
        self.access = access
        self.rebuild_every = rebuild_every
        self._clock = clock
        self._epoch = 0  # bumped by every change in listening; a server counted at an older epoch is stale
        self._counted: dict[int, tuple[int, float, tuple[int, ...]]] = {}  # guild -> (epoch, when, members)
        self._cost: dict[int, float] = {}  # guild -> seconds its last recount took
        self._locks: dict[int, asyncio.Lock] = {}
        self._background: dict[int, asyncio.Future[None]] = {}  # guild -> its recount under way

    def invalidate(self, discord_id: int | None = None) -> None:
        """Someone's listening or visibility changed: every server's crowns need a recount (a ChangeListeners hook)."""
        self._epoch += 1

    async def settings(self, guild_id: int) -> dict[str, Any]:
        return await self.db.run(self.db.crown_settings, guild_id)

    async def set_enabled(self, guild_id: int, enabled: bool) -> None:
        await self.db.run(self.db.set_crown_settings, guild_id, enabled=int(enabled))

    async def set_threshold(self, guild_id: int, threshold: int) -> int:
        """A new threshold; the crowns are recounted at once, quietly (nobody "took" a crown by a setting)."""
        if not 1 <= threshold <= MAX_THRESHOLD:
            raise BotError(f"Pick a number of plays from 1 to {MAX_THRESHOLD:,}.")
        await self.db.run(self.db.set_crown_settings, guild_id, threshold=threshold)
        members = await self.access.require_community(guild_id)
        await self._recount(guild_id, members, threshold, record=False)
        return threshold

    async def _ready(self, guild_id: int, *, recount: bool = True) -> tuple[list[int], dict[str, Any]]:
        """Visible members and settings; the server's first crowns counted, and with `recount` a stale count
        redone (at most every `rebuild_every` seconds). BotError when server features or crowns are off."""
        members = await self.access.require_community(guild_id)
        settings = await self.settings(guild_id)
        if not settings["enabled"]:
            raise BotError(CROWNS_OFF)
        lock = self._locks.setdefault(guild_id, asyncio.Lock())
        async with lock:  # two commands at once count once
            settings = await self.settings(guild_id)
            counted = self._counted.get(guild_id)
            first = settings["built_at"] is None
            stale = counted is None or counted[0] != self._epoch or counted[2] != tuple(members)
            # A server counted before this process started has no known cost: its recount goes to the background.
            cost = self._cost.get(guild_id, 0.0 if first else float("inf"))
            quick = cost < QUICK_RECOUNT_SECONDS
            gap = 0.0 if quick or guild_id not in self._cost else min(self.rebuild_every, RECOUNT_SHARE * cost)
            due = counted is None or self._clock() - counted[1] >= gap
            if first or (recount and stale and due and quick):
                await self._recount(guild_id, members, int(settings["threshold"]), record=not first)
            elif recount and stale and due:  # a slow recount: this answer uses the crowns as they are
                self._recount_soon(guild_id, members, int(settings["threshold"]))
        return members, settings

    def _recount_soon(self, guild_id: int, members: list[int], threshold: int) -> None:
        """Recount a big server's crowns in the background (once at a time): the next answer shows them."""
        if guild_id in self._background:
            return

        async def recount() -> None:
            try:
                async with self._locks.setdefault(guild_id, asyncio.Lock()):
                    await self._recount(guild_id, members, threshold, record=True)
            except Exception:
                log.exception("could not recount the crowns of a server")
            finally:
                self._background.pop(guild_id, None)

        self._background[guild_id] = asyncio.ensure_future(recount())

    async def settled(self) -> None:
        """Wait for background recounts (tests, benchmarks, shutdown)."""
        while self._background:
            await asyncio.gather(*list(self._background.values()), return_exceptions=True)

    async def _recount(self, guild_id: int, members: list[int], threshold: int, *, record: bool) -> None:
        epoch = self._epoch
        now = self._clock()
        started = time.perf_counter()
        await self.db.run_write(rebuild, self.db, guild_id, members, threshold, now, record=record)
        self._cost[guild_id] = time.perf_counter() - started
        self._counted[guild_id] = (epoch, now, tuple(members))

    async def check(self, guild_id: int, artist: str, entries: Sequence[tuple[int, int]]) -> CrownCheck | None:
        """The crown of one artist, from the /whoknows listeners; None when crowns are off here."""
        try:  # no full recount here: this artist is checked below, so /whoknows itself sees its crown move
            _, settings = await self._ready(guild_id, recount=False)
        except BotError:
            return None
        threshold = int(settings["threshold"])
        key = artist_key(artist)
        holder, plays, moved = await self.db.run_write(check, self.db, guild_id, key, list(entries), threshold,
                                                       self._clock())
        change = None
        if moved is not None:
            names = await self.db.run(artist_names, self.db, [key])
            change = CrownChange(key, names[key], moved[0], moved[1], plays, self._clock())
        return CrownCheck(holder, plays, threshold, change)

    async def member_crowns(self, guild_id: int, discord_id: int, asker: int) -> list[Crown]:
        """The crowns a member holds here, most played first."""
        await self.access.require_visible(guild_id, [discord_id], asker=asker)
        await self._ready(guild_id)
        rows = await self.db.run(self.db.member_crowns, guild_id, discord_id)
        names = await self.db.run(artist_names, self.db, [r["artist_key"] for r in rows])
        return [Crown(r["artist_key"], names[r["artist_key"]], discord_id, int(r["plays"]), float(r["since"]))
                for r in rows]

    async def leaderboard(self, guild_id: int, limit: int = 50) -> list[tuple[int, int]]:
        """(member, crowns held) for the server, most crowns first; only members who share their listening here."""
        members, _ = await self._ready(guild_id)
        shown = set(members)
        rows = await self.db.run(self.db.crown_counts, guild_id)
        return [(int(r["discord_id"]), int(r["crowns"])) for r in rows if r["discord_id"] in shown][:limit]

    async def changes(self, guild_id: int, since: float | None = None) -> list[CrownChange]:
        """Crowns that changed hands here since `since` (default: the last 7 days), newest first; a change is shown
        only while its new holder shares their listening here, and names the previous holder only if they do too."""
        try:
            members, _ = await self._ready(guild_id)
        except BotError:
            return []
        shown = set(members)
        since = self._clock() - WEEK_SECONDS if since is None else since
        rows = [r for r in await self.db.run(self.db.crown_changes_since, guild_id, since) if r["discord_id"] in shown]
        latest: dict[str, dict[str, Any]] = {}
        for row in rows:  # newest first: an artist's latest change stands for the week
            latest.setdefault(row["artist_key"], row)
        names = await self.db.run(artist_names, self.db, list(latest))
        return [CrownChange(k, names[k], int(r["discord_id"]),
                            r["previous_id"] if r["previous_id"] in shown else None, int(r["plays"]),
                            float(r["changed_at"])) for k, r in latest.items()]
