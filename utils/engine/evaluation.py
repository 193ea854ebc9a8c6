"""Offline evaluation of the engine: TSV loading, per-user k-fold splits, metrics and the CLI body.

Run it as `python -m utils.recommendations evaluate ...` (see `main`). Metrics use binary relevance:
a held-out item is relevant; every item the user has not played in training is ranked.
precision@k = hits / k, recall@k = hits / held-out items, nDCG@k with ideal DCG over min(k, held-out).
Beyond accuracy: coverage = share of training items that appear in at least one user's top k;
novelty = mean popularity rank of what is suggested (1 = the item most members play; higher is less
obvious); variety = 1 - mean cosine similarity (over who plays them) of the pairs within each list.
`--tune` fits the hybrid with self-tuning, which holds its slice out of TRAIN only, never TEST.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from utils.engine.algorithms import ItemCF, ListenerRidge, Popularity, Recommender, UserKNN
from utils.engine.data import Interactions
from utils.engine.factors import EASE, IALS
from utils.engine.hybrid import Hybrid
from utils.engine.numerics import binarise, item_listeners, safe_inverse

Triple = tuple[str, str, float]


# The reference baselines at their best settings on HetRec (grid on fold 0 of an 80/20 split, seed 0).
BEST_ON_HETREC: dict[str, dict[str, float]] = {"ease": {"lam": 100.0}, "rp3beta": {"alpha": 0.8, "beta": 0.4}}

ALGORITHMS: dict[str, Callable[[], Recommender]] = {
    "popularity": Popularity,
    "item_cf": ItemCF,
    "user_knn": UserKNN,
    "ridge": ListenerRidge,
    "hybrid": Hybrid,
    "ease": lambda: EASE(**BEST_ON_HETREC["ease"]),
    "rp3beta": lambda: ItemCF(**BEST_ON_HETREC["rp3beta"]),
    "ials": IALS,
}


def read_triples(path: str | os.PathLike[str]) -> list[Triple]:
    """user<TAB>item<TAB>weight lines (extra columns ignored); a non-numeric first line is a header."""
    rows: list[Triple] = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh):
            parts = line.rstrip("\r\n").split("\t")
            if len(parts) < 3 or not parts[0]:
                continue
            try:
                weight = float(parts[2])
            except ValueError:
                if n == 0:
                    continue
                raise ValueError(f"{path}: line {n + 1}: weight {parts[2]!r} is not a number") from None
            rows.append((parts[0], parts[1], weight))
    return rows


def assign_folds(triples: Sequence[Triple], folds: int, seed: int) -> np.ndarray:
    """Fold number per row: each user's items are shuffled and dealt round-robin, so fold f holds ~1/folds of each."""
    rng = np.random.default_rng(seed)
    users = np.unique([t[0] for t in triples], return_inverse=True)[1]
    order = np.lexsort((rng.random(len(triples)), users))
    sorted_users = users[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_users)) + 1]
    position = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    offset = rng.integers(0, folds, size=users.max() + 1 if len(users) else 0)
    fold = np.empty(len(triples), dtype=np.int64)
    fold[order] = (position + offset[sorted_users]) % folds
    return fold


def ranking_metrics(ranked: Sequence[str], relevant: set[str], k: int) -> tuple[float, float, float]:
    """(precision@k, recall@k, nDCG@k) with binary relevance."""
    hits = [1.0 if item in relevant else 0.0 for item in ranked[:k]]
    n_hits = sum(hits)
    dcg = sum(h / np.log2(i + 2) for i, h in enumerate(hits))
    ideal = sum(1.0 / np.log2(i + 2) for i in range(min(k, len(relevant))))
    return n_hits / k, n_hits / len(relevant), dcg / ideal if ideal else 0.0


def make_model(name: str, tune: bool = False) -> Recommender:
    """A fresh model by evaluation name; with `tune`, the hybrid tunes itself when it is fitted."""
    return Hybrid(tune=True) if name == "hybrid" and tune else ALGORITHMS[name]()


