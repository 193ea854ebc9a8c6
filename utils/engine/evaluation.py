"""Offline evaluation of the engine: TSV loading, per-user k-fold splits, metrics and the CLI body.

Run it as `python -m utils.recommendations evaluate ...` (see `main`). Metrics use binary relevance:
a held-out item is relevant; every item the user has not played in training is ranked.
precision@k = hits / k, recall@k = hits / held-out items, nDCG@k with ideal DCG over min(k, held-out).
Coverage = share of training items that appear in at least one user's top k.
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
import scipy.linalg

from utils.engine.algorithms import ItemCF, ListenerRidge, Popularity, Recommender, UserKNN
from utils.engine.data import Context, Interactions, Query
from utils.engine.hybrid import Hybrid

Triple = tuple[str, str, float]


class EASE(Recommender):
    """Reference baseline (Steck 2019), for the evaluation table only: dense items x items, not for the bot."""

    name = "ease"
    source = "ease"

    def __init__(self, lam: float = 50.0, min_listeners: int = 2) -> None:
        super().__init__()
        self.lam = lam
        self.min_listeners = min_listeners

    def _fit(self, data: Interactions) -> None:
        binary = data.matrix.tocsc(copy=True)
        binary.data[:] = 1.0
        self.keep = np.flatnonzero(np.diff(binary.indptr) >= self.min_listeners)
        sub = binary[:, self.keep]
        gram = (sub.T @ sub).toarray()
        gram[np.diag_indices_from(gram)] += self.lam
        inv = scipy.linalg.inv(gram, overwrite_a=True, check_finite=False)
        weights = inv / -np.diag(inv)
        np.fill_diagonal(weights, 0.0)
        self.weights = weights.astype(np.float32)

    def scores(self, query: Query, ctx: Context) -> np.ndarray:
        out = np.zeros(len(query.vector))
        out[self.keep] = (query.vector[self.keep] > 0).astype(np.float32) @ self.weights
        return out


ALGORITHMS: dict[str, Callable[[], Recommender]] = {
    "popularity": Popularity,
    "item_cf": ItemCF,
    "user_knn": UserKNN,
    "ridge": ListenerRidge,
    "hybrid": Hybrid,
    "ease": EASE,
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


def evaluate_split(
    train: Sequence[Triple], test: Sequence[Triple], names: Iterable[str], k: int
) -> dict[str, dict]:
    """Fit each algorithm on `train`, rank for every user with held-out items; raw per-fold results."""
    data = Interactions.from_triples(train)
    held: dict[str, set[str]] = {}
    for user, item, _ in test:
        held.setdefault(user, set()).add(item)
    out: dict[str, dict] = {}
    for name in names:
        model = ALGORITHMS[name]()
        start = time.perf_counter()
        model.fit(data)
        fit_seconds = time.perf_counter() - start
        scores, times, recs, seen = [], [], {}, set()
        for user, relevant in held.items():
            t0 = time.perf_counter()
            ranked = [r.item for r in model.recommend(user, k)]
            times.append(time.perf_counter() - t0)
            scores.append(ranking_metrics(ranked, relevant, k))
            recs[user] = ranked
            seen.update(ranked)
        out[name] = {
            "metrics": np.array(scores),
            "times": np.array(times),
            "fit_seconds": fit_seconds,
            "coverage": len(seen & set(data.item_index)) / max(1, len(data.items)),
            "recs": recs,
        }
    return out


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
        "fit_seconds": round(float(np.mean([r["fit_seconds"] for r in runs])), 3),
        "rec_ms_p50": round(float(np.percentile(times, 50)), 3),
        "rec_ms_p99": round(float(np.percentile(times, 99)), 3),
        "users": len(runs[0]["metrics"]),
    }
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
    args = parser.parse_args(argv)

    names = [n.strip() for n in args.algorithms.split(",") if n.strip()]
    unknown = [n for n in names if n not in ALGORITHMS]
    if unknown:
        parser.error(f"unknown algorithm(s): {', '.join(unknown)}")
    if args.data:
        triples = read_triples(args.data)
        fold_of = assign_folds(triples, args.folds, args.seed)
        chosen = parse_folds(args.eval_folds, args.folds)
        splits = [
            ([t for t, f in zip(triples, fold_of, strict=True) if f != fold],
             [t for t, f in zip(triples, fold_of, strict=True) if f == fold])
            for fold in chosen
        ]
    elif args.train and args.test:
        splits, chosen = [(read_triples(args.train), read_triples(args.test))], None
    else:
        parser.error("give --train and --test, or --data")
    runs: dict[str, list[dict]] = {n: [] for n in names}
    for train, test in splits:
        for name, result in evaluate_split(train, test, names, args.k).items():
            runs[name].append(result)
    for name in names:
        if args.recs_out:
            write_recs(args.recs_out, name, runs[name][0]["recs"])
        print(json.dumps(summarise(name, runs[name], args.k, chosen)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
