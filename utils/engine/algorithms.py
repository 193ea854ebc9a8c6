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
"""

from __future__ import annotations

import contextlib
import heapq
import threading
from collections import Counter
from collections.abc import Collection, Mapping
from typing import Self

import numpy as np
import scipy.sparse as sp

from utils.engine.data import (
    Context,
    Interactions,
    Item,
    Query,
    Recommendation,
    User,
    build_query,
    join_names,
    log_weights,
    row_normalise,
    top_n,
)


class Recommender:
    """Common interface: `fit(interactions)`, then `recommend(user, k, ...)`."""

    name = "base"
    source = "base"

    def __init__(self) -> None:
        self.data: Interactions | None = None

    def fit(self, data: Interactions) -> Self:
        self.data = data
        self._fit(data)
        return self

    def _fit(self, data: Interactions) -> None:
        """Precompute whatever `scores` needs."""

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

    def candidates(self, query: Query, ctx: Context, n: int) -> list[tuple[Item, float]]:
        """The n best (item, score) pairs for the query, best first."""
        assert self.data is not None
        scores = self.scores(query, ctx)
        idx = top_n(scores, query.blocked, n)
        items = self.data.items
        return [(items[j], float(scores[j])) for j in idx]

    def explain(self, query: Query, items: list[Item], ctx: Context) -> list[str]:
        return ["Recommended for you"] * len(items)


def _seed_reasons(
    query: Query, data: Interactions, items: list[Item], ctx: Context, contrib: np.ndarray, seeds: np.ndarray, template: str
) -> list[str]:
    """Name one or two of the member's items that pushed each pick up.

    Only items that pushed it at least half as much as the strongest one are named, and among those the ones
    named least so far in this list come first, so ten picks do not all cite the same favourite.
    """
    out = []
    named: Counter[int] = Counter()
    for col in range(len(items)):
        c = contrib[:, col] if contrib.size else np.empty(0)
        if c.size == 0 or c.max() <= 0:
            out.append("Close to what you already play")
            continue
        strong = np.flatnonzero(c >= 0.5 * c.max())
        chosen = sorted(strong.tolist(), key=lambda s: (named[s], -c[s], s))[:2]
        named.update(chosen)
        names = [ctx.label(data.items[seeds[s]]) for s in chosen]
        out.append(template.format(join_names(names, len(names))))
    return out


def _keep_top_per_row(matrix: sp.csr_matrix, keep: int) -> sp.csr_matrix:
    """Zero all but the `keep` largest entries of each row."""
    matrix = matrix.copy()
    for row in range(matrix.shape[0]):
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        if end - start > keep:
            vals = matrix.data[start:end]
            vals[np.argpartition(-vals, keep)[keep:]] = 0.0
    matrix.eliminate_zeros()
    return matrix


# Below this size the inverse takes about a millisecond, as long as setting the BLAS thread limit does.
_LIMIT_THREADS_FROM = 256


_BLAS_LIMIT_LOCK = threading.Lock()


def spd_inverse(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive definite matrix, computed in place where it can (`matrix` is overwritten).

    Cholesky (LAPACK potrf, then potri from the factor) does half the work of an LU inverse. It runs on one
    BLAS thread: when other processes keep the cores busy, OpenBLAS's threads wait for each other's CPU time at
    every step. On this 2-core host with both cores busy, the HetRec fit took 0.5-10 s with two threads and
    0.3-1.0 s with one; on an idle host one thread costs ~0.04 s more (`scripts/bench_engine.py --under-load`).
    The limit is process-wide while it lasts, so BLAS calls in other threads run on one thread meanwhile.
    """
    # Imported here, not at module level: scipy.linalg costs ~50-250 ms to import and only a fit needs it.
    from scipy.linalg import lapack
    from threadpoolctl import threadpool_limits

    n = matrix.shape[0]
    if n == 0:
        return matrix
    # A symmetric C-ordered matrix is its own transpose, which is Fortran-ordered: LAPACK works on it in place.
    a = matrix.T
    # One limited inverse at a time: the limit is process-wide, so two overlapping ones would restore each
    # other's saved setting and could leave the whole process on one BLAS thread.
    limited = n >= _LIMIT_THREADS_FROM
    with _BLAS_LIMIT_LOCK if limited else contextlib.nullcontext(), \
            threadpool_limits(1, user_api="blas") if limited else contextlib.nullcontext():
        factor, info = lapack.dpotrf(a, lower=False, clean=False, overwrite_a=True)
        if info == 0:
            a, info = lapack.dpotri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"matrix is not positive definite (LAPACK info {info})")
    _mirror_upper(a)
    return np.ascontiguousarray(a.T)  # no copy when LAPACK worked in place


