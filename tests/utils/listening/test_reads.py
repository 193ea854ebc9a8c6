"""The community model's bulk read gives every member the same track weights as the per-member formula."""

from __future__ import annotations

import time

import pytest

from database import Database
from utils.engine.data import Interactions
from utils.listening.reads import interaction_weights, member_listening, track_weight_arrays

DAY_MS = 86_400_000


def song(track_id: str, artist: str, title: str) -> dict[str, object]:
    return {"track_id": track_id, "name": title, "artist_id": None, "artist_name": artist, "album_name": "Album",
            "duration_ms": 200_000}


def small_world(db: Database, now_ms: int) -> list[int]:
    """Members with top lists, plays in every age band, skips, a song stored under two ids, and one with nothing."""
    db.upsert_tracks([song("t1", "Band", "One"), song("t2", "Band", "Two"), song("t3", "Other", "Three"),
                      song("lfm:one", "Band", "One"), song("t4", "Quiet", "Four")])
    for member in (1, 2, 3, 4):
        db.ensure_user(member, f"member{member}")
    ages = (1, 20, 45, 100, 200, 400, 800, 1500)  # days: one or more plays in each of the six bands
    db.insert_plays(1, [(now_ms - age * DAY_MS, "t1", 180_000, "spotify", 0) for age in ages]
                    + [(now_ms - 3 * DAY_MS, "lfm:one", 180_000, "lastfm", 0),  # the same song, another id
                       (now_ms - 5 * DAY_MS, "t2", 10_000, "spotify", 1),  # a skip: never counted
                       (now_ms - 6 * DAY_MS, "t3", 180_000, "spotify", 0)])
    db.insert_plays(2, [(now_ms - age * DAY_MS - k, "t3", 180_000, "spotify", 0) for age in ages[:3] for k in range(3)])
    with db.transaction() as conn:
        conn.executemany("INSERT INTO top_tracks (discord_id, time_range, rank, track_id) VALUES (?, ?, ?, ?)",
                         [(1, "short_term", 1, "t2"), (1, "short_term", 2, "t1"), (1, "long_term", 1, "t1"),
                          (3, "medium_term", 1, "t4"), (3, "medium_term", 2, "t3")])
    return [1, 2, 3, 4]


def as_dicts(arrays: object) -> dict[int, dict[str, float]]:
    data = Interactions.from_arrays(arrays.rows, arrays.cols, arrays.weights, arrays.members, arrays.items)  # type: ignore[attr-defined]
    return {member: data.history_of(member) for member in data.users}  # type: ignore[misc]


def test_the_bulk_read_gives_the_same_weights_as_the_per_member_formula(db: Database) -> None:
    now = time.time()
    members = small_world(db, int(now * 1000))
    expected = interaction_weights(db, members, "tracks", now)
    got = as_dicts(track_weight_arrays(db, members, now))
    assert set(got) == set(expected) == {1, 2, 3}  # member 4 has no listening: no row
    for member, weights in expected.items():
        assert got[member] == pytest.approx(weights, rel=1e-12)
    assert "band - two" in got[1]  # from the top list only: the skipped play adds nothing


def test_the_bulk_read_takes_members_a_slice_at_a_time(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("utils.listening.reads.MEMBERS_PER_READ", 2)
    now = time.time()
    members = small_world(db, int(now * 1000))
    got = as_dicts(track_weight_arrays(db, [4, 3, 2, 1, 1], now))
    expected = interaction_weights(db, members, "tracks", now)
    assert set(got) == set(expected)
    for member, weights in expected.items():
        assert got[member] == pytest.approx(weights, rel=1e-12)


def test_nobody_with_listening_gives_empty_arrays(db: Database) -> None:
    db.ensure_user(9, "quiet")
    arrays = track_weight_arrays(db, [9], time.time())
    assert arrays.members == [] and len(arrays.weights) == 0


def test_a_song_id_with_a_comma_still_counts_once_per_listen(db: Database) -> None:
    now = time.time()
    now_ms = int(now * 1000)
    db.upsert_tracks([song("odd,id", "Band", "Odd"), song("t1", "Band", "One")])
    db.ensure_user(1, "member1")
    db.insert_plays(1, [(now_ms - 2 * DAY_MS, "odd,id", 180_000, "spotify", 0),
                        (now_ms - 40 * DAY_MS, "odd,id", 180_000, "spotify", 0),
                        (now_ms - 3 * DAY_MS, "t1", 180_000, "spotify", 0)])
    got = as_dicts(track_weight_arrays(db, [1], now))
    assert got[1] == pytest.approx(interaction_weights(db, [1], "tracks", now)[1], rel=1e-12)
    assert set(got[1]) == {"band - odd", "band - one"}


def test_one_members_single_read_gives_each_kinds_weights(db: Database) -> None:
    """What /recommend reads for one member (tracks and artists from one pass over their listens) is what each kind's
    own read gives, to the last bit, also for a song whose listens are filed under two artists."""
    now = time.time()
    now_ms = int(now * 1000)
    members = small_world(db, now_ms)
    db.upsert_artists([{"artist_id": "ar2", "name": "Band & Friends"}])
    db.upsert_tracks([{**song("t6", "Band", "One"), "artist_id": "ar2"}])  # "band - one" again, another artist
    db.insert_plays(1, [(now_ms - age * DAY_MS, "t6", 180_000, "spotify", 0) for age in (2, 50, 300)])
    with db.transaction() as conn:
        conn.executemany("INSERT INTO top_artists (discord_id, time_range, rank, artist_id) VALUES (?, ?, ?, ?)",
                         [(1, "short_term", 1, "ar2")])
    for member in members:
        got = member_listening(db, member, now)
        tracks = interaction_weights(db, [member], "tracks", now).get(member, {})
        artists = interaction_weights(db, [member], "artists", now).get(member, {})
        assert got.track_weights == tracks and got.artist_weights == artists
        if db.dialect.name == "sqlite":  # its grouped reads come in key order: so do the weights (ties keep it)
            assert list(got.track_weights) == list(tracks) and list(got.artist_weights) == list(artists)
    assert set(member_listening(db, 1, now).artist_weights) == {"band", "other", "band friends"}
