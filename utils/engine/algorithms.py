"""The single-source algorithms. Each scores every model item for one `Query` and explains its picks.

- `Popularity`: what this community plays most (each member's plays log-scaled to 0..1, so one heavy
  listener counts as one member; recency is applied when building `Interactions`).
- `ItemCF`: item-to-item co-listening as a random walk item -> listener -> item (RP3beta), with the
  arrival item's popularity raised to -beta so hits do not drown everything.
- `UserKNN`: taste neighbours, cosine on log plays, what the k closest members play that you don't.
- `ListenerRidge`: a ridge regression of every item on all others, solved in listener space (a linear
  auto-encoder: W = X^T (X X^T + lam I)^-1 X, so fitting costs one listeners x listeners inverse, by
  Cholesky since the matrix is symmetric positive definite, on one BLAS thread; see `spd_inverse`).
- `CatalogueExpansion`: needs nobody else: more from the artists (catalogue keys) you play, and genre
  matches, from mappings the caller passes in `Context`.
EASE and iALS, used when tuning finds they help, are in `utils.engine.factors`.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any, Self

import numpy as np
import scipy.sparse as sp

from utils.engine.base import CLOSE, Recommender, memo
from utils.engine.data import Context, Interactions, Item, Query, User, join_names, log_weights, row_normalise, top_n
from utils.engine.numerics import (
    binarise,
    item_listeners,
    keep_top_per_row,
    power_data,
    safe_inverse,
    scale_rows,
    spd_inverse,
    top_per_row,
)

__all__ = ["CatalogueExpansion", "ItemCF", "ListenerRidge", "Popularity", "Recommender", "UserKNN", "spd_inverse"]


class Popularity(Recommender):
    name = "popularity"
    source = "popular"

    def _fit(self, data: Interactions) -> None:
        logged = log_weights(data.matrix)
        row_max = np.asarray(logged.max(axis=1).todense()).ravel() if logged.shape[0] else np.zeros(0)
        self.popularity = np.asarray(scale_rows(logged, safe_inverse(row_max)).sum(axis=0)).ravel()
        self.listeners = item_listeners(data.matrix)

    def scores(self, query: Query, ctx: Context) -> np.ndarray:
        return self.popularity

    def batch_scores(self, rows: np.ndarray) -> np.ndarray:
        return np.tile(self.popularity, (len(rows), 1))

    def explain(self, query: Query, items: list[Item], ctx: Context) -> list[str]:
        assert self.data is not None
        where = f"Popular in {ctx.community_label}" + (f" {ctx.period_label}" if ctx.period_label else "")
        out = []
        for item in items:
            n = int(self.listeners[self.data.item_index[item]])
            out.append(f"{where}: {n} members play it" if n > 1 else where)
        return out


class ItemCF(Recommender):
    """RP3beta: walk item -> listener -> item, divide by popularity**beta."""

    name = "item_cf"
    source = "co_listening"

    def __init__(self, alpha: float = 1.0, beta: float = 0.3) -> None:
        super().__init__()
        self.alpha = alpha
        self.beta = beta

    def settings(self) -> dict[str, float]:
        return {"alpha": self.alpha, "beta": self.beta}

    def _fit(self, data: Interactions) -> None:
        weights = log_weights(data.matrix)
        p_ui = power_data(row_normalise(weights), self.alpha)
        p_iu = power_data(row_normalise(weights.T.tocsr()), self.alpha)
        self.p_iu_t = p_iu.T.tocsr()  # users x items: item vector -> listener vector
        self.p_ui_t = p_ui.T.tocsr()  # items x users: listener vector -> item vector
        self.p_iu = p_iu
        self.p_ui_c = p_ui.tocsc()
        self.penalty = np.power(np.maximum(item_listeners(data.matrix).astype(float), 1.0), -self.beta)
        self._p_ui = p_ui
        self._p_ui_pen: sp.csr_matrix | None = None

    @property
    def p_ui_pen(self) -> sp.csr_matrix:
        """Listener -> item step with the popularity penalty folded in (built on first batch use)."""
        if self._p_ui_pen is None:
            self._p_ui_pen = sp.csr_matrix(self._p_ui @ sp.diags(self.penalty))
        return self._p_ui_pen

    def propagate(self, item_weights: np.ndarray) -> np.ndarray:
        """Scores of all items reached from these (non-negative) item weights."""
        total = item_weights.sum()
        if total <= 0:
            return np.zeros_like(item_weights)
        p = item_weights / total
        if self.alpha != 1.0:
            p = p**self.alpha
        return (self.p_ui_t @ (self.p_iu_t @ p)) * self.penalty

    def scores(self, query: Query, ctx: Context) -> np.ndarray:
        return self.propagate(np.log1p(query.vector))

    def _walk(self, rows: list[int]) -> sp.csr_matrix:
        """Each member's first step, item -> listener, from their stored row (members x listeners)."""
        assert self.data is not None
        seeds = power_data(row_normalise(log_weights(self.data.matrix[rows])), self.alpha)
        return sp.csr_matrix(seeds @ self.p_iu)

    def batch_scores(self, rows: np.ndarray) -> np.ndarray:
        walk = self._walk(list(rows)).toarray()
        return np.asarray(self.p_ui_pen.T @ walk.T).T  # sparse times dense: no sparse product to build

    def recommend_many(self, users: list[User], n: int, neighbours: int = 50) -> dict[User, list[Item]]:
        """Top n unplayed items for many fitted members at once (matrix products, no reasons)."""
        assert self.data is not None
        rows = [self.data.user_index[u] for u in users if u in self.data.user_index]
        played = self.data.matrix[rows]
        walk = self._walk(rows)
        if walk.shape[1] > neighbours:
            # Keep each member's `neighbours` strongest listener links: exact for small servers, and it keeps
            # the second product sparse for big ones.
            walk = keep_top_per_row(walk, neighbours)
        scores = walk @ self.p_ui_pen
        out: dict[User, list[Item]] = {}
        is_played = np.zeros(scores.shape[1], dtype=bool)  # one member's played items at a time (cheaper than isin)
        for pos, row in enumerate(rows):
            start, end = scores.indptr[pos], scores.indptr[pos + 1]
            cols, vals = scores.indices[start:end], scores.data[start:end].copy()
            mine = played.indices[played.indptr[pos] : played.indptr[pos + 1]]
            is_played[mine] = True
            vals[is_played[cols]] = 0.0
            is_played[mine] = False
            top = min(n, int((vals > 0).sum()))
            best = np.argpartition(-vals, top - 1)[:top] if top else np.empty(0, dtype=np.int64)
            best = best[np.argsort(-vals[best], kind="stable")]
            out[self.data.users[row]] = [self.data.items[c] for c in cols[best]]
        return out

    def explain(self, query: Query, items: list[Item], ctx: Context) -> list[str]:
        # sparse rows times a small dense block: far cheaper than a sparse-sparse product for ten columns
        return self.explain_by_seeds(query, items, ctx, lambda seeds, cols: (
            self.p_iu[seeds] @ self.p_ui_c[:, cols].toarray()) * np.log1p(query.vector[seeds])[:, None],
            "Because you play {}")