def _mirror_upper(a: np.ndarray, block: int = 256) -> None:
    """Copy the upper triangle onto the lower one, in blocks (potri fills only the upper triangle)."""
    n = a.shape[0]
    for start in range(0, n, block):
        end = min(n, start + block)
        a[start:end, :start] = a[:start, start:end].T
        diag = a[start:end, start:end]
        diag[...] = np.triu(diag) + np.triu(diag, 1).T


class Popularity(Recommender):
    name = "popularity"
    source = "popular"

    def _fit(self, data: Interactions) -> None:
        logged = log_weights(data.matrix)
        row_max = np.asarray(logged.max(axis=1).todense()).ravel() if logged.shape[0] else np.zeros(0)
        inv = np.divide(1.0, row_max, out=np.zeros_like(row_max), where=row_max > 0)
        self.popularity = np.asarray((sp.diags(inv) @ logged).sum(axis=0)).ravel()
        self.listeners = np.diff(data.matrix.tocsc().indptr)

    def scores(self, query: Query, ctx: Context) -> np.ndarray:
        return self.popularity

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

    def _fit(self, data: Interactions) -> None:
        weights = log_weights(data.matrix)
        p_ui = row_normalise(weights)
        p_iu = row_normalise(weights.T.tocsr())
        if self.alpha != 1.0:
            p_ui.data **= self.alpha
            p_iu.data **= self.alpha
        self.p_iu_t = p_iu.T.tocsr()  # users x items: item vector -> listener vector
        self.p_ui_t = p_ui.T.tocsr()  # items x users: listener vector -> item vector
        self.p_iu = p_iu
        self.p_ui_c = p_ui.tocsc()
        popularity = np.diff(data.matrix.tocsc().indptr).astype(float)
        self.penalty = np.power(np.maximum(popularity, 1.0), -self.beta)
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

    def recommend_many(self, users: list[User], n: int, neighbours: int = 50) -> dict[User, list[Item]]:
        """Top n unplayed items for many fitted members at once (matrix products, no reasons)."""
        assert self.data is not None
        rows = [self.data.user_index[u] for u in users if u in self.data.user_index]
        played = self.data.matrix[rows]
        seeds = row_normalise(log_weights(played))
        if self.alpha != 1.0:
            seeds.data **= self.alpha
        walk = sp.csr_matrix(seeds @ self.p_iu)
        if walk.shape[1] > neighbours:
            # Keep each member's `neighbours` strongest listener links: exact for small servers, and it keeps
            # the second product sparse for big ones.
            walk = _keep_top_per_row(walk, neighbours)
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
        assert self.data is not None
        seeds = query.seeds
        cols = [self.data.item_index[i] for i in items]
        if len(seeds) == 0 or not cols:
            return ["Close to what you already play"] * len(items)
        # sparse rows times a small dense block: far cheaper than a sparse-sparse product for ten columns
        contrib = (self.p_iu[seeds] @ self.p_ui_c[:, cols].toarray()) * np.log1p(query.vector[seeds])[:, None]
        return _seed_reasons(query, self.data, items, ctx, contrib, seeds, "Because you play {}")


class UserKNN(Recommender):
    """Taste neighbours: cosine on log plays with a small shrink, k closest members."""

    name = "user_knn"
    source = "taste_neighbours"

    def __init__(self, k: int = 20, shrink: float = 0.0) -> None:
        super().__init__()
        self.k = k
        self.shrink = shrink

    def _fit(self, data: Interactions) -> None:
        weights = log_weights(data.matrix)
        norms = np.sqrt(np.asarray(weights.multiply(weights).sum(axis=1)).ravel())
        inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
        self.normed = sp.csr_matrix(sp.diags(inv) @ weights)
        self.binary = data.matrix.copy()
        self.binary.data[:] = 1.0
        self.binary_c = self.binary.tocsc()

    def neighbours(self, query: Query) -> tuple[np.ndarray, np.ndarray]:
        """(member indices, similarities) of the k members closest to the query, closest first."""
        if self.name not in query.memo:
            query.memo[self.name] = self._neighbours(query)
        return query.memo[self.name]

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
        return self.binary[idx].T @ sims

    def explain(self, query: Query, items: list[Item], ctx: Context) -> list[str]:
        assert self.data is not None
        idx, _ = self.neighbours(query)
        out = []
        for item in items:
            col = self.data.item_index[item]
            start, end = self.binary_c.indptr[col], self.binary_c.indptr[col + 1]
            players = set(self.binary_c.indices[start:end].tolist())
            close = [int(u) for u in idx if int(u) in players]  # closest first
            names = [n for n in (ctx.name(self.data.users[u]) for u in close) if n][:2]
            if not names:
                count = len(close)
                who = "member" if count == 1 else "members"
                out.append(f"{count} {who} whose taste is close to yours play{'s' if count == 1 else ''} this")
            elif len(close) == 1:
                out.append(f"{names[0]}, whose taste is close to yours, plays this")
            else:
                out.append(f"{join_names(names, len(close))}, whose taste is close to yours, play this")
        return out


