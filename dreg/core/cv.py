"""K-fold cross-validation of whole regularization paths from statistics alone.

For each fold ``k`` the training statistics are the merge of every other
fold's statistics (:func:`dreg.core.stats.leave_one_out`), the path is solved on
them, and the held-out error of every alpha comes from fold ``k``'s own
statistics (the datafit's held-out loss, :mod:`dreg.core.datafit`).  The data are never read
again.

Pure numpy/scipy: no Dask import.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dreg.core._util import blas_threads, n_threads, single_blas_thread
from dreg.core.datafit import SquaredError
from dreg.core.path import alpha_grid, enet_path
from dreg.core.penalty import Penalty
from dreg.core.problem import GramProblem
from dreg.core.stats import SufficientStats, collapse, leave_one_out

__all__ = ["CVResult", "cross_validate", "select_alpha", "summarize_cv"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class CVResult:
    """Cross-validated errors along the path for each l1_ratio.

    Attributes
    ----------
    l1_ratios : ndarray of shape (n_l1_ratios,)
    alphas : ndarray of shape (n_l1_ratios, n_alphas)
        Decreasing grid of each l1_ratio.
    fold_labels : ndarray of shape (n_folds,)
    mse_path : ndarray of shape (n_l1_ratios, n_alphas, n_folds)
        Weighted held-out mean squared error of each fold.
    train_mse_path : ndarray of shape (n_l1_ratios, n_alphas, n_folds)
        Weighted training mean squared error of each fold's model: with
        ``mse_path`` it shows the generalization gap.
    mse_mean, mse_se : ndarray of shape (n_l1_ratios, n_alphas)
        Mean over folds and its standard error ``std(ddof=1) / sqrt(n_folds)``.
    best_l1_index : int
        l1_ratio with the smallest mean error.
    best_alpha_index : int
        Index of ``alpha_min`` in ``alphas[best_l1_index]``.
    alpha_1se_index : int
        Index of the largest alpha whose mean error is within one standard
        error of the minimum (glmnet's ``lambda.1se``).
    fold_coef : ndarray of shape (n_alphas, n_folds, n_features)
        Each fold's coefficients along the path of the best l1_ratio.
    n_iter : ndarray of shape (n_l1_ratios, n_folds)
        Solver iterations spent on each fold's path.
    """

    l1_ratios: FloatArray
    alphas: FloatArray
    fold_labels: NDArray[np.int64]
    mse_path: FloatArray
    train_mse_path: FloatArray
    mse_mean: FloatArray
    mse_se: FloatArray
    best_l1_index: int
    best_alpha_index: int
    alpha_1se_index: int
    fold_coef: FloatArray
    n_iter: NDArray[np.int64]

    @property
    def l1_ratio(self) -> float:
        return float(self.l1_ratios[self.best_l1_index])

    @property
    def alpha_min(self) -> float:
        return float(self.alphas[self.best_l1_index, self.best_alpha_index])

    @property
    def alpha_1se(self) -> float:
        return float(self.alphas[self.best_l1_index, self.alpha_1se_index])


def select_alpha(mse_mean: FloatArray, mse_se: FloatArray) -> tuple[int, int, int]:
    """``(best_l1_index, best_alpha_index, alpha_1se_index)`` from the CV curves.

    The minimum is the first smallest mean (scikit-learn's ``argmin`` over the
    flattened ``(l1_ratio, alpha)`` table); the 1-SE alpha is the largest alpha
    (alphas decrease along the axis) of the same l1_ratio with
    ``mean <= mean_min + se_min``.
    """
    flat = int(np.nanargmin(mse_mean))
    li, ai = np.unravel_index(flat, mse_mean.shape)
    bound = mse_mean[li, ai] + mse_se[li, ai]
    within = np.flatnonzero(mse_mean[li] <= bound)
    return int(li), int(ai), int(within.min())


def _check_folds(stats: SufficientStats) -> NDArray[np.int64]:
    """The held-out fold labels (``>= 0``), after checking that CV can run on them."""
    folds = stats.labels[stats.labels >= 0]
    n_samples = int(stats.count.sum())
    if not float(stats.weight_sum.sum()) > 0:
        raise ValueError("all sample weights are zero: nothing to fit")
    if folds.size < 2:
        raise ValueError(f"cross-validation needs at least 2 folds, got {folds.size} (n_samples={n_samples})")
    counts = stats.count[np.searchsorted(stats.labels, folds)]
    small = folds[counts < 2]
    if small.size:
        raise ValueError(
            f"fold(s) {small.tolist()} have fewer than 2 rows with positive weight (n_samples={n_samples}) "
            f"(rows per fold: {dict(zip(folds.tolist(), counts.tolist(), strict=True))})"
        )
    return folds


def _grids(
    full: GramProblem, penalties: list[Penalty], alphas: int | ArrayLike, eps: float | None
) -> FloatArray:
    """The alpha grid of each l1_ratio, shape (n_l1_ratios, n_alphas)."""
    if np.ndim(alphas) == 0:
        return np.stack([alpha_grid(full, pen, int(alphas), eps) for pen in penalties])
    grid = np.sort(np.asarray(alphas, dtype=np.float64))[::-1]
    return np.tile(grid, (len(penalties), 1))


def _run(solve: Callable[[tuple[int, int]], None], tasks: list[tuple[int, int]], n_jobs: int | None, p: int) -> None:
    """``solve`` every task, on threads when there are several CPUs and tasks.

    Each fold path is one compiled ``nogil`` call, so threads help at every
    problem size (figures in benchmarks/README.md, "Measured speed-ups").
    """
    threads = min(n_threads(n_jobs), len(tasks))
    if threads <= 1:
        with blas_threads(p):
            for task in tasks:
                solve(task)
    else:
        # the threads are the parallelism: one BLAS thread each (a nested
        # multi-threaded BLAS call only oversubscribes the cores)
        with single_blas_thread(), ThreadPoolExecutor(threads, thread_name_prefix="dreg-cv") as pool:
            for _ in pool.map(solve, tasks):
                pass


def cross_validate(
    stats: SufficientStats,
    penalty: Penalty,
    *,
    l1_ratios: ArrayLike | None = None,
    alphas: int | ArrayLike = 100,
    eps: float | None = None,
    fit_intercept: bool = True,
    standardize: bool = True,
    datafit: SquaredError | None = None,
    solver: str = "auto",
    tol: float = 1e-7,
    max_iter: int = 10_000,
    n_jobs: int | None = None,
) -> CVResult:
    """Cross-validate the elastic-net path on per-fold statistics.

    For each l1_ratio ``r`` and held-out fold ``k``, solves the path of
    :func:`dreg.core.path.enet_path` on the statistics of every other fold,
    i.e. minimises for each ``alpha``::

        1/(2W_k) sum_{i not in k} w_i (y_i - b - x_i^T beta)^2
            + alpha sum_j pf_j (r |beta_j s_j| + (1 - r)/2 (beta_j s_j)^2)

    (``s``: the training rows' feature scale, or ones), and scores it on fold
    ``k``'s own statistics.

    Parameters
    ----------
    stats : SufficientStats
        One label per fold; label ``-1`` (rows never held out) is only ever
        part of the training statistics.
    penalty : Penalty
        Penalty factors and bounds (original scale), shape (n_features,).
    l1_ratios : array-like of float in [0, 1], optional
        Mixes to cross-validate; default ``[penalty.l1_ratio]``.
    alphas : int or array-like, default 100
        Number of alphas of the automatic grid (computed on all rows, per
        l1_ratio, see :func:`dreg.core.path.alpha_grid`), or an explicit grid
        shared by every l1_ratio (sorted decreasing here).
    eps : float, optional
        ``alpha_min / alpha_max`` of the automatic grid (default: see
        :func:`dreg.core.path.alpha_grid`).
    fit_intercept, standardize : bool, default True
        How each row set's problem is built (:func:`dreg.core.problem.make_problem`).
    datafit : SquaredError, optional
        The loss: builds each problem and scores each held-out fold
        (default ``SquaredError()``).
    solver, tol, max_iter
        As in :func:`dreg.core.path.enet_path`.
    n_jobs : int or None, default None
        Threads solving the ``n_l1_ratios x n_folds`` paths concurrently (each
        path is one compiled call that releases the GIL).  ``None`` or ``-1``
        uses every CPU available to the process.  The results do not depend
        on it: each path is solved by one thread from the same starting point.

    Returns
    -------
    CVResult
        Errors of shape (n_l1_ratios, n_alphas, n_folds) and the selection.
    """
    datafit = SquaredError() if datafit is None else datafit
    ratios = [penalty.l1_ratio] if l1_ratios is None else l1_ratios
    l1_ratios = np.atleast_1d(np.asarray(ratios, dtype=np.float64))
    penalties = [penalty.with_l1_ratio(float(r)) for r in l1_ratios]
    folds = _check_folds(stats)
    K = folds.size
    full = datafit.problem(collapse(stats), fit_intercept, standardize)
    grids = _grids(full, penalties, alphas, eps)
    A = grids.shape[1]
    L = l1_ratios.size
    p = stats.n_features
    train_sets = leave_one_out(stats, folds)
    problems = [datafit.problem(s, fit_intercept, standardize) for s in train_sets]
    held = [stats.select(int(f)) for f in folds]
    mse = np.zeros((L, A, K))
    train_mse = np.zeros((L, A, K))
    n_iter = np.zeros((L, K), dtype=np.int64)
    fold_coefs = np.zeros((L, A, K, p))

    def solve(task: tuple[int, int]) -> None:
        li, k = task
        res = enet_path(problems[k], grids[li], penalties[li], solver=solver, tol=tol, max_iter=max_iter)
        mse[li, :, k] = datafit.held_out_loss(held[k], res.coef, res.intercept)
        train_mse[li, :, k] = datafit.held_out_loss(train_sets[k], res.coef, res.intercept)
        n_iter[li, k] = int(res.n_iter.sum())
        fold_coefs[li, :, k, :] = res.coef

    _run(solve, [(li, k) for li in range(L) for k in range(K)], n_jobs, p)
    return summarize_cv(l1_ratios, grids, folds, mse, train_mse, fold_coefs, n_iter)


def summarize_cv(
    l1_ratios: FloatArray,
    grids: FloatArray,
    folds: NDArray[np.int64],
    mse: FloatArray,
    train_mse: FloatArray,
    fold_coefs: FloatArray,
    n_iter: NDArray[np.int64],
) -> CVResult:
    """The :class:`CVResult` of held-out errors ``mse`` of shape (n_l1_ratios, n_alphas, n_folds):
    mean and standard error over folds, the selection (:func:`select_alpha`), the record.

    Shared by every engine that cross-validates a path (the Gram engine here, the wide
    engine in :mod:`dreg.core.wide`), so all select alike."""
    mean = mse.mean(axis=-1)
    se = mse.std(axis=-1, ddof=1) / np.sqrt(folds.size)
    li, ai, a1 = select_alpha(mean, se)
    return CVResult(
        l1_ratios=l1_ratios,
        alphas=grids,
        fold_labels=folds,
        mse_path=mse,
        train_mse_path=train_mse,
        mse_mean=mean,
        mse_se=se,
        best_l1_index=li,
        best_alpha_index=ai,
        alpha_1se_index=a1,
        fold_coef=fold_coefs[li],
        n_iter=n_iter,
    )
