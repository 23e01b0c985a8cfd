"""Regularization grids and whole-path solves on a :class:`~dreg.core.problem.GramProblem`.

Pure numpy/scipy: no Dask import.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from dreg.core._util import blas_threads
from dreg.core.penalty import Penalty, reduce_problem, unpenalized_fit
from dreg.core.problem import GramProblem
from dreg.core.solvers import PathSolution, admm_path, cd_path, ridge_path

__all__ = ["PathResult", "alpha_max", "alpha_grid", "enet_path", "choose_solver", "SOLVERS"]

FloatArray = NDArray[np.float64]
SOLVERS = ("auto", "cd", "admm")


@dataclass(frozen=True)
class PathResult:
    """Solutions along a grid of alphas, on the original scale of the features.

    Attributes
    ----------
    alphas : ndarray of shape (n_alphas,)
    l1_ratio : float
    coef : ndarray of shape (n_alphas, n_features)
    intercept : ndarray of shape (n_alphas,)
    n_iter : ndarray of shape (n_alphas,)
    converged : ndarray of bool of shape (n_alphas,)
    kkt : ndarray of shape (n_alphas,)
        Largest optimality violation on the standardized problem.
    solver : str
        The solver that ran (``'cd'``, ``'admm'`` or ``'eigen'``).
    """

    alphas: FloatArray
    l1_ratio: float
    coef: FloatArray
    intercept: FloatArray
    n_iter: NDArray[np.int64]
    converged: NDArray[np.bool_]
    kkt: FloatArray
    solver: str


def alpha_max(problem: GramProblem, penalty: Penalty) -> float:
    """Smallest alpha at which every penalized coefficient is zero: :meth:`Penalty.alpha_max`."""
    return penalty.alpha_max(problem)


def alpha_grid(
    problem: GramProblem,
    penalty: Penalty,
    n_alphas: int = 100,
    eps: float | None = None,
) -> FloatArray:
    """Decreasing log-spaced grid of ``n_alphas`` values.

    ``l1_ratio > 0`` (glmnet): from :func:`alpha_max` down to
    ``alpha_max * eps``, ``eps = 1e-4`` when ``n_samples > n_features`` and
    ``1e-2`` otherwise.

    ``l1_ratio = 0`` (ridge): no alpha zeroes a ridge fit, so the grid is set
    by the spectrum instead: from ``1e3`` times the mean penalty-weighted
    diagonal of ``Q`` (a fit shrunk to about 0.1% of its least-squares size)
    down by ``eps = 1e-6`` (``n > p``) or ``1e-4`` (``n <= p``).  With
    standardized features this is 1e3 .. 1e-3, which covers the default
    ``Ridge(alpha=0.01)`` and near-least-squares fits.
    """
    if n_alphas < 1:
        raise ValueError(f"alphas must be a positive count, got {n_alphas}")
    p = problem.n_features
    n = problem.n_samples
    if penalty.l1_ratio == 0.0:
        _, Q, _, reduced = reduce_problem(problem, penalty)
        pf = reduced.penalty_factor
        P = pf > 0
        top = 1e3 * float(np.mean(np.diag(Q)[P] / pf[P])) if np.any(P) else 0.0
        if eps is None:
            eps = 1e-6 if n > p else 1e-4
    else:
        top = penalty.alpha_max(problem)
        if eps is None:
            eps = 1e-4 if n > p else 1e-2
    if not top > 0 or not np.isfinite(top):
        # nothing to shrink (constant target or no penalized feature): every
        # alpha gives the same model; keep a valid grid as scikit-learn does
        top = float(np.finfo(float).resolution)
    if n_alphas == 1:
        return np.array([top])
    return np.geomspace(top, top * eps, n_alphas)


def choose_solver(solver: str, penalty: Penalty) -> str:
    """The solver ``'auto'`` runs.

    * pure ridge (``l1_ratio = 0``) without bounds: ``'eigen'``, exact for all
      alphas from one eigendecomposition;
    * otherwise ``'cd'``: measured faster than ADMM at every size we
      benchmarked (``benchmarks/bench_solvers.py``, ``benchmarks/RESULTS.md``),
      because warm-started covariance updates touch only the active set while
      every ADMM iteration costs a dense ``p x p`` product.
    """
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    if solver == "auto":
        return "eigen" if (penalty.l1_ratio == 0.0 and not penalty.bounded) else "cd"
    return solver


def enet_path(
    problem: GramProblem,
    alphas: FloatArray,
    penalty: Penalty,
    *,
    solver: str = "auto",
    tol: float = 1e-7,
    max_iter: int = 10_000,
    coef_init: FloatArray | None = None,
) -> PathResult:
    """Solve the elastic net for every alpha of a decreasing grid, warm-started.

    Minimises, for each ``alpha``::

        1/(2W) sum_i w_i (y_i - b - x_i^T beta)^2
            + alpha sum_j pf_j (l1_ratio |beta_j s_j| + (1 - l1_ratio)/2 (beta_j s_j)^2)

    subject to ``lower <= beta <= upper`` (original scale), with ``s`` the
    feature scale of ``problem`` (standard deviations, or ones).  Constant
    features are dropped before solving and get 0.

    Parameters
    ----------
    problem : GramProblem
        The standardized quadratic problem of the rows (see :mod:`dreg.core.problem`).
    alphas : ndarray of shape (n_alphas,)
        Decreasing, >= 0 (e.g. from :func:`alpha_grid`).
    penalty : Penalty
        ``l1_ratio``, ``penalty_factor`` and bounds, each of shape
        (n_features,), the bounds on the original scale.
    solver : {'auto', 'cd', 'admm'}, default 'auto'
        See :func:`choose_solver`.
    tol : float, default 1e-7
        Step-size tolerance of the solver (relative to ``problem.yy``); every
        solution is then made exact to rounding on its KKT conditions.
    max_iter : int, default 10000
        Sweeps (CD) or iterations (ADMM) per alpha.
    coef_init : ndarray of shape (n_features,), optional
        Warm start on the original scale for the first alpha.  By default the
        fit of the unpenalized features (the model at ``alpha_max``).

    Returns
    -------
    PathResult
        ``coef`` of shape (n_alphas, n_features) on the original scale.
    """
    alphas = np.asarray(alphas, dtype=np.float64)
    if alphas.ndim != 1 or alphas.size == 0:
        raise ValueError("alphas must be a non-empty 1-d array")
    if np.any(np.diff(alphas) > 0):
        raise ValueError("alphas must be in decreasing order")
    p = problem.n_features
    keep, Q, q, reduced = reduce_problem(problem, penalty)
    name = choose_solver(solver, reduced)
    init = None
    if coef_init is not None:
        init = problem.to_standardized(coef_init)[keep]
    elif name != "eigen" and np.any(reduced.penalty_factor == 0):
        # start from the fit of the unpenalized features (the model at alpha_max),
        # so penalized features that it explains never enter the working set
        init = unpenalized_fit(Q, q, reduced, problem.yy)
    sol: PathSolution
    with blas_threads(q.shape[0]):
        if name == "eigen":
            sol = ridge_path(Q, q, alphas, reduced)
        elif name == "cd":
            sol = cd_path(Q, q, alphas, reduced, yy=problem.yy, tol=tol, max_iter=max_iter, coef_init=init)
        else:
            sol = admm_path(Q, q, alphas, reduced, yy=problem.yy, tol=tol, max_iter=max_iter, coef_init=init)
    coef_std = np.zeros((alphas.size, p))
    coef_std[:, keep] = sol.coef
    coef, intercept = problem.to_original(coef_std)
    return PathResult(
        alphas=alphas,
        l1_ratio=penalty.l1_ratio,
        coef=coef,
        intercept=intercept,
        n_iter=sol.n_iter,
        converged=sol.converged,
        kkt=sol.kkt,
        solver=name,
    )
