"""CommunityService: what the Discord layer asks about a whole server: top lists, who knows an artist, taste matches,
blends, server picks and the weekly digest.

Database reads go through `db.run`, engine work through the shared engine threads: the event loop never waits.
The counting itself lives in `server.py`; who may take part is decided by `access.py`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from database import Database
from utils.community import server
from utils.community.access import CommunityAccess
from utils.community.model import CommunityModel, ModelCache, make_context
from utils.engine.group import group_recommend
from utils.errors import BotError, NotEnoughData
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

    async def model(self, guild_id: int, members: list[int], now: float) -> CommunityModel:
        """The server's fitted model: the cached one, or fitted on the fitting threads."""
        model = self.models.peek(guild_id, members)
        if model is None:
            model = await self.workers.fit(self.models.get, self.db, guild_id, members, now)
        return model

    async def server_top(self, guild_id: int, kind: str, time_range: str = "medium_term", limit: int = 50) -> list[Item]:
        members = await self.access.require_community(guild_id)
        items = await self.db.run(server.server_top, self.db, members, kind, time_range, limit, self._clock())
        if not items:
            raise NotEnoughData("Nobody on this server has shared listening for that period yet.")
        return items

    async def whoknows(self, guild_id: int, artist: str) -> tuple[str, list[WhoKnowsEntry]]:
        await self.access.require_community(guild_id)
        return await self.db.run(server.whoknows, self.db, guild_id, artist)

    async def taste(self, guild_id: int, a_id: int, b_id: int) -> TasteMatch:
        await self.access.require_visible(guild_id, [a_id, b_id], asker=a_id)
        return await self.db.run(server.taste, self.db, a_id, b_id, self._clock())

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
        return Digest(guild_id, artists, tracks, risers, recs)


def _group_picks(model: CommunityModel, members: list[int], count: int) -> list[Any]:
    if model.model is None:
        return []
    ctx = make_context(labels={}, names=model.names, catalogue={}, genres={}, liked=(), disliked=(), mode="balanced")
    return group_recommend(model.model, members, count, context=ctx)