class BeyondAccuracy:
    """Novelty and variety of ranked lists, measured against the training data."""

    def __init__(self, data: Interactions) -> None:
        listeners = item_listeners(data.matrix)
        order = np.argsort(-listeners, kind="stable")
        self.rank = np.empty(len(order), dtype=np.int64)
        self.rank[order] = np.arange(1, len(order) + 1)
        binary = binarise(data.matrix).tocsc()
        self.normed = sp.csc_matrix(binary @ sp.diags(safe_inverse(np.sqrt(listeners))))
        self.index = data.item_index

    def novelty(self, ranked: Sequence[str]) -> float:
        """Mean popularity rank of the list (1 = most played by members)."""
        cols = [self.index[i] for i in ranked if i in self.index]
        return float(self.rank[cols].mean()) if cols else float("nan")

    def variety(self, ranked: Sequence[str]) -> float:
        """1 - mean cosine similarity of the list's pairs (0: all played by the same members; 1: no overlap)."""
        cols = [self.index[i] for i in ranked if i in self.index]
        if len(cols) < 2:
            return float("nan")
        sub = self.normed[:, cols]
        sims = (sub.T @ sub).toarray()
        n = len(cols)
        return 1.0 - float((sims.sum() - np.trace(sims)) / (n * (n - 1)))


def evaluate_split(
    train: Sequence[Triple], test: Sequence[Triple], names: Iterable[str], k: int, *, tune: bool = False
) -> dict[str, dict]:
    """Fit each algorithm on `train`, rank for every user with held-out items; raw per-fold results."""
    data = Interactions.from_triples(train)
    held: dict[str, set[str]] = {}
    for user, item, _ in test:
        held.setdefault(user, set()).add(item)
    beyond = BeyondAccuracy(data)
    out: dict[str, dict] = {}
    for name in names:
        model = make_model(name, tune)
        start = time.perf_counter()
        model.fit(data)
        fit_seconds = time.perf_counter() - start
        scores, times, recs, seen, novelty, variety = [], [], {}, set(), [], []
        for user, relevant in held.items():
            t0 = time.perf_counter()
            ranked = [r.item for r in model.recommend(user, k)]
            times.append(time.perf_counter() - t0)
            scores.append(ranking_metrics(ranked, relevant, k))
            novelty.append(beyond.novelty(ranked))
            variety.append(beyond.variety(ranked))
            recs[user] = ranked
            seen.update(ranked)
        out[name] = {
            "metrics": np.array(scores),
            "times": np.array(times),
            "fit_seconds": fit_seconds,
            "coverage": len(seen & set(data.item_index)) / max(1, len(data.items)),
            "novelty": float(np.nanmean(novelty)) if novelty else float("nan"),
            "variety": float(np.nanmean(variety)) if variety else float("nan"),
            "recs": recs,
        }
        if isinstance(model, Hybrid) and model.tune:
            out[name]["tuning"] = model.tuning
    return out


def heaviest(triples: Sequence[Triple], n: int) -> list[Triple]:
    """Only the rows of the n members with the most plays (the sum of their weights)."""
    totals: dict[str, float] = {}
    for user, _, weight in triples:
        totals[user] = totals.get(user, 0.0) + weight
    keep = set(sorted(totals, key=lambda u: (-totals[u], u))[:n])
    return [t for t in triples if t[0] in keep]


def write_recs(directory: Path, name: str, recs: dict[str, list[str]]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / f"{name}.tsv", "w", encoding="utf-8") as fh:
        fh.write("user\titem\trank\n")
        for user, items in recs.items():
            for rank, item in enumerate(items, start=1):
                fh.write(f"{user}\t{item}\t{rank}\n")


