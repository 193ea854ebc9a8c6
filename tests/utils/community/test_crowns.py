"""Crown counting over a real SQLite file: thresholds, ties, first counts and recounts."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from database import Database
from storage.keys import local_id, track_key
from utils.community.crowns import check, rebuild, winners

GUILD = 77


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "bot.db").open()
    yield database
    database.close()


def plays(db: Database, member: int, artist: str, count: int, start: int = 0) -> None:
    db.ensure_user(member, f"m{member}")
    tid = local_id(track_key(artist, "song"))
    db.upsert_tracks([{"track_id": tid, "name": "song", "artist_name": artist}])
    db.insert_plays(member, [(start + i * 1000, tid, 200_000, "import", 0) for i in range(count)])


def test_the_most_plays_past_the_threshold_wins_and_a_tie_stays_with_the_holder() -> None:
    rows = [{"discord_id": 1, "key": "a", "plays": 30}, {"discord_id": 2, "key": "a", "plays": 30},
            {"discord_id": 3, "key": "b", "plays": 29}]
    assert winners(rows, 30, {}) == {"a": (1, 30)}  # a tie with no holder: the lowest id, so recounts agree
    assert winners(rows, 30, {"a": 2}) == {"a": (2, 30)}  # the holder keeps a tie
    assert winners(rows, 29, {}) == {"a": (1, 30), "b": (3, 29)}


def test_the_first_count_is_quiet_and_a_recount_records_who_took_what(db: Database) -> None:
    plays(db, 1, "Radiohead", 40)
    plays(db, 2, "Radiohead", 35)
    plays(db, 2, "Low", 31)
    assert rebuild(db, GUILD, [1, 2], 30, 100.0, record=False) == []
    assert {r["artist_key"]: r["discord_id"] for r in db.guild_crowns(GUILD)} == {"radiohead": 1, "low": 2}
    assert db.crown_changes_since(GUILD, 0) == []
    plays(db, 2, "Radiohead", 10, start=10**9)
    assert rebuild(db, GUILD, [1, 2], 30, 200.0, record=True) == [("radiohead", 2, 1)]
    assert rebuild(db, GUILD, [2], 30, 300.0, record=True) == []  # member 1 no longer counts: nothing to take
    assert rebuild(db, GUILD, [1], 30, 400.0, record=True) == [("radiohead", 1, 2)]
    assert {r["artist_key"] for r in db.guild_crowns(GUILD)} == {"radiohead"}  # Low has nobody past 30 now


def test_a_check_of_one_artist_moves_its_crown_once(db: Database) -> None:
    plays(db, 1, "Radiohead", 40)
    rebuild(db, GUILD, [1], 30, 100.0, record=False)
    db.ensure_user(2)
    assert check(db, GUILD, "radiohead", [(2, 41), (1, 40)], 30, 200.0) == (2, 41, (2, 1))
    assert check(db, GUILD, "radiohead", [(2, 41), (1, 40)], 30, 300.0) == (2, 41, None)
    assert check(db, GUILD, "radiohead", [(1, 12)], 30, 400.0) == (None, 0, None)
    assert db.crown(GUILD, "radiohead") is None


async def test_a_slow_servers_recount_runs_in_the_background(db: Database) -> None:
    from types import SimpleNamespace

    from utils.community.access import CommunityAccess
    from utils.community.crowns import CrownService

    plays(db, 1, "Radiohead", 40)
    db.ensure_user(2)
    for member in (1, 2):
        db.add_guild_member(GUILD, member)
    crowns = CrownService(db, CommunityAccess(db, SimpleNamespace(feature_community=True)))
    assert await crowns.leaderboard(GUILD) == [(1, 1)]  # the first count, there and then
    plays(db, 2, "Radiohead", 45, start=10**9)
    crowns.invalidate(2)
    crowns.access.invalidate(2)  # as the services' change listeners do
    crowns._cost[GUILD] = 1.0  # as if its recount took a second
    crowns._counted[GUILD] = (crowns._counted[GUILD][0], 0.0, crowns._counted[GUILD][2])  # and long ago
    writer_busy = threading.Event()  # the recount queues behind a long write, so it can't finish before the answer
    long_write = asyncio.ensure_future(db.run_write(writer_busy.wait, 30))
    assert await crowns.leaderboard(GUILD) == [(1, 1)]  # the answer does not wait for it
    writer_busy.set()
    await long_write
    await crowns.settled()
    assert await crowns.leaderboard(GUILD) == [(2, 1)]
    assert [c.artist_name for c in await crowns.changes(GUILD, since=0)] == ["Radiohead"]
