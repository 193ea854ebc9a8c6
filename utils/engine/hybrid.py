"""The hybrid: weighted score fusion of the single-source algorithms, feedback, artist cap and variety.

Each source proposes its best `pool` items; its scores are divided by its own best score (so every
source speaks on a 0..1 scale) and summed with the source's weight. Dislikes push down what item-CF
finds close to them. The list is then filled greedily: an item is skipped once its artist has
`Context.max_per_artist` picks, and each item pays a small penalty (MMR-style) for every pick already
taken from the same artist or the same source, so one source or artist cannot fill the whole list.
The reason shown is the one from the source that contributed most to the item's score.

With `tune=True`, each fit first picks the weights and the parts' main settings on the community's own
listening (`utils.engine.tuning`), then fits on everything; `tuning` says what it chose.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from utils.engine.algorithms import (
    CatalogueExpansion,
    ItemCF,
    ListenerRidge,
    Popularity,
    Recommender,
    UserKNN,
)
from utils.engine.data import Context, Interactions, Item, Query, Recommendation, User
from utils.engine.factors import EASE, IALS, ials_available
from utils.engine.tuning import TuningReport, tune, untuned

# Tuned on fold 0 of a 10-fold per-user split of HetRec Last.fm 2K (see utils/engine/evaluation.py).
# EASE and iALS start switched off: only tuning turns them on, where they help.
DEFAULT_WEIGHTS: dict[str, float] = {
    "popularity": 0.05,
    "item_cf": 0.5,
    "user_knn": 0.15,
    "ridge": 1.0,
    "catalogue": 0.4,
    "ease": 0.0,
    "ials": 0.0,
}
# Time the search may take on top of the final fit (HetRec: about 2.5 s search + 1 s fit).
TUNE_SECONDS = 2.5


def default_components() -> list[Recommender]:
    parts: list[Recommender] = [Popularity(), ItemCF(), UserKNN(), ListenerRidge(), CatalogueExpansion(), EASE()]
    if ials_available():
        parts.append(IALS())
    return parts


class Hybrid(Recommender):
    """Blend of several recommenders; `weights` maps a component's `name` to its weight."""

    name = "hybrid"
    source = "hybrid"

    def __init__(
        self,
        components: Sequence[Recommender] | None = None,
        weights: Mapping[str, float] | None = None,
        *,
        dislike_weight: float = 0.5,
        variety: float = 0.05,
        pool: int = 100,
        tune: bool = False,
        tune_seconds: float = TUNE_SECONDS,
        tuned: TuningReport | None = None,
    ) -> None:
        """`tune` tunes at every fit; `tuned` applies an earlier tuning's choice (see `utils.engine.autotune`)."""
        super().__init__()
        self.components = list(components) if components is not None else default_components()
        self.weights = {**DEFAULT_WEIGHTS, **(weights or {})}
        self.dislike_weight = dislike_weight
        self.variety = variety
        self.pool = pool
        self.tune = tune
        self.tune_seconds = tune_seconds
        self.tuning: TuningReport = untuned("tuning is off")
        if tuned is not None:
            self._apply(tuned)

    def _fit(self, data: Interactions) -> None:
        if self.tune:
            self._apply(tune(data, self.components, self.weights, budget_seconds=self.tune_seconds))
        for comp in self.components:
            if self.weights.get(comp.name, 0.0) > 0:
                comp.fit(data)
        self.item_cf = next((c for c in self.components if isinstance(c, ItemCF) and c.data is not None), None)

    def _apply(self, report: TuningReport) -> None:
        """Take the tuned settings and weights (fresh, unfitted parts), or keep everything as it was."""
        self.tuning = report
        if report.tuned:
            self.components = [c.configured(**report.settings[c.name]) if c.name in report.settings else c
                               for c in self.components]
            self.weights = dict(report.weights)

    def recommend(
        self,
        user: User | None,
        k: int = 10,
        *,
        history: Mapping[Item, float] | None = None,
        exclude: Collection[Item] = (),
        context: Context | None = None,
    ) -> list[Recommendation]:
        ranking = self.ranking(user, k, history=history, exclude=exclude, context=context)
        return ranking.explained(range(len(ranking.items)))

    def ranking(
        self,
        user: User | None,
        k: int = 10,
        *,
        history: Mapping[Item, float] | None = None,
        exclude: Collection[Item] = (),
        context: Context | None = None,
    ) -> Ranking:
        """The picks `recommend` gives, best first, with their reasons worded only when asked for (`explained`)."""
        ctx = context or Context()
        query = self.query(user, history, exclude, ctx)
        pool = self._fuse(query, ctx, max(self.pool, 5 * k))
        if pool is None:
            return Ranking(self, query, ctx, [], [], [])
        keys, fused, best = pool
        self._push_down_dislikes(keys, fused, ctx)
        chosen = self._select(keys, fused, best, ctx, k)
        return Ranking(self, query, ctx, keys.items(chosen), fused[chosen].tolist(),
                       [self.components[c] for c in best[chosen].tolist()])

    def _fuse(self, query: Query, ctx: Context, pool: int) -> tuple[_Keys, np.ndarray, np.ndarray] | None:
        """Every proposed item (in the order sources first proposed them), its fused score and the index of the
        component that gave the largest part of it: whole-array steps, the same sums in the same order as adding
        each source's parts item by item."""
        assert self.data is not None
        keys = _Keys(self.data)
        proposed: list[tuple[int, np.ndarray, np.ndarray]] = []
        for c, comp in enumerate(self.components):
            weight = self.weights.get(comp.name, 0.0)
            if weight <= 0:
                continue
            found = comp.candidate_indices(query, ctx, pool) if comp.data is self.data else None
            if found is None:
                cands = comp.candidates(query, ctx, pool)
                found = (keys.indices([item for item, _ in cands]),
                         np.fromiter((score for _, score in cands), np.float64, len(cands)))
            if len(found[0]):
                proposed.append((c, found[0], weight * found[1] / found[1][0]))
        if not proposed:
            return None
        fused = np.zeros(keys.size)
        best_part = np.zeros(keys.size)  # a part must be above 0 to make its source the best one
        best = np.full(keys.size, -1, dtype=np.int64)
        for c, idx, part in proposed:
            fused[idx] += part  # a source proposes an item once: no repeated index in idx
            better = part > best_part[idx]
            best_part[idx[better]] = part[better]
            best[idx[better]] = c
        every = np.concatenate([idx for _, idx, _ in proposed])
        _, first = np.unique(every, return_index=True)
        keys.order = every[np.sort(first)]
        return keys, fused[keys.order], best[keys.order]

    def _push_down_dislikes(self, keys: _Keys, fused: np.ndarray, ctx: Context) -> None:
        if not ctx.disliked or self.item_cf is None or self.data is None or self.dislike_weight <= 0:
            return
        seeds = np.zeros(len(self.data.items))
        for item in ctx.disliked:
            j = self.data.item_index.get(item)
            if j is not None:
                seeds[j] = 1.0
        near = self.item_cf.propagate(seeds)
        top = near.max() if near.size else 0.0
        if top <= 0:
            return
        scale = self.dislike_weight * fused.max() / top
        modelled = keys.order < len(self.data.items)
        fused[modelled] -= scale * near[keys.order[modelled]]

    def _select(self, keys: _Keys, fused: np.ndarray, best: np.ndarray, ctx: Context, k: int) -> list[int]:
        """Positions in `fused` of the picks, in order.

        Each round takes the open item with the highest score less its penalty (`variety` times the best score, for
        each pick already taken from its artist plus its source's share of the picks so far), the first one on a
        tie; an artist's items close once it has `max_per_artist` picks (items with no artist never count).
        """
        # best first; ties keep the order sources proposed them in (a stable sort, as sorting by -score)
        order = np.argsort(-fused, kind="stable")[: max(4 * k, 50)].tolist()
        scores = fused[order].tolist()
        sources = best[order].tolist()
        if not scores:
            return []
        penalty_unit = self.variety * max(max(scores), 1e-12)
        items = keys.items(order)
        artist_of = ctx.item_artist.get
        artists: list[Any] = [_UNSEEN] * len(order)  # each item's artist, looked up when the item is first looked at
        still_open = list(range(len(order)))  # positions that may still be taken, best score first
        per_artist: dict[Any, int] = {}
        full: set[Any] = set()  # artists at the cap: their items are closed
        source_count = [0] * len(self.components)
        picks: list[int] = []
        cap = max(1, ctx.max_per_artist)
        for _ in range(min(k, len(order))):
            share_of = max(1, len(picks))
            chosen, top = -1, -math.inf
            for pos in still_open:
                score = scores[pos]
                # a penalty only lowers a score and scores go down the list: nothing further on can win
                if score <= top:
                    break
                artist = artists[pos]
                if artist is _UNSEEN:
                    artist = artists[pos] = artist_of(items[pos])
                if artist in full:
                    continue
                value = score - penalty_unit * ((0 if artist is None else per_artist.get(artist, 0))
                                                + source_count[sources[pos]] / share_of)
                if value > top:
                    chosen, top = pos, value
            if chosen < 0:
                break
            picks.append(order[chosen])
            source_count[sources[chosen]] += 1
            still_open.remove(chosen)
            artist = artists[chosen]
            if artist is not None:
                per_artist[artist] = per_artist.get(artist, 0) + 1
                if per_artist[artist] >= cap:
                    full.add(artist)
        return picks


