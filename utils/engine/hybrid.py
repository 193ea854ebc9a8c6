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

from collections.abc import Collection, Mapping, Sequence

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
        ctx = context or Context()
        query = self.query(user, history, exclude, ctx)
        fused, best_source = self._fuse(query, ctx, max(self.pool, 5 * k))
        if not fused:
            return []
        self._push_down_dislikes(fused, ctx)
        picks = self._select(fused, best_source, ctx, k)
        reasons: dict[Item, str] = {}
        for comp in self.components:
            mine = [item for item in picks if best_source[item] == comp.name]
            if mine:
                reasons.update(zip(mine, comp.explain(query, mine, ctx), strict=True))
        by_name = {c.name: c.source for c in self.components}
        return [Recommendation(i, fused[i], reasons[i], by_name[best_source[i]]) for i in picks]

    def _fuse(self, query: Query, ctx: Context, pool: int) -> tuple[dict[Item, float], dict[Item, str]]:
        fused: dict[Item, float] = {}
        best: dict[Item, tuple[float, str]] = {}
        for comp in self.components:
            weight = self.weights.get(comp.name, 0.0)
            if weight <= 0:
                continue
            cands = comp.candidates(query, ctx, pool)
            if not cands:
                continue
            top = cands[0][1]
            name = comp.name
            for item, score in cands:
                part = weight * score / top
                before = fused.get(item)
                if before is None:  # the first source to propose it (candidates' scores are positive)
                    fused[item] = part
                    if part > 0.0:
                        best[item] = (part, name)
                else:
                    fused[item] = before + part
                    if part > best.get(item, _NO_PART)[0]:
                        best[item] = (part, name)
        return fused, {item: name for item, (_, name) in best.items()}

    def _push_down_dislikes(self, fused: dict[Item, float], ctx: Context) -> None:
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
        scale = self.dislike_weight * max(fused.values()) / top
        for item in fused:
            j = self.data.item_index.get(item)
            if j is not None:
                fused[item] -= scale * near[j]

    def _select(self, fused: dict[Item, float], best_source: dict[Item, str], ctx: Context, k: int) -> list[Item]:
        # best first; ties keep the order sources proposed them in (a stable sort, as sorting by -score)
        items = sorted(fused, key=fused.__getitem__, reverse=True)[: max(4 * k, 50)]
        scores = np.array([fused[i] for i in items])
        artist_ids = _codes([ctx.item_artist.get(i) for i in items], missing=None)
        source_ids = _codes([best_source[i] for i in items])
        has_artist = artist_ids >= 0
        penalty_unit = self.variety * max(float(scores.max()), 1e-12)
        # Per item: picks already taken from its artist (items with no artist never count), and whether it can
        # still be taken; updated after each pick, so each round is a few whole-array steps.
        same_artist = np.zeros(len(items))
        closed = np.zeros(len(items), dtype=bool)
        source_count = np.zeros(int(source_ids.max(initial=-1)) + 1)
        picks: list[Item] = []
        cap = max(1, ctx.max_per_artist)
        for _ in range(min(k, len(items))):
            share = source_count[source_ids] / max(1, len(picks))
            adjusted = scores - penalty_unit * (same_artist + share)
            adjusted[closed] = -np.inf
            pos = int(adjusted.argmax())
            if not np.isfinite(adjusted[pos]):
                break
            closed[pos] = True
            picks.append(items[pos])
            if has_artist[pos]:
                mine = artist_ids == artist_ids[pos]
                same_artist[mine] += 1
                closed |= mine & (same_artist >= cap)
            source_count[source_ids[pos]] += 1
        return picks


_NO_PART = (0.0, "")


def _codes(values: Sequence[object], missing: object = object()) -> np.ndarray:
    """Small integer codes for values (first seen, first code); `missing` gets -1."""
    codes: dict[object, int] = {}
    return np.array([-1 if v is missing else codes.setdefault(v, len(codes)) for v in values], dtype=np.int64)
