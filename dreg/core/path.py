"""Regularization grids and whole-path solves on a :class:`~dreg.core.problem.GramProblem`.

Pure numpy/scipy: no Dask import.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from dreg.core.problem import GramProblem
from dreg.core.solvers import PathSolution, admm_path, cd_path, ridge_path

__all__ = ["PathResult", "alpha_max", "alpha_grid", "blas_threads", "enet_path", "choose_solver", "SOLVERS"]

FloatArray = NDArray[np.float64]
SOLVERS = ("auto", "cd", "admm")

# glmnet floors l1_ratio at this value when computing alpha_max for near-ridge fits
_L1_FLOOR = 1e-3
# up to this many features the coordinator solves with one BLAS thread
_SMALL_P = 512
# relative slack of alpha_max over its exact value (see alpha_max)
_ALPHA_MAX_SLACK = 1e-12


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


def _reduced(
    problem: GramProblem, penalty_factor: FloatArray, lower: FloatArray, upper: FloatArray
) -> tuple[NDArray[np.int64], FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    keep = np.flatnonzero(~problem.constant)
    Q = problem.Q[np.ix_(keep, keep)]
    q = problem.q[keep]
    s = problem.scale[keep]
    with np.errstate(invalid="ignore"):
        lo = np.where(np.isfinite(lower[keep]), lower[keep] * s, -np.inf)
        hi = np.where(np.isfinite(upper[keep]), upper[keep] * s, np.inf)
    return keep, Q, q, np.asarray(penalty_factor, dtype=np.float64)[keep], lo, hi


def _unpenalized_fit(
    Q: FloatArray, q: FloatArray, pf: FloatArray, lo: FloatArray, hi: FloatArray, yy: float
) -> FloatArray:
    """Least squares on the unpenalized features only (the model at alpha_max)."""
    b = np.zeros(q.shape[0])
    U = np.flatnonzero(pf == 0)
    if U.size == 0:
        return b
    Qu, qu = Q[np.ix_(U, U)], q[U]
    if np.all(np.isinf(lo[U])) and np.all(np.isinf(hi[U])):
        b[U] = ridge_path(Qu, qu, np.zeros(1), np.ones(U.size)).coef[0]
    else:
        b[U] = cd_path(Qu, qu, np.zeros(1), 1.0, np.zeros(U.size), lo[U], hi[U], yy=yy, tol=1e-12).coef[0]
    return b


def alpha_max(
    problem: GramProblem,
    l1_ratio: float,
    penalty_factor: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
) -> float:
    """Smallest alpha at which every penalized coefficient is zero.

    With ``b_U`` the fit of the unpenalized features alone and
    ``c = q - Q b_U``: ``alpha_max = max_j t_j / (max(l1_ratio, 1e-3) pf_j)``
    over penalized ``j``, where ``t_j = |c_j|`` (free sign), ``max(c_j, 0)``
    (``lower_j = 0``) or ``max(-c_j, 0)`` (``upper_j = 0``).  For
    ``l1_ratio = 0`` no finite alpha zeroes a ridge fit; the 1e-3 floor is
    glmnet's convention.
    """
    keep, Q, q, pf, lo, hi = _reduced(problem, penalty_factor, lower, upper)
    P = pf > 0
    if not np.any(P):
        return 0.0
    b = _unpenalized_fit(Q, q, pf, lo, hi, problem.yy)
    c = q - Q @ b
    t = np.where(lo < 0, np.where(hi > 0, np.abs(c), np.maximum(-c, 0.0)), np.maximum(c, 0.0))
    t = np.where((lo >= 0) & (hi <= 0), 0.0, t)
    denom = max(l1_ratio, _L1_FLOOR) * pf[P]
    # a relative 1e-12 above the exact value, so that rounding in the solver's own
    # residual and in ``alpha * l1_ratio * pf`` cannot leave a 1e-17 coefficient at the top
    return float(np.max(t[P] / denom)) * (1.0 + _ALPHA_MAX_SLACK)


def alpha_grid(
    problem: GramProblem,
    l1_ratio: float,
    penalty_factor: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
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
    if l1_ratio == 0.0:
        keep, Q, _, pf, _, _ = _reduced(problem, penalty_factor, lower, upper)
        P = pf > 0
        top = 1e3 * float(np.mean(np.diag(Q)[P] / pf[P])) if np.any(P) else 0.0
        if eps is None:
            eps = 1e-6 if n > p else 1e-4
    else:
        top = alpha_max(problem, l1_ratio, penalty_factor, lower, upper)
        if eps is None:
            eps = 1e-4 if n > p else 1e-2
    if not top > 0 or not np.isfinite(top):
        # nothing to shrink (constant target or no penalized feature): every
        # alpha gives the same model; keep a valid grid as scikit-learn does
        top = float(np.finfo(float).resolution)
    if n_alphas == 1:
        return np.array([top])
    return np.geomspace(top, top * eps, n_alphas)


def choose_solver(solver: str, l1_ratio: float, lower: FloatArray, upper: FloatArray) -> str:
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
    unbounded = bool(np.all(np.isinf(lower)) and np.all(np.isinf(upper)))
    if solver == "auto":
        return "eigen" if (l1_ratio == 0.0 and unbounded) else "cd"
    return solver


def single_blas_thread():
    """A context limiting BLAS to one thread (a no-op without threadpoolctl)."""
    import contextlib

    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def blas_threads(n_features: int):
    """One BLAS thread for small problems, whose many tiny products and
    factorizations only lose time to thread synchronisation (badly so on a
    loaded machine); the library default for large ones."""
    import contextlib

    return single_blas_thread() if n_features <= _SMALL_P else contextlib.nullcontext()


def enet_path(
    problem: GramProblem,
    alphas: FloatArray,
    l1_ratio: float,
    penalty_factor: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
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
    feature scale of ``problem`` (standard deviations, or ones).

    Returns
    -------
    PathResult
        Coefficients on the original scale; constant features get 0.
    """
    alphas = np.asarray(alphas, dtype=np.float64)
    if alphas.ndim != 1 or alphas.size == 0:
        raise ValueError("alphas must be a non-empty 1-d array")
    if np.any(np.diff(alphas) > 0):
        raise ValueError("alphas must be in decreasing order")
    p = problem.n_features
    keep, Q, q, pf, lo, hi = _reduced(problem, penalty_factor, lower, upper)
    name = choose_solver(solver, l1_ratio, lo, hi)
    init = None
    if coef_init is not None:
        init = problem.to_standardized(coef_init)[keep]
    elif name != "eigen" and np.any(pf == 0):
        # start from the fit of the unpenalized features (the model at alpha_max),
        # so penalized features that it explains never enter the working set
        init = _unpenalized_fit(Q, q, pf, lo, hi, problem.yy)
    sol: PathSolution
    with blas_threads(q.shape[0]):
        if name == "eigen":
            sol = ridge_path(Q, q, alphas, pf)
        elif name == "cd":
            sol = cd_path(Q, q, alphas, l1_ratio, pf, lo, hi, yy=problem.yy, tol=tol, max_iter=max_iter, coef_init=init)
        else:
            sol = admm_path(
                Q, q, alphas, l1_ratio, pf, lo, hi, yy=problem.yy, tol=tol, max_iter=max_iter, coef_init=init
            )
    coef_std = np.zeros((alphas.size, p))
    coef_std[:, keep] = sol.coef
    coef, intercept = problem.to_original(coef_std)
    return PathResult(
        alphas=alphas,
        l1_ratio=float(l1_ratio),
        coef=coef,
        intercept=intercept,
        n_iter=sol.n_iter,
        converged=sol.converged,
        kkt=sol.kkt,
        solver=name,
    )
