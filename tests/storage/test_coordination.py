"""Claims several processes make on one database: exactly one of many at once wins, and only until it runs out."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from database import Database
from tests.helpers.shared_target import shared_target

GUILD, MEMBER = 77, 1001


@pytest.fixture
def processes(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[Database]]:
    """Six openings of one database, as six bot processes would have."""
    target = shared_target(request, tmp_path)
    first = Database(target).open()
    first.ensure_user(MEMBER, "Alice")
    first.update_guild_settings(GUILD, digest_channel_id=5)
    others = [Database(target).open() for _ in range(5)]
    yield [first, *others]
    for db in [first, *others]:
        db.close()


def all_at_once(dbs: list[Database], claim: Callable[[Database, int], bool]) -> list[bool]:
    """Every process tries its claim at the same moment (a barrier), each on its own thread and connection."""
    barrier = threading.Barrier(len(dbs))
    results: list[bool] = [False] * len(dbs)

    def attempt(position: int) -> None:
        barrier.wait()
        results[position] = claim(dbs[position], position)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(len(dbs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_one_process_of_many_gets_this_weeks_digest(processes: list[Database]) -> None:
    now = time.time()
    won = all_at_once(processes, lambda db, _: db.claim_digest(GUILD, now, now - 7 * 86400))
    assert won.count(True) == 1
    assert processes[0].get_guild_settings(GUILD)["last_digest_at"] == now
    assert not processes[1].claim_digest(GUILD, now + 86400, now + 86400 - 7 * 86400)  # a day later: still done
    a_week_later = now + 7 * 86400
    assert processes[2].claim_digest(GUILD, a_week_later, a_week_later - 7 * 86400)


def test_one_process_of_many_takes_a_member_and_holds_them_until_the_lease_runs_out(processes: list[Database]) -> None:
    now = time.time()
    won = all_at_once(processes, lambda db, n: db.claim_sync(MEMBER, f"process-{n}", now + 60, now))
    assert won.count(True) == 1
    holder = processes[0].sync_lease(MEMBER)["holder"]
    assert holder == f"process-{won.index(True)}"
    assert not processes[0].claim_sync(MEMBER, "late", now + 120, now + 59)
    processes[0].extend_sync_claim(MEMBER, "not-the-holder", now + 9999)  # only the holder extends its lease
    assert processes[0].sync_lease(MEMBER)["expires_at"] == now + 60
    assert processes[0].claim_sync(MEMBER, "late", now + 120, now + 60)


def test_members_who_linked_lately_are_found_by_every_process(processes: list[Database]) -> None:
    before = time.time() - 1
    processes[0].ensure_user(2002, "Bob")
    processes[0].set_link_state(MEMBER, "linked", spotify_user_id="alice")
    assert processes[3].users_joined_since(before) == [MEMBER, 2002]
    assert processes[3].users_joined_since(time.time() + 1) == []
    processes[0].ensure_user(3003, "Carol")
    with processes[0].transaction() as conn:  # she reached the bot long ago; her import is what is new
        conn.execute("UPDATE users SET created_at = 1 WHERE discord_id = 3003")
    assert 3003 not in processes[4].users_joined_since(before)
    processes[0].record_import(3003, "history.json", 10, 0)
    assert processes[4].users_joined_since(before) == [MEMBER, 2002, 3003]


def test_a_member_synced_since_the_list_was_read_is_not_taken(processes: list[Database]) -> None:
    now = time.time()
    processes[0].set_link_state(MEMBER, "linked", spotify_user_id="alice")
    processes[0].store_sync(MEMBER, artists=[], tracks=[], top_tracks={}, top_artists={}, plays=[],
                            recent_cursor_ms=None, synced_at=now)
    assert not processes[1].claim_sync(MEMBER, "late", now + 60, now, synced_before=now - 600)
    assert processes[1].claim_sync(MEMBER, "late", now + 60, now, synced_before=now + 1)
