"""Taste scores between members: the one score /taste shows for two members and /affinity ranks a server by.

The score is `utils.engine.group.taste_match` (cosine on log weights, shrunk when few items are shared), split in two
steps so a server can be ranked quickly: `profile` prepares one member's weights once, `match` compares two
prepared profiles. /taste and /affinity both go through `taste_between`, so they never disagree. Weights are read
at the start of the day (UTC), so a member's weights are the same whichever command reads them that day.

Blocking functions (run them with `db.run`), and `TasteProfiles`, the prepared profiles both commands share.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from database import Database
from utils.listening.reads import interaction_weights

ARTIST_SHARE = 0.7  # how much of the score comes from artists; the rest from tracks
SHRINK = 5.0
DAY = 86400


def day_start(now: float) -> float:
    """The start of today (UTC): weights read at it stay the same all day unless listening changes."""
    return now - now % DAY


@dataclass(frozen=True)
class TasteProfile:
    """One member's weights for one kind, prepared for matching: log weights, their sum of squares and maximum."""

    logs: dict[str, float]
    squares: float
    top: float


def profile(weights: Mapping[str, float]) -> TasteProfile:
    logs = {key: math.log1p(w) for key, w in weights.items() if w > 0}
    return TasteProfile(logs, sum(v * v for v in logs.values()), max(logs.values(), default=0.0))


def match(a: TasteProfile, b: TasteProfile, *, ranked: int = 10) -> tuple[int, list[str]]:
    """(score 0..100, up to `ranked` shared keys both play most): exactly `engine.group.taste_match`."""
    small, big = (a.logs, b.logs) if len(a.logs) <= len(b.logs) else (b.logs, a.logs)
    shared = [key for key in small if key in big]
    if not shared:
        return 0, []
    dot = sum(a.logs[key] * b.logs[key] for key in shared)
    cosine = dot / math.sqrt(a.squares * b.squares)
    jaccard = len(shared) / (len(a.logs) + len(b.logs) - len(shared))
    confidence = len(shared) / (len(shared) + SHRINK * (1.0 - jaccard))
    score = round(100 * math.sqrt(min(1.0, cosine * confidence)))
    if not ranked:
        return score, []
    order = sorted(shared, key=lambda k: (-min(a.logs[k] / a.top, b.logs[k] / b.top), str(k)))
    return score, order[:ranked]


@dataclass(frozen=True)
class MemberTaste:
    artists: TasteProfile
    tracks: TasteProfile

    @property
    def empty(self) -> bool:
        return not self.artists.logs and not self.tracks.logs


@dataclass(frozen=True)
class Match:
    score: int
    artists: list[str]  # artist keys that tie the two members, strongest first
    tracks: list[str]


def tastes(db: Database, members: Sequence[int], now: float) -> dict[int, MemberTaste]:
    """Prepared artist and track profiles of these members (read at the start of `now`'s day)."""
    start = day_start(now)
    artists = interaction_weights(db, list(members), "artists", start)
    tracks = interaction_weights(db, list(members), "tracks", start)
    return {m: MemberTaste(profile(artists.get(m, {})), profile(tracks.get(m, {}))) for m in members}


def taste_between(a: MemberTaste, b: MemberTaste, *, ranked: int = 10) -> Match:
    """The score /taste shows and /affinity ranks by."""
    artist_score, artists = match(a.artists, b.artists, ranked=ranked)
    track_score, tracks = match(a.tracks, b.tracks, ranked=ranked)
    return Match(round(ARTIST_SHARE * artist_score + (1 - ARTIST_SHARE) * track_score), artists, tracks)


def closest(all_tastes: Mapping[int, MemberTaste], me: int, limit: int = 10) -> list[tuple[int, Match]]:
    """The `limit` members whose taste is closest to `me`'s, best first (ties by id), with what ties them."""
    mine = all_tastes[me]
    scored = [(taste_between(mine, theirs, ranked=0).score, member) for member, theirs in all_tastes.items()
              if member != me and not theirs.empty]
    best = sorted((s for s in scored if s[0] > 0), key=lambda s: (-s[0], s[1]))[:limit]
    return [(member, taste_between(mine, all_tastes[member], ranked=5)) for _, member in best]


class TasteProfiles:
    """Prepared profiles per server, shared by /taste and /affinity so the two read the very same numbers.

    A change in someone's listening drops only their profile (the next ask rereads one member, not the server).
    Profiles are read for the day; on a new day the server's are reread in the background while answers keep
    using yesterday's, so only a server's very first /affinity waits for every member's profile.
    """

    def __init__(self, db: Database, workers: Any, max_servers: int = 200) -> None:
        self.db = db
        self.workers = workers
        self.max_servers = max_servers
        self._servers: dict[int, tuple[float, dict[int, MemberTaste]]] = {}  # guild -> (day read for, profiles)
        self._changed: dict[int, set[int]] = {}  # guild -> members whose listening changed during its reread
        self._tasks: dict[int, asyncio.Future[None]] = {}
        self._generation = 0  # bumped by every change; a read that saw one is not kept

    def forget(self, discord_id: int | None = None) -> None:
        """Someone's listening or visibility changed (None: anyone's). May be called from any thread."""
        self._generation += 1
        if discord_id is None:
            self._servers.clear()
            for changed in list(self._changed.values()):
                changed.add(-1)  # everything
            return
        for _, profiles in list(self._servers.values()):  # a snapshot: another thread may add a server meanwhile
            profiles.pop(discord_id, None)
        for changed in list(self._changed.values()):
            changed.add(discord_id)

    async def get(self, guild_id: int, members: Sequence[int], now: float) -> dict[int, MemberTaste]:
        """These members' profiles, reading only those not prepared yet."""
        day = day_start(now)
        entry = self._servers.get(guild_id)
        if entry is not None and entry[0] < day:
            self._reread_soon(guild_id, list(members), now)  # meanwhile yesterday's serve, for /taste as well
        snapshot = dict(entry[1]) if entry is not None else {}  # another thread may drop a profile meanwhile
        missing = [m for m in members if m not in snapshot]
        if missing:
            generation = self._generation
            read = await self.workers.compute(tastes, self.db, missing, now)
            snapshot.update(read)
            if generation == self._generation:  # nothing changed while reading: keep them for the next ask
                self._keep(guild_id, entry[0] if entry is not None else day).update(read)
        return {m: snapshot[m] for m in members}

    def _keep(self, guild_id: int, day: float) -> dict[int, MemberTaste]:
        """The server's kept profiles (a new, empty set if none), making room among servers."""
        if guild_id not in self._servers and len(self._servers) >= self.max_servers:
            self._servers.pop(next(iter(self._servers)))
        return self._servers.setdefault(guild_id, (day, {}))[1]

    def _reread_soon(self, guild_id: int, members: list[int], now: float) -> None:
        if guild_id in self._tasks:
            return
        changed: set[int] = set()
        self._changed[guild_id] = changed

        async def reread() -> None:
            try:
                read = await self.workers.compute(tastes, self.db, members, now)
                if -1 not in changed:
                    for member in changed:
                        read.pop(member, None)
                    self._servers[guild_id] = (day_start(now), read)
            finally:
                self._tasks.pop(guild_id, None)
                self._changed.pop(guild_id, None)

        self._tasks[guild_id] = asyncio.ensure_future(reread())

    async def settled(self) -> None:
        """Wait for rereads under way (tests, benchmarks, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)