class UserKNN(Recommender):
    """Taste neighbours: cosine on log plays with a small shrink, k closest members."""

    name = "user_knn"
    source = "taste_neighbours"

    def __init__(self, k: int = 20, shrink: float = 0.0) -> None:
        super().__init__()
        self.k = int(k)
        self.shrink = shrink

    def settings(self) -> dict[str, float]:
        return {"k": self.k, "shrink": self.shrink}

    def _fit(self, data: Interactions) -> None:
        weights = log_weights(data.matrix)
        norms = np.sqrt(np.asarray(weights.multiply(weights).sum(axis=1)).ravel())
        self.normed = scale_rows(weights, safe_inverse(norms))
        self.binary = binarise(data.matrix)
        self.binary_c = self.binary.tocsc()

    def neighbours(self, query: Query) -> tuple[np.ndarray, np.ndarray]:
        """(member indices, similarities) of the k members closest to the query, closest first."""
        return memo(query, self.name, lambda: self._neighbours(query))

    def _neighbours(self, query: Query) -> tuple[np.ndarray, np.ndarray]:
        b = np.log1p(query.vector)
        # Plain sums, not BLAS: a threaded BLAS call on a busy 2-core host costs milliseconds per vector.
        norm = float(np.sqrt((b * b).sum()))
        if norm == 0:
            return np.empty(0, dtype=np.int64), np.empty(0)
        sims = self.normed @ (b / norm)
        if self.shrink:
            overlap = self.binary @ (query.vector > 0).astype(float)
            sims *= overlap / (overlap + self.shrink)
        if query.row is not None:
            sims[query.row] = 0.0
        idx = top_n(sims, np.zeros(len(sims), dtype=bool), self.k)
        return idx, sims[idx]

    def scores(self, query: Query, ctx: Context) -> np.ndarray:
        idx, sims = self.neighbours(query)
        if len(idx) == 0:
            return np.zeros(self.binary.shape[1])
        # binary[idx].T @ sims without building the slice: each neighbour's items get its similarity, added up item by
        # item in neighbour order, as that product adds them (bincount adds its weights in the order given)
        indptr = self.binary.indptr
        starts, counts = indptr[idx], indptr[idx + 1] - indptr[idx]
        within = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        items = self.binary.indices[np.repeat(starts, counts) + within]
        return np.bincount(items, weights=np.repeat(sims, counts), minlength=self.binary.shape[1])

    def batch_scores(self, rows: np.ndarray) -> np.ndarray:
        sims = np.asarray((self.normed[rows] @ self.normed.T).todense())
        if self.shrink:
            overlap = np.asarray((self.binary[rows] @ self.binary.T).todense())
            sims *= overlap / (overlap + self.shrink)
        sims[np.arange(len(rows)), rows] = 0.0
        top = top_per_row(sims, self.k)
        kept = np.zeros_like(sims)
        np.put_along_axis(kept, top, np.take_along_axis(sims, top, axis=1), axis=1)
        kept[kept < 0] = 0.0
        return np.asarray((self.binary.T @ sp.csr_matrix(kept).T).T.todense())

    def explain(self, query: Query, items: list[Item], ctx: Context) -> list[str]:
        assert self.data is not None
        idx, _ = self.neighbours(query)
        return [self._reason(idx, self.data.item_index[item], ctx) for item in items]

    def _reason(self, idx: np.ndarray, col: int, ctx: Context) -> str:
        """Name the closest neighbours who play this item (closest first), or count them."""
        assert self.data is not None
        start, end = self.binary_c.indptr[col], self.binary_c.indptr[col + 1]
        players = set(self.binary_c.indices[start:end].tolist())
        close = [int(u) for u in idx if int(u) in players]
        names = [n for n in (ctx.name(self.data.users[u]) for u in close) if n][:2]
        if not names:
            count = len(close)
            who = "member" if count == 1 else "members"
            return f"{count} {who} whose taste is close to yours play{'s' if count == 1 else ''} this"
        if len(close) == 1:
            return f"{names[0]}, whose taste is close to yours, plays this"
        return f"{join_names(names, len(close))}, whose taste is close to yours, play this"


