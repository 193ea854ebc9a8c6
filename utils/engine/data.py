"""Interaction data for the engine: (user, item, weight) triples as a sparse CSR matrix with id maps.

Users listed in `private_users` never enter the matrix that models are fitted on: their rows are kept
aside (`private_history`) and only used to fold in their own recommendations.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

Item = Hashable
User = Hashable

DAY_SECONDS = 86_400.0


@dataclass(frozen=True, slots=True)
class Recommendation:
    """One ranked suggestion: `reason` is plain text a member can read, `source` names the algorithm."""

    item: Item
    score: float
    reason: str
    source: str


@dataclass(slots=True)
class Context:
    """What the caller knows beyond the listening matrix (labels, feedback, catalogue); all optional."""

    item_labels: Mapping[Item, str] = field(default_factory=dict)
    user_names: Mapping[User, str] = field(default_factory=dict)
    item_artist: Mapping[Item, Hashable] = field(default_factory=dict)
    liked: Collection[Item] = ()
    disliked: Collection[Item] = ()
    catalogue: Mapping[Item, Sequence[Item]] = field(default_factory=dict)
    item_genres: Mapping[Item, Collection[str]] = field(default_factory=dict)
    max_per_artist: int = 2
    community_label: str = "this server"
    period_label: str = ""

    def label(self, item: Item) -> str:
        return self.item_labels.get(item, str(item))

    def name(self, user: User) -> str | None:
        return self.user_names.get(user)


def recency_weight(timestamp: float, now: float, half_life_days: float) -> float:
    """Halve a play's weight every `half_life_days` (future timestamps count as now)."""
    age_days = max(0.0, now - timestamp) / DAY_SECONDS
    return 0.5 ** (age_days / half_life_days)


def rank_weight(rank: int) -> float:
    """Weight of the item at position `rank` (1 = top) of a member's top list, as in nDCG."""
    return 1.0 / math.log2(rank + 1)


