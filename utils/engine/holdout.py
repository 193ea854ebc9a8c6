"""What tuning measures with: held-out splits of a community's listening, each part's candidates for the
held-out members, and the blend of those candidates scored for any set of weights in one pass.

Imports: numpy/scipy and the engine's own modules only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from utils.engine.algorithms import Popularity
from utils.engine.base import Recommender
from utils.engine.data import Interactions
from utils.engine.numerics import binarise, safe_inverse, top_per_row

MIN_MEMBERS = 10  # members with MIN_ITEMS items or more; fewer keeps the defaults
MIN_ITEMS = 5
HOLDOUT = 0.2  # share of each sampled member's items held out
MAX_SAMPLED = 300  # members scored per setting: enough to rank settings, cheap enough for the budget


@dataclass
class Slice:
    """The held-out split: training data, sampled members' rows, their held-out columns."""

    train: Interactions
    rows: np.ndarray
    relevant: list[set[int]]
    played: sp.csr_matrix  # the sampled members' training rows (never recommended)

    @property
    def held_out(self) -> int:
        return sum(len(r) for r in self.relevant)


def hold_out(data: Interactions, seed: int = 0, share: float = HOLDOUT, sample: int = MAX_SAMPLED) -> Slice | None:
    """Hold out each sampled member's most recent `share` of items (random when the data has no play times)."""
    rng = np.random.default_rng(seed)
    counts = np.diff(data.matrix.indptr)
    eligible = np.flatnonzero(counts >= MIN_ITEMS)
    if len(eligible) < MIN_MEMBERS:
        return None
    rows = np.sort(rng.choice(eligible, size=min(sample, len(eligible)), replace=False))
    matrix = data.matrix.copy()
    keep = np.ones(matrix.nnz, dtype=bool)
    relevant: list[set[int]] = []
    for row in rows:
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        n_out = max(1, round(share * (end - start)))
        if data.last_seen is not None:
            order = np.argsort(-data.last_seen[start:end], kind="stable")  # most recent first
        else:
            order = rng.permutation(end - start)
        out = start + order[:n_out]
        keep[out] = False
        relevant.append(set(matrix.indices[out].tolist()))
    matrix.data = np.where(keep, matrix.data, 0.0)
    matrix.eliminate_zeros()
    train = Interactions(matrix, data.users, data.items)
    return Slice(train, rows, relevant, train.matrix[rows])


@dataclass
class Holdouts:
    """One or more held-out splits (small servers get several, so a choice rests on more than a few plays)."""

    reps: list[Slice]

    @property
    def relevant(self) -> list[set[int]]:
        return [r for rep in self.reps for r in rep.relevant]

    @property
    def member_of(self) -> np.ndarray:
        """The member (matrix row) behind each scored list."""
        return np.concatenate([rep.rows for rep in self.reps])

    @property
    def members(self) -> int:
        return len(np.unique(self.member_of))

    @property
    def held_out(self) -> int:
        return sum(rep.held_out for rep in self.reps)


