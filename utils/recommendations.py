"""Recommendation engine: pure Python + numpy/scipy, no Discord, Spotify or database types.

Quick use::

    from utils.recommendations import Interactions, Hybrid, Context
    data = Interactions.from_triples(rows, private_users=hidden)   # rows: (user, item, weight[, unix_ts])
    model = Hybrid().fit(data)
    recs = model.recommend(user, 10, context=Context(item_labels=..., user_names=..., item_artist=...))
    # -> [Recommendation(item, score, reason, source), ...], best first

Interface
- `Interactions.from_triples(rows, *, private_users=(), now=None, half_life_days=None, items=())`:
  a users x items CSR matrix (`.matrix`) with `.users`/`.items` lists and `.user_index`/`.item_index`.
  Duplicate (user, item) rows are summed, so raw play events work; with `half_life_days` a timestamped
  play halves in weight every that many days (recency). `rank_weight(rank)` turns a top-list position
  into a weight. Recommenders log-scale weights themselves.
- Every algorithm is a `Recommender`: `fit(interactions) -> self`, then
  `recommend(user, k=10, *, history=None, exclude=(), context=None) -> list[Recommendation]`.
  Algorithms: `Popularity` (community favourites), `ItemCF` (co-listening, RP3beta), `UserKNN`
  (taste neighbours), `ListenerRidge` (linear auto-encoder), `CatalogueExpansion` (more from your
  artists and genres, works for a community of one), `EASE` (small catalogues) and `IALS` (matrix
  factorisation by the `implicit` library), and `Hybrid` (fusion of all of them; EASE and iALS start
  at weight 0 and only tuning turns them on).
- Self-tuning: `Hybrid(tune=True)` picks its weights and its parts' main settings on a held-out slice
  of the data at each fit (`utils.engine.tuning`); `Hybrid(tuned=report)` applies an earlier choice;
  `SelfTuner` (`utils.engine.autotune`) does it per community in the background, as the bot does.
  `model.tuning` is a `TuningReport`: what was chosen, how sure it is, and `summary()` in plain words.
- `Context` carries what the caller knows: `item_labels` and `user_names` (for reasons),
  `item_artist` (per-artist cap, `max_per_artist`), `liked` / `disliked` (feedback), `catalogue`
  (key such as an artist -> its items, best first), `item_genres`, `community_label`, `period_label`.
- Items already played, liked, excluded or disliked are never returned. Likes seed every model like a
  favourite play (similar items rise); dislikes also push down what is co-listened with them.

Hidden members and fold-in
A member who hides their listening must not shape, or be named in, anyone else's recommendations.
Pass them as `private_users` when building `Interactions`: their rows stay out of the matrix every
model is fitted on (so they are never a neighbour, never counted as popular) and are kept in
`interactions.private_history`; `recommend(hidden_user, ...)` folds their own row in as a query
vector. Any member who is not in the fitted matrix can be served the same way by passing
`history={item: weight}` (fold-in): no refit is needed.

Group features (`utils.engine.group`): `taste_match(a, b) -> (0..100, shared items)`,
`blend(preferences, size) -> [(item, contributors)]` and `group_recommend(model, members, k)`.
(The blend rationale from `utils.engine.group` is appended to this docstring below.)
"""

from __future__ import annotations

import sys

from utils.engine import group as _group
from utils.engine.algorithms import (
    CatalogueExpansion,
    ItemCF,
    ListenerRidge,
    Popularity,
    Recommender,
    UserKNN,
)
from utils.engine.autotune import SelfTuner
from utils.engine.data import Context, Interactions, Query, Recommendation, rank_weight, recency_weight
from utils.engine.factors import EASE, IALS
from utils.engine.group import GroupPick, blend, group_recommend, taste_match
from utils.engine.hybrid import DEFAULT_WEIGHTS, Hybrid
from utils.engine.tuning import TuningReport

__doc__ = f"{__doc__}\n{_group.__doc__}"

__all__ = [
    "DEFAULT_WEIGHTS",
    "EASE",
    "IALS",
    "CatalogueExpansion",
    "Context",
    "GroupPick",
    "Hybrid",
    "Interactions",
    "ItemCF",
    "ListenerRidge",
    "Popularity",
    "Query",
    "Recommendation",
    "Recommender",
    "SelfTuner",
    "TuningReport",
    "UserKNN",
    "blend",
    "group_recommend",
    "rank_weight",
    "recency_weight",
    "taste_match",
]


def main(argv: list[str] | None = None) -> int:
    from utils.engine.evaluation import main as evaluation_main

    return evaluation_main(argv)


if __name__ == "__main__":
    sys.exit(main())
