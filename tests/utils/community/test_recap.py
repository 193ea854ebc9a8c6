"""The year in music over a real SQLite file: the twelve monthly numbers a chart draws, and the year before."""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from pathlib import Path

import pytest

from database import Database
from storage.keys import local_id, track_key
from utils.community.recap import build_recap
from utils.errors import NotEnoughData


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "bot.db").open()
    yield database
    database.close()


def add(db: Database, member: int, artist: str, year: int, month: int, count: int, skipped: int = 0) -> None:
    db.ensure_user(member)
    tid = local_id(track_key(artist, "song"))
    db.upsert_tracks([{"track_id": tid, "name": "song", "artist_name": artist, "duration_ms": 180_000}])
    start = calendar.timegm((year, month, 1, 0, 0, 0)) * 1000
    db.insert_plays(member, [(start + i * 3_600_000, tid, None, "spotify", skipped) for i in range(count)])


def test_monthly_numbers_and_the_year_before(db: Database) -> None:
    add(db, 1, "A", 2022, 12, 4)
    add(db, 1, "A", 2023, 1, 3)
    add(db, 1, "B", 2023, 12, 5)
    add(db, 2, "C", 2023, 6, 2)
    add(db, 1, "D", 2023, 6, 9, skipped=1)  # skips never count
    recap = build_recap(db, [1], 2023)
    assert recap.monthly_plays == [3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5]  # what a month-by-month chart draws
    assert recap.plays == 8 and recap.minutes == 24  # no length of its own: the song's (3 minutes)
    assert recap.busiest_month == 12 and recap.previous_plays == 4 and recap.change_percent == 100
    assert [a.name for a in recap.new_artists] == ["B"]
    both = build_recap(db, [1, 2], 2023)
    assert both.plays == 10 and both.listeners == 2 and both.monthly_plays[5] == 2
    with pytest.raises(NotEnoughData):
        build_recap(db, [1], 2021)


def test_plays_of_songs_without_a_known_length_count_as_average_songs(db: Database) -> None:
    db.ensure_user(1)
    tid = local_id(track_key("Кино", "Кукушка"))  # as a Last.fm scrobble makes it: names only, no length
    db.upsert_tracks([{"track_id": tid, "name": "Кукушка", "artist_name": "Кино"}])
    start = calendar.timegm((2023, 3, 1, 0, 0, 0)) * 1000
    db.insert_plays(1, [(start + i * 3_600_000, tid, None, "lastfm", 0) for i in range(20)])
    recap = build_recap(db, [1], 2023)
    assert recap.plays == 20 and recap.minutes == 70  # 20 plays of an average 3.5-minute song, not 0 minutes
