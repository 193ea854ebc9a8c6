"""The engine process's side: personal recommendations worked out away from the bot's event loop.

The bot's process is bound by Python's lock (the GIL): one process runs Python on one core at a time, however
many threads it has. The engine process (started by `engine_process.EngineProcess`, with `spawn`: a fresh
interpreter, never a fork of a process that has threads) opens the same database without migrating it, keeps its
own server models and members' inputs, and answers `PickRequest`s with small `PickResult`s. Cache events reach it
on the same ordered channel as the requests, so an event the bot applied before a request is applied here before
that request too. Plain module: no `discord`.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from database import Database
from storage.dialect import is_postgres_url
from storage.schema import SCHEMA_VERSION
from utils.cache import TTLCache
from utils.community.model import CommunityModel, ModelCache
from utils.engine.autotune import WAITING
from utils.logger import get_logger, setup_logging
from utils.models import Recommendation
from utils.music import recommend as personal
from utils.music.recommend import PersonalData

# Messages down the channel: ("pick", request id, PickRequest), ("stop",), or a cache event:
# ("invalidate", member or None), ("listening_changed", member or None), ("discard", member), ("genres", {genre: keys}).
# Messages back: ("ready", pid), ("alive",) every few seconds,
# ("failed", why, for good: bool), ("done", request id, PickResult), ("error", request id, traceback).
log = get_logger(__name__)

EVENTS = ("invalidate", "listening_changed", "discard", "genres")
ENGINE_NICENESS = 10  # below the bot (0): the event loop first when cores are short


@dataclass(frozen=True)
class PickRequest:
    """One member's recommendations: who asks, where, and who is visible there (decided by the bot's process)."""

    discord_id: int
    guild_id: int | None
    community: tuple[int, ...]
    now: float
    count: int
    mode: str


@dataclass
class PickResult:
    """What the command shows: the picks, the member's Last.fm/ListenBrainz links and their account row (for the
    footer's sync time); `empty` when they have no listening at all; `tuning`: what this process's tuning chose for
    the server (for /status), once it has tuned."""

    recs: list[Recommendation] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    user: dict[str, Any] | None = None
    empty: bool = False
    tuning: Any = None


def forget_cached(models: ModelCache, personal_data: TTLCache[PersonalData], kind: str, member: int | None) -> None:
    """What a cache event makes a process forget, by the same rules in the bot's process and in an engine process:
    "invalidate" (erasure, hiding: the models they are in go at once), "listening_changed" (the models they are in
    go on answering until refitted), "discard" (only their inputs); with no member, everything."""
    if member is None:
        models.invalidate()
        personal_data.clear()
        return
    if kind == "invalidate":
        models.forget_member(member)
    elif kind == "listening_changed":
        models.mark_stale(member)
    personal_data.discard(member)


def pick_and_save(db: Database, data: PersonalData, model: CommunityModel | None, guild_id: int | None, count: int,
                  mode: str) -> tuple[list[Recommendation], list[dict[str, Any]]]:
    """The member's ranked picks, shown and saved, and their Last.fm/ListenBrainz links (read fresh, for the
    footer's sync time). Blocking, CPU-bound: in either process."""
    picks = personal.ranked(data, model, count, mode)
    recs = personal.show_and_save(db, data.discord_id, picks, mode, guild_id) if picks else []
    return recs, db.source_links(data.discord_id) if recs else []


