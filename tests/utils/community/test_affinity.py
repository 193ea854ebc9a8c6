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
