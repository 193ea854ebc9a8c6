"""Offline evaluation on a HetRec Last.fm sample (tests/data): collaborative algorithms beat popularity."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from utils.engine.data import Interactions
from utils.engine.evaluation import (
    BeyondAccuracy,
    assign_folds,
    evaluate_split,
    heaviest,
    main,
    ranking_metrics,
    read_triples,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "hetrec_sample.tsv"
FULL = Path(__file__).resolve().parents[4] / "shared" / "reference" / "hetrec-lastfm-2k" / "user_artists.dat"


@pytest.fixture(scope="module")
def sample_split():
    triples = read_triples(DATA)
    folds = assign_folds(triples, 5, seed=0)
    train = [t for t, f in zip(triples, folds, strict=True) if f != 0]
    test = [t for t, f in zip(triples, folds, strict=True) if f == 0]
    return train, test


def test_reads_hetrec_header_and_rows():
    triples = read_triples(DATA)
    assert len(triples) == 14768
    assert triples[0][0].isdigit() and triples[0][2] > 0


def test_folds_hold_out_a_fifth_of_each_users_items():
    triples = read_triples(DATA)
    folds = assign_folds(triples, 5, seed=0)
    user_rows = [i for i, t in enumerate(triples) if t[0] == triples[0][0]]
    counts = np.bincount(folds[user_rows], minlength=5)
    assert counts.max() - counts.min() <= 1
    assert np.array_equal(folds, assign_folds(triples, 5, seed=0))


def test_ranking_metrics_binary_relevance():
    p, r, n = ranking_metrics(["a", "x", "b"], {"a", "b"}, 2)
    assert p == 0.5 and r == 0.5
    assert 0 < n < 1
    assert ranking_metrics(["a", "b"], {"a", "b"}, 2)[2] == pytest.approx(1.0)


def test_each_collaborative_algorithm_beats_popularity(sample_split):
    train, test = sample_split
    results = evaluate_split(train, test, ["popularity", "item_cf", "user_knn", "ridge", "hybrid"], k=10)
    precision = {name: r["metrics"][:, 0].mean() for name, r in results.items()}
    ndcg = {name: r["metrics"][:, 2].mean() for name, r in results.items()}
    for name in ("item_cf", "user_knn", "ridge", "hybrid"):
        assert precision[name] > 1.5 * precision["popularity"], (name, precision)
        assert ndcg[name] > ndcg["popularity"], (name, ndcg)
    train_items = {(u, i) for u, i, _ in train}
    for user, items in results["hybrid"]["recs"].items():
        assert not any((user, item) in train_items for item in items)


def test_cli_prints_one_json_line_per_algorithm_and_writes_recs(tmp_path, capsys):
    triples = read_triples(DATA)[:3000]
    train, test = tmp_path / "train.tsv", tmp_path / "test.tsv"
    train.write_text("user\titem\tweight\n" + "".join(f"{u}\t{i}\t{w}\n" for u, i, w in triples[::2]))
    test.write_text("".join(f"{u}\t{i}\t{w}\n" for u, i, w in triples[1::2]))
    out_dir = tmp_path / "recs"
    code = main(["evaluate", "--train", str(train), "--test", str(test), "--k", "5",
                 "--algorithms", "popularity,hybrid", "--recs-out", str(out_dir)])
    assert code == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["algorithm"] for x in lines] == ["popularity", "hybrid"]
    for key in ("precision@5", "recall@5", "ndcg@5", "coverage", "fit_seconds", "rec_ms_p50", "rec_ms_p99"):
        assert key in lines[1]
    rows = (out_dir / "hybrid.tsv").read_text().splitlines()
    assert rows[0] == "user\titem\trank"
    assert rows[1].split("\t")[2] == "1"


def test_cli_splits_data_by_itself(capsys):
    assert main(["evaluate", "--data", str(DATA), "--folds", "5", "--eval-folds", "1",
                 "--algorithms", "popularity"]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["folds"] == [1] and line["users"] > 250


@pytest.mark.skipif(not FULL.exists(), reason="../shared/reference/hetrec-lastfm-2k is not present beside this checkout")
def test_full_hetrec_file_is_accepted_as_data():
    triples = read_triples(FULL)
    assert len(triples) == 92834


def test_novelty_and_variety_of_a_list():
    data = Interactions.from_triples([("a", "hit", 1), ("b", "hit", 1), ("c", "hit", 1), ("a", "twin", 1), ("b", "twin", 1),
                                      ("c", "twin", 1), ("d", "rare", 1)])
    beyond = BeyondAccuracy(data)
    assert beyond.novelty(["hit"]) == 1.0 and beyond.novelty(["rare"]) == 3.0
    assert beyond.variety(["hit", "twin"]) == pytest.approx(0.0)  # played by exactly the same members
    assert beyond.variety(["hit", "rare"]) == pytest.approx(1.0)  # nobody plays both


def test_heaviest_keeps_the_members_with_the_most_plays():
    rows = [("a", "x", 5.0), ("a", "y", 5.0), ("b", "x", 20.0), ("c", "x", 1.0)]
    assert heaviest(rows, 2) == [("a", "x", 5.0), ("a", "y", 5.0), ("b", "x", 20.0)]


def test_cli_tune_reports_what_the_hybrid_chose_and_beyond_accuracy_figures(capsys):
    assert main(["evaluate", "--data", str(DATA), "--folds", "5", "--eval-folds", "0", "--heaviest", "120",
                 "--algorithms", "item_cf,hybrid", "--tune"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["algorithm"] for x in lines] == ["item_cf", "hybrid"]
    assert lines[1]["users"] == 120
    for line in lines:
        assert line["novelty"] > 1 and 0 < line["variety"] <= 1 and 0 < line["coverage"] <= 1
    assert "tuning" not in lines[0]
    (summary,) = lines[1]["tuning"]
    assert summary.startswith(("Tuned on", "Standard settings ("))
    (chosen,) = lines[1]["tuned_with"]
    assert chosen["confidence"] in {"sure", "fairly sure", "none"}
