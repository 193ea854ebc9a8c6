"""Fitted community models per guild (cached a few minutes) and the engine calls that use them.

Blocking, CPU-bound code: the music service runs it with `asyncio.to_thread`. A community model is
fitted on the guild's VISIBLE members only; a hidden member is folded in (their own history passed as
`history`) for their own recommendations and is never in the matrix, never named, never counted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from database import Database
from utils.engine.autotune import SelfTuner
from utils.engine.data import Context, Interactions
from utils.engine.hybrid import Hybrid
from utils.listening.reads import interaction_weights, triples

# How much of each engine source a mode wants ("catalogue" = more from your own artists).
MODE_WEIGHTS: dict[str, dict[str, float]] = {
    "balanced": {},
    "discover": {"catalogue": 0.1, "popularity": 0.02},
    "familiar": {"catalogue": 1.5},
}
MODE_MAX_PER_ARTIST = {"balanced": 2, "discover": 1, "familiar": 3}


def artist_of(track_key: str) -> str:
    """The artist key inside a track key ("artist - title", both normalised, so ' - ' splits cleanly)."""
    return track_key.split(" - ", 1)[0]


@dataclass
class CommunityModel:
    """A guild's fitted model plus the visible members' weights it was fitted on."""

    guild_id: int | None
    members: tuple[int, ...]
    track_weights: dict[int, dict[str, float]]
    model: Hybrid | None
    fitted_at: float
    names: dict[int, str] = field(default_factory=dict)

    def has(self, discord_id: int) -> bool:
        return discord_id in self.track_weights


def fit_community(db: Database, guild_id: int | None, members: Iterable[int], now: float,
                  tuner: SelfTuner | None = None) -> CommunityModel:
    """Fit the hybrid on these (visible) members' track weights, with the guild's last tuning if any. Blocking."""
    members = tuple(sorted(set(members)))
    weights = interaction_weights(db, list(members), "tracks", now)
    names = db.display_names(members)
    model: Hybrid | None = None
    rows = triples(weights)
    if rows:
        data = Interactions.from_triples(rows)
        model = tuner.fit(guild_id, data) if tuner is not None else Hybrid().fit(data)
    return CommunityModel(guild_id, members, weights, model, time.time(), names)


def with_mode(model: Hybrid, mode: str) -> Hybrid:
    """A view of a fitted hybrid with the mode's source weights (no refit: components are shared)."""
    extra = MODE_WEIGHTS.get(mode, {})
    if not extra:
        return model
    view = Hybrid(model.components, {**model.weights, **extra}, dislike_weight=model.dislike_weight,
                  variety=model.variety, pool=model.pool)
    view.data = model.data
    view.item_cf = model.item_cf
    return view


class TrackArtists(Mapping[str, str]):
    """The artist of any track key, read from the key itself, so every candidate (whoever's listening it came
    from) counts towards the per-artist cap. Open-ended: it lists nothing, but answers for every track key."""

    def __getitem__(self, key: str) -> str:
        if isinstance(key, str) and " - " in key:
            return artist_of(key)
        raise KeyError(key)

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        """As Mapping.get, without raising and catching KeyError for each of a list's hundred candidates."""
        return artist_of(key) if isinstance(key, str) and " - " in key else default

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


TRACK_ARTISTS = TrackArtists()


def make_context(*, labels: Mapping[str, str], names: Mapping[int, str], catalogue: Mapping[str, list[str]],
                 genres: Mapping[str, list[str]], liked: Iterable[str], disliked: Iterable[str], mode: str,
                 community_label: str = "this server") -> Context:
    """The engine's view of one request; the mappings are shared, not copied (the engine only reads them)."""
    return Context(
        item_labels=labels, user_names=names, item_artist=TRACK_ARTISTS,
        liked=set(liked), disliked=set(disliked), catalogue=catalogue, item_genres=genres,
        max_per_artist=MODE_MAX_PER_ARTIST.get(mode, 2), community_label=community_label)


class ModelCache:
    """Fitted community models per guild for `ttl` seconds; dropped when its visible members change."""

    def __init__(self, ttl: float = 300.0) -> None:
        self.ttl = ttl
        self._models: dict[int | None, CommunityModel] = {}
        self._lock = threading.Lock()
        self._fit_locks: dict[int | None, threading.Lock] = {}
        # Fits under way, by guild: their members, and whether data changed under them (then not kept).
        self._fitting: dict[int | None, tuple[tuple[int, ...], list[bool]]] = {}
        self.tuner = SelfTuner()  # each guild's engine settings, tuned in the background on its own listening

    def peek(self, guild_id: int, members: Iterable[int]) -> CommunityModel | None:
        """The cached model for exactly these members if it is still fresh, else None (never fits)."""
        members = tuple(sorted(set(members)))
        with self._lock:
            cached = self._models.get(guild_id)
        if cached and cached.members == members and time.time() - cached.fitted_at < self.ttl:
            return cached
        return None

    def get(self, db: Database, guild_id: int, members: Iterable[int], now: float) -> CommunityModel:
        """The guild's model for exactly these members, fitting it (once, under a lock) when missing or old."""
        members = tuple(sorted(set(members)))
        with self._lock:
            fit_lock = self._fit_locks.setdefault(guild_id, threading.Lock())
        with fit_lock:  # two commands at once fit once
            with self._lock:
                cached = self._models.get(guild_id)
            if cached and cached.members == members and time.time() - cached.fitted_at < self.ttl:
                return cached
            changed = [False]
            with self._lock:
                self._fitting[guild_id] = (members, changed)
            try:
                fitted = fit_community(db, guild_id, members, now, self.tuner)
            except BaseException:
                with self._lock:
                    del self._fitting[guild_id]
                raise
            with self._lock:
                del self._fitting[guild_id]
                if not changed[0]:  # else it was read before a change: good for this caller, not for the next
                    self._models[guild_id] = fitted
            return fitted

    def invalidate(self, guild_id: int | None = None) -> None:
        with self._lock:
            if guild_id is None:
                self._models.clear()
            else:
                self._models.pop(guild_id, None)
            for fitting_guild, (_, changed) in self._fitting.items():
                if guild_id is None or fitting_guild == guild_id:
                    changed[0] = True

    def forget_member(self, discord_id: int) -> None:
        """Drop every model this member's data went into (after erasure or a sync)."""
        with self._lock:
            for guild_id in [g for g, m in self._models.items() if discord_id in m.members]:
                del self._models[guild_id]
            for members, changed in self._fitting.values():
                if discord_id in members:
                    changed[0] = True
