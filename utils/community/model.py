"""Fitted community models per guild (cached a few minutes) and the engine calls that use them.

Blocking, CPU-bound code: the music service runs it with `asyncio.to_thread`. A community model is
fitted on the guild's VISIBLE members only; a hidden member is folded in (their own history passed as
`history`) for their own recommendations and is never in the matrix, never named, never counted.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from database import Database
from utils.engine.autotune import SelfTuner
from utils.engine.data import Context, Interactions
from utils.engine.hybrid import Hybrid
from utils.listening.reads import track_weight_arrays
from utils.logger import get_logger

log = get_logger(__name__)

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
    """A guild's fitted model, the visible members it was fitted for, and which of them had listening in it."""

    guild_id: int | None
    members: tuple[int, ...]
    listeners: frozenset[int]
    model: Hybrid | None
    fitted_at: float
    names: dict[int, str] = field(default_factory=dict)
    outdated: frozenset[int] = frozenset()  # members whose listening grew since the fit (`ModelCache.mark_stale`)

    def has(self, discord_id: int) -> bool:
        """Whether this member's current listening is a row of the fitted matrix (else their own listening, read
        afresh, is folded in as history: a member who just synced is never offered what they just played)."""
        return discord_id in self.listeners and discord_id not in self.outdated

    def tracks_of(self, discord_id: int) -> dict[str, float]:
        """The track weights the model holds for one member (empty when they are not in it)."""
        data = self.model.data if self.model is not None else None
        return {str(k): w for k, w in data.history_of(discord_id).items()} if data is not None else {}

    @property
    def interactions(self) -> int:
        """How many (member, song) weights the model was fitted on."""
        data = self.model.data if self.model is not None else None
        return int(data.matrix.nnz) if data is not None else 0


