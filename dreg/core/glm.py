"""Penalized binomial and Poisson GLMs: a whole cross-validated path in a handful of passes.

For a family with negative log-likelihood ``nll`` (:mod:`dreg.core.datafit`)
each model minimises (glmnet's objective)::

    F(b, beta) = (1/W) sum_i w_i nll(y_i, b + x_i^T beta)
                 + alpha sum_j pf_j (l1_ratio |beta_j s_j| + (1 - l1_ratio)/2 (beta_j s_j)^2)

over its training rows, ``lower <= beta <= upper``, with ``s`` the training
rows' feature scale (``standardize=True``) or ones.

Pass 0 is the ordinary statistics pass (:mod:`dreg.core.stats`): means,
scales, and for every fold the intercept-only model's loss, gradient and
*exact* Hessian (at a constant linear predictor the Hessian is ``v(b) X^T W X``).
Each further pass runs :func:`glm_block_pass` on every block of rows for a
stack of models (every fold model, every alpha, every l1_ratio that has not
converged, plus the full-data refit) and returns, per fold label, the
weighted loss sums, the gradients (one GEMM per block) and, for a few
*anchor* models, the weighted Grams ``X^T diag(w v) X``.  Sums over labels
give each fold's training loss and gradient (labels other than ``k``) and its
held-out loss (label ``k``).

The coordinator (:class:`GLMPathSolver`) then, for every model:

1. **Accept** the best point seen: all models of one fold share the same
   smooth loss, so every point evaluated in the pass (any alpha, any
   l1_ratio, any fold) is a candidate whose exact objective is known.  A
   model moves to the best of them only if its objective decreases
   (glmnet's guarantee); if none improves, its step is halved (the rejected
   step costs that model one pass, nothing else).
2. **Stop** when the KKT conditions hold on the exact gradient:
   ``max_j dist(0, grad_j + l2_j u_j + l1_j d|u_j|) <= tol * scale`` and
   ``|grad_b| <= tol * scale`` (standardized scale; ``scale`` is the null
   model's largest gradient or the variance ``v``).
3. **Step** otherwise: a quadratic model of the loss at the point with its
   exact gradient and the Hessian of the nearest anchor (same l1_ratio,
   nearest alpha; the anchor's per-label Grams are combined for each fold),
   the intercept eliminated (Schur complement), solved for the penalized
   coefficients by the Gram-form coordinate descent of
   :func:`dreg.core.solvers.cd_path`.  Near the solution the anchor is the
   model's own neighbour, so the step is a Newton step up to the Hessian's
   change along the path: quasi-quadratic convergence.

The first candidates (pass 1) come from one warm-started ``cd_path`` per fold
along the whole grid on the exact null-model quadratic: the IRLS step from the
intercept-only model for every alpha at once.  Anchors are requested for up
to ``hessians`` alphas per l1_ratio per pass, on the full-data model (its
Hessian serves every fold: fold models at one alpha are close).

Separable data (glmnet): once a converged model of a fold explains
``>= 0.999`` of the null deviance, the smaller alphas of that fold and
l1_ratio keep its solution (and a warning is issued); coefficients stay
finite, probabilities are clamped away from 0 and 1.

The data are reached only through a callable ``run_pass(PassRequest) ->
PassStats`` (in-process blocks, a Dask array, or a lake's per-file tasks),
so this module stays pure numpy.

AUC of the held-out predictions needs the scores, not sums: one last pass
(:class:`PassRequest` with ``histogram=True``) returns, for each fold model
and its held-out label, the weighted counts of positives and negatives in
``_HIST_BINS`` bins of the linear predictor on ``[-_HIST_RANGE,
_HIST_RANGE]``.  Pairs that fall in one bin count one half, so the AUC is
exact up to ``auc_error`` (returned alongside: the share of positive-negative
pairs that share a bin, halved; ~1e-4 on smooth score distributions).

Pure numpy: no Dask import.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.linalg.blas import dsyrk as _syrk

from dreg.core._util import numba_jit
from dreg.core.datafit import _ETA_MAX, Binomial, Poisson, family
from dreg.core.path import alpha_grid
from dreg.core.penalty import Penalty
from dreg.core.problem import GramProblem, make_problem
from dreg.core.solvers import cd_path, kkt_violation
from dreg.core.stats import SufficientStats, collapse, leave_one_out

__all__ = [
    "GLMPathResult",
    "GLMPathSolver",
    "GLMWarning",
    "PassRequest",
    "PassStats",
    "glm_block_pass",
    "glm_fit",
    "in_memory_pass",
    "merge_pass",
    "null_problem",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# rows per GEMM in the pass kernel: the (rows x models) predictor block stays ~8 MB at 500 models
_ROWS = 2048
# AUC histogram: bins of the linear predictor and its range
_HIST_BINS = 4096
_HIST_RANGE = 16.0
# diagonal floor of the Newton models, relative to the largest curvature at the fold's null model
_CURVATURE_FLOOR = 4e-5
# secant pairs that correct each model's anchor Hessian (BFGS)
_SECANT_PAIRS = 3
# rows the anchor Hessians are estimated from (see PassRequest.hessian_stride)
_HESSIAN_ROWS = 200_000
# glmnet: the path stops once a model explains this share of the null deviance
_DEV_RATIO_STOP = 0.999
# a point replaces a model's iterate only if its objective is lower by this (relative) margin
_SLACK = 1e-13


class GLMWarning(UserWarning):
    """The path stopped early on (nearly) separable data, as glmnet does."""


# --------------------------------------------------------------------------- pass kernel
@dataclass(frozen=True, eq=False)
class PassRequest:
    """What one pass over the data evaluates.

    Attributes
    ----------
    family : {'binomial', 'poisson'}
    center, scale : ndarray of shape (n_features,)
        Rows are transformed to ``z = (x - center) / scale`` on the worker
        (conditioning: feature means of 1e6 do not reach the Grams).
    coef : ndarray of shape (n_models, n_features)
        Coefficients in ``z`` coordinates: ``eta = intercept + z^T coef``.
    intercept : ndarray of shape (n_models,)
    hessian : ndarray of int of shape (n_hessians,)
        Models whose weighted Gram ``[z 1]^T diag(w v) [z 1]`` is wanted.
    held_label : ndarray of int of shape (n_models,), optional
        With ``histogram=True``: the label whose rows each model's AUC
        histogram counts.
    histogram : bool
        Return the AUC histograms (:attr:`PassStats.hist`).
    hessian_stride : int
        The Grams use every ``hessian_stride``-th row of each block (times
        ``hessian_stride``): a Hessian only preconditions the steps (the
        gradients and losses that decide acceptance and convergence are
        exact), and 200,000 rows estimate it to ~0.2%.
    """

    family: str
    center: FloatArray
    scale: FloatArray
    coef: FloatArray
    intercept: FloatArray
    hessian: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    held_label: IntArray | None = None
    histogram: bool = False
    hessian_stride: int = 1

    @property
    def n_models(self) -> int:
        return int(self.coef.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.coef.shape[1])


@dataclass(frozen=True, eq=False)
class PassStats:
    """Per-label sums of one pass; statistics of disjoint row sets merge by addition.

    Attributes
    ----------
    labels : ndarray of shape (L,)
        Sorted fold labels present.
    count : ndarray of shape (L,)
        Rows with positive weight.
    weight_sum : ndarray of shape (L,)
    saturated : ndarray of shape (L,)
        ``sum w nll_sat`` (deviance = ``2 (loss - saturated)``).
    loss : ndarray of shape (L, n_models)
        ``sum w nll``.
    grad : ndarray of shape (L, n_models, n_features + 1)
        ``sum w (mu - y) [z, 1]``.
    hess : ndarray of shape (L, n_hessians, n_features + 1, n_features + 1)
        ``sum w v [z, 1][z, 1]^T`` of the requested models.
    correct : ndarray of shape (L, n_models)
        ``sum w [(eta > 0) == y]`` (binomial; zero for Poisson).
    hist : ndarray of shape (n_models, _HIST_BINS, 2) or None
        Weighted negatives (``[..., 0]``) and positives per predictor bin on
        each model's held-out label.
    """

    labels: IntArray
    count: IntArray
    weight_sum: FloatArray
    saturated: FloatArray
    loss: FloatArray
    grad: FloatArray
    hess: FloatArray
    correct: FloatArray
    hist: FloatArray | None = None


def _finish_binomial(E, T, U, y, w, loss, correct):  # pragma: no cover - compiled
    """In place: ``E <- w (mu - y)``; ``loss += sum_i w nll``, ``correct += sum_i w [(eta > 0) == y]``.

    ``T = exp(-|eta|)`` and ``U = log(1 + T)`` come from numpy's SIMD ``exp`` and
    ``log`` (:func:`_pointwise`; numba calls the scalar libm ones, 3x slower
    here); this loop does the rest in one pass over the ``(rows, models)``
    block.  ``log1p(T)`` is ``U`` corrected for the rounding of ``1 + T``
    (``log(u) - ((u - 1) - T) / u``, within an ulp of ``log1p``).
    """
    n, M = E.shape
    for i in range(n):
        yi = y[i]
        wi = w[i]
        pos = 1.0 if yi > 0.5 else 0.0
        for m in range(M):
            eta = E[i, m]
            e = T[i, m]
            u = 1.0 + e
            inv = 1.0 / u
            nll = max(eta, 0.0) + (U[i, m] - ((u - 1.0) - e) * inv) - yi * eta
            mu = inv if eta >= 0.0 else e * inv
            correct[m] += wi * (pos if eta > 0.0 else 1.0 - pos)
            loss[m] += wi * nll
            E[i, m] = wi * (mu - yi)


def _finish_poisson(E, T, y, w, loss):  # pragma: no cover - compiled
    """In place: ``E <- w (mu - y)``, ``loss += sum_i w (mu - y eta)`` with ``T = mu = exp(eta)``."""
    n, M = E.shape
    for i in range(n):
        yi = y[i]
        wi = w[i]
        for m in range(M):
            mu = T[i, m]
            loss[m] += wi * (mu - yi * E[i, m])
            E[i, m] = wi * (mu - yi)


def _pointwise_numpy(E, y, w, binomial, loss, correct, work):
    fam = family("binomial" if binomial else "poisson")
    nll, res, _ = fam.pointwise(E, y[:, None])
    loss += w @ nll
    if binomial:
        correct += w @ ((E > 0) == (y[:, None] > 0.5))
    E[:] = res * w[:, None]


def _pointwise_compiled(E, y, w, binomial, loss, correct, work):
    """The elementwise half of a pass, in place on ``E`` (see :func:`_finish_binomial`).

    ``work``: two scratch arrays at least as large as ``E``, reused across blocks.
    """
    T = work[0][: E.shape[0]]
    if binomial:
        U = work[1][: E.shape[0]]
        np.abs(E, out=T)
        np.negative(T, out=T)
        np.exp(T, out=T)
        np.add(T, 1.0, out=U)
        np.log(U, out=U)
        _finish_binomial(E, T, U, y, w, loss, correct)
    else:
        np.minimum(E, _ETA_MAX, out=T)
        np.exp(T, out=T)
        _finish_poisson(E, T, y, w, loss)


_jit = numba_jit()
if _jit is not None:
    _finish_binomial = _jit(_finish_binomial)
    _finish_poisson = _jit(_finish_poisson)
    _pointwise = _pointwise_compiled
else:  # pragma: no cover - without numba
    _pointwise = _pointwise_numpy


def _z(X: np.ndarray, center: FloatArray, scale: FloatArray) -> FloatArray:
    return (np.asarray(X, dtype=np.float64) - center) / scale


def glm_block_pass(
    X: ArrayLike,
    y: ArrayLike,
    sample_weight: ArrayLike | None,
    fold: ArrayLike | None,
    request: PassRequest,
) -> PassStats:
    """One block's contribution to a pass (pure numpy; run it on any worker).

    Parameters
    ----------
    X : array-like of shape (n_rows, n_features)
    y : array-like of shape (n_rows,)
        0/1 for binomial, >= 0 for Poisson (checked by the caller).
    sample_weight : array-like of shape (n_rows,) or None
    fold : array-like of int of shape (n_rows,) or None
        Fold label of each row (``None``: label 0).
    request : PassRequest

    Returns
    -------
    PassStats
        Merge the blocks' results with :func:`merge_pass`.
    """
    fam = family(request.family)
    X = np.asarray(X)
    n, p = X.shape
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64).reshape(-1)
    lab = np.zeros(n, dtype=np.int64) if fold is None else np.asarray(fold).astype(np.int64).reshape(-1)
    pos = w > 0
    if not np.all(pos):  # zero-weight rows contribute nothing (and may hold any finite value)
        X, y, w, lab = X[pos], y[pos], w[pos], lab[pos]
        n = X.shape[0]
    labels, inverse = np.unique(lab, return_inverse=True)
    L, M = labels.size, request.n_models
    hidx = np.asarray(request.hessian, dtype=np.int64)
    H = hidx.size
    coef_t = np.ascontiguousarray(np.asarray(request.coef, dtype=np.float64).T)
    b = np.asarray(request.intercept, dtype=np.float64)
    count = np.zeros(L, dtype=np.int64)
    W = np.zeros(L)
    sat = np.zeros(L)
    loss = np.zeros((L, M))
    grad = np.zeros((L, M, p + 1))
    hess = np.zeros((L, H, p + 1, p + 1))
    correct = np.zeros((L, M))
    hist = np.zeros((M, _HIST_BINS, 2)) if request.histogram else None
    binomial = isinstance(fam, Binomial)
    work = (np.empty((0, 0)), np.empty((0, 0)))  # scratch of the elementwise step, reused across row chunks
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(L + 1))
    for li in range(L):
        rows = order[bounds[li] : bounds[li + 1]]
        count[li] = rows.size
        if request.histogram and request.held_label is not None:
            mine = np.flatnonzero(np.asarray(request.held_label) == labels[li])
        else:
            mine = np.zeros(0, dtype=np.int64)
        for s in range(0, rows.size, _ROWS):
            r = rows[s : s + _ROWS]
            Z = _z(X[r], request.center, request.scale)
            yb, wb = y[r], w[r]
            W[li] += wb.sum()
            sat[li] += wb @ fam.saturated(yb)
            # E = b + Z coef^T: the linear predictors of every model (one GEMM)
            E = Z @ coef_t
            E += b
            E = np.ascontiguousarray(E)
            if H:
                var = fam.pointwise(E[:, hidx], yb[:, None])[2]
            if hist is not None:
                for m in mine:
                    k = np.clip(((E[:, m] + _HIST_RANGE) * (_HIST_BINS / (2 * _HIST_RANGE))).astype(np.int64), 0, _HIST_BINS - 1)
                    hist[m, :, 0] += np.bincount(k, weights=wb * (1.0 - yb), minlength=_HIST_BINS)
                    hist[m, :, 1] += np.bincount(k, weights=wb * yb, minlength=_HIST_BINS)
            if work[0].shape[1] != E.shape[1]:
                work = (np.empty((_ROWS, E.shape[1])), np.empty((_ROWS, E.shape[1])))
            _pointwise(E, yb, wb, binomial, loss[li], correct[li], work)
            # grad = [Z 1]^T diag(w) (mu - y): the second GEMM (E now holds w (mu - y))
            grad[li, :, :p] += E.T @ Z
            grad[li, :, p] += E.sum(axis=0)
            st = max(int(request.hessian_stride), 1)
            Zh = Z[::st]
            for h in range(H):
                a = (wb[::st] * var[::st, h]) * st
                # Z^T diag(a) Z as the symmetric rank-k update of sqrt(a) Z (a >= 0): half a GEMM's flops;
                # Zs.T is Fortran-ordered, so BLAS reads Zs in place
                Zs = Zh * np.sqrt(a)[:, None]
                hess[li, h, :p, :p] += _syrk(1.0, Zs.T, lower=0)
                hess[li, h, p, :p] += Zh.T @ a
                hess[li, h, p, p] += a.sum()
    # the rank-k updates filled the upper triangle of each Gram block; mirror it
    il = np.tril_indices(p, -1)
    hess[:, :, il[0], il[1]] = hess[:, :, il[1], il[0]]
    hess[:, :, :p, p] = hess[:, :, p, :p]
    return PassStats(labels, count, W, sat, loss, grad, hess, correct, hist)


def merge_pass(a: PassStats, b: PassStats) -> PassStats:
    """Merge the pass statistics of two disjoint row sets (label by label, exact)."""
    labels = np.union1d(a.labels, b.labels)
    ia = np.searchsorted(labels, a.labels)
    ib = np.searchsorted(labels, b.labels)

    def add(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        out = np.zeros((labels.size, *x.shape[1:]), dtype=x.dtype)
        out[ia] += x
        out[ib] += y
        return out

    hist = None if a.hist is None else (a.hist if b.hist is None else a.hist + b.hist)
    if a.hist is None and b.hist is not None:
        hist = b.hist
    return PassStats(
        labels=labels,
        count=add(a.count, b.count),
        weight_sum=add(a.weight_sum, b.weight_sum),
        saturated=add(a.saturated, b.saturated),
        loss=add(a.loss, b.loss),
        grad=add(a.grad, b.grad),
        hess=add(a.hess, b.hess),
        correct=add(a.correct, b.correct),
        hist=hist,
    )


def in_memory_pass(
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None = None,
    fold: np.ndarray | None = None,
    *,
    block_rows: int = 65536,
    n_jobs: int | None = None,
) -> Callable[[PassRequest], PassStats]:
    """``run_pass`` over in-memory arrays: blocks of rows on threads (one BLAS thread each).

    numpy releases the GIL in its GEMMs and ufunc loops, so threads over
    blocks use every core; the blocks' statistics are merged in block order,
    so the result does not depend on the thread count.
    """
    from concurrent.futures import ThreadPoolExecutor

    from dreg.core._util import n_threads, single_blas_thread

    n = X.shape[0]
    starts = list(range(0, n, block_rows)) or [0]

    def run(request: PassRequest) -> PassStats:
        def one(s: int) -> PassStats:
            sl = slice(s, min(n, s + block_rows))
            return glm_block_pass(
                X[sl], y[sl], None if sample_weight is None else sample_weight[sl], None if fold is None else fold[sl], request
            )

        threads = min(len(starts), n_threads(n_jobs))
        if threads <= 1:
            parts = [one(s) for s in starts]
        else:
            with single_blas_thread(), ThreadPoolExecutor(threads) as pool:
                parts = list(pool.map(one, starts))
        out = parts[0]
        for part in parts[1:]:
            out = merge_pass(out, part)
        return out

    return run


# --------------------------------------------------------------------------- pass 0
def _gram_z(stats: SufficientStats, i: int, center: FloatArray, scale: FloatArray) -> FloatArray:
    """``[z 1]^T diag(w) [z 1]`` of label ``i`` from its centered statistics (exact)."""
    p = stats.n_features
    W = float(stats.weight_sum[i])
    dx = (stats.x_mean[i] - center) / scale
    G = np.empty((p + 1, p + 1))
    G[:p, :p] = np.asarray(stats.xx[i]) / np.outer(scale, scale) + W * np.outer(dx, dx)
    G[p, :p] = G[:p, p] = W * dx
    G[p, p] = W
    return G


def null_problem(
    stats: SufficientStats, datafit: Binomial | Poisson, fit_intercept: bool = True, standardize: bool = True
) -> GramProblem:
    """The quadratic model of the loss at the intercept-only model of single-label ``stats``.

    The exact IRLS problem of the null model (its Hessian ``v(b0) X^T W X``
    and gradient come from pass-0 statistics alone), on the standardized scale
    of :func:`dreg.core.problem.make_problem`: :meth:`Penalty.alpha_max` and
    :func:`dreg.core.path.alpha_grid` on it give glmnet's ``lambda_max`` and
    grid (exact when no feature is unpenalized).
    """
    base = make_problem(stats, fit_intercept, standardize)
    ybar = float(stats.y_mean[0])
    b0 = datafit.null_eta(ybar) if fit_intercept else 0.0
    mu0 = float(datafit.mean(np.array(b0)))
    v0 = float(datafit.variance(np.array(mu0)))
    # gradient of the mean nll at the null model: -(sum w (y - mu0) x) / W on the
    # problem's scale; with an intercept mu0 = ybar and it is -xy / W
    q = base.q.copy()
    if not fit_intercept:
        # base.q is uncentered (sum w x y / W / scale); the gradient at eta = 0 adds mu0 xbar / scale
        q = q - mu0 * (np.asarray(stats.x_mean[0]) / base.scale)
        q[base.constant] = 0.0
    return GramProblem(
        Q=v0 * base.Q,
        q=q,
        yy=max(v0, 1e-12),
        scale=base.scale,
        x_mean=base.x_mean,
        y_mean=base.y_mean,
        weight_sum=base.weight_sum,
        n_samples=base.n_samples,
        constant=base.constant,
        fit_intercept=fit_intercept,
    )


# --------------------------------------------------------------------------- coordinator
@dataclass(frozen=True)
class GLMPathResult:
    """Solutions along the grids of every l1_ratio, for the full data and each fold.

    Attributes
    ----------
    l1_ratios : ndarray of shape (R,)
    alphas : ndarray of shape (R, A)
    fold_labels : ndarray of shape (K,)
        Held-out folds (``K = 0`` for a plain path).
    coef : ndarray of shape (R, A, n_features)
        Full-data coefficients on the original scale.
    intercept : ndarray of shape (R, A)
    fold_coef : ndarray of shape (R, A, K, n_features)
    fold_intercept : ndarray of shape (R, A, K)
    deviance_path : ndarray of shape (R, A, K)
        Held-out mean deviance ``2 sum_k w (nll - nll_sat) / W_k`` of each fold model.
    train_deviance : ndarray of shape (R, A)
        Full-data model's mean training deviance.
    dev_ratio : ndarray of shape (R, A)
        Deviance explained by the full-data model (glmnet's ``dev.ratio``).
    accuracy_path : ndarray of shape (R, A, K)
        Held-out weighted accuracy (binomial; NaN for Poisson).
    auc_path : ndarray of shape (R, A, K) or None
    auc_error : ndarray of shape (R, A, K) or None
        Bound on ``|auc_path - exact AUC|`` from the histogram (see module docs).
    converged : ndarray of bool of shape (R, A, K + 1)
        Last index: the full-data model.
    kkt : ndarray of shape (R, A, K + 1)
        Largest KKT violation (standardized scale) at the returned solution.
    stopped : ndarray of bool of shape (R, A, K + 1)
        Alphas past glmnet's separability stop (they repeat the stopping solution).
    n_passes : int
        Passes over the data after pass 0.
    """

    l1_ratios: FloatArray
    alphas: FloatArray
    fold_labels: IntArray
    coef: FloatArray
    intercept: FloatArray
    fold_coef: FloatArray
    fold_intercept: FloatArray
    deviance_path: FloatArray
    train_deviance: FloatArray
    dev_ratio: FloatArray
    accuracy_path: FloatArray
    auc_path: FloatArray | None
    auc_error: FloatArray | None
    converged: NDArray[np.bool_]
    kkt: FloatArray
    stopped: NDArray[np.bool_]
    n_passes: int


@dataclass(frozen=True, eq=False)
class _Group:
    """One row set being fitted: a training fold (``held`` its held-out label) or all rows."""

    train: NDArray[np.bool_]  # (L,) which labels are training rows
    held: int  # index into labels of the held-out label, -1 for the full data
    W: float
    W_held: float
    y_mean: float
    scale: FloatArray  # the fold's feature scale (standardized coefficient = coef * scale)
    keep: IntArray  # non-constant features of the fold
    d: FloatArray  # kernel coordinate = u * d,  d = kernel_scale / scale
    tol: float  # absolute KKT tolerance


class GLMPathSolver:
    """The coordinator's state machine: ``request() -> run a pass -> update(stats)``, until ``done``.

    Parameters
    ----------
    stats : SufficientStats
        Pass-0 statistics per fold label (targets already 0/1 for binomial).
    datafit : Binomial or Poisson
    penalty : Penalty
        Factors and bounds on the original scale.
    alphas : ndarray of shape (R, A)
        Decreasing grid of each l1_ratio.
    l1_ratios : ndarray of shape (R,)
    folds : ndarray of int of shape (K,)
        Held-out labels (empty: only the full-data path).
    fit_intercept, standardize : bool
    tol : float
        KKT tolerance relative to the null model's gradient scale.
    max_passes : int
    hessians : int
        Anchor Hessians per l1_ratio per pass.
    kkt_scale : array-like of shape (K + 1,), optional
        Each group's absolute KKT scale (the tolerance is ``tol * kkt_scale``),
        instead of the one from ``stats`` (the null model's largest gradient or
        variance): :mod:`dreg.core.wide_glm` solves on a subset of the features
        and passes the scale of all of them.
    max_anchors : int, optional
        Anchor Hessians kept per l1_ratio (the null model's besides); the
        oldest is dropped beyond it.  Default: every anchor is kept.
    """

    def __init__(
        self,
        stats: SufficientStats,
        datafit: Binomial | Poisson,
        penalty: Penalty,
        alphas: FloatArray,
        l1_ratios: FloatArray,
        folds: ArrayLike = (),
        *,
        fit_intercept: bool = True,
        standardize: bool = True,
        tol: float = 1e-8,
        max_passes: int = 100,
        hessians: int = 6,
        kkt_scale: ArrayLike | None = None,
        max_anchors: int | None = None,
    ) -> None:
        self.datafit = datafit
        self.max_anchors = None if max_anchors is None else max(1, int(max_anchors))
        self.fit_intercept = fit_intercept
        self._tol = float(tol)
        self.max_passes = int(max_passes)
        self.hessians = max(1, int(hessians))
        self.alphas = np.atleast_2d(np.asarray(alphas, dtype=np.float64))
        self.l1_ratios = np.atleast_1d(np.asarray(l1_ratios, dtype=np.float64))
        R, A = self.alphas.shape
        folds = np.asarray(folds, dtype=np.int64)
        self.folds = folds
        self.labels = np.asarray(stats.labels)
        self.hessian_stride = max(1, int(stats.count.sum()) // _HESSIAN_ROWS)
        self.p = p = stats.n_features
        full = collapse(stats)
        kern = make_problem(full, fit_intercept, True)
        self.center = np.asarray(kern.x_mean, dtype=np.float64)
        self.kscale = np.asarray(kern.scale, dtype=np.float64)
        self.kconstant = np.asarray(kern.constant)
        train_sets = leave_one_out(stats, folds) if folds.size else []
        self.groups: list[_Group] = []
        for k, tr in enumerate([*train_sets, full]):
            held = int(np.searchsorted(self.labels, folds[k])) if k < folds.size else -1
            self.groups.append(self._group(tr, stats, held, standardize, penalty))
        if kkt_scale is not None:
            scales = np.asarray(kkt_scale, dtype=np.float64).reshape(-1)
            if scales.size != len(self.groups):
                raise ValueError(f"kkt_scale needs {len(self.groups)} values (folds + all rows), got {scales.size}")
            self.groups = [replace(g, tol=float(s_)) for g, s_ in zip(self.groups, scales, strict=True)]
        G = len(self.groups)
        self.G, self.R, self.A = G, R, A
        # the per-label Grams in z coordinates: the null Hessians, and the null point
        self.gram0 = np.stack([_gram_z(stats, i, self.center, self.kscale) for i in range(stats.n_labels)])
        self.pen = [
            [penalty.with_l1_ratio(float(r)).subset(g.keep).standardized(g.scale[g.keep]) for r in self.l1_ratios]
            for g in self.groups
        ]
        self.lower = np.asarray(penalty.lower)
        self.upper = np.asarray(penalty.upper)
        self.pf = np.asarray(penalty.penalty_factor)
        N = G * R * A
        self.beta = np.zeros((N, p))
        self.b = np.zeros(N)
        self.L = np.zeros(N)
        self.g = np.zeros((N, p + 1))
        self.F = np.zeros(N)
        self.held_loss = np.zeros(N)
        self.held_correct = np.zeros(N)
        self.status = np.zeros(N, dtype=np.int64)  # 0 active, 1 converged, 2 stopped (separable)
        self.kkt = np.zeros(N)
        self.cand_beta = np.zeros((N, p))
        self.cand_b = np.zeros(N)
        self.step = np.ones(N)
        self.sat = np.zeros(self.labels.size)
        self.have_sat = False
        self.n_passes = 0
        self.separable = False
        # anchors: (ratio, alpha index) -> per-label Hessians (L, p+1, p+1); -1 is the null model
        self.anchors: dict[tuple[int, int], FloatArray] = {}
        # per model: its last few (step, gradient change) pairs
        self.pairs: dict[int, list[tuple[FloatArray, FloatArray]]] = {}
        # per group (its held-out label, -1 for all rows): the Newton models' curvature floor
        self._curvature_floor: dict[int, float] = {}
        self._eval_models: IntArray = np.zeros(0, dtype=np.int64)
        self._anchor_keys: list[tuple[int, int]] = []
        self._null_start(stats)

    # -- setup --------------------------------------------------------------
    def _group(self, tr: SufficientStats, stats: SufficientStats, held: int, standardize: bool, penalty: Penalty) -> _Group:
        W = float(tr.weight_sum[0])
        if not W > 0:
            raise ValueError("a training fold has zero total weight")
        ybar = float(tr.y_mean[0])
        if isinstance(self.datafit, Binomial) and not 0.0 < ybar < 1.0:
            which = "all rows" if held < 0 else f"the training rows of fold {int(stats.labels[held])}"
            raise ValueError(f"binomial: {which} hold one class only; both classes are needed to fit")
        if isinstance(self.datafit, Poisson) and not ybar > 0.0:
            which = "all rows" if held < 0 else f"the training rows of fold {int(stats.labels[held])}"
            raise ValueError(f"Poisson: every target of {which} is zero; nothing to fit")
        prob = make_problem(tr, self.fit_intercept, standardize)
        keep = np.flatnonzero(~prob.constant)
        d = self.kscale / prob.scale
        nq = null_problem(tr, self.datafit, self.fit_intercept, standardize)
        v0 = float(nq.yy)
        scale_tol = max(float(np.max(np.abs(nq.q[keep]), initial=0.0)), v0)
        W_held = float(stats.weight_sum[held]) if held >= 0 else 0.0
        train = np.ones(stats.n_labels, dtype=bool)
        if held >= 0:
            train[held] = False
        return _Group(train, held, W, W_held, ybar, prob.scale, keep, d, scale_tol)

    def _index(self, gi: int, ri: int, ai: int) -> int:
        return (gi * self.R + ri) * self.A + ai

    def _null_start(self, stats: SufficientStats) -> None:
        """Every model at its fold's intercept-only point (exact loss and gradient), then pass-1 candidates."""
        fam, p = self.datafit, self.p
        b_all = self.datafit.null_eta(float(collapse(stats).y_mean[0])) if self.fit_intercept else 0.0
        v_all = float(fam.variance(fam.mean(np.array(b_all))))
        for ri in range(self.R):
            self.anchors[(ri, -1)] = v_all * self.gram0
        for gi, g in enumerate(self.groups):
            b0 = fam.null_eta(g.y_mean) if self.fit_intercept else 0.0
            mu0 = float(fam.mean(np.array(b0)))
            # mean nll is linear in y: nll(ybar, b0)
            L0 = float(fam.pointwise(np.array(b0), np.array(g.y_mean))[0])
            Gtr = self.gram0[g.train].sum(axis=0)
            # sum w (mu0 - y) [z 1] = mu0 sum w [z 1] - sum w y [z 1]
            wz = Gtr[p]  # sum w [z, 1]
            wyz = self._wyz(stats, g)
            grad = (mu0 * wz - wyz) / g.W
            if not self.fit_intercept:
                grad[p] = 0.0
            if g.held >= 0:
                i = g.held
                yk = float(stats.y_mean[i])
                Wk = float(stats.weight_sum[i])
                hl = Wk * float(fam.pointwise(np.array(b0), np.array(yk))[0])
                hc = Wk * ((yk if b0 > 0 else 1.0 - yk) if isinstance(fam, Binomial) else 0.0)
            else:
                hl = hc = 0.0
            for ri in range(self.R):
                for ai in range(self.A):
                    m = self._index(gi, ri, ai)
                    self.b[m] = b0
                    self.L[m] = L0
                    self.g[m] = grad
                    self.held_loss[m] = hl
                    self.held_correct[m] = hc
                    self.F[m] = L0
                # the IRLS step from the null model for every alpha: one warm-started path
                H = float(fam.variance(np.array(mu0))) * Gtr / g.W
                Q, q, keep = self._quadratic(g, H, grad, np.zeros(p))
                sol = cd_path(Q, q, self.alphas[ri], self.pen[gi][ri], yy=max(L0, 1e-12), tol=1e-10)
                for ai in range(self.A):
                    m = self._index(gi, ri, ai)
                    self._set_candidate(m, g, H, grad, np.zeros(p), b0, sol.coef[ai])
                    self._check_kkt(m)

    def warm_start(self, beta: ArrayLike, intercept: ArrayLike) -> None:
        """Make given points the next pass's candidates of every model still active.

        ``beta`` of shape (n_models, n_features) in the solver's ``z``
        coordinates (:attr:`center`, :attr:`kscale`) and ``intercept`` of shape
        (n_models,), ordered as the solver's models (group, l1_ratio, alpha).
        The pass evaluates them exactly; a model adopts its point when it
        lowers the objective (a solution of the same path on fewer features
        does), as it would the null model's IRLS step otherwise.
        """
        beta = np.asarray(beta, dtype=np.float64).reshape(self.beta.shape)
        intercept = np.asarray(intercept, dtype=np.float64).reshape(self.b.shape)
        act = self.status == 0
        self.cand_beta[act] = beta[act]
        self.cand_b[act] = intercept[act] if self.fit_intercept else 0.0
        self.step[act] = 1.0

    def _wyz(self, stats: SufficientStats, g: _Group) -> FloatArray:
        """``sum w y [z, 1]`` over the group's training labels, from the statistics."""
        p = self.p
        out = np.zeros(p + 1)
        for i in np.flatnonzero(g.train):
            W = float(stats.weight_sum[i])
            ybar = float(stats.y_mean[i])
            dx = (stats.x_mean[i] - self.center) / self.kscale
            out[:p] += np.asarray(stats.xy[i]) / self.kscale + W * ybar * dx
            out[p] += W * ybar
        return out

    # -- the quadratic model --------------------------------------------------
    def _quadratic(self, g: _Group, H: FloatArray, grad: FloatArray, beta: FloatArray) -> tuple[FloatArray, FloatArray, IntArray]:
        """``(Q, q)`` in the fold's standardized coordinates ``u`` of the kept features.

        The model ``grad^T delta + 1/2 delta^T H delta`` in ``(beta, b)`` with
        the intercept minimised out: ``S = H_bb - h h^T / h``,
        ``c = grad_beta - h grad_b / h``; then ``beta = u * d``.
        """
        p = self.p
        Hbb = H[:p, :p]
        gb = grad[:p]
        if self.fit_intercept and H[p, p] > 0:
            h = H[p, :p]
            Hbb = Hbb - np.outer(h, h) / H[p, p]
            gb = gb - h * (grad[p] / H[p, p])
        k = g.keep
        dk = g.d[k]
        Q = Hbb[np.ix_(k, k)] * np.outer(dk, dk)
        Q = 0.5 * (Q + Q.T)
        # Levenberg damping: where the weights mu(1 - mu) underflow (separated
        # rows) the model has directions of no curvature (a 0 on the diagonal,
        # or a separating direction), along which an L1 step is unbounded.
        # Q + floor I bounds every step; floor is a small share of the fold's
        # curvature at the null model (as glmnet's clamp of mu to [1e-5, 1 - 1e-5]
        # keeps each row's weight >= ~1e-5).  It only shapes the steps: the
        # solution is checked against the exact gradients
        if Q.size:
            diag = np.diagonal(Q).copy()
            floor = self._curvature_floor.get(g.held, 0.0)
            if floor == 0.0:  # the fold's null model: the reference
                floor = _CURVATURE_FLOOR * max(float(diag.max()), np.finfo(float).tiny)
                self._curvature_floor[g.held] = floor
            np.fill_diagonal(Q, diag + floor)
        u0 = beta[k] / dk
        q = Q @ u0 - gb[k] * dk
        return Q, q, k

    def _set_candidate(self, m: int, g: _Group, H: FloatArray, grad: FloatArray, beta: FloatArray, b: float, u_new: FloatArray) -> None:
        p = self.p
        nb = np.zeros(p)
        nb[g.keep] = u_new * g.d[g.keep]
        self.cand_beta[m] = nb
        if self.fit_intercept and H[p, p] > 0:
            self.cand_b[m] = b - (grad[p] + H[p, :p] @ (nb - beta)) / H[p, p]
        else:
            self.cand_b[m] = 0.0

    def _model(self, m: int) -> tuple[int, int, int]:
        gi, rest = divmod(m, self.R * self.A)
        ri, ai = divmod(rest, self.A)
        return gi, ri, ai

    def _kkt_of(self, m: int, beta: FloatArray, grad: FloatArray) -> float:
        gi, ri, ai = self._model(m)
        g = self.groups[gi]
        pen = self.pen[gi][ri]
        alpha = self.alphas[ri, ai]
        k = g.keep
        u = beta[k] / g.d[k]
        gu = grad[:self.p][k] * g.d[k]
        v = kkt_violation(None, None, u, pen.l1(alpha), pen.l2(alpha), pen.lower, pen.upper, grad=-gu)  # type: ignore[arg-type]
        out = float(np.max(v, initial=0.0))
        if self.fit_intercept:
            out = max(out, abs(float(grad[self.p])))
        return out

    def _check_kkt(self, m: int) -> None:
        gi = m // (self.R * self.A)
        self.kkt[m] = self._kkt_of(m, self.beta[m], self.g[m])
        if self.status[m] == 0 and self.kkt[m] <= self.tol_of(gi):
            self.status[m] = 1

    def tol_of(self, gi: int) -> float:
        return self._tol * self.groups[gi].tol

    # -- passes ---------------------------------------------------------------
    @property
    def done(self) -> bool:
        return not np.any(self.status == 0) or self.n_passes >= self.max_passes

    def request(self) -> PassRequest:
        """The next pass: every active model's candidate, plus the anchor Hessians."""
        active = np.flatnonzero(self.status == 0)
        models = list(active)
        coef = [self.cand_beta[m] for m in models]
        icpt = [self.cand_b[m] for m in models]
        where = {int(m): i for i, m in enumerate(models)}
        hess: list[int] = []
        keys: list[tuple[int, int]] = []
        gi_all = self.G - 1
        for ri in range(self.R):
            act_a = np.unique([self._model(int(m))[2] for m in active if self._model(int(m))[1] == ri])
            if act_a.size == 0:
                continue
            n_h = min(self.hessians, act_a.size)
            picks = np.unique(act_a[np.round(np.linspace(0, act_a.size - 1, n_h)).astype(int)])
            for ai in picks:
                m = self._index(gi_all, ri, int(ai))
                if m in where:
                    hess.append(where[m])
                else:  # a converged full-data model: evaluate its current point for the Hessian
                    hess.append(len(coef))
                    coef.append(self.beta[m])
                    icpt.append(self.b[m])
                    models.append(-1)
                keys.append((ri, int(ai)))
        self._eval_models = np.asarray(models, dtype=np.int64)
        self._anchor_keys = keys
        self._last_request = PassRequest(
            family=self.datafit.name,
            center=self.center,
            scale=self.kscale,
            coef=np.asarray(coef, dtype=np.float64).reshape(-1, self.p),
            intercept=np.asarray(icpt, dtype=np.float64),
            hessian=np.asarray(hess, dtype=np.int64),
            hessian_stride=self.hessian_stride,
        )
        return self._last_request

    def _align(self, stats: PassStats) -> PassStats:
        """The pass statistics on the labels of pass 0 (a label absent from the pass has zero sums)."""
        if np.array_equal(stats.labels, self.labels):
            return stats
        idx = np.searchsorted(self.labels, stats.labels)
        if np.any(idx >= self.labels.size) or np.any(self.labels[np.minimum(idx, self.labels.size - 1)] != stats.labels):
            raise ValueError("the pass saw fold labels that pass 0 did not")
        L = self.labels.size

        def put(x):
            out = np.zeros((L, *x.shape[1:]), dtype=x.dtype)
            out[idx] = x
            return out

        return PassStats(self.labels, put(stats.count), put(stats.weight_sum), put(stats.saturated), put(stats.loss),
                         put(stats.grad), put(stats.hess), put(stats.correct), stats.hist)

    def update(self, stats: PassStats) -> None:
        """Fold one pass's statistics into every model (steps 1-3 of the module docs)."""
        stats = self._align(stats)
        self.n_passes += 1
        if not self.have_sat:
            self.sat = np.asarray(stats.saturated, dtype=np.float64)
            self.have_sat = True
        for h, key in enumerate(self._anchor_keys):
            Hl = stats.hess[:, h]
            # an anchor whose point overflowed (a rejected Poisson step) would stall its neighbours
            if np.all(np.isfinite(Hl)) and np.isfinite(stats.loss[:, self._last_request.hessian[h]].sum()):
                self.anchors.pop(key, None)  # re-insert: the dict's order is the anchors' age
                self.anchors[key] = Hl
                if self.max_anchors is not None:
                    mine = [k for k in self.anchors if k[0] == key[0] and k[1] >= 0]
                    for old_key in mine[: max(0, len(mine) - self.max_anchors)]:
                        del self.anchors[old_key]
        pts_beta = np.asarray(self._points_beta)
        pts_b = np.asarray(self._points_b)
        R, A = self.R, self.A
        for gi, g in enumerate(self.groups):
            Lg = stats.loss[g.train].sum(axis=0) / g.W  # (E,)
            Gg = stats.grad[g.train].sum(axis=0) / g.W  # (E, p+1)
            finite = np.isfinite(Lg) & np.all(np.isfinite(Gg), axis=1)
            # penalty of every point in this fold's standardized coordinates
            off = np.ones(self.p, dtype=bool)
            off[g.keep] = False
            feasible = finite & ~np.any(pts_beta[:, off] != 0.0, axis=1)
            U = pts_beta[:, g.keep] / g.d[g.keep]
            orig = pts_beta / self.kscale
            inbox = np.all((orig >= self.lower - 1e-12 * np.abs(self.lower)) | np.isinf(self.lower), axis=1)
            inbox &= np.all((orig <= self.upper + 1e-12 * np.abs(self.upper)) | np.isinf(self.upper), axis=1)
            feasible &= inbox
            pfk = self.pf[g.keep]
            a1 = np.abs(U) @ pfk
            a2 = (U * U) @ pfk
            for ri in range(R):
                r = self.l1_ratios[ri]
                base = self._index(gi, ri, 0)
                ms = np.arange(base, base + A)
                act = self.status[ms] == 0
                if not np.any(act):
                    continue
                Pen = self.alphas[ri][:, None] * (r * a1 + 0.5 * (1.0 - r) * a2)[None, :]  # (A, E)
                Fm = np.where(feasible[None, :], Lg[None, :] + Pen, np.inf)
                for ai in np.flatnonzero(act):
                    m = base + ai
                    cur = self.F[m]
                    slack = _SLACK * max(abs(cur), 1e-300)
                    e = int(np.argmin(Fm[ai]))
                    best = Fm[ai, e]
                    own = np.flatnonzero(self._eval_models == m)
                    accept = -1
                    if own.size:
                        o = int(own[0])
                        f_own = Fm[ai, o]
                        # the own step is accepted when it does not increase the objective, or
                        # when it satisfies the KKT conditions (then it is the solution, whatever
                        # the rounding of its objective says)
                        if np.isfinite(f_own) and (
                            f_own <= cur + slack or self._kkt_of(m, pts_beta[o], Gg[o]) <= self.tol_of(gi)
                        ):
                            accept = e if best < f_own - slack else o
                    if accept < 0 and best < cur - slack:
                        accept = e
                    if accept < 0:
                        # no point improved: halve the step (glmnet); one more pass for this model
                        self.step[m] *= 0.5
                        self.cand_beta[m] = self.beta[m] + 0.5 * (self.cand_beta[m] - self.beta[m])
                        self.cand_b[m] = self.b[m] + 0.5 * (self.cand_b[m] - self.b[m])
                        if self.step[m] < 1e-12:
                            self.status[m] = 3  # stalled at rounding level
                        continue
                    self._adopt(m, g, accept, pts_beta, pts_b, Lg, Gg, float(Fm[ai, accept]), stats)
                    self._check_kkt(m)
                    if self.status[m] != 0:
                        continue
                    self._new_candidate(m, gi, ri, ai)
        self._separable_stop()

    @property
    def _points_beta(self) -> FloatArray:
        return self._last_request.coef

    @property
    def _points_b(self) -> FloatArray:
        return self._last_request.intercept

    def _adopt(self, m, g, e, pts_beta, pts_b, Lg, Gg, Fval, stats) -> None:
        # the secant pair of the move: both gradients are exact gradients of the fold's loss
        step = np.append(pts_beta[e] - self.beta[m], pts_b[e] - self.b[m])
        dg = Gg[e] - self.g[m]
        curv = float(step @ dg)
        if _SECANT_PAIRS and curv > 0 and curv > 1e-10 * float(np.linalg.norm(step) * np.linalg.norm(dg)):
            pairs = self.pairs.setdefault(m, [])
            pairs.append((step, dg))
            del pairs[:-_SECANT_PAIRS]
        self.beta[m] = pts_beta[e]
        self.b[m] = pts_b[e]
        self.L[m] = Lg[e]
        self.g[m] = Gg[e]
        self.F[m] = Fval
        if g.held >= 0:
            self.held_loss[m] = stats.loss[g.held, e]
            self.held_correct[m] = stats.correct[g.held, e]

    def _hessian_for(self, gi: int, ri: int, ai: int) -> FloatArray:
        g = self.groups[gi]
        best = None
        for (r, a), Hl in self.anchors.items():
            if r != ri:
                continue
            dist = abs(a - ai) if a >= 0 else self.A + ai
            if best is None or dist < best[0]:
                best = (dist, Hl)
        assert best is not None
        return best[1][g.train].sum(axis=0) / g.W

    def _new_candidate(self, m: int, gi: int, ri: int, ai: int) -> None:
        g = self.groups[gi]
        H = self._hessian_for(gi, ri, ai)
        # BFGS corrections of the anchor's Hessian by the model's own secant pairs:
        # exact along the directions the iterates move (superlinear convergence)
        for step, dg in self.pairs.get(m, ()):
            Hs = H @ step
            sHs = float(step @ Hs)
            if sHs > 0:
                H = H - np.outer(Hs, Hs) / sHs + np.outer(dg, dg) / float(step @ dg)
        Q, q, k = self._quadratic(g, H, self.g[m], self.beta[m])
        u0 = self.beta[m][k] / g.d[k]
        sol = cd_path(Q, q, self.alphas[ri, ai : ai + 1], self.pen[gi][ri], yy=max(abs(self.L[m]), 1e-12), tol=1e-10, coef_init=u0)
        self._set_candidate(m, g, H, self.g[m], self.beta[m], self.b[m], sol.coef[0])
        self.step[m] = 1.0

    def _deviance_ratio(self, gi: int, m: int) -> float:
        g = self.groups[gi]
        sat = float(self.sat[g.train].sum()) / g.W
        null = float(self.datafit.pointwise(np.array(self.datafit.null_eta(g.y_mean) if self.fit_intercept else 0.0), np.array(g.y_mean))[0])
        denom = null - sat
        return 1.0 - (self.L[m] - sat) / denom if denom > 0 else 0.0

    def _separable_stop(self) -> None:
        """glmnet: past a converged model explaining >= 0.999 of the deviance, the path stops."""
        if not self.have_sat:
            return
        for gi in range(self.G):
            for ri in range(self.R):
                base = self._index(gi, ri, 0)
                for ai in range(self.A - 1):
                    m = base + ai
                    if self.status[m] == 1 and self._deviance_ratio(gi, m) >= _DEV_RATIO_STOP:
                        rest = np.arange(m + 1, base + self.A)
                        rest = rest[self.status[rest] != 2]
                        if rest.size:
                            self.separable = True
                            for t in rest:
                                self._copy(m, int(t))
                                self.status[t] = 2
                        break

    def _copy(self, src: int, dst: int) -> None:
        for arr in (self.beta, self.b, self.L, self.g, self.held_loss, self.held_correct, self.kkt):
            arr[dst] = arr[src]
        self.F[dst] = np.inf

    # -- driving ---------------------------------------------------------------
    def run(self, run_pass: Callable[[PassRequest], PassStats]) -> None:
        """Passes until every model converged (or ``max_passes``)."""
        while not self.done:
            self.update(run_pass(self.request()))

    def result(self, run_pass: Callable[[PassRequest], PassStats] | None = None, auc: bool = False) -> GLMPathResult:
        """The solutions; with ``auc=True`` one more pass computes the held-out AUC histograms."""
        R, A, K, p = self.R, self.A, self.folds.size, self.p
        coef_orig = self.beta / self.kscale
        icpt = self.b - coef_orig @ self.center if self.fit_intercept else np.zeros_like(self.b)
        coef_orig = coef_orig.reshape(self.G, R, A, p)
        icpt = icpt.reshape(self.G, R, A)
        dev = np.full((R, A, K), np.nan)
        acc = np.full((R, A, K), np.nan)
        for k in range(K):
            g = self.groups[k]
            sat = self.sat[g.held]
            for ri in range(R):
                ms = np.arange(self._index(k, ri, 0), self._index(k, ri, 0) + A)
                dev[ri, :, k] = 2.0 * (self.held_loss[ms] - sat) / g.W_held
                if isinstance(self.datafit, Binomial):
                    acc[ri, :, k] = self.held_correct[ms] / g.W_held
        gfull = self.G - 1
        train_dev = np.zeros((R, A))
        ratio = np.zeros((R, A))
        for ri in range(R):
            for ai in range(A):
                m = self._index(gfull, ri, ai)
                g = self.groups[gfull]
                train_dev[ri, ai] = 2.0 * (self.L[m] - float(self.sat[g.train].sum()) / g.W)
                ratio[ri, ai] = self._deviance_ratio(gfull, m)
        status = self.status.reshape(self.G, R, A)
        kkt = self.kkt.reshape(self.G, R, A)
        auc_path = auc_err = None
        n_passes = self.n_passes
        if auc and K and run_pass is not None:
            auc_path, auc_err = self._auc(run_pass)
            n_passes += 1
        return GLMPathResult(
            l1_ratios=self.l1_ratios,
            alphas=self.alphas,
            fold_labels=self.folds,
            coef=coef_orig[gfull],
            intercept=icpt[gfull],
            fold_coef=np.moveaxis(coef_orig[:K], 0, 2),
            fold_intercept=np.moveaxis(icpt[:K], 0, 2),
            deviance_path=dev,
            train_deviance=train_dev,
            dev_ratio=ratio,
            accuracy_path=acc,
            auc_path=auc_path,
            auc_error=auc_err,
            converged=np.moveaxis(status != 0, 0, 2) & np.moveaxis(status != 3, 0, 2),
            kkt=np.moveaxis(kkt, 0, 2),
            stopped=np.moveaxis(status == 2, 0, 2),
            n_passes=n_passes,
        )

    def _auc(self, run_pass: Callable[[PassRequest], PassStats]) -> tuple[FloatArray, FloatArray]:
        R, A, K = self.R, self.A, self.folds.size
        ms = np.arange(self._index(0, 0, 0), self._index(K - 1, R - 1, A - 1) + 1)
        held = np.array([self.labels[self.groups[self._model(int(m))[0]].held] for m in ms], dtype=np.int64)
        req = PassRequest(
            family=self.datafit.name,
            center=self.center,
            scale=self.kscale,
            coef=self.beta[ms],
            intercept=self.b[ms],
            held_label=held,
            histogram=True,
        )
        st = run_pass(req)
        assert st.hist is not None
        neg, pos = st.hist[..., 0], st.hist[..., 1]
        below = np.cumsum(neg, axis=1) - neg
        P = pos.sum(axis=1)
        N = neg.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            auc = ((pos * below).sum(axis=1) + 0.5 * (pos * neg).sum(axis=1)) / (P * N)
            err = 0.5 * (pos * neg).sum(axis=1) / (P * N)
        auc = auc.reshape(K, R, A)
        err = err.reshape(K, R, A)
        return np.moveaxis(auc, 0, 2), np.moveaxis(err, 0, 2)


def glm_fit(
    stats: SufficientStats,
    datafit: Binomial | Poisson | str,
    penalty: Penalty,
    run_pass: Callable[[PassRequest], PassStats],
    *,
    l1_ratios: ArrayLike | None = None,
    alphas: int | ArrayLike = 100,
    eps: float | None = None,
    folds: ArrayLike | None = None,
    fit_intercept: bool = True,
    standardize: bool = True,
    tol: float = 1e-8,
    max_passes: int = 100,
    hessians: int = 6,
    auc: bool = False,
) -> GLMPathResult:
    """Fit the penalized GLM path of every l1_ratio on all rows and, with ``folds``, every fold.

    Parameters
    ----------
    stats : SufficientStats
        Pass-0 statistics per fold label (binomial targets already 0/1).
    datafit : Binomial, Poisson or their name
    penalty : Penalty
        Factors and bounds (original scale), shape (n_features,).
    run_pass : callable
        ``run_pass(PassRequest) -> PassStats``: :func:`glm_block_pass` on every
        block of the same rows as ``stats``, merged with :func:`merge_pass`.
    l1_ratios : array-like, optional
        Default ``[penalty.l1_ratio]``.
    alphas : int or array-like, default 100
        Grid size (from the full data's null-model ``alpha_max``, as
        :func:`dreg.core.path.alpha_grid`) or an explicit grid (sorted decreasing).
    eps : float, optional
        ``alpha_min / alpha_max`` of the automatic grid.
    folds : array-like of int, optional
        Held-out labels to cross-validate (default: none).
    fit_intercept, standardize : bool
    tol : float, default 1e-8
        KKT tolerance relative to the null model's gradient scale.
    max_passes : int, default 100
    hessians : int, default 6
        Anchor Hessians per l1_ratio per pass.
    auc : bool, default False
        One more pass for the held-out AUC (binomial CV).

    Returns
    -------
    GLMPathResult
        ``n_passes`` counts the passes after pass 0.
    """
    fam = family(datafit) if isinstance(datafit, str) else datafit
    ratios = [penalty.l1_ratio] if l1_ratios is None else l1_ratios
    l1r = np.atleast_1d(np.asarray(ratios, dtype=np.float64))
    full = collapse(stats)
    nq = null_problem(full, fam, fit_intercept, standardize)
    if np.ndim(alphas) == 0:
        grids = np.stack([alpha_grid(nq, penalty.with_l1_ratio(float(r)), int(alphas), eps) for r in l1r])  # type: ignore[arg-type]
    else:
        grid = np.sort(np.asarray(alphas, dtype=np.float64))[::-1]
        grids = np.tile(grid, (l1r.size, 1))
    folds_arr = np.zeros(0, dtype=np.int64) if folds is None else np.asarray(folds, dtype=np.int64)
    solver = GLMPathSolver(
        stats, fam, penalty, grids, l1r, folds_arr, fit_intercept=fit_intercept, standardize=standardize,
        tol=tol, max_passes=max_passes, hessians=hessians,
    )
    solver.run(run_pass)
    res = solver.result(run_pass, auc=auc and isinstance(fam, Binomial))
    if solver.separable:
        warnings.warn(
            "the data are (nearly) separable: the path stopped where a model explains "
            f"{_DEV_RATIO_STOP} of the deviance (glmnet's rule); later alphas repeat that solution",
            GLMWarning,
            stacklevel=2,
        )
    return res
