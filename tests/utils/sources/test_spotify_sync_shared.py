"""Two bot processes on one database: the scheduled sync takes each member once between them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from database import Database
from spotify_auth import SpotifyAuth
from tests.utils.services_support import IDS, Services, services_fixture  # noqa: F401 - the `services` fixture
from utils.sources.spotify_sync import SyncService


@pytest.fixture
def second_db(services: Services) -> Iterator[Database]:
    """The same database file opened a second time, as another bot process would."""
    other = Database(services.settings.database_path).open()
    yield other
    other.close()


def other_process(services: Services, db: Database, **options: object) -> SyncService:
    async def no_wait(seconds: float) -> None:
        return None

    return SyncService(db, SpotifyAuth(services.settings, db), services.settings, stagger_seconds=0,
                       sleep=no_wait, **options)  # type: ignore[arg-type]


def recent_plays_calls(services: Services) -> int:
    return sum(r.path == "/v1/me/player/recently-played" for r in services.fake.request_log)


async def test_two_processes_running_at_once_sync_each_member_once(services: Services, second_db: Database) -> None:
    linked = {services.link(name) for name in ("alice", "bob", "carol", "dave", "erin", "frank")}
    services.fake.clear_log()
    here, there = await asyncio.gather(services.sync.sync_all(), other_process(services, second_db).sync_all())
    here_ids, there_ids = {r.discord_id for r in here}, {r.discord_id for r in there}
    assert here_ids | there_ids == linked and not here_ids & there_ids
    assert all(r.status == "synced" for r in here + there)
    assert recent_plays_calls(services) == len(linked)  # one sync per member, not one per process


async def test_a_member_synced_this_round_is_left_alone_until_the_next(services: Services, second_db: Database) -> None:
    alice = services.link("alice")
    assert [r.discord_id for r in await services.sync.sync_all()] == [alice]
    later = other_process(services, second_db, recent_seconds=0)  # would sync anyone not synced this very second
    assert await later.sync_all() == []
    round_seconds = services.settings.sync_interval_minutes * 60
    next_round = other_process(services, second_db, recent_seconds=0,
                               clock=lambda: (time.time() // round_seconds + 1) * round_seconds + 1)
    assert [r.discord_id for r in await next_round.sync_all()] == [alice]
    assert services.db.sync_lease(alice)["holder"] == next_round.holder


async def test_a_process_that_died_mid_sync_lets_go_when_its_lease_runs_out(services: Services,
                                                                              second_db: Database) -> None:
    alice, bob = services.link("alice"), services.link("bob")
    now = time.time()
    assert services.db.claim_sync(alice, "process-that-died", now + 60, now)
    assert not second_db.claim_sync(alice, "someone-else", now + 60, now)  # held: nobody else takes her
    assert [r.discord_id for r in await services.sync.sync_all()] == [bob]
    after_expiry = other_process(services, second_db, clock=lambda: now + 61)
    assert [r.discord_id for r in await after_expiry.sync_all()] == [alice]  # bob was synced a minute ago
    assert services.db.get_user(alice)["last_synced_at"] is not None


async def test_a_forced_run_syncs_everyone_even_when_held(services: Services) -> None:
    alice = services.link("alice")
    now = time.time()
    services.db.claim_sync(alice, "another-process", now + 1800, now)
    assert [(r.discord_id, r.status) for r in await services.sync.sync_all(force=True)] == [(alice, "synced")]


def test_erasing_a_member_drops_their_lease(tmp_path: Path) -> None:
    db = Database(tmp_path / "bot.db").open()
    try:
        db.ensure_user(IDS["alice"], "Alice")
        assert db.claim_sync(IDS["alice"], "p", time.time() + 60, time.time())
        assert not db.claim_sync(IDS["bob"], "p", time.time() + 60, time.time())  # no such member: nothing held
        db.erase_user(IDS["alice"])
        assert db.sync_lease(IDS["alice"]) is None
    finally:
        db.close()
