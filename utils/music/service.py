"""MusicService: what the Discord layer asks about one member's listening: profile, top lists, recent plays,
feedback and recommendations.

Database reads go through `db.run`, engine work through the shared engine threads, Spotify through the member's
client's async facade: the event loop never waits. Profile and tops are counted in `top_lists.py`, personal picks
in `recommend.py`; playlists are saved by `playlists.py`, server features live in `utils.community`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from database import Database
from storage.keys import artist_key
from utils.cache import TTLCache
from utils.community.model import CommunityModel
from utils.community.service import CommunityService
from utils.engine.autotune import WAITING
from utils.engine.tuning import TuningReport
from utils.errors import BotError, NotEnoughData
from utils.listening.periods import is_calendar
from utils.logger import get_logger
from utils.models import Item, Profile, Recommendation, RecommendationList
from utils.music import recommend as personal
from utils.music import top_lists
from utils.music.engine_child import PickRequest, PickResult, forget_cached, pick_and_save
from utils.music.engine_process import EngineGone, EngineProcesses
from utils.music.recommend import FEW_MEMBERS, PersonalData
from utils.sources.catalogue import CatalogueExpander
from utils.sources.history_sync import latest_sync
from utils.workers import EngineWorkers

log = get_logger(__name__)

MODES = ("balanced", "discover", "familiar")
OFF_HERE_NOTE = "Server features are off here, so these come from your own listening."
OFF_EVERYWHERE_NOTE = "Server features are off for this bot, so these come from your own listening."


class MusicService:
    """The Discord layer's door to one member's listening and recommendations."""

    def __init__(self, db: Database, auth: Any, settings: Any, community: CommunityService, workers: EngineWorkers, *,
                 personal_ttl: float = 120.0, catalogue_calls: int = 8, clock: Callable[[], float] = time.time,
                 engine: EngineProcesses | None = None) -> None:
        self.db = db
        self.auth = auth
        self.settings = settings
        self.community = community
        self.workers = workers
        # A member's engine inputs take a dozen queries to read and change only when they sync, import, give
        # feedback or change privacy (each drops the entry); the time limit covers catalogue that other
        # members' syncs add for shared artists. An entry is ~60-300 KB, so at most 300 are kept (< 100 MB).
        self.personal: TTLCache[PersonalData] = TTLCache(ttl=personal_ttl, max_entries=300)
        self.expander = CatalogueExpander(db, max_calls=catalogue_calls)
        self._clock = clock
        # ENGINE_PROCESSES: the work of a recommendation in processes of their own (None: in this one). Every cache
        # event below is sent there too, on the channel the requests take, so it is applied before later requests.
        self.engine = engine
        self._engine_tuning: dict[int, TuningReport] = {}  # what the engine processes' tuning chose, by server

    # -- cache control (the sync service and importer call these after writing) -------------------------

    def invalidate(self, discord_id: int | None = None) -> None:
        """Forget what a change made stale: for one member (their data, the models it went into, who counts
        where), or everything (None)."""
        self.community.access.invalidate(discord_id)
        self._forget("invalidate", discord_id)

    def listening_changed(self, discord_id: int | None = None) -> None:
        """A member's listening grew: their own data is read afresh, and the server models they are in go on
        answering until a background refit brings it in (a big server's model is not refitted first at every sync)."""
        if discord_id is None:
            self.invalidate()
            return
        self.community.access.invalidate(discord_id)
        self._forget("listening_changed", discord_id)

    def _forget(self, kind: str, discord_id: int | None) -> None:
        """Apply a cache event here and send it to the engine processes (see `forget_cached`)."""
        if self.engine is not None:
            self.engine.send_event(kind, discord_id)
        forget_cached(self.community.models, self.personal, kind, discord_id)

    def _forget_personal(self, discord_id: int) -> None:
        """The member's inputs changed (feedback, a catalogue look-up): read afresh here and in the engine processes."""
        self._forget("discard", discord_id)

    def watch(self, *sources: list[Any]) -> None:
        """Drop cached data whenever a source (PrivacyService.on_change: erasure, hiding) reports."""
        for listeners in sources:
            listeners.append(self.invalidate)

    def watch_listening(self, *sources: list[Any]) -> None:
        """Read a member's data afresh whenever a source (a sync, an import, a history) reports new listening."""
        for listeners in sources:
            listeners.append(self.listening_changed)

    # -- personal views -----------------------------------------------------------------------------------

    async def profile(self, discord_id: int, time_range: str = "medium_term") -> Profile:
        return await self.db.run(top_lists.build_profile, self.db, discord_id, time_range, self._clock())

    async def top(self, discord_id: int, kind: str, time_range: str = "medium_term", limit: int = 50) -> list[Item]:
        items = await self.db.run(top_lists.stored_top, self.db, discord_id, kind, time_range, limit, self._clock())
        if not items:
            raise NotEnoughData(top_lists.no_plays_in(time_range) if is_calendar(time_range) else None)
        return items

    async def recent(self, discord_id: int, limit: int = 50) -> list[tuple[Item, int]]:
        return await self.db.run(top_lists.recent_plays, self.db, discord_id, limit)

    async def artist_names(self, prefix: str) -> list[str]:
        return await self.db.run(self.db.known_artist_names, prefix, 25)

    async def feedback(self, discord_id: int, item_key: str, kind: str, value: int) -> None:
        """Like (+1) or 'not for me' (-1) a track or artist; the next recommendations take it into account."""
        if value not in (1, -1):
            raise ValueError("feedback value must be +1 or -1")
        kind = "artist" if kind.startswith("artist") else "track"
        key = artist_key(item_key) if kind == "artist" and " - " not in item_key else item_key
        await self.db.run(self.db.set_feedback, discord_id, kind, key, value)
        self._forget_personal(discord_id)

    # -- recommendations ----------------------------------------------------------------------------------

    async def recommend(self, discord_id: int, guild_id: int | None = None, count: int = 10,
                        mode: str = "balanced") -> RecommendationList:
        """Ranked picks with reasons; saved as the member's last recommendations."""
        if mode not in MODES:
            raise BotError("Pick one of the modes: balanced, discover or familiar.")
        count = max(1, min(count, 50))
        now = self._clock()
        visible: list[int] = []
        community_on = guild_id is not None and await self.community.access.community_on(guild_id)
        if community_on and guild_id is not None:
            visible = await self.community.access.visible_members(guild_id)
        community = visible if len(visible) >= 2 else []
        few = len([m for m in community if m != discord_id]) < FEW_MEMBERS - 1
        picked: tuple[list[Recommendation], list[dict[str, Any]]] | None = None
        if few:  # the member's own catalogue may need a Spotify look-up first
            data = await self._personal(discord_id, now)
            if data.fresh_candidates() < 3 * count and data.linked and await self._expand(discord_id, data):
                self._forget_personal(discord_id)
                data = await self._personal(discord_id, now)
            model = await self.community.model(guild_id, community, now) if community and guild_id is not None else None
        else:
            result = await self._pick_elsewhere(PickRequest(discord_id, guild_id, tuple(community), now, count, mode))
            if result is not None:
                return self._listed(result.recs, result.links, result.user, guild_id, community_on, few)
            model = await self.community.model(guild_id, community, now) if guild_id is not None else None
            data, picked = await self._personal_and_picks(discord_id, now, model, guild_id, count, mode)
        recs, links = picked or await self.workers.compute(self._pick, data, model, guild_id, count, mode)
        return self._listed(recs, links, data.user, guild_id, community_on, few)

    def _listed(self, recs: list[Recommendation], links: list[dict[str, Any]], user: dict[str, Any] | None,
                guild_id: int | None, community_on: bool, few: bool) -> RecommendationList:
        if not recs:
            raise NotEnoughData("I couldn't find anything new for you yet. Listen a little more, run /sync, "
                                "and try again.")
        note = self._recommend_note(guild_id, community_on, few)
        return RecommendationList(recs, time.time(), note, synced_at=latest_sync(user, links))

    async def _pick_elsewhere(self, request: PickRequest) -> PickResult | None:
        """The picks worked out in an engine process (ENGINE_PROCESSES), or None: answer here (no engine process, or
        it is starting, stopped, stuck or failed; the reason is logged by EngineProcesses, or here for a failure)."""
        if self.engine is None:
            return None
        try:
            result = await self.engine.pick(request)
        except EngineGone as gone:
            if str(gone).startswith("the work failed"):
                log.warning("A recommendation failed in the engine process; answering in the bot's process: %s", gone)
            return None
        if result.tuning is not None and request.guild_id is not None:
            self._engine_tuning[request.guild_id] = result.tuning
        if result.empty:
            raise NotEnoughData()
        return result

    def tuning_report(self, guild_id: int) -> TuningReport:
        """What tuning chose for this server's model (for /status): this process's, or, when only an engine process
        fitted the model, what that process chose."""
        own = self.community.models.tuner.report(guild_id)
        return self._engine_tuning.get(guild_id, own) if own is WAITING else own

    def _recommend_note(self, guild_id: int | None, community_on: bool, few: bool) -> str | None:
        """Why a list leans on the member's own listening, when it does: the real reason, not a guess."""
        if guild_id is None:
            return "Based on your own listening and your favourite artists." if few else None
        if not community_on:
            return OFF_HERE_NOTE if getattr(self.settings, "feature_community", True) else OFF_EVERYWHERE_NOTE
        if few:
            return ("Only a few members share their listening here, so these lean on your favourite "
                    "artists' catalogues.")
        return None

    def _pick(self, data: PersonalData, model: CommunityModel | None, guild_id: int | None, count: int,
              mode: str) -> tuple[list[Recommendation], list[dict[str, Any]]]:
        """The member's ranked picks, shown and saved, and their Last.fm/ListenBrainz links (read fresh, for the
        footer's sync time): one trip to an engine thread. Blocking."""
        return pick_and_save(self.db, data, model, guild_id, count, mode)

    async def _personal_and_picks(self, discord_id: int, now: float, model: CommunityModel | None, guild_id: int | None,
                                  count: int, mode: str) -> tuple[PersonalData, Any]:
        """The member's engine inputs and, when they had to be read, their picks worked out in the same engine-thread
        trip (one hand-off between threads instead of two); cached inputs (or a read another request started) come
        with None, and the caller ranks them."""
        picked: list[Any] = []

        async def load() -> PersonalData:
            data, result = await self.workers.compute(self._load_and_pick, discord_id, now, model, guild_id, count, mode)
            picked.append(result)
            return data

        data = await self.personal.get_or_load(discord_id, load)
        personal.ensure_data(data)
        return data, picked[0] if picked else None

    def _load_and_pick(self, discord_id: int, now: float, model: CommunityModel | None, guild_id: int | None,
                       count: int, mode: str) -> tuple[PersonalData, Any]:
        """Read the member's engine inputs and, if they have listening, pick and save. Blocking."""
        data = personal.load_personal(self.db, discord_id, now, {})
        personal.add_genre_tracks(data, self.expander.genre_tracks(data.top_genres))
        return data, None if data.listening.empty else self._pick(data, model, guild_id, count, mode)

    async def _personal(self, discord_id: int, now: float) -> PersonalData:
        """The member's engine inputs, from the cache or read afresh."""
        async def load() -> PersonalData:
            # on the engine threads, like the rest of a recommendation: fewer threads taking turns at the GIL
            data = await self.workers.compute(personal.load_personal, self.db, discord_id, now, {})
            personal.add_genre_tracks(data, self.expander.genre_tracks(data.top_genres))
            return data

        data = await self.personal.get_or_load(discord_id, load)
        personal.ensure_data(data)
        return data

    async def _expand(self, discord_id: int, data: PersonalData) -> int:
        """Catalogue look-ups on Spotify for a member whose stored catalogue is thin. Never fails the command, and
        never waits for Spotify: they only add songs, so a slow-down request ends them at once (impatient client)."""
        try:
            client = (await self.db.run(self.auth.client_for, discord_id)).impatient()
            stored = await self.expander.expand(client, dict(list(data.favourite_ids.items())[:4]), data.top_genres[:2])
            found = self.expander.genre_tracks(data.top_genres[:2])
            if found and self.engine is not None:  # the genre searches' finds count in every member's next inputs,
                self.engine.send_event("genres", found)  # in the engine processes too
            return stored
        except BotError as error:
            log.info("catalogue expansion skipped: %s", type(error).__name__)
            return 0
