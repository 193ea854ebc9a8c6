"""A small thread-safe cache with a time limit and a size limit, for data that is costly to rebuild."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")
Ticket = tuple[int, int, float]  # (cache-wide epoch, the key's generation, when the read began)


class TTLCache(Generic[V]):
    """Entries live `ttl` seconds; past `max_entries` the least recently used one goes first.

    A read that began before its key was discarded (or the cache cleared) is never stored nor shared, so a
    change that invalidates an entry is seen by every caller who arrives after it.
    """

    def __init__(self, ttl: float, max_entries: int = 1000, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()
        self._epoch = 0  # bumped by clear()
        self._generations: dict[Hashable, int] = {}  # bumped by discard(key); only keys ever discarded are here
        self._loading: dict[Hashable, asyncio.Future[V]] = {}  # loads under way (on the event loop), by key
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or self._clock() - entry[0] >= self.ttl:
                self._entries.pop(key, None)
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[1]

    async def get_or_load(self, key: Hashable, load: Callable[[], Awaitable[V]]) -> V:
        """The cached value, or `load()`'s; callers who miss the same key at once share one load."""
        value = self.get(key)
        if value is not None:
            return value
        with self._lock:
            pending = self._loading.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        ticket = self.ticket(key)
        task = asyncio.ensure_future(load())
        # if every caller stops waiting (a cancelled command), a failure is still retrieved, not logged as lost
        task.add_done_callback(lambda done: done.cancelled() or done.exception())
        with self._lock:
            self._loading[key] = task
        try:
            value = await asyncio.shield(task)
        finally:
            with self._lock:
                if self._loading.get(key) is task:
                    del self._loading[key]
        self.put(key, value, ticket)
        return value

    def ticket(self, key: Hashable) -> Ticket:
        """Take before reading the value to store: `put` with it stores nothing if the key was invalidated since."""
        with self._lock:
            return self._epoch, self._generations.get(key, 0), self._clock()

    def put(self, key: Hashable, value: V, ticket: Ticket | None = None) -> None:
        epoch, generation, stored_at = ticket if ticket is not None else self.ticket(key)
        with self._lock:
            if epoch != self._epoch or generation != self._generations.get(key, 0):
                return
            self._entries[key] = (stored_at, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def discard(self, key: Hashable) -> None:
        with self._lock:
            self._generations[key] = self._generations.get(key, 0) + 1
            self._entries.pop(key, None)
            self._loading.pop(key, None)  # later callers start a fresh load instead of joining a stale one

    def clear(self) -> None:
        with self._lock:
            self._epoch += 1
            self._generations.clear()
            self._entries.clear()
            self._loading.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
