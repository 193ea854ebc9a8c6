"""A small thread-safe cache with a time limit and a size limit, for data that is costly to rebuild."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class TTLCache(Generic[V]):
    """Entries live `ttl` seconds; past `max_entries` the least recently used one goes first."""

    def __init__(self, ttl: float, max_entries: int = 1000, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()
        self._generation = 0  # bumped by every discard/clear, so a read that raced one is not stored
        self._loading: dict[Hashable, asyncio.Future[V]] = {}  # event-loop side: loads under way, by key
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
        pending = self._loading.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        ticket = self.ticket()
        task = asyncio.ensure_future(load())
        self._loading[key] = task
        try:
            value = await asyncio.shield(task)
        finally:
            if self._loading.get(key) is task:
                del self._loading[key]
        self.put(key, value, ticket)
        return value

    def ticket(self) -> tuple[int, float]:
        """Take before reading the value to store: `put` with it stores nothing if the cache was invalidated since."""
        with self._lock:
            return self._generation, self._clock()

    def put(self, key: Hashable, value: V, ticket: tuple[int, float] | None = None) -> None:
        generation, stored_at = ticket if ticket is not None else self.ticket()
        with self._lock:
            if generation != self._generation:
                return
            self._entries[key] = (stored_at, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def discard(self, key: Hashable) -> None:
        with self._lock:
            self._generation += 1
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