def hold_outs(data: Interactions, seed: int = 0) -> Holdouts | None:
    """Up to three held-out splits for a server of fewer than `MAX_SAMPLED` members, so about 2 * `MAX_SAMPLED`
    lists are scored; one split for bigger ones, and when the data has play times (the most recent slice is the
    same every time)."""
    first = hold_out(data, seed)
    if first is None:
        return None
    if data.last_seen is not None or len(first.rows) >= MAX_SAMPLED:
        return Holdouts([first])
    repeats = max(1, min(3, 2 * MAX_SAMPLED // len(first.rows)))
    return Holdouts([first] + [s for r in range(1, repeats) if (s := hold_out(data, seed + r)) is not None])


@dataclass
class Candidates:
    """One part's top candidates for the sampled members: columns and scores scaled to 0..1 per member."""

    cols: np.ndarray
    vals: np.ndarray


def candidates(model: Recommender, split: Slice, pool: int) -> Candidates:
    """The part's `pool` best unplayed items per sampled member, as the hybrid's fusion sees them."""
    played = split.played
    if isinstance(model, Popularity):  # one list for everyone: rank it once, then drop each member's own
        return popular_candidates(model.popularity, split, pool)
    scores = model.batch_scores(split.rows)
    scores[np.repeat(np.arange(len(split.rows)), np.diff(played.indptr)), played.indices] = -np.inf
    cols = top_per_row(scores, pool)
    vals = np.take_along_axis(scores, cols, axis=1)
    vals = np.where(np.isfinite(vals) & (vals > 0), vals, 0.0)
    top = vals[:, :1]
    vals = np.divide(vals, top, out=np.zeros_like(vals), where=top > 0)
    return Candidates(cols, vals)


def popular_candidates(popularity: np.ndarray, split: Slice, pool: int) -> Candidates:
    widest = int(np.diff(split.played.indptr).max(initial=0))
    order = top_per_row(popularity[None, :], pool + widest)[0]
    order = order[popularity[order] > 0]
    cols = np.zeros((len(split.rows), pool), dtype=np.int64)
    vals = np.zeros((len(split.rows), pool))
    for pos in range(len(split.rows)):
        mine = split.played.indices[split.played.indptr[pos] : split.played.indptr[pos + 1]]
        left = order[~np.isin(order, mine)][:pool]
        cols[pos, : len(left)] = left
        if len(left):
            vals[pos, : len(left)] = popularity[left] / popularity[left[0]]
    return Candidates(cols, vals)


class Blend:
    """Every part's candidates on one shared column set per member, so a weight set scores in one pass."""

    def __init__(self, parts: Mapping[str, Candidates], relevant: Sequence[set[int]], k: int,
                 rows: np.ndarray | None = None) -> None:
        """`rows` picks some of the sampled members (their `relevant` sets are given in the same order)."""
        self.names = list(parts)
        self.k = k
        stacked = np.concatenate([parts[n].cols if rows is None else parts[n].cols[rows] for n in self.names], axis=1)
        vals = {n: parts[n].vals if rows is None else parts[n].vals[rows] for n in self.names}
        width = stacked.shape[1]
        self.values = np.zeros((len(self.names), stacked.shape[0], width))
        self.hit = np.zeros((stacked.shape[0], width), dtype=bool)
        self.columns = np.full((stacked.shape[0], width), -1, dtype=np.int64)  # item column of each position
        self.n_relevant = np.array([len(r) for r in relevant])
        for row in range(stacked.shape[0]):
            union, where = np.unique(stacked[row], return_inverse=True)
            offset = 0
            for p, name in enumerate(self.names):
                n = parts[name].cols.shape[1]
                np.add.at(self.values[p, row], where[offset:offset + n], vals[name][row])
                offset += n
            self.hit[row, : len(union)] = [c in relevant[row] for c in union]
            self.columns[row, : len(union)] = union
        self.discount = 1.0 / np.log2(np.arange(2, k + 2))
        ideal = np.cumsum(self.discount)
        self.ideal = ideal[np.minimum(self.n_relevant, k) - 1]

    def _top(self, weights: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
        """(positions of each member's top k, whether each is a real pick) for this weight set."""
        w = np.array([weights.get(n, 0.0) for n in self.names])
        fused = np.tensordot(w, self.values, axes=1)
        top = top_per_row(np.where(fused > 0, fused, -np.inf), self.k)
        return top, np.take_along_axis(fused, top, axis=1) > 0

    def hits(self, weights: Mapping[str, float]) -> np.ndarray:
        """Hits in each member's top k (member x rank) for this weight set."""
        top, picked = self._top(weights)
        return np.take_along_axis(self.hit, top, axis=1) & picked

    def lists(self, weights: Mapping[str, float]) -> np.ndarray:
        """Each member's top k as item columns (member x rank), -1 where there is no pick."""
        top, picked = self._top(weights)
        return np.where(picked, np.take_along_axis(self.columns, top, axis=1), -1)

    def score(self, weights: Mapping[str, float]) -> tuple[float, float]:
        """(precision@k, nDCG@k) averaged over members."""
        hits = self.hits(weights)
        return float(hits.sum() / hits.size), float(((hits @ self.discount) / self.ideal).mean())


def list_variety(data: Interactions, lists: np.ndarray) -> float:
    """Mean over lists of 1 - the mean cosine similarity (by who plays them) of the list's pairs of items."""
    valid = lists >= 0
    cols = np.unique(lists[valid])
    if len(cols) < 2:
        return 0.0
    sub = binarise(data.matrix)[:, cols].tocsc()
    norms = np.sqrt(np.diff(sub.indptr).astype(float))
    inverse = safe_inverse(norms)
    sims = (sub.T @ sub).toarray() * inverse[:, None] * inverse[None, :]
    index = np.searchsorted(cols, np.where(valid, lists, cols[0]))
    pairs = sims[index[:, :, None], index[:, None, :]]
    mask = valid[:, :, None] & valid[:, None, :] & ~np.eye(lists.shape[1], dtype=bool)[None]
    counts = mask.sum(axis=(1, 2))
    keep = counts > 0
    if not keep.any():
        return 0.0
    return float((1.0 - (pairs * mask).sum(axis=(1, 2))[keep] / counts[keep]).mean())