class ListenerRidge(Recommender):
    """Linear auto-encoder solved in listener space; at most `max_users` listeners (the most active) form the basis."""

    name = "ridge"
    source = "similar_listening"

    def __init__(self, lam: float = 100.0, max_users: int = 3000) -> None:
        super().__init__()
        self.lam = lam
        self.max_users = max_users

    def _fit(self, data: Interactions) -> None:
        binary = data.matrix.copy()
        binary.data[:] = 1.0
        if binary.shape[0] > self.max_users:
            activity = np.diff(binary.indptr)
            keep = np.sort(np.argsort(-activity, kind="stable")[: self.max_users])
            binary = binary[keep]
        else:
            keep = np.arange(binary.shape[0])
        self.basis_row = {int(r): i for i, r in enumerate(keep)}
        self.basis = sp.csr_matrix(binary, dtype=np.float64)
        self.basis_t = self.basis.T.tocsr()
        self.basis_c = self.basis.tocsc()
        self.item_listeners = np.diff(self.basis_c.indptr).astype(float)
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

    def explain(self, query: Query, items: list[Item], ctx: Context) -> list[str]:
        assert self.data is not None
        seeds = query.seeds
        cols = [self.data.item_index[i] for i in items]
        if len(seeds) == 0 or not cols:
            return ["Close to what you already play"] * len(items)
        together = self.basis_t[seeds] @ self.basis_c[:, cols].toarray()
        contrib = together / np.sqrt(np.maximum(self.item_listeners[seeds], 1.0))[:, None]
        return _seed_reasons(query, self.data, items, ctx, contrib, seeds, "People who play {} tend to like this too")


class CatalogueExpansion(Recommender):
    """More from what you play: catalogue items of your artists, then genre matches; needs no other member."""

    name = "catalogue"
    source = "catalogue"

    def __init__(self, position_decay: float = 0.2, genre_weight: float = 0.5) -> None:
        super().__init__()
        self.position_decay = position_decay
        self.genre_weight = genre_weight

    def fit(self, data: Interactions) -> Self:
        self.data = data
        return self

    def _seed_weights(self, query: Query, ctx: Context) -> dict[Item, float]:
        seeds: dict[Item, float] = {}
        for item, weight in query.history.items():
            w = float(np.log1p(weight))
            for key in {item, ctx.item_artist.get(item)}:
                if key is not None and key in ctx.catalogue:
                    seeds[key] = seeds.get(key, 0.0) + w
        return seeds

    def _genre_profile(self, query: Query, ctx: Context) -> dict[str, float]:
        profile: dict[str, float] = {}
        for item, weight in query.history.items():
            for genre in ctx.item_genres.get(item, ()):
                profile[genre] = profile.get(genre, 0.0) + float(np.log1p(weight))
        return profile

    def _scored(self, query: Query, ctx: Context) -> dict[Item, tuple[float, str]]:
        """Every candidate with its score and reason (worked out once per query)."""
        if self.name not in query.memo:
            query.memo[self.name] = self._score_all(query, ctx)
        return query.memo[self.name]

    def _score_all(self, query: Query, ctx: Context) -> dict[Item, tuple[float, str]]:
        found: dict[Item, tuple[float, str]] = {}
        seeds = self._seed_weights(query, ctx)
        top = max(seeds.values(), default=0.0)
        for key, weight in seeds.items():
            for pos, item in enumerate(ctx.catalogue[key]):
                if item in query.known_ids:
                    continue
                score = weight / top / (1.0 + self.position_decay * pos)
                if score > found.get(item, (0.0, ""))[0]:
                    found[item] = (score, f"More from {ctx.label(key)}, which you already play")
        profile = self._genre_profile(query, ctx)
        best = max(profile.values(), default=0.0)
        if best > 0:
            for item, genres in ctx.item_genres.items():
                if item in query.known_ids or not genres:
                    continue
                hits = sorted((g for g in genres if g in profile), key=lambda g: -profile[g])
                if not hits:
                    continue
                score = self.genre_weight * sum(profile[g] for g in hits) / best / np.sqrt(len(genres))
                if score > found.get(item, (0.0, ""))[0]:
                    found[item] = (float(score), f"Matches genres you play: {', '.join(hits[:2])}")
        return found

    def candidates(self, query: Query, ctx: Context, n: int) -> list[tuple[Item, float]]:
        found = self._scored(query, ctx)
        best = heapq.nlargest(n, found.items(), key=lambda kv: kv[1][0])
        return [(item, score) for item, (score, _) in best]

    def explain(self, query: Query, items: list[Item], ctx: Context) -> list[str]:
        found = self._scored(query, ctx)
        return [found.get(item, (0.0, "Close to what you already play"))[1] for item in items]
