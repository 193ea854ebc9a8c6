"""The `Recommender` interface every engine algorithm implements, and the helpers their reasons share."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any, Self

import numpy as np

from utils.engine.data import (
    Context,
    Interactions,
    Item,
    Query,
    Recommendation,
    User,
    build_query,
    join_names,
    top_n,
)

CLOSE = "Close to what you already play"


class Recommender:
    """Common interface: `fit(interactions)`, then `recommend(user, k, ...)`."""

    name = "base"
    source = "base"
    # A pick's reason depends only on the picks before it, whatever number of picks is explained at once (so the
    # hybrid may word only the ones shown); False where that number could change a reason's arithmetic.
    reasons_stand_alone = True

    def __init__(self) -> None:
        self.data: Interactions | None = None

    def fit(self, data: Interactions) -> Self:
        self.data = data
        self._fit(data)
        return self

    def _fit(self, data: Interactions) -> None:
        """Precompute whatever `scores` needs."""

    def settings(self) -> dict[str, float]:
        """The main settings tuning may change (name -> value); empty when there is nothing to tune."""
        return {}

    def configured(self, **settings: float) -> Self:
        """A new, unfitted copy of this recommender with some settings changed."""
        return type(self)(**{**self.settings(), **settings})

    def recommend(
        self,
        user: User | None,
        k: int = 10,
        *,
        history: Mapping[Item, float] | None = None,
        exclude: Collection[Item] = (),
        context: Context | None = None,
    ) -> list[Recommendation]:
        """Top k items the member has not played, liked, excluded or disliked, best first.

        `history` (item -> weight) folds in a member who is not in the fitted matrix, or overrides
        their stored row. A `user` the model has never seen and no history gives a cold start.
        """
        ctx = context or Context()
        query = self.query(user, history, exclude, ctx)
        picks = self.candidates(query, ctx, k)
        reasons = self.explain(query, [item for item, _ in picks], ctx)
        return [Recommendation(item, float(s), why, self.source) for (item, s), why in zip(picks, reasons, strict=True)]

    def query(
        self, user: User | None, history: Mapping[Item, float] | None, exclude: Collection[Item], ctx: Context
    ) -> Query:
        if self.data is None:
            raise RuntimeError("fit() the recommender before asking it for recommendations")
        return build_query(self.data, user, history, exclude, ctx)

    def scores(self, query: Query, ctx: Context) -> np.ndarray:
        """A score per model item (higher is better, 0 means no opinion)."""
        raise NotImplementedError

    def batch_scores(self, rows: np.ndarray) -> np.ndarray:
        """Scores (len(rows) x items) for fitted members by matrix row, as `scores` gives for their stored row.

        Used by tuning, which scores hundreds of members per setting; subclasses do it in matrix products.
        """
        assert self.data is not None
        ctx = Context()
        return np.vstack([self.scores(build_query(self.data, self.data.users[r], None, (), ctx), ctx) for r in rows])

    def candidates(self, query: Query, ctx: Context, n: int) -> list[tuple[Item, float]]:
        """The n best (item, score) pairs for the query, best first."""
        assert self.data is not None
        idx, scores = self.candidate_indices(query, ctx, n)
        return list(zip(map(self.data.items.__getitem__, idx.tolist()), scores.tolist(), strict=True))

    def candidate_indices(self, query: Query, ctx: Context, n: int) -> tuple[np.ndarray, np.ndarray] | None:
        """`candidates` as the items' columns in the model and their scores; None from a recommender whose
        candidates may lie outside the model (then only `candidates` has them)."""
        scores = self.scores(query, ctx)
        idx = top_n(scores, query.blocked, n)
        return idx, scores[idx]

    def explain(self, query: Query, items: list[Item], ctx: Context) -> list[str]:
        return ["Recommended for you"] * len(items)

    def explain_by_seeds(self, query: Query, items: list[Item], ctx: Context,
                         contrib: Callable[[np.ndarray, list[int]], np.ndarray], template: str) -> list[str]:
        """Reasons naming the member's items that pushed each pick up most.

        `contrib(seeds, cols)` gives how much each seed item (row) pushed each pick (column).
        """
        assert self.data is not None
        seeds = query.seeds
        cols = [self.data.item_index[i] for i in items]
        if len(seeds) == 0 or not cols:
            return [CLOSE] * len(items)
        return seed_reasons(query, self.data, items, ctx, contrib(seeds, cols), seeds, template)


def memo(query: Query, key: str, work: Callable[[], Any]) -> Any:
    """`work()` done once per query and kept in `query.memo[key]` (shared by candidates and explain)."""
    if key not in query.memo:
        query.memo[key] = work()
    return query.memo[key]


def seed_reasons(
    query: Query, data: Interactions, items: list[Item], ctx: Context, contrib: np.ndarray, seeds: np.ndarray, template: str
) -> list[str]:
    """Name one or two of the member's items that pushed each pick up.

    Only items that pushed it at least half as much as the strongest one are named, and among those the ones
    named least so far in this list come first, so ten picks do not all cite the same favourite.
    """
    out: list[str] = []
    if contrib.ndim != 2 or not contrib.size:
        return [CLOSE] * len(items)
    tops = contrib.max(axis=0)
    # Per pick, the seeds strongest first (ties: first seed first), and how many pushed it at least half as much as
    # the strongest one: whole-matrix steps; only the choice by times named goes pick by pick.
    strongest = np.argsort(-contrib, axis=0, kind="stable").T.tolist()
    strong_counts = (contrib >= 0.5 * tops).sum(axis=0).tolist()
    named = [0] * contrib.shape[0]  # times each seed was named so far
    picked: list[list[int] | None] = []
    for top, order, count in zip(tops.tolist(), strongest, strong_counts, strict=True):
        if top <= 0:
            picked.append(None)
            continue
        # least named so far, then strongest, then first (a stable sort keeps the strength order)
        chosen = sorted(order[:count], key=named.__getitem__)[:2]
        for s in chosen:
            named[s] += 1
        picked.append(chosen)
    seed_items = [data.items[j] for j in seeds.tolist()]
    prefetch = getattr(ctx.item_labels, "prefetch", None)
    if prefetch is not None:  # labels read when first needed: all those this list names, at once
        prefetch([seed_items[s] for chosen in picked if chosen for s in chosen])
    for chosen in picked:
        if chosen is None:
            out.append(CLOSE)
            continue
        names = [ctx.label(seed_items[s]) for s in chosen]
        out.append(template.format(join_names(names, len(names))))
    return out