def fit_community(db: Database, guild_id: int | None, members: Iterable[int], now: float,
                  tuner: SelfTuner | None = None) -> CommunityModel:
    """Fit the hybrid on these (visible) members' track weights, with the guild's last tuning if any. Blocking."""
    members = tuple(sorted(set(members)))
    weights = track_weight_arrays(db, members, now)
    names = db.display_names(members)
    model: Hybrid | None = None
    if weights.members:
        data = Interactions.from_arrays(weights.rows, weights.cols, weights.weights, weights.members, weights.items)
        del weights.rows, weights.cols, weights.weights  # the matrix holds them now
        model = tuner.fit(guild_id, data) if tuner is not None else Hybrid().fit(data)
    return CommunityModel(guild_id, members, frozenset(weights.members), model, time.time(), names)


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
    """Fitted community models per guild. A model older than `ttl`, or missing members who joined since, still
    answers at once while ONE refit per guild runs in the background (`background(job)` starts it: the fitting
    threads in the bot, a thread of its own by default), then takes its place. A model that holds someone who is no
    longer among the members (they left or hid) is never served, and a member's erasure or privacy change drops
    every model their data went into (`forget_member`): the next request fits again first. New listening only makes
    those models old (`mark_stale`), so a big server's model keeps answering through its members' syncs."""

    def __init__(self, ttl: float = 300.0, background: Callable[[Callable[[], None]], object] | None = None) -> None:
        self.ttl = ttl
        self.background = background or _own_thread
        self._models: dict[int | None, CommunityModel] = {}
        self._lock = threading.Lock()
        self._fit_locks: dict[int | None, threading.Lock] = {}
        # Fits under way, by guild: their members, whether data was taken away under them (then not kept), and who
        # gained listening meanwhile (kept, as outdated for them: still newer than the model it replaces, and on a
        # busy server someone syncs during nearly every fit).
        self._fitting: dict[int | None, tuple[tuple[int, ...], list[bool], set[int]]] = {}
        self._refitting: set[int | None] = set()  # guilds with a background refit queued or running
        self.tuner = SelfTuner()  # each guild's engine settings, tuned in the background on its own listening

    def peek(self, guild_id: int, members: Iterable[int]) -> CommunityModel | None:
        """The cached model for exactly these members if it is still fresh, else None (never fits)."""
        members = tuple(sorted(set(members)))
        with self._lock:
            cached = self._models.get(guild_id)
        if cached and cached.members == members and time.time() - cached.fitted_at < self.ttl:
            return cached
        return None

    def serve(self, db: Database, guild_id: int, members: Iterable[int], now: float) -> CommunityModel | None:
        """A model to answer with now, never waiting for a fit: the cached one if everyone in it is still among
        `members` (if it is old or lacks newcomers, one background refit starts); None when a fit must come first."""
        members = tuple(sorted(set(members)))
        with self._lock:
            cached = self._models.get(guild_id)
            if cached is None or not set(cached.members).issubset(members):
                return None
            if (cached.members == members and time.time() - cached.fitted_at < self.ttl) or guild_id in self._refitting:
                return cached
            self._refitting.add(guild_id)
        try:
            self.background(functools.partial(self._refit, db, guild_id, members, now, time.time()))
        except BaseException:
            with self._lock:
                self._refitting.discard(guild_id)
            raise
        return cached

    def _refit(self, db: Database, guild_id: int, members: tuple[int, ...], now: float, asked_at: float) -> None:
        """The background refit: fit unless a fit since the request already did; a failure keeps the old model."""
        try:
            self.get(db, guild_id, members, now, newer_than=asked_at)
        except Exception:  # the old model goes on answering; the next request tries again
            log.exception("Refitting the community model of guild %s failed", guild_id)
        finally:
            with self._lock:
                self._refitting.discard(guild_id)

    def get(self, db: Database, guild_id: int, members: Iterable[int], now: float, *,
            newer_than: float | None = None) -> CommunityModel:
        """The guild's model for exactly these members, fitting it (once, under a lock) when missing or old; with
        `newer_than`, a model fitted after that time for no one outside `members` will do."""
        members = tuple(sorted(set(members)))
        with self._lock:
            fit_lock = self._fit_locks.setdefault(guild_id, threading.Lock())
        with fit_lock:  # two commands at once, or a command and a background refit, fit once
            with self._lock:
                cached = self._models.get(guild_id)
            if cached and cached.members == members and time.time() - cached.fitted_at < self.ttl:
                return cached
            if (cached and newer_than is not None and cached.fitted_at > newer_than
                    and set(cached.members).issubset(members)):
                return cached
            changed: list[bool] = [False]
            grew: set[int] = set()
            with self._lock:
                self._fitting[guild_id] = (members, changed, grew)
            try:
                fitted = fit_community(db, guild_id, members, now, self.tuner)
            except BaseException:
                with self._lock:
                    del self._fitting[guild_id]
                raise
            with self._lock:
                del self._fitting[guild_id]
                if grew:  # read before their new listening: kept, but old (for them, and for one more refit)
                    fitted = dataclasses.replace(fitted, fitted_at=0.0, outdated=frozenset(grew))
                if not changed[0]:  # else it was read before a removal: good for this caller, not for the next
                    self._models[guild_id] = fitted
            return fitted

    def invalidate(self, guild_id: int | None = None) -> None:
        with self._lock:
            if guild_id is None:
                self._models.clear()
            else:
                self._models.pop(guild_id, None)
            for fitting_guild, (_, changed, _) in self._fitting.items():
                if guild_id is None or fitting_guild == guild_id:
                    changed[0] = True

    def mark_stale(self, discord_id: int) -> None:
        """This member's listening grew (a sync, an import, a page of history): every model their data went into
        goes on answering, as an old one, until one background refit brings the new listening in (`serve`)."""
        with self._lock:
            for guild_id, model in list(self._models.items()):
                if discord_id in model.members:
                    self._models[guild_id] = dataclasses.replace(model, fitted_at=0.0,
                                                                 outdated=model.outdated | {discord_id})
            for members, _, grew in self._fitting.values():
                if discord_id in members:
                    grew.add(discord_id)

    def forget_member(self, discord_id: int) -> None:
        """Drop every model this member's data went into (after erasure or a privacy change), at once."""
        with self._lock:
            for guild_id in [g for g, m in self._models.items() if discord_id in m.members]:
                del self._models[guild_id]
            for members, changed, _ in self._fitting.values():
                if discord_id in members:
                    changed[0] = True


def _own_thread(job: Callable[[], None]) -> None:
    threading.Thread(target=job, name="community-refit", daemon=True).start()