def summarise(name: str, runs: list[dict], k: int, folds: list[int] | None) -> dict:
    metrics = np.vstack([r["metrics"] for r in runs])
    per_fold = np.array([r["metrics"].mean(axis=0) for r in runs])
    times = np.concatenate([r["times"] for r in runs]) * 1000
    line = {
        "algorithm": name,
        "k": k,
        f"precision@{k}": round(float(metrics[:, 0].mean()), 4),
        f"recall@{k}": round(float(metrics[:, 1].mean()), 4),
        f"ndcg@{k}": round(float(metrics[:, 2].mean()), 4),
        "coverage": round(float(np.mean([r["coverage"] for r in runs])), 4),
        "novelty": round(float(np.mean([r["novelty"] for r in runs])), 1),
        "variety": round(float(np.mean([r["variety"] for r in runs])), 4),
        "fit_seconds": round(float(np.mean([r["fit_seconds"] for r in runs])), 3),
        "rec_ms_p50": round(float(np.percentile(times, 50)), 3),
        "rec_ms_p99": round(float(np.percentile(times, 99)), 3),
        "users": len(runs[0]["metrics"]),
    }
    if "tuning" in runs[0]:
        reports = [r["tuning"] for r in runs]
        line["tuning"] = [t.summary() for t in reports]
        line["tuned_with"] = [{"weights": t.weights, "settings": t.settings, "confidence": t.confidence}
                              for t in reports]
    if folds is not None:
        line["folds"] = folds
        line[f"precision@{k}_fold_std"] = round(float(per_fold[:, 0].std()), 4)
    return line


def parse_folds(text: str | None, folds: int) -> list[int]:
    if not text:
        return list(range(folds))
    chosen: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        chosen.extend(range(int(lo), int(hi or lo) + 1))
    if any(f < 0 or f >= folds for f in chosen):
        raise SystemExit(f"--eval-folds must name folds between 0 and {folds - 1}")
    return chosen


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m utils.recommendations", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    ev = sub.add_parser("evaluate", help="offline accuracy, coverage and speed; one JSON line per algorithm")
    ev.add_argument("--train", help="user<TAB>item<TAB>weight file to fit on")
    ev.add_argument("--test", help="user<TAB>item<TAB>weight file of held-out items")
    ev.add_argument("--data", help="one file to split per user (HetRec user_artists.dat works as is)")
    ev.add_argument("--folds", type=int, default=5, help="per-user folds; each holds out 1/folds of a user's items")
    ev.add_argument("--eval-folds", help="which folds to report, e.g. 1-9 (default: all)")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--k", type=int, default=10)
    ev.add_argument("--algorithms", default=",".join(ALGORITHMS), help="comma-separated, from: " + ", ".join(ALGORITHMS))
    ev.add_argument("--recs-out", type=Path, help="write DIR/ALGORITHM.tsv (with --data: of the first reported fold)")
    ev.add_argument("--tune", action="store_true",
                    help="the hybrid tunes itself on a slice of TRAIN (never TEST); fit_seconds includes it")
    ev.add_argument("--heaviest", type=int, metavar="N", help="keep only the N members with the most plays")
    args = parser.parse_args(argv)

    names = [n.strip() for n in args.algorithms.split(",") if n.strip()]
    unknown = [n for n in names if n not in ALGORITHMS]
    if unknown:
        parser.error(f"unknown algorithm(s): {', '.join(unknown)}")
    if args.data:
        triples = read_triples(args.data)
        if args.heaviest:
            triples = heaviest(triples, args.heaviest)
        fold_of = assign_folds(triples, args.folds, args.seed)
        chosen = parse_folds(args.eval_folds, args.folds)
        splits = [
            ([t for t, f in zip(triples, fold_of, strict=True) if f != fold],
             [t for t, f in zip(triples, fold_of, strict=True) if f == fold])
            for fold in chosen
        ]
    elif args.train and args.test:
        train, test = read_triples(args.train), read_triples(args.test)
        if args.heaviest:
            train = heaviest(train, args.heaviest)
            kept = {t[0] for t in train}
            test = [t for t in test if t[0] in kept]
        splits, chosen = [(train, test)], None
    else:
        parser.error("give --train and --test, or --data")
    runs: dict[str, list[dict]] = {n: [] for n in names}
    for train, test in splits:
        for name, result in evaluate_split(train, test, names, args.k, tune=args.tune).items():
            runs[name].append(result)
    for name in names:
        if args.recs_out:
            write_recs(args.recs_out, name, runs[name][0]["recs"])
        print(json.dumps(summarise(name, runs[name], args.k, chosen)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
