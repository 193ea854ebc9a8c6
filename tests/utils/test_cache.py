"""TTLCache: entries expire, the least recently used goes first, and a read that raced an invalidation is dropped."""

from __future__ import annotations

import asyncio

from utils.cache import TTLCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_after_their_time() -> None:
    clock = Clock()
    cache: TTLCache[str] = TTLCache(ttl=10, clock=clock)
    cache.put("a", "one")
    clock.now += 9.9
    assert cache.get("a") == "one"
    clock.now += 0.2
    assert cache.get("a") is None


def test_the_least_recently_used_entry_goes_first() -> None:
    cache: TTLCache[int] = TTLCache(ttl=60, max_entries=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "b" is now the oldest
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)


def test_a_value_read_before_an_invalidation_is_not_stored() -> None:
    cache: TTLCache[str] = TTLCache(ttl=60)
    ticket = cache.ticket("member")  # a slow read starts ...
    cache.discard("member")  # ... the member syncs meanwhile ...
    cache.put("member", "stale", ticket)  # ... and the old read finishes
    assert cache.get("member") is None
    cache.put("member", "fresh", cache.ticket("member"))
    assert cache.get("member") == "fresh"


def test_an_entry_is_dated_from_when_its_read_began() -> None:
    clock = Clock()
    cache: TTLCache[str] = TTLCache(ttl=10, clock=clock)
    ticket = cache.ticket("a")
    clock.now += 8  # the read took 8 s
    cache.put("a", "value", ticket)
    clock.now += 3
    assert cache.get("a") is None


async def test_callers_missing_one_key_at_once_share_one_load() -> None:
    cache: TTLCache[str] = TTLCache(ttl=60)
    loads = 0

    async def load() -> str:
        nonlocal loads
        loads += 1
        await asyncio.sleep(0.01)
        return "value"

    values = await asyncio.gather(*(cache.get_or_load("k", load) for _ in range(20)))
    assert values == ["value"] * 20 and loads == 1
    assert await cache.get_or_load("k", load) == "value" and loads == 1


async def test_a_failed_load_reaches_every_waiter_and_the_next_call_tries_again() -> None:
    cache: TTLCache[str] = TTLCache(ttl=60)
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        if calls == 1:
            raise OSError("disk hiccup")
        return "ok"

    results = await asyncio.gather(*(cache.get_or_load("k", flaky) for _ in range(5)), return_exceptions=True)
    assert all(isinstance(r, OSError) for r in results)
    assert await cache.get_or_load("k", flaky) == "ok" and calls == 2


def test_discarding_one_key_leaves_reads_of_other_keys_alone() -> None:
    cache: TTLCache[str] = TTLCache(ttl=60)
    ticket = cache.ticket("bob")
    cache.discard("alice")
    cache.put("bob", "bob's data", ticket)
    assert cache.get("bob") == "bob's data"


async def test_a_caller_after_an_invalidation_does_not_get_the_load_that_began_before_it() -> None:
    cache: TTLCache[str] = TTLCache(ttl=60)
    state = {"hidden": False}
    started = asyncio.Event()

    async def load() -> str:
        seen = "hidden" if state["hidden"] else "visible"
        started.set()
        await asyncio.sleep(0.05)
        return seen

    early = asyncio.ensure_future(cache.get_or_load("member", load))
    await started.wait()
    state["hidden"] = True  # the member hides while the first read is under way ...
    cache.discard("member")
    late = await cache.get_or_load("member", load)  # ... so a command after that must see it
    assert late == "hidden" and await early == "visible"
    assert cache.get("member") == "hidden"