class ChildEngine:
    """The engine process's caches and work; the same rules as MusicService's and ModelCache's in the bot."""

    def __init__(self, db: Database, *, personal_ttl: float = 120.0, model_ttl: float = 300.0,
                 genre_seconds: float = 6 * 3600) -> None:
        self.db = db
        self._fitter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fit")
        self.models = ModelCache(ttl=model_ttl, background=self._fitter.submit)
        self.personal: TTLCache[PersonalData] = TTLCache(ttl=personal_ttl, max_entries=300)
        self.genre_seconds = genre_seconds
        self._genres: dict[str, tuple[float, list[str]]] = {}
        self._lock = threading.Lock()

    def apply(self, message: tuple[Any, ...]) -> None:
        """A cache event the bot's process applied (MusicService.invalidate / listening_changed / a discard)."""
        kind, value = message[0], message[1]
        if kind == "genres":
            with self._lock:
                self._genres.update({genre: (time.time(), list(keys)) for genre, keys in value.items()})
        else:
            forget_cached(self.models, self.personal, kind, value)

    def pick(self, request: PickRequest) -> PickResult:
        """As MusicService's in-process path: the server's model, the member's inputs, ranked, shown and saved."""
        model = None
        if request.guild_id is not None:
            model = (self.models.serve(self.db, request.guild_id, request.community, request.now)
                     or self.models.get(self.db, request.guild_id, request.community, request.now))
        data = self._personal(request.discord_id, request.now)
        if data.listening.empty:
            return PickResult(user=data.user, empty=True)
        recs, links = pick_and_save(self.db, data, model, request.guild_id, request.count, request.mode)
        tuning = self.models.tuner.report(request.guild_id) if request.guild_id is not None else WAITING
        return PickResult(recs, links, data.user, tuning=None if tuning is WAITING else tuning)

    def _personal(self, discord_id: int, now: float) -> PersonalData:
        data = self.personal.get(discord_id)
        if data is None:
            ticket = self.personal.ticket(discord_id)  # a discard during the read keeps it out of the cache
            data = personal.load_personal(self.db, discord_id, now, {})
            personal.add_genre_tracks(data, self._genre_tracks(data.top_genres))
            self.personal.put(discord_id, data, ticket)
        return data

    def _genre_tracks(self, genres: list[str]) -> dict[str, list[str]]:
        """Tracks the bot's catalogue look-ups found for these genres (as CatalogueExpander.genre_tracks)."""
        now = time.time()
        with self._lock:
            return {g: hit[1] for g in genres if (hit := self._genres.get(g)) and now - hit[0] < self.genre_seconds}

    def close(self) -> None:
        self._fitter.shutdown(wait=True, cancel_futures=True)


def yield_to_the_bot() -> None:
    """A lower scheduling priority than the bot's process: when both want a busy core, the bot's event loop
    (acknowledgements within Discord's 3 seconds, replies) goes first; an idle core is still all the engine's."""
    with contextlib.suppress(OSError, AttributeError):  # not allowed, or no nice() on this system: same priority
        os.nice(ENGINE_NICENESS)


def settle_garbage_collector() -> None:
    """As the bot's process does (main.py): what is loaded by now stays out of the collector's full walks, and young
    objects are checked every 20,000 allocations, not 700; a model and the cached inputs are many objects, and the
    default passes walking them cost more than a request's ranking."""
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def child_main(requests: Any, results: Any, database: str, options: dict[str, Any], beat: float = 1.0,
               logs: tuple[str, list[str]] | None = None) -> None:
    """The engine process's life: open the database, say ready, then serve the channel until told to stop or the bot
    is gone (the channel's end: the process never outlives the bot). Every `beat` s it says it is alive: work
    longer than the bot's patience for silence (a big server's first fit) is not a stuck process."""
    if logs is not None:  # the bot's level and the secrets it masks; to the console the bot writes to (one process
        # writes logs/bot.log: two would tangle its rotation)
        setup_logging(logs[0], None, [*logs[1], database])
    # its engine threads, a fit and a tuning read at once at most: a few PostgreSQL connections of its own
    db = Database(database, pool_size=2, **({"max_connections": 4} if is_postgres_url(database) else {}))
    try:
        if db.schema_version() != SCHEMA_VERSION:  # never migrates: the bot's process does, before starting it
            log.warning("The engine process can't work with the database at %s: it is not at this version's schema",
                        database)
            results.send(("failed", "the database is not at this version's schema", True))
            return
    except Exception as error:  # told to the bot, which answers in its own process and tries a new one later
        results.send(("failed", f"the database can't be read ({type(error).__name__})", False))
        return
    engine = ChildEngine(db, **options)
    settle_garbage_collector()
    yield_to_the_bot()
    send_lock = threading.Lock()
    # Two threads, as the bot's engine threads: one reads the database (the GIL let go) while the other ranks.
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="engine")

    def answer(request_id: int, request: PickRequest) -> None:
        try:
            message: tuple[Any, ...] = ("done", request_id, engine.pick(request))
        except BaseException:  # the bot answers this request itself and logs why
            message = ("error", request_id, traceback.format_exc(limit=8))
        try:
            with send_lock:
                results.send(message)
        except OSError:  # the bot's process is gone: nobody to answer
            pass

    stopping = threading.Event()

    def say_alive() -> None:
        while not stopping.wait(beat):
            try:
                with send_lock:
                    results.send(("alive",))
            except OSError:  # the bot's process is gone
                return

    results.send(("ready", os.getpid()))
    threading.Thread(target=say_alive, name="engine-alive", daemon=True).start()
    try:
        while True:
            try:
                message = requests.recv()
            except (EOFError, OSError):  # the bot's process is gone
                break
            if message[0] == "stop":
                break
            if message[0] == "pick":
                pool.submit(answer, message[1], message[2])
            elif message[0] in EVENTS:
                engine.apply(message)
    finally:
        stopping.set()
        pool.shutdown(wait=True, cancel_futures=True)
        engine.close()
        db.close()