_UNSEEN: Any = object()


class _Keys:
    """One request's items as whole numbers: the model's items by their column, others (a member's catalogue) after
    them; `order` lists the proposed ones in the order they were first proposed."""

    def __init__(self, data: Interactions) -> None:
        self.data = data
        self.extra: dict[Item, int] = {}
        self.extra_items: list[Item] = []
        self.order = np.empty(0, dtype=np.int64)

    @property
    def size(self) -> int:
        return len(self.data.items) + len(self.extra_items)

    def indices(self, items: Sequence[Item]) -> np.ndarray:
        index, model_size = self.data.item_index, len(self.data.items)
        out = np.empty(len(items), dtype=np.int64)
        for pos, item in enumerate(items):
            j = index.get(item)
            if j is None:
                j = self.extra.get(item)
                if j is None:
                    j = self.extra[item] = model_size + len(self.extra_items)
                    self.extra_items.append(item)
            out[pos] = j
        return out

    def items(self, positions: Sequence[int]) -> list[Item]:
        """The items at these positions of `order`."""
        size, items, extra = len(self.data.items), self.data.items, self.extra_items
        return [items[j] if j < size else extra[j - size] for j in self.order[positions].tolist()]


class Ranking:
    """A hybrid's picks for one request, best first: items, fused scores and the component each came from. Reasons
    are worded on request, for the first picks only when only those are shown: a pick's reason depends only on the
    picks before it (reasons spread over the member's items in list order), so it is the same either way."""

    def __init__(self, model: Hybrid, query: Query, ctx: Context, items: list[Item], scores: list[float],
                 sources: list[Recommender]) -> None:
        self.model = model
        self.query = query
        self.ctx = ctx
        self.items = items
        self.scores = scores
        self.sources = sources
        self._reasons: list[str | None] = [None] * len(items)
        self._explained = 0  # picks before this position have their reasons

    def explained(self, positions: Iterable[int]) -> list[Recommendation]:
        """The picks at these positions with their reasons."""
        wanted = list(positions)
        self._explain(max(wanted, default=-1) + 1)
        return [Recommendation(self.items[p], self.scores[p], str(self._reasons[p]), self.sources[p].source)
                for p in wanted]

    def _explain(self, upto: int) -> None:
        if upto <= self._explained:
            return
        if self._explained:  # reasons follow the list from its start: word them all afresh
            upto = len(self.items)
        for comp in self.model.components:
            mine = [p for p in range(upto if comp.reasons_stand_alone else len(self.items)) if self.sources[p] is comp]
            if mine:
                reasons = comp.explain(self.query, [self.items[p] for p in mine], self.ctx)
                for p, reason in zip(mine, reasons, strict=True):
                    self._reasons[p] = reason
        self._explained = upto
