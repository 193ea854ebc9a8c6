"""CommunityService: what the Discord layer asks about a whole server: top lists, who knows an artist, taste matches,
blends, server picks and the weekly digest.

Database reads go through `db.run`, engine work through the shared engine threads: the event loop never waits.
The counting itself lives in `server.py`; who may take part is decided by `access.py`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

from database import Database
from utils.community import affinity, recap, server
from utils.community.access import CommunityAccess
from utils.community.crowns import CrownService
from utils.community.crowns import artist_names as crown_artist_names
from utils.community.model import CommunityModel, ModelCache, make_context
from utils.community.recap import Recap
from utils.engine.group import group_recommend
from utils.errors import BotError, NotEnoughData
from utils.listening.periods import describe_range
from utils.listening.reads import items_for_keys
from utils.models import BlendResult, Digest, Item, Recommendation, RecommendationList, TasteMatch, WhoKnowsEntry
from utils.workers import EngineWorkers

BLEND_SIZE = 30  # songs in a blend: all of them are saved, the embed shows as many as fit


class CommunityService:
    """Server features over the listening of the members who share it there."""

    def __init__(self, db: Database, access: CommunityAccess, models: ModelCache, workers: EngineWorkers, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.access = access
        self.models = models
        self.workers = workers
        self._clock = clock
        self.crowns = CrownService(db, access, clock=clock)
        # Prepared taste profiles, shared by /taste and /affinity so they always agree.
        self.tastes = affinity.TasteProfiles(db, workers)

    def invalidate(self, discord_id: int | None = None) -> None:
        """Someone's listening or visibility changed (a ChangeListeners hook): crowns need a recount, and the
        member's taste profile a reread."""
        self.crowns.invalidate(discord_id)
        self.tastes.forget(discord_id)

    async def member_recap(self, guild_id: int | None, member_id: int, asker: int, year: int | None = None) -> Recap:
        """One member's year in music (this year, or their latest with plays, when none is named)."""
        await self.access.check_can_view(guild_id, member_id, asker)
        return await self._recap([member_id], year)

    async def server_recap(self, guild_id: int, year: int | None = None) -> Recap:
        """The year in music of everyone who shares their listening here."""
        members = await self.access.require_community(guild_id)
        return await self._recap(members, year)

    async def recap_years(self, guild_id: int | None, asker: int, member_id: int | None = None,
                          server: bool = False) -> list[int]:
        """Years worth suggesting for /recap, newest first: the server's, the named member's, or the asker's own.
        Nothing when the asker may not see that year in music (never a hint about a private member)."""
        if server:
            if guild_id is None:
                return []
            try:
                members = await self.access.require_community(guild_id)
            except BotError:  # server features off: nothing to suggest
                return []
            span = await self.db.run(self.db.play_span_ms, members)
            if span is None:
                return []
            first, last = (time.gmtime(ms / 1000).tm_year for ms in span)
            return list(range(last, first - 1, -1))
        member_id = member_id or asker
        try:
            await self.access.check_can_view(guild_id, member_id, asker)
        except BotError:
            return []
        return sorted(await self.db.run(self.db.listening_years, member_id), reverse=True)

    async def _recap(self, members: list[int], year: int | None) -> Recap:
        if year is None:
            latest = await self.db.run(self.db.latest_play_ms, members)
            if latest is None:
                raise NotEnoughData()
            year = min(time.gmtime(self._clock()).tm_year, time.gmtime(latest / 1000).tm_year)
        members = sorted(set(members))
        # The reads are independent: side by side on the database threads (SQLite lets go of Python meanwhile).
        parts = await asyncio.gather(*(self.db.run(recap.read_recap, self.db, members, year, part)
                                       for part in recap.READS))
        return await self.workers.compute(recap.assemble_recap, self.db, members, year, recap.RecapParts(*parts))

    async def affinity(self, guild_id: int, member_id: int, limit: int = 10) -> list[tuple[int, int, list[str]]]:
        """The members here whose taste is closest to this member's: (member, score as /taste shows it, artists
        that tie them), best first."""
        members = await self.access.require_visible(guild_id, [member_id], asker=member_id)
        tastes = await self.tastes.get(guild_id, members, self._clock())
        if tastes[member_id].empty:
            raise NotEnoughData()
        found = await self.workers.compute(affinity.closest, tastes, member_id, limit)
        names = await self.db.run(crown_artist_names, self.db, [k for _, m in found for k in m.artists])
        return [(member, m.score, [names[k] for k in m.artists]) for member, m in found]

    async def model(self, guild_id: int, members: list[int], now: float) -> CommunityModel:
        """The server's fitted model: the cached one (an old one answers while it is refitted in the background), or
        fitted on the fitting threads first when there is none that may be served."""
        model = self.models.serve(self.db, guild_id, members, now)
        if model is None:
            model = await self.workers.fit(self.models.get, self.db, guild_id, members, now)
        return model

    async def server_top(self, guild_id: int, kind: str, time_range: str = "medium_term", limit: int = 50) -> list[Item]:
        members = await self.access.require_community(guild_id)
        items = await self.db.run(server.server_top, self.db, members, kind, time_range, limit, self._clock())
        if not items:
            raise NotEnoughData(f"Nobody on this server has shared plays in {describe_range(time_range)} yet. "
                                "Try another period.")
        return items

    async def whoknows(self, guild_id: int, artist: str) -> tuple[str, list[WhoKnowsEntry]]:
        await self.access.require_community(guild_id)
        return await self.db.run(server.whoknows, self.db, guild_id, artist)

    async def taste(self, guild_id: int, a_id: int, b_id: int) -> TasteMatch:
        await self.access.require_visible(guild_id, [a_id, b_id], asker=a_id)
        if a_id == b_id:
            raise BotError("Pick someone other than yourself to compare tastes with.")
        both = await self.tastes.get(guild_id, [a_id, b_id], self._clock())  # the profiles /affinity ranks by
        return await self.db.run(server.taste_of, self.db, a_id, b_id, both[a_id], both[b_id])

    async def blend(self, guild_id: int, member_ids: Sequence[int], size: int = BLEND_SIZE,
                    asker: int | None = None) -> BlendResult:
        ids = list(dict.fromkeys(member_ids))
        if len(ids) < 2:
            raise BotError("Pick at least two members for a blend.")
        await self.access.require_visible(guild_id, ids, asker=asker)
        return await self.workers.compute(server.blend, self.db, ids, max(1, min(size, 100)), self._clock())

    async def server_recommend(self, guild_id: int, count: int = 10) -> RecommendationList:
        """What the server could hear together: every visible member's picks, blended fairly."""
        members = await self.access.require_community(guild_id)
        if len(members) < 2:
            raise NotEnoughData("Server picks need at least two members who share their listening here.")
        model = await self.model(guild_id, members, self._clock())
        picks = await self.workers.compute(_group_picks, model, members, count)
        shown = await self.db.run(items_for_keys, self.db, [str(p.item) for p in picks], "tracks")
        recs = [Recommendation(item, round(p.score, 4), p.reason, "server") for item, p in zip(shown, picks, strict=True)]
        return RecommendationList(recs, time.time(), None)

    async def weekly_digest(self, guild_id: int) -> Digest:
        members = await self.access.require_community(guild_id)
        artists, tracks, risers = await self.db.run(server.weekly_top_and_risers, self.db, members, self._clock())
        recs: list[Recommendation] = []
        if len(members) >= 2:
            try:
                recs = (await self.server_recommend(guild_id, 5)).items
            except NotEnoughData:
                recs = []
        return Digest(guild_id, artists, tracks, risers, recs, await self.crowns.changes(guild_id))


def _group_picks(model: CommunityModel, members: list[int], count: int) -> list[Any]:
    if model.model is None:
        return []
    ctx = make_context(labels={}, names=model.names, catalogue={}, genres={}, liked=(), disliked=(), mode="balanced")
    return group_recommend(model.model, members, count, context=ctx)
