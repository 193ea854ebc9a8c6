"""Two more parts the tuning may switch on: EASE (small catalogues only) and iALS (the `implicit` library).

- `EASE` (Steck 2019): an items x items ridge regression with a zero diagonal, closed form. Dense in items,
  so the hybrid only fits it when the items with at least two listeners number `EASE_MAX_ITEMS` or fewer.
- `IALS`: implicit alternating least squares (Hu, Koren and Volinsky 2008) through `implicit`'s CPU
  solver, fitted on log plays. A member who is not in the fitted matrix is folded in by one exact
  least-squares step on the item factors. Without the `implicit` package it is simply never used.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from utils.engine.base import Recommender
from utils.engine.data import Context, Interactions, Item, Query, log_weights
from utils.engine.numerics import binarise, item_listeners, one_blas_thread, spd_inverse

# An items x items inverse of this size takes about a second on one core; past it EASE is not offered.
EASE_MAX_ITEMS = 3000


def ials_available() -> bool:
    """True when the `implicit` package can be imported."""
    try:
        import implicit.cpu.als  # noqa: F401
    except ImportError:
        return False
    return True


class EASE(Recommender):
    """Items x items weights B = -P / diag(P), P = (X^T X + lam I)^-1, over items with `min_listeners` or more."""

    name = "ease"
    source = "similar_listening"

    def __init__(self, lam: float = 50.0, min_listeners: int = 2) -> None:
        super().__init__()
        self.lam = lam
        self.min_listeners = int(min_listeners)

    def settings(self) -> dict[str, float]:
        return {"lam": self.lam, "min_listeners": self.min_listeners}

    @staticmethod
    def item_count(data: Interactions, min_listeners: int = 2) -> int:
        """How many items EASE would model (its cost grows with the cube of this)."""
        return int((item_listeners(data.matrix) >= min_listeners).sum())

    def _fit(self, data: Interactions) -> None:
        binary = binarise(data.matrix).tocsc()
        self.keep = np.flatnonzero(np.diff(binary.indptr) >= self.min_listeners)
        sub = binary[:, self.keep]
        gram = (sub.T @ sub).toarray()
        gram[np.diag_indices_from(gram)] += self.lam
        inverse = spd_inverse(gram)
        weights = inverse / -np.diag(inverse)
        np.fill_diagonal(weights, 0.0)
        self.weights = weights.astype(np.float32)
        self.column = np.full(len(data.items), -1)
        self.column[self.keep] = np.arange(len(self.keep))

    def scores(self, query: Query, ctx: Context) -> np.ndarray:
        out = np.zeros(len(query.vector))
        out[self.keep] = (query.vector[self.keep] > 0).astype(np.float32) @ self.weights
        return out

    def batch_scores(self, rows: np.ndarray) -> np.ndarray:
        assert self.data is not None
        played = binarise(self.data.matrix[rows])[:, self.keep]
        out = np.zeros((len(rows), len(self.data.items)))
        out[:, self.keep] = played @ self.weights
        return out

    def explain(self, query: Query, items: list[Item], ctx: Context) -> list[str]:
        return self.explain_by_seeds(query, items, ctx, self._contrib, "People who play {} tend to like this too")

    def _contrib(self, seeds: np.ndarray, cols: list[int]) -> np.ndarray:
        """Weight from each seed to each pick (0 for items EASE leaves out)."""
        contrib = np.zeros((len(seeds), len(cols)))
        modelled = self.column[seeds] >= 0
        for pos, col in enumerate(cols):
            if self.column[col] >= 0:
                contrib[modelled, pos] = self.weights[self.column[seeds[modelled]], self.column[col]]
        return contrib


class IALS(Recommender):
    """Matrix factorisation of log plays by implicit ALS; `alpha` scales how much a play counts."""

    name = "ials"
    source = "similar_listening"
    # reasons come from a dense float product, whose rounding may depend on how many picks are worked out together
    reasons_stand_alone = False

    def __init__(self, factors: int = 48, regularization: float = 0.05, alpha: float = 1.0,
                 iterations: int = 10) -> None:
        super().__init__()
        self.factors = int(factors)
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = int(iterations)

    def settings(self) -> dict[str, float]:
        return {"factors": self.factors, "regularization": self.regularization, "alpha": self.alpha,
                "iterations": self.iterations}

    def _fit(self, data: Interactions) -> None:
        from implicit.cpu.als import AlternatingLeastSquares

        # implicit takes the confidence itself: 1 + alpha * log plays, so a small weight still counts as seen.
        confidence = log_weights(data.matrix)
        confidence.data = 1.0 + self.alpha * confidence.data
        weights = sp.csr_matrix(confidence, dtype=np.float32)
        # implicit parallelises itself; a second layer of BLAS threads only makes them wait for each other
        # (it warns when it is built with more than one BLAS thread).
        # More factors than half the members (or items) just memorises who played what: nothing new scores.
        self.rank = max(2, min(self.factors, min(data.shape) // 2))
        with one_blas_thread():
            model = AlternatingLeastSquares(
                factors=self.rank, regularization=self.regularization, alpha=1.0,
                iterations=self.iterations, random_state=0, calculate_training_loss=False, num_threads=1)
            model.fit(weights, show_progress=False)
        self.user_factors = np.asarray(model.user_factors, dtype=np.float64)
        self.item_factors = np.asarray(model.item_factors, dtype=np.float64)
        self.gram = self.item_factors.T @ self.item_factors

    def _fold_in(self, vector: np.ndarray) -> np.ndarray:
        """The user factors that best explain this weight vector, given the item factors (one ALS step)."""
        seen = np.flatnonzero(vector > 0)
        y = self.item_factors[seen]
        confidence = self.alpha * np.log1p(vector[seen])  # the confidence above, minus 1
        a = self.gram + (y.T * confidence) @ y + self.regularization * np.eye(self.rank)
        return np.linalg.solve(a, y.T @ (1.0 + confidence))

    def scores(self, query: Query, ctx: Context) -> np.ndarray:
        if query.row is not None and not query.liked_added:
            user = self.user_factors[query.row]
        elif query.vector.any():
            user = self._fold_in(query.vector)
        else:
            return np.zeros(len(query.vector))
        # einsum's own loop, not BLAS: a threaded BLAS call on a busy 2-core host costs milliseconds per vector.
        return np.einsum("ij,j->i", self.item_factors, user)

    def batch_scores(self, rows: np.ndarray) -> np.ndarray:
        return self.user_factors[rows] @ self.item_factors.T

    def explain(self, query: Query, items: list[Item], ctx: Context) -> list[str]:
        return self.explain_by_seeds(query, items, ctx, lambda seeds, cols: (
            self.item_factors[seeds] @ self.item_factors[cols].T) * np.log1p(query.vector[seeds])[:, None],
            "Because you play {}")
