"""The taste score in two steps gives exactly what the engine's taste_match gives, and ranks a server by it."""

from __future__ import annotations

import random

from utils.community.affinity import MemberTaste, closest, match, profile
from utils.engine.group import taste_match


def random_weights(rng: random.Random, keys: int) -> dict[str, float]:
    return {f"k{rng.randrange(60)}": rng.uniform(0.01, 40.0) for _ in range(keys)}


def test_match_is_the_engine_taste_match() -> None:
    rng = random.Random(7)
    for _ in range(300):
        a, b = random_weights(rng, rng.randrange(0, 40)), random_weights(rng, rng.randrange(0, 40))
        assert match(profile(a), profile(b)) == taste_match(a, b)


def test_closest_ranks_by_score_and_leaves_out_who_shares_nothing() -> None:
    def taste(weights: dict[str, float]) -> MemberTaste:
        return MemberTaste(profile(weights), profile({}))

    tastes = {1: taste({"a": 5, "b": 3, "c": 1}), 2: taste({"a": 5, "b": 3, "c": 1}), 3: taste({"a": 1, "z": 9}),
              4: taste({"y": 2}), 5: taste({})}
    found = closest(tastes, 1)
    assert [member for member, _ in found] == [2, 3]
    assert found[0][1].score == 70 and found[0][1].artists[:2] == ["a", "b"]  # artists are 70% of the score


async def test_profiles_are_shared_dropped_one_by_one_and_reread_on_a_new_day(tmp_path) -> None:
    from database import Database
    from storage.keys import local_id, track_key
    from utils.community.affinity import DAY, TasteProfiles
    from utils.workers import EngineWorkers

    db = Database(tmp_path / "bot.db").open()
    workers = EngineWorkers()
    try:
        for member, artist in ((1, "A"), (2, "A"), (3, "B")):
            db.ensure_user(member)
            tid = local_id(track_key(artist, "song"))
            db.upsert_tracks([{"track_id": tid, "name": "song", "artist_name": artist}])
            db.insert_plays(member, [(1_700_000_000_000 + i, tid, 1000, "import", 0) for i in range(5)])
        profiles = TasteProfiles(db, workers)
        now = 1_700_100_000.0
        first = await profiles.get(9, [1, 2, 3], now)
        assert (await profiles.get(9, [1, 2], now))[1] is first[1]  # kept: /taste reads what /affinity read
        profiles.forget(2)
        again = await profiles.get(9, [1, 2, 3], now)
        assert again[1] is first[1] and again[2] is not first[2]  # only the changed member is read again
        tomorrow = await profiles.get(9, [1, 2, 3], now + DAY)
        assert tomorrow[1] is first[1]  # yesterday's answer while today's are read in the background
        await profiles.settled()
        assert (await profiles.get(9, [1], now + DAY))[1] is not first[1]
    finally:
        workers.close()
        db.close()