def log_weights(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """log1p of play weights, so a heavy listener of one item does not outweigh breadth."""
    out = matrix.copy()
    out.data = np.log1p(np.maximum(out.data, 0.0))
    return out


def row_normalise(matrix: sp.spmatrix) -> sp.csr_matrix:
    sums = np.asarray(matrix.sum(axis=1)).ravel()
    inv = np.divide(1.0, sums, out=np.zeros_like(sums, dtype=float), where=sums > 0)
    return sp.csr_matrix(sp.diags(inv) @ matrix)


class Interactions:
    """Users x items sparse matrix (CSR, float64) with `users`/`items` id lists and index maps.

    Build it with `Interactions.from_triples(rows)`; duplicate (user, item) rows are summed.
    """

    def __init__(
        self,
        matrix: sp.csr_matrix,
        users: Sequence[User],
        items: Sequence[Item],
        private_history: Mapping[User, dict[Item, float]] | None = None,
        last_seen: np.ndarray | None = None,
    ) -> None:
        self.matrix = sp.csr_matrix(matrix, dtype=np.float64)
        self.matrix.sum_duplicates()
        self.matrix.eliminate_zeros()
        self.users: list[User] = list(users)
        self.items: list[Item] = list(items)
        self.user_index = {u: i for i, u in enumerate(self.users)}
        self.item_index = {it: i for i, it in enumerate(self.items)}
        self.private_history: dict[User, dict[Item, float]] = dict(private_history or {})
        # Latest play time of each stored weight (aligned with `matrix.data`), when the rows carried one.
        self.last_seen = last_seen if last_seen is not None and len(last_seen) == self.matrix.nnz else None

    @classmethod
    def from_triples(
        cls,
        rows: Iterable[Sequence],
        *,
        private_users: Collection[User] = (),
        now: float | None = None,
        half_life_days: float | None = None,
        items: Sequence[Item] = (),
    ) -> Interactions:
        """Rows are (user, item, weight) or (user, item, weight, unix_timestamp).

        Timestamps are also kept as each weight's latest play (`last_seen`), so tuning can hold out what
        each member played most recently.
        With `half_life_days`, a timestamped weight decays by half every that many days before `now`.
        `private_users` are kept out of the matrix (see module docstring). `items` pre-registers
        catalogue items that nobody has played yet.
        """
        user_index: dict[User, int] = {}
        item_index: dict[Item, int] = {it: i for i, it in enumerate(dict.fromkeys(items))}
        private = set(private_users)
        private_history: dict[User, dict[Item, float]] = {}
        r: list[int] = []
        c: list[int] = []
        v: list[float] = []
        seen: dict[tuple[int, int], float] = {}
        for row in rows:
            user, item, weight = row[0], row[1], float(row[2])
            stamp = float(row[3]) if len(row) > 3 and row[3] is not None else None
            if half_life_days is not None and stamp is not None:
                weight *= recency_weight(stamp, now if now is not None else 0.0, half_life_days)
            if weight <= 0:
                continue
            if user in private:
                hist = private_history.setdefault(user, {})
                hist[item] = hist.get(item, 0.0) + weight
                continue
            r.append(user_index.setdefault(user, len(user_index)))
            c.append(item_index.setdefault(item, len(item_index)))
            v.append(weight)
            if stamp is not None:
                seen[r[-1], c[-1]] = max(stamp, seen.get((r[-1], c[-1]), stamp))
        matrix = sp.csr_matrix((v, (r, c)), shape=(len(user_index), len(item_index)), dtype=np.float64)
        out = cls(matrix, list(user_index), list(item_index), private_history)
        if seen:
            coo = out.matrix.tocoo()  # entries in the same order as the CSR data
            out.last_seen = np.array([seen.get((i, j), 0.0) for i, j in zip(coo.row.tolist(), coo.col.tolist(), strict=True)])
        return out

    @classmethod
    def from_arrays(cls, rows: np.ndarray, cols: np.ndarray, weights: np.ndarray, users: Sequence[User],
                    items: Sequence[Item]) -> Interactions:
        """The matrix straight from aligned arrays (row = index in `users`, col = index in `items`; repeated pairs
        add up), for data too big for a tuple per weight. Weights must be positive."""
        matrix = sp.csr_matrix((weights, (rows, cols)), shape=(len(users), len(items)), dtype=np.float64)
        return cls(matrix, users, items)

    @property
    def shape(self) -> tuple[int, int]:
        return self.matrix.shape

    def history_of(self, user: User) -> dict[Item, float]:
        """A user's items and weights, whether they are in the matrix or private."""
        if user in self.private_history:
            return dict(self.private_history[user])
        idx = self.user_index.get(user)
        if idx is None:
            return {}
        start, end = self.matrix.indptr[idx], self.matrix.indptr[idx + 1]
        cols, vals = self.matrix.indices[start:end], self.matrix.data[start:end]
        return {self.items[j]: float(w) for j, w in zip(cols, vals, strict=True)}


@dataclass(slots=True)
class Query:
    """One member's request as the models see it: a dense weight vector over model items."""

    user: User | None
    row: int | None  # index in the fitted matrix, None when folded in
    vector: np.ndarray  # raw weights over model items
    known_ids: set[Item]  # played, liked, excluded or disliked: never recommended
    history: dict[Item, float]  # what the member played (and liked), also items unknown to the model
    blocked: np.ndarray  # bool mask over model items that must never be returned
    liked_added: bool = False  # True when likes or dislikes changed the stored row
    memo: dict[str, Any] = field(default_factory=dict)  # a component's work for this query, shared by candidates and explain

    @property
    def seeds(self) -> np.ndarray:
        return np.flatnonzero(self.vector > 0)


def build_query(
    data: Interactions,
    user: User | None,
    history: Mapping[Item, float] | None,
    exclude: Collection[Item],
    context: Context,
) -> Query:
    """Fold in `history` if given, else use the member's stored row (public or private)."""
    row = None
    if history is None and user is not None:
        if user in data.user_index and user not in data.private_history:
            row = data.user_index[user]
        else:
            history = data.history_of(user)
    vector = np.zeros(len(data.items))
    if row is not None:
        start, end = data.matrix.indptr[row], data.matrix.indptr[row + 1]
        vector[data.matrix.indices[start:end]] = data.matrix.data[start:end]
        cols, vals = data.matrix.indices[start:end], data.matrix.data[start:end]
        played = {data.items[j]: w for j, w in zip(cols.tolist(), vals.tolist(), strict=True)}
    else:
        played = {item: float(w) for item, w in (history or {}).items() if w > 0}
        for item, weight in played.items():
            j = data.item_index.get(item)
            if j is not None:
                vector[j] += weight
    # A like counts as a strong play: it seeds every model, so similar items rise.
    like_weight = float(vector.max()) if vector.any() else 1.0
    changed = bool(context.liked or context.disliked)
    for item in context.liked:
        played[item] = max(played.get(item, 0.0), like_weight)
        j = data.item_index.get(item)
        if j is not None:
            vector[j] = max(vector[j], like_weight)
    blocked = vector > 0
    for item in (*exclude, *context.disliked):
        j = data.item_index.get(item)
        if j is not None:
            blocked[j] = True
        played.pop(item, None)
        if j is not None:
            vector[j] = 0.0
    known_ids = set(played) | set(exclude) | set(context.disliked)
    return Query(
        user=user, row=row, vector=vector, known_ids=known_ids, history=played, blocked=blocked,
        liked_added=changed,
    )


def top_n(scores: np.ndarray, blocked: np.ndarray, n: int) -> np.ndarray:
    """Indices of the n best positive scores that are not blocked, best first."""
    # the negated scores, blocked and non-positive ones at +inf: one step for what masking then negating did
    negated = np.where((scores <= 0) | blocked, np.inf, -scores)
    n = min(n, int(np.isfinite(negated).sum()))
    if n <= 0:
        return np.empty(0, dtype=np.int64)
    part = np.argpartition(negated, n - 1)[:n]
    return part[np.argsort(negated[part], kind="stable")]


def join_names(names: Sequence[str], total: int) -> str:
    """'Ada', 'Ada and Ben', 'Ada, Ben and 2 others'."""
    others = total - len(names)
    if others > 0:
        return f"{', '.join(names)} and {others} other{'s' if others > 1 else ''}"
    if len(names) == 1:
        return names[0]
    return f"{', '.join(names[:-1])} and {names[-1]}"
