"""Self-tuning: what it holds out, when it keeps the defaults, what it says, and that the parts score alike in batch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from utils.engine.algorithms import ItemCF, ListenerRidge, Popularity, UserKNN
from utils.engine.autotune import SelfTuner
from utils.engine.data import Context, Interactions, build_query
from utils.engine.evaluation import read_triples
from utils.engine.factors import EASE, IALS
from utils.engine.holdout import MIN_MEMBERS, hold_out, list_variety
from utils.engine.hybrid import DEFAULT_WEIGHTS, Hybrid, default_components
from utils.engine.tuning import tune

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "hetrec_sample.tsv"


def random_rows(users: int, items: int, density: float, seed: int) -> list[tuple[str, str, float]]:
    rng = np.random.default_rng(seed)
    return [(f"u{u}", f"i{i}", float(rng.integers(1, 50))) for u in range(users) for i in range(items)
            if rng.random() < density]


@pytest.fixture(scope="module")
def sample() -> Interactions:
    return Interactions.from_triples(read_triples(SAMPLE))


@pytest.fixture(scope="module")
def sample_report(sample):
    return tune(sample, default_components(), DEFAULT_WEIGHTS, budget_seconds=1.0)


@pytest.mark.parametrize("part", [Popularity(), ItemCF(alpha=0.7, beta=0.4), UserKNN(k=5, shrink=3.0),
                                  ListenerRidge(lam=20.0), ListenerRidge(lam=20.0, max_users=30), EASE(lam=10.0),
                                  IALS(factors=8)], ids=lambda p: f"{p.name}{p.settings()}")
def test_batch_scores_equal_one_member_at_a_time(part):
    data = Interactions.from_triples(random_rows(60, 120, 0.08, seed=1))
    part.fit(data)
    rows = np.array([0, 5, 17, 59])
    batch = part.batch_scores(rows)
    for pos, row in enumerate(rows):
        query = build_query(data, data.users[row], None, (), Context())
        np.testing.assert_allclose(batch[pos], part.scores(query, Context()), rtol=1e-5, atol=1e-7)


def test_ials_folds_in_a_member_it_was_not_fitted_on():
    data = Interactions.from_triples(random_rows(60, 120, 0.08, seed=2))
    model = IALS(factors=8).fit(data)
    stored = model.batch_scores(np.array([3]))[0]
    folded = model.scores(build_query(data, None, data.history_of("u3"), (), Context()), Context())
    assert np.corrcoef(stored, folded)[0, 1] > 0.99
    recs = model.recommend(None, 5, history=data.history_of("u3"))
    assert recs and not {r.item for r in recs} & set(data.history_of("u3"))


def test_hold_out_takes_each_members_most_recent_items_out_of_training():
    rows = [(f"u{u}", f"i{i}", 1.0, 1_000_000 + 100 * i + u) for u in range(12) for i in range(10)]
    data = Interactions.from_triples(rows)
    split = hold_out(data, seed=0)
    assert split is not None and len(split.rows) == 12
    newest = {data.item_index["i8"], data.item_index["i9"]}  # 20% of ten items: the two played last
    assert all(held == newest for held in split.relevant)
    for row, held in zip(split.rows, split.relevant, strict=True):
        kept = set(split.train.matrix[row].indices.tolist())
        assert not kept & held and len(kept) == 8


def test_without_play_times_the_held_out_slice_is_random_but_repeatable(sample):
    first, again = hold_out(sample, seed=4), hold_out(sample, seed=4)
    assert first is not None and again is not None
    assert first.relevant == again.relevant
    for row, held in zip(first.rows, first.relevant, strict=True):
        own = set(sample.matrix[row].indices.tolist())
        assert held <= own and 1 <= len(held) < len(own)


def test_a_community_too_small_to_tell_keeps_the_defaults_and_says_why():
    data = Interactions.from_triples(random_rows(MIN_MEMBERS - 1, 40, 0.5, seed=3))
    model = Hybrid(tune=True).fit(data)
    assert not model.tuning.tuned
    assert model.weights == DEFAULT_WEIGHTS
    assert model.tuning.summary() == f"Standard settings ({MIN_MEMBERS - 1} members with 5 or more songs; tuning needs 10)"


def test_tuning_on_real_listening_reports_its_choice_in_plain_words(sample, sample_report):
    report = sample_report
    assert report.members >= 290 and report.held_out > 1000  # a few sampled members have under 5 artists
    assert report.confidence in {"sure", "fairly sure", "none"}
    if report.tuned:
        assert report.score > report.default_score
        assert set(report.weights) >= set(DEFAULT_WEIGHTS) and any(w > 0 for w in report.weights.values())
        assert report.summary().startswith(f"Tuned on {report.members} members' recent listening")
        model = Hybrid(tuned=report).fit(sample)
        for part in model.components:
            for key, value in report.settings.get(part.name, {}).items():
                assert part.settings()[key] == value
    else:
        assert report.summary().startswith("Standard settings (")
    assert "hits per 100" in report.summary() or not report.tuned


def test_listening_without_any_pattern_keeps_the_defaults():
    data = Interactions.from_triples(random_rows(80, 300, 0.1, seed=5))
    report = tune(data, default_components(), DEFAULT_WEIGHTS, budget_seconds=1.0)
    assert not report.tuned and report.default_score == report.score


def test_self_tuner_answers_at_once_then_uses_the_tuning_on_the_next_fit(sample):
    tuner = SelfTuner(background=False, budget_seconds=0.5)
    first = tuner.fit(42, sample)
    assert not first.tuning.tuned and "not tuned to this server yet" in first.tuning.summary()
    report = tuner.report(42)
    assert report is not first.tuning and report.members >= 290
    second = tuner.fit(42, sample)
    assert second.tuning is report
    assert second.weights == (report.weights if report.tuned else DEFAULT_WEIGHTS)
    tuner.forget(42)
    assert "not tuned to this server yet" in tuner.report(42).summary()


def test_tuned_hybrid_never_suggests_what_a_member_knows(sample, sample_report):
    model = Hybrid(tuned=sample_report).fit(sample)
    user = sample.users[0]
    known = set(sample.history_of(user))
    recs = model.recommend(user, 10, exclude=["x"], context=Context())
    assert len(recs) == 10 and not {r.item for r in recs} & known
    assert all(r.reason for r in recs)


def test_self_tuner_tunes_in_the_background_without_holding_up_the_fit(sample):
    tuner = SelfTuner(budget_seconds=0.3, delay=0.0)
    model = tuner.fit("guild", sample)
    assert model.data is sample and not model.tuning.tuned  # served at once, with the standard settings
    tuner.wait(60)
    assert tuner.report("guild").members >= 290


def test_list_variety_is_zero_for_songs_played_by_the_same_members_and_one_for_strangers():
    rows = [(u, item, 1.0) for u in ("a", "b") for item in ("x", "y")] + [("c", "z", 1.0), ("d", "w", 1.0)]
    data = Interactions.from_triples(rows)
    col = data.item_index
    same = np.array([[col["x"], col["y"], -1]])
    strangers = np.array([[col["x"], col["z"], col["w"]]])
    assert list_variety(data, same) == pytest.approx(0.0)
    assert list_variety(data, strangers) == pytest.approx(1.0)
    assert list_variety(data, np.vstack([same, strangers])) == pytest.approx(0.5)