DENSE_EXPLAIN_CELLS = 2_000_000  # 8 MB of float32 at most; HetRec's 17,600 items x 1,900 listeners stay sparse


class ListenerRidge(Recommender):
    """Linear auto-encoder solved in listener space; at most `max_users` listeners (the most active) form the basis."""

    name = "ridge"
    source = "similar_listening"

    def __init__(self, lam: float = 100.0, max_users: int = 3000) -> None:
        super().__init__()
        self.lam = lam
        self.max_users = int(max_users)

    def settings(self) -> dict[str, float]:
        return {"lam": self.lam, "max_users": self.max_users}

    def _fit(self, data: Interactions) -> None:
        binary = binarise(data.matrix)
        if binary.shape[0] > self.max_users:
            activity = np.diff(binary.indptr)
            keep = np.sort(np.argsort(-activity, kind="stable")[: self.max_users])
            binary = binary[keep]
        else:
            keep = np.arange(binary.shape[0])
        self.basis_row = {int(r): i for i, r in enumerate(keep)}
        self.basis = binary
        self.basis_t = self.basis.T.tocsr()
        self.basis_c = self.basis.tocsc()
        self.item_listeners = item_listeners(self.basis_c).astype(float)
        # Reasons count, per seed and pick, the listeners who played both. For a server-sized basis a dense copy
        # (items x listeners, float32: whole counts stay exact) makes that one small product, not two sparse slices.
        cells = self.basis_t.shape[0] * self.basis_t.shape[1]
        self.dense_t = self.basis_t.toarray().astype(np.float32) if cells <= DENSE_EXPLAIN_CELLS else None
        gram = (self.basis @ self.basis_t).toarray()
        gram[np.diag_indices_from(gram)] += self.lam
        self.inverse = spd_inverse(gram)

    def scores(self, query: Query, ctx: Context) -> np.ndarray:
        pos = self.basis_row.get(query.row) if query.row is not None else None
        if pos is not None and not query.liked_added:
            # For a basis member, inverse @ gram[pos] = e_pos - lam * inverse[pos]: no matrix-vector product.
            coef = -self.lam * self.inverse[pos]
            coef[pos] += 1.0
        else:
            coef = self.inverse @ (self.basis @ (query.vector > 0).astype(float))
        return self.basis_t @ coef

    def batch_scores(self, rows: np.ndarray) -> np.ndarray:
        assert self.data is not None
        played = binarise(self.data.matrix[rows])
        coef = np.asarray((played @ self.basis_t).todense()) @ self.inverse  # the inverse is symmetric
        return np.asarray((self.basis_t @ coef.T).T)

    def explain(self, query: Query, items: list[Item], ctx: Context) -> list[str]:
        return self.explain_by_seeds(query, items, ctx, self._shared_listeners,
                                     "People who play {} tend to like this too")

    def _shared_listeners(self, seeds: np.ndarray, cols: list[int]) -> np.ndarray:
        """Listeners of each seed (row) who also play each pick (column), less for seeds everyone plays."""
        if self.dense_t is not None:
            both = (self.dense_t[seeds] @ self.dense_t[cols].T).astype(np.float64)
        else:
            both = self.basis_t[seeds] @ self.basis_c[:, cols].toarray()
        return both / np.sqrt(np.maximum(self.item_listeners[seeds], 1.0))[:, None]


