"""Numerics of utils/engine/algorithms.py: the ridge model's Cholesky inverse equals the old LU inverse, and its reasons
are the same whether counted from a dense copy or the sparse matrix."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import scipy.linalg
from threadpoolctl import threadpool_info

from utils.engine.algorithms import ListenerRidge, spd_inverse
from utils.engine.data import Context, Interactions


def _gram(listeners: int, items: int, lam: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = (rng.random((listeners, items)) < 0.1).astype(float)
    gram = x @ x.T
    gram[np.diag_indices_from(gram)] += lam
    return gram


# 5: a single mirror block; 600: several blocks, and above the size where one BLAS thread is enforced.
@pytest.mark.parametrize("n", [1, 5, 600])
def test_cholesky_inverse_matches_the_lu_inverse(n):
    gram = _gram(n, 80, 10.0, seed=n)
    expected = scipy.linalg.inv(gram)
    work = gram.copy()
    inverse = spd_inverse(work)
    np.testing.assert_allclose(inverse, expected, rtol=1e-10, atol=1e-13)
    assert np.array_equal(inverse, inverse.T)  # both triangles are filled, exactly symmetric
    assert inverse.flags.c_contiguous
    assert np.shares_memory(inverse, work)  # computed in place, no n x n copy
    np.testing.assert_allclose(inverse @ gram, np.eye(n), atol=1e-10)


def test_cholesky_inverse_of_a_fortran_ordered_or_empty_matrix():
    gram = _gram(40, 30, 5.0, seed=1)
    np.testing.assert_allclose(spd_inverse(np.asfortranarray(gram)), scipy.linalg.inv(gram), rtol=1e-10, atol=1e-13)
    assert spd_inverse(np.zeros((0, 0))).shape == (0, 0)


def test_a_matrix_that_is_not_positive_definite_is_refused():
    with pytest.raises(np.linalg.LinAlgError):
        spd_inverse(np.array([[1.0, 2.0], [2.0, 1.0]]))


def test_blas_thread_count_is_restored_after_the_inverse():
    before = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
    spd_inverse(_gram(300, 50, 10.0, seed=3))
    assert [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"] == before


def test_ridge_scores_match_the_lu_inverse_model():
    rng = np.random.default_rng(7)
    rows = [(f"u{u}", f"i{i}", float(rng.integers(1, 50))) for u in range(60) for i in range(120) if rng.random() < 0.08]
    data = Interactions.from_triples(rows)
    model = ListenerRidge(lam=20.0).fit(data)
    binary = (data.matrix.toarray() > 0).astype(float)
    gram = binary @ binary.T + 20.0 * np.eye(binary.shape[0])
    np.testing.assert_allclose(model.inverse, scipy.linalg.inv(gram), rtol=1e-10, atol=1e-13)
    weights = binary.T @ scipy.linalg.inv(gram) @ binary  # W = X^T (X X^T + lam I)^-1 X
    for user in ("u0", "u17", "u59"):
        query = model.query(user, None, (), Context())
        expected = binary[data.user_index[user]] @ weights
        np.testing.assert_allclose(model.scores(query, Context()), expected, rtol=1e-8, atol=1e-12)


def test_blas_thread_count_is_restored_when_two_servers_fit_at_once():
    before = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    grams = [_gram(400, 50, 10.0, seed=seed) for seed in range(4)]

    def fit_many() -> None:
        for _ in range(8):
            for gram in grams:
                spd_inverse(gram.copy())

    threads = [threading.Thread(target=fit_many) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"] == before


def test_ridge_reasons_are_the_same_from_the_dense_copy_and_the_sparse_matrix(monkeypatch):
    """A server-sized model words its reasons from a dense copy of who plays what; a big one from the sparse matrix."""
    rng = np.random.default_rng(7)
    triples = [(u, f"artist {i % 9} - song {i}", float(rng.integers(1, 20)))
               for u in range(40) for i in rng.choice(120, 25, replace=False)]
    data = Interactions.from_triples(triples)
    ctx = Context(item_labels={item: item.title() for item in data.items})

    def reasons(model: ListenerRidge) -> list[list[str]]:
        out = []
        for user in data.users[:15]:
            recs = model.recommend(user, 10, context=ctx)
            assert recs and all(r.reason for r in recs)
            out.append([f"{r.item}: {r.reason}" for r in recs])
        return out

    dense = ListenerRidge().fit(data)
    assert dense.dense_t is not None
    monkeypatch.setattr("utils.engine.algorithms.DENSE_EXPLAIN_CELLS", 0)
    sparse = ListenerRidge().fit(data)
    assert sparse.dense_t is None
    assert reasons(dense) == reasons(sparse)
    assert any("People who play" in line for lines in reasons(dense) for line in lines)
