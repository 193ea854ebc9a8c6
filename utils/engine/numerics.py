"""Small sparse and dense helpers the engine's algorithms share (numpy/scipy only, no engine types)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp

# Below this size the inverse takes about a millisecond, as long as setting the BLAS thread limit does.
_LIMIT_THREADS_FROM = 256

_BLAS_LIMIT_LOCK = threading.Lock()


def safe_inverse(values: np.ndarray) -> np.ndarray:
    """1 / values, with 0 where a value is 0 (an empty row or column stays empty)."""
    values = np.asarray(values, dtype=float)
    return np.divide(1.0, values, out=np.zeros_like(values), where=values > 0)


def binarise(matrix: sp.spmatrix) -> sp.csr_matrix:
    """A copy with every stored weight set to 1 (who played what, not how much)."""
    out = sp.csr_matrix(matrix, dtype=np.float64, copy=True)
    out.data[:] = 1.0
    return out


def item_listeners(matrix: sp.spmatrix) -> np.ndarray:
    """How many users have each item (column counts of a users x items matrix)."""
    return np.diff(sp.csc_matrix(matrix).indptr)


def scale_rows(matrix: sp.spmatrix, factors: np.ndarray) -> sp.csr_matrix:
    """Row i multiplied by factors[i]."""
    return sp.csr_matrix(sp.diags(factors) @ matrix)


def power_data(matrix: sp.spmatrix, exponent: float) -> sp.spmatrix:
    """Raise the stored values to `exponent` in place (no-op at 1) and return the matrix."""
    if exponent != 1.0:
        matrix.data **= exponent
    return matrix


def keep_top_per_row(matrix: sp.csr_matrix, keep: int) -> sp.csr_matrix:
    """Zero all but the `keep` largest entries of each row."""
    matrix = matrix.copy()
    for row in range(matrix.shape[0]):
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        if end - start > keep:
            vals = matrix.data[start:end]
            vals[np.argpartition(-vals, keep)[keep:]] = 0.0
    matrix.eliminate_zeros()
    return matrix


@contextlib.contextmanager
def one_blas_thread(size: int = _LIMIT_THREADS_FROM) -> Iterator[None]:
    """Run the block on one BLAS thread when the work is big enough to matter (see `spd_inverse`).

    One limited block at a time: the limit is process-wide, so two overlapping ones would restore each
    other's saved setting and could leave the whole process on one BLAS thread.
    """
    if size < _LIMIT_THREADS_FROM:
        yield
        return
    from threadpoolctl import threadpool_limits

    with _BLAS_LIMIT_LOCK, threadpool_limits(1, user_api="blas"):
        yield


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

    n = matrix.shape[0]
    if n == 0:
        return matrix
    # A symmetric C-ordered matrix is its own transpose, which is Fortran-ordered: LAPACK works on it in place.
    a = matrix.T
    with one_blas_thread(n):
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


def top_per_row(scores: np.ndarray, n: int) -> np.ndarray:
    """Column indices of each row's n highest scores, best first (ties by column); -inf never wins over a finite."""
    n = min(n, scores.shape[1])
    if n <= 0:
        return np.empty((scores.shape[0], 0), dtype=np.int64)
    part = np.argpartition(-scores, n - 1, axis=1)[:, :n]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)