class CatalogueExpansion(Recommender):
    """More from what you play: catalogue items of your artists, then genre matches; needs no other member."""

    name = "catalogue"
    source = "catalogue"

    def __init__(self, position_decay: float = 0.2, genre_weight: float = 0.5) -> None:
        super().__init__()
        self.position_decay = position_decay
        self.genre_weight = genre_weight

    def settings(self) -> dict[str, float]:
        return {"position_decay": self.position_decay, "genre_weight": self.genre_weight}

    def fit(self, data: Interactions) -> Self:
        self.data = data
        return self

    def batch_scores(self, rows: np.ndarray) -> np.ndarray:
        """No opinion without a `Context` (the catalogue comes with each request, not with the fit)."""
        assert self.data is not None
        return np.zeros((len(rows), len(self.data.items)))

    @staticmethod
    def _logs(query: Query) -> dict[Item, float]:
        """log(1 + weight) of each played item, worked out once per query (seeds and genres both use it)."""
        return memo(query, "catalogue.logs", lambda: dict(zip(query.history, np.log1p(
            np.fromiter(query.history.values(), np.float64, len(query.history))).tolist(), strict=True)))

    def _seed_weights(self, query: Query, ctx: Context) -> dict[Item, float]:
        seeds: dict[Item, float] = {}
        catalogue, artist_of = ctx.catalogue, ctx.item_artist.get
        for item, w in self._logs(query).items():
            if item in catalogue:  # a catalogue keyed by the item itself (keys are artists, in the bot)
                seeds[item] = seeds.get(item, 0.0) + w
            artist = artist_of(item)
            if artist is not None and artist != item and artist in catalogue:
                seeds[artist] = seeds.get(artist, 0.0) + w
        return seeds

    def _genre_profile(self, query: Query, ctx: Context) -> dict[str, float]:
        profile: dict[str, float] = {}
        for item, w in self._logs(query).items():
            for genre in ctx.item_genres.get(item, ()):
                profile[genre] = profile.get(genre, 0.0) + w
        return profile

    def _scored(self, query: Query, ctx: Context) -> dict[Item, tuple[float, str]]:
        """Every candidate with its score and reason (worked out once per query)."""
        return memo(query, self.name, lambda: self._score_all(query, ctx))

    def _score_all(self, query: Query, ctx: Context) -> dict[Item, tuple[float, str]]:
        # Runs for every request over hundreds of catalogue items: reasons are worded once per artist, and a
        # genre reason only when its item takes the lead (the same scores and order as
        # keeping each item's best one by one).
        found: dict[Item, tuple[float, str]] = {}
        known = query.known_ids
        seeds = self._seed_weights(query, ctx)
        top = max(seeds.values(), default=0.0)
        decay, lookup = self.position_decay, found.get
        for key, weight in seeds.items():
            reason = f"More from {ctx.label(key)}, which you already play"
            share = weight / top
            for pos, item in enumerate(ctx.catalogue[key]):
                if item not in known:
                    score = share / (1.0 + decay * pos)
                    if score > lookup(item, _NOTHING)[0]:
                        found[item] = (score, reason)
        profile = self._genre_profile(query, ctx)
        best = max(profile.values(), default=0.0)
        if best > 0:
            # an artist's songs share its genres (often the very same list): each distinct list is scored and
            # worded once
            by_genres: dict[tuple[str, ...], tuple[float, str] | None] = {}
            by_list: dict[int, tuple[Any, Any]] = {}  # by the list itself (kept alive here, so its id stays its own)
            for item, genres in ctx.item_genres.items():
                if not genres or item in known:
                    continue
                match = by_list.get(id(genres), _NO_LIST)[1]
                if match is _UNSEEN:
                    key = tuple(genres)
                    match = by_genres.get(key, _UNSEEN)
                    if match is _UNSEEN:
                        match = by_genres[key] = self._genre_match(genres, profile, best)
                    by_list[id(genres)] = (genres, match)
                if match is not None and match[0] > lookup(item, _NOTHING)[0]:
                    found[item] = match
        return found

    def _genre_match(self, genres: Collection[str], profile: dict[str, float], best: float) -> tuple[float, str] | None:
        """The score and reason of an item with these genres, or None when none of them is the member's."""
        hits = [g for g in genres if g in profile]
        if not hits:
            return None
        hits.sort(key=lambda g: -profile[g])
        score = self.genre_weight * sum(profile[g] for g in hits) / best / math.sqrt(len(genres))
        return score, f"Matches genres you play: {', '.join(hits[:2])}"

    def candidate_indices(self, query: Query, ctx: Context, n: int) -> None:
        return None  # a member's catalogue goes beyond the model's items

    def candidates(self, query: Query, ctx: Context, n: int) -> list[tuple[Item, float]]:
        found = self._scored(query, ctx)
        if not found:
            return []
        items = list(found)
        scores = np.fromiter((found[i][0] for i in items), dtype=np.float64, count=len(items))
        # a stable sort, best first: ties keep their order, as heapq.nlargest keeps it
        best = np.argsort(-scores, kind="stable")[:n].tolist()
        return [(items[j], found[items[j]][0]) for j in best]

    def explain(self, query: Query, items: list[Item], ctx: Context) -> list[str]:
        found = self._scored(query, ctx)
        return [found.get(item, (0.0, CLOSE))[1] for item in items]


_NOTHING = (0.0, "")
_UNSEEN: Any = object()
_NO_LIST = (None, _UNSEEN)
