"""Penalized binomial and Poisson GLMs on wide sparse data: a working set over :mod:`dreg.core.glm`.

Each model minimises glmnet's objective of :mod:`dreg.core.glm`::

    F(b, beta) = (1/W) sum_i w_i nll(y_i, b + x_i^T beta)
                 + alpha sum_j pf_j (l1_ratio |beta_j s_j| + (1 - l1_ratio)/2 (beta_j s_j)^2)

for every fold model and the all-rows model, along the grid of every
l1_ratio, when ``p`` is too large for the ``p x p`` Grams the Gram engine's
passes keep per fold label.  The loop (glmnet's strong set and KKT check,
H2O's active set):

1. **Grid** from pass 0 (:func:`chunk_moments`, one sparse pass): the null
   model's gradient of every feature gives the grid of
   :func:`dreg.core.glm.glm_fit` on all ``p`` features, to rounding (with
   unpenalized features, their Gram columns come from one sparse product).
2. **Working set** ``S``: the unpenalized features and the features with the
   largest null-model gradients (:data:`_FIRST_SET`).
3. **Solve** the whole path of every model restricted to ``S`` with
   :class:`dreg.core.glm.GLMPathSolver` (its passes run
   :func:`sparse_glm_block_pass` on the columns ``S``: sparse products, no
   densified rows; Hessians ``X_S^T diag(w v) X_S`` are ``|S| x |S|``).
4. **Check** every feature outside ``S`` at every model's solution: one
   gradient pass (:meth:`SparseGLMRows.model_gradients`) returns the
   training-rows gradient ``X^T diag(w)(mu - y)`` of every model over all
   ``p`` features; a feature whose KKT violation exceeds its model's
   tolerance enters ``S`` (the largest violations first, at most doubling
   ``S`` per round), and step 3 runs again.  When no feature violates,
   every model satisfies the KKT conditions of the *full* problem.

Memory: the coordinator holds the restricted solver's ``(n_labels) (1 +
hessians R) (|S| + 1)^2`` floats of Grams (bounded by ``max_gram_bytes``:
beyond it a ``ValueError`` says so) and ``O(models x alphas x p)`` for the
gradient check.  Passes: the restricted solves' passes plus one gradient
pass per round (``n_passes``).

Pure numpy/scipy: no Dask import.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from dreg.core.datafit import Binomial, Poisson, family
from dreg.core.glm import (
    _HIST_BINS,
    _HIST_RANGE,
    GLMPathResult,
    GLMPathSolver,
    GLMWarning,
    PassRequest,
    PassStats,
    _pointwise,
    null_problem,
)
from dreg.core.penalty import _ALPHA_MAX_SLACK, _L1_FLOOR, Penalty, unpenalized_fit
from dreg.core.solvers import kkt_violation
from dreg.core.stats import SufficientStats, collapse
from dreg.core.wide import (
    _CONSTANT_RTOL,
    DEFAULT_MAX_GRAM_BYTES,
    _as_csc,
    _labels,
    chunk_gram,
    chunk_moments,
    models_moments,
    sparse_stats,
)

__all__ = ["SparseGLMRows", "WideGLMResult", "sparse_glm_block_pass", "wide_glm_fit"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_log = logging.getLogger(__name__)

# features of the first working set besides the unpenalized ones (the largest null gradients)
_FIRST_SET = 64
# rows per block of the sparse pass: the (rows x models) predictor block stays ~40 MB at 600 models
_ROWS = 8192
# gradient-check column block: a (models x columns) slab of ~64 MB at 600 models
_COLS = 16384


# --------------------------------------------------------------------------- the sparse pass
def sparse_glm_block_pass(
    X: object,
    y: ArrayLike,
    sample_weight: ArrayLike | None,
    fold: ArrayLike | None,
    request: PassRequest,
) -> PassStats:
    """:func:`dreg.core.glm.glm_block_pass` on sparse rows, without densifying them.

    With ``Z = (X - center) / scale`` the linear predictors are
    ``E = X (coef / scale)^T + (b - (coef / scale) center)`` (one sparse
    product), the gradients ``Z^T R = (X^T R - center sum R) / scale`` and the
    Hessians ``Z^T diag(a) Z = D^-1 (X^T A X - c (X^T a)^T - (X^T a) c^T + (sum a) c c^T) D^-1``,
    all from sparse products over the stored entries.  Every row enters the
    Hessians (``request.hessian_stride`` is for dense rows).  Same results as
    the dense kernel to rounding.
    """
    fam = family(request.family)
    Xr = sp.csr_matrix(X, dtype=np.float64)
    n, p = Xr.shape
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64).reshape(-1)
    lab = np.zeros(n, dtype=np.int64) if fold is None else np.asarray(fold).astype(np.int64).reshape(-1)
    pos = w > 0
    if not np.all(pos):
        Xr, y, w, lab = Xr[pos], y[pos], w[pos], lab[pos]
        n = Xr.shape[0]
    labels, inverse = np.unique(lab, return_inverse=True)
    L, M = labels.size, request.n_models
    hidx = np.asarray(request.hessian, dtype=np.int64)
    H = hidx.size
    center = np.asarray(request.center, dtype=np.float64)
    scale = np.asarray(request.scale, dtype=np.float64)
    cs = np.asarray(request.coef, dtype=np.float64) / scale  # (M, p): coefficients of the raw columns
    b = np.asarray(request.intercept, dtype=np.float64) - cs @ center
    cs_t = np.ascontiguousarray(cs.T)
    count = np.zeros(L, dtype=np.int64)
    Wl = np.zeros(L)
    sat = np.zeros(L)
    loss = np.zeros((L, M))
    grad = np.zeros((L, M, p + 1))
    hess = np.zeros((L, H, p + 1, p + 1))
    correct = np.zeros((L, M))
    hist = np.zeros((M, _HIST_BINS, 2)) if request.histogram else None
    binomial = isinstance(fam, Binomial)
    work = (np.empty((0, 0)), np.empty((0, 0)))
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
            Xb = Xr[r]
            yb, wb = y[r], w[r]
            Wl[li] += wb.sum()
            sat[li] += wb @ fam.saturated(yb)
            E = np.asarray(Xb @ cs_t).reshape(r.size, M)
            E += b
            E = np.ascontiguousarray(E)
            if H:
                var = fam.pointwise(E[:, hidx], yb[:, None])[2]
            if hist is not None:
                for m in mine:
                    k = np.clip(((E[:, m] + _HIST_RANGE) * (_HIST_BINS / (2 * _HIST_RANGE))).astype(np.int64), 0, _HIST_BINS - 1)
                    hist[m, :, 0] += np.bincount(k, weights=wb * (1.0 - yb), minlength=_HIST_BINS)
                    hist[m, :, 1] += np.bincount(k, weights=wb * yb, minlength=_HIST_BINS)
            if work[0].shape[1] != E.shape[1] or work[0].shape[0] < E.shape[0]:
                work = (np.empty((max(E.shape[0], 1), E.shape[1])), np.empty((max(E.shape[0], 1), E.shape[1])))
            _pointwise(E, yb, wb, binomial, loss[li], correct[li], work)
            # raw sums X^T R (E now holds w (mu - y)); centered and scaled after the label's rows
            grad[li, :, :p] += np.asarray(Xb.T @ E).T
            grad[li, :, p] += E.sum(axis=0)
            for h in range(H):
                a = wb * var[:, h]
                Xa = Xb.multiply(a[:, None]).tocsr()
                hess[li, h, :p, :p] += (Xb.T @ Xa).toarray()
                hess[li, h, p, :p] += np.asarray(Xb.T @ a).reshape(-1)
                hess[li, h, p, p] += a.sum()
        # centre and scale: Z^T R = (X^T R - c sum R) / s, and the Hessians likewise
        grad[li, :, :p] = (grad[li, :, :p] - np.outer(grad[li, :, p], center)) / scale
        for h in range(H):
            S = hess[li, h]
            xa, A = S[p, :p].copy(), S[p, p]
            S[:p, :p] -= np.outer(center, xa) + np.outer(xa, center) - A * np.outer(center, center)
            S[:p, :p] /= np.outer(scale, scale)
            S[p, :p] = S[:p, p] = (xa - A * center) / scale
    return PassStats(labels, count, Wl, sat, loss, grad, hess, correct, hist)


# --------------------------------------------------------------------------- in-memory rows
class SparseGLMRows:
    """The rows of a wide GLM in memory: what :func:`wide_glm_fit` asks of the data.

    Parameters
    ----------
    X : scipy.sparse matrix or array of shape (n_samples, n_features)
        Converted to CSC float64; values must be finite.
    y : array-like of shape (n_samples,)
        0/1 (binomial) or counts >= 0 (Poisson), checked by the caller.
    sample_weight : array-like of shape (n_samples,), optional
    folds : array-like of int of shape (n_samples,), optional
        Fold label of each row; ``-1`` (and ``None``: every row) is never held out.
    """

    def __init__(
        self, X: object, y: ArrayLike, sample_weight: ArrayLike | None = None, folds: ArrayLike | None = None
    ) -> None:
        self.X = _as_csc(X)
        n, p = self.X.shape
        self.y = np.asarray(y, dtype=np.float64).reshape(-1)
        self.w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64).reshape(-1)
        if self.y.shape != (n,) or self.w.shape != (n,):
            raise ValueError(f"X has {n} rows, y {self.y.shape[0]} and sample_weight {self.w.shape[0]}")
        self.folds = np.full(n, -1, dtype=np.int64) if folds is None else np.asarray(folds, dtype=np.int64).reshape(-1)
        self._lab = _labels(self.folds, n)

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def labels(self) -> IntArray:
        """The distinct row labels, sorted (``-1`` included when present)."""
        return self._lab.names

    def label_moments(self) -> tuple[FloatArray, ...]:
        """Per-label ``(count, W, xbar, ybar, xx_diag, xy, yy)`` over all features (one sparse pass)."""
        return chunk_moments(self.X, self.y, self.w, self._lab)

    def cross(self, cols: IntArray) -> FloatArray:
        """``X^T diag(w) X[:, cols]`` over all rows, dense (n_features, |cols|): the unpenalized features' columns."""
        one = _labels(np.full(self.X.shape[0], -1, dtype=np.int64), self.X.shape[0])
        return chunk_gram(self.X, self.w, one, np.arange(self.n_features), np.asarray(cols, dtype=np.int64)).toarray()

    def stats(self, cols: IntArray) -> SufficientStats:
        """Per-label :class:`SufficientStats` of the columns ``cols`` (``|cols|^2`` per label)."""
        return sparse_stats(self.X[:, np.asarray(cols, dtype=np.int64)], self.y, self.w, self.folds)

    def run_pass(self, cols: IntArray):
        """``run_pass(PassRequest) -> PassStats`` over the columns ``cols`` (:func:`sparse_glm_block_pass`)."""
        Xs = sp.csr_matrix(self.X[:, np.asarray(cols, dtype=np.int64)])

        def run(request: PassRequest) -> PassStats:
            return sparse_glm_block_pass(Xs, self.y, self.w, self.folds, request)

        return run

    def model_gradients(
        self, datafit: Binomial | Poisson, cols: IntArray, coef: FloatArray, intercept: FloatArray, include: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """Every model's training-rows gradient over all features: ``(X^T r_m, sum r_m)``.

        ``coef`` (n_models, |cols|) and ``intercept`` (n_models,) on the
        original scale; ``r_m = w (mu_m - y)`` on the rows of the labels
        ``include[m] > 0`` (shape (n_models, n_labels)), zero elsewhere.
        Returns arrays of shape (n_models, n_features) and (n_models,).
        """
        Xs = self.X[:, np.asarray(cols, dtype=np.int64)]
        E = np.asarray(Xs @ np.asarray(coef, dtype=np.float64).T).reshape(self.X.shape[0], -1)
        E += np.asarray(intercept, dtype=np.float64)
        _, res, _ = datafit.pointwise(E, self.y[:, None])
        R = res * (self.w[:, None] * np.asarray(include, dtype=np.float64)[:, self._lab.index].T)
        G = np.asarray(self.X.T @ R).T
        return np.ascontiguousarray(G), R.sum(axis=0)


# --------------------------------------------------------------------------- the path
@dataclass(frozen=True)
class WideGLMResult:
    """A wide GLM's solutions and how they were reached.

    Attributes
    ----------
    path : GLMPathResult
        As :func:`dreg.core.glm.glm_fit` returns, on all ``n_features``
        (``kkt`` covers every feature, inside and outside the working set).
    working_set : ndarray of int
        The features of the final restricted problem.
    n_rounds : int
        Restricted solves (each followed by one gradient pass over all features).
    n_passes : int
        Passes over the data after pass 0: the restricted solves' passes, the
        gradient passes and the AUC pass.
    """

    path: GLMPathResult
    working_set: IntArray
    n_rounds: int
    n_passes: int


@dataclass(frozen=True)
class _Groups:
    """Per model group (fold models, then all rows): what the KKT check needs on all features."""

    include: FloatArray  # (G, L) 1 where a group trains on a label
    W: FloatArray  # (G,)
    center: FloatArray  # (p,) the kernel's centre: all rows' means (0 without an intercept)
    scale: FloatArray  # (G, p) each group's feature scale
    constant: NDArray[np.bool_]  # (G, p)


def _group_scales(rows: SparseGLMRows, folds: IntArray, fit_intercept: bool, standardize: bool) -> tuple[_Groups, FloatArray]:
    """Every group's scale on all features, and the all-rows ``xx_diag``."""
    lab = rows._lab
    parts = rows.label_moments()
    mom = models_moments(lab, parts, fit_intercept)  # fold models (sorted held labels), then all rows
    held_names = lab.names[lab.held]
    if not np.array_equal(held_names, np.sort(np.asarray(folds, dtype=np.int64))) and folds.size:
        raise ValueError(f"folds {folds.tolist()} must be the row labels >= 0, {held_names.tolist()}")
    pick = np.r_[np.arange(held_names.size) if folds.size else np.zeros(0, dtype=np.int64), mom.weight_sum.size - 1]
    W = mom.weight_sum[pick]
    var = np.clip(mom.xx_diag[pick] / np.where(W > 0, W, 1.0)[:, None], 0.0, None)
    if fit_intercept:
        constant = (np.sqrt(var) <= _CONSTANT_RTOL * np.abs(mom.x_mean[pick])) | (var <= 0.0)
    else:
        constant = var <= 0.0
    scale = np.sqrt(var) if standardize else np.ones_like(var)
    scale = np.where(constant | (scale <= 0), 1.0, scale)
    full = mom.weight_sum.size - 1
    center = mom.x_mean[full] if fit_intercept else np.zeros(rows.n_features)
    groups = _Groups(lab.include[pick], W, center, scale, constant)
    return groups, mom.xx_diag[full]


def _null_gradients(
    fam: Binomial | Poisson, rows: SparseGLMRows, groups: _Groups, fit_intercept: bool
) -> tuple[FloatArray, FloatArray]:
    """Every group's intercept-only model: ``q`` (G, p), minus its loss gradient on the standardized scale, and ``v0`` (G,).

    ``q_j = sum w x_j (y - mu0) / W / s_j`` over the group's rows (with an
    intercept ``mu0 = ybar`` and this is ``sum w (x - xbar)(y - ybar) / W / s``,
    :func:`dreg.core.glm.null_problem`'s ``q``; without one ``mu0 = mean(0)``),
    zero on constant features; ``v0`` the variance at ``mu0``.  One sparse
    product for all groups.
    """
    Wg = rows.w[:, None] * groups.include[:, rows._lab.index].T  # (n, G): each group's row weights
    ybar = (Wg.T @ rows.y) / groups.W
    b0 = np.array([fam.null_eta(float(v)) for v in ybar]) if fit_intercept else np.zeros(ybar.size)
    mu0 = np.asarray(fam.mean(b0), dtype=np.float64)
    v0 = np.asarray(fam.variance(mu0), dtype=np.float64)
    sxy = np.asarray(rows.X.T @ (Wg * (rows.y[:, None] - mu0[None, :]))).T
    q = np.where(groups.constant, 0.0, sxy / groups.W[:, None] / groups.scale)
    return q, v0


def _null_grid(
    rows: SparseGLMRows,
    fam: Binomial | Poisson,
    penalty: Penalty,
    groups: _Groups,
    q: FloatArray,
    v0: float,
    xx_diag: FloatArray,
    ratios: FloatArray,
    n_alphas: int,
    eps: float | None,
    fit_intercept: bool,
    standardize: bool,
) -> FloatArray:
    """:func:`dreg.core.path.alpha_grid` of :func:`dreg.core.glm.null_problem` on all features, without its Gram.

    ``q`` and ``v0``: the all-rows null model's (:func:`_null_gradients`).
    """
    if n_alphas < 1:
        raise ValueError(f"alphas must be a positive count, got {n_alphas}")
    full = groups.W.size - 1
    W = float(groups.W[full])
    scale, constant = groups.scale[full], groups.constant[full]
    p = rows.n_features
    pf = penalty.penalty_factor
    U = np.flatnonzero((pf == 0) & ~constant)
    c = q.copy()
    if U.size:
        # b_U: the unpenalized features' fit on the null quadratic; c = q - Q[:, U] b_U with Q = v0 (centered Gram) / W / s s
        S = collapse(rows.stats(U))
        nq = null_problem(S, fam, fit_intercept, standardize)
        from dreg.core.penalty import reduce_problem

        keep, Qu, qu, pen_u = reduce_problem(nq, penalty.subset(U))
        bu = np.zeros(U.size)
        bu[keep] = unpenalized_fit(Qu, qu, pen_u, nq.yy)
        cross = rows.cross(U)  # X^T diag(w) X_U, uncentered
        if fit_intercept:
            cross = cross - W * np.outer(groups.center, groups.center[U])
        Qcol = v0 * cross / W / np.outer(scale, scale[U])
        Qcol[constant] = 0.0
        c = q - Qcol @ bu
    lo = np.where(np.isfinite(penalty.lower), penalty.lower * scale, -np.inf)
    hi = np.where(np.isfinite(penalty.upper), penalty.upper * scale, np.inf)
    t = np.where(lo < 0, np.where(hi > 0, np.abs(c), np.maximum(-c, 0.0)), np.maximum(c, 0.0))
    t = np.where((lo >= 0) & (hi <= 0), 0.0, t)
    P = (pf > 0) & ~constant
    n = int(np.count_nonzero(rows.w > 0))
    grids = []
    for r in ratios:
        if r == 0.0:
            diag = np.where(constant, 0.0, v0 * xx_diag / W / scale**2)
            top = 1e3 * float(np.mean(diag[P] / pf[P])) if np.any(P) else 0.0
            e = (1e-6 if n > p else 1e-4) if eps is None else eps
        else:
            top = float(np.max(t[P] / (max(float(r), _L1_FLOOR) * pf[P]))) * (1.0 + _ALPHA_MAX_SLACK) if np.any(P) else 0.0
            e = (1e-4 if n > p else 1e-2) if eps is None else eps
        if not top > 0 or not np.isfinite(top):
            top = float(np.finfo(float).resolution)
        grids.append(np.array([top]) if n_alphas == 1 else np.geomspace(top, top * e, n_alphas))
    return np.stack(grids)


def wide_glm_fit(
    rows: SparseGLMRows,
    datafit: Binomial | Poisson | str,
    penalty: Penalty,
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
    max_gram_bytes: int = DEFAULT_MAX_GRAM_BYTES,
) -> WideGLMResult:
    """Fit the penalized GLM path of every l1_ratio on all rows and every fold, on a working set.

    Parameters as :func:`dreg.core.glm.glm_fit`, with the rows given as
    :class:`SparseGLMRows`.  ``max_passes`` bounds all passes (restricted
    solves and gradient checks); ``max_gram_bytes`` bounds the restricted
    solver's dense working-set Grams (per fold label, for the anchors and
    their pass): the anchors are capped to fit, and a working set that does
    not fit even with one anchor per l1_ratio is a ``ValueError``.

    Returns
    -------
    WideGLMResult
        The path on all features; every model satisfies the KKT conditions
        of the full problem to ``tol`` when ``path.converged``.
    """
    fam = family(datafit) if isinstance(datafit, str) else datafit
    ratios = np.atleast_1d(np.asarray([penalty.l1_ratio] if l1_ratios is None else l1_ratios, dtype=np.float64))
    folds_arr = np.zeros(0, dtype=np.int64) if folds is None else np.asarray(folds, dtype=np.int64)
    p = rows.n_features
    if penalty.penalty_factor.shape != (p,):
        raise ValueError(f"the penalty has {penalty.penalty_factor.shape[0]} features, the rows {p}")
    groups, xx_diag = _group_scales(rows, folds_arr, fit_intercept, standardize)
    if not np.all(groups.W > 0):
        raise ValueError("a training fold has zero total weight")
    q0, v0 = _null_gradients(fam, rows, groups, fit_intercept)
    full = groups.W.size - 1
    if np.ndim(alphas) == 0:
        grids = _null_grid(
            rows, fam, penalty, groups, q0[full], float(v0[full]), xx_diag, ratios, int(alphas), eps,  # type: ignore[arg-type]
            fit_intercept, standardize,
        )  # fmt: skip
    else:
        grid = np.sort(np.asarray(alphas, dtype=np.float64).reshape(-1))[::-1]
        grids = np.tile(grid, (ratios.size, 1))
    R, A = grids.shape
    G = groups.W.size
    L = rows.labels.size
    # each group's KKT scale on all features, as GLMPathSolver's from its own: max(max_j |q_j|, v0)
    kkt_scale = np.maximum(np.max(np.abs(q0), axis=1, initial=0.0), np.maximum(v0, 1e-12))
    pf = np.asarray(penalty.penalty_factor, dtype=np.float64)
    lower, upper = np.asarray(penalty.lower), np.asarray(penalty.upper)
    fixed = (lower >= 0) & (upper <= 0)
    live = ~np.all(groups.constant, axis=0) & ~fixed
    # the first working set: unpenalized features, then the largest null gradients (per unit of penalty)
    score = np.where(live & (pf > 0), np.abs(q0[full]) / np.where(pf > 0, pf, 1.0), -1.0)
    ws = np.flatnonzero(live & (pf == 0))
    top = np.argsort(-score, kind="stable")[:_FIRST_SET]
    ws = np.union1d(ws, top[score[top] > 0])
    if ws.size == 0:
        ws = np.array([int(np.argmax(score))])
    passes = 0
    n_rounds = 0
    h = min(int(hessians), A)
    prev: GLMPathSolver | None = None
    prev_ws = ws
    while True:
        n_rounds += 1
        per_anchor = L * (ws.size + 1) ** 2 * 8
        # Grams held: stats and null Grams (2 per label), the stored anchors and one pass's
        room = int(max_gram_bytes) // per_anchor - 2
        h = min(h, max(1, room // (2 * R)))
        if room < R * 2 or h < 1:
            raise ValueError(
                f"the working set of {ws.size} features needs {per_anchor * (2 * R + 2):,} bytes of dense Grams "
                f"({L} fold labels x ({ws.size} + 1)^2 x 8 bytes, for {R} l1_ratio(s)), more than max_gram_bytes="
                f"{int(max_gram_bytes):,}; raise max_gram_bytes, or use a larger alpha or l1_ratio (fewer features enter)"
            )
        max_anchors = max(h, room // R - h)
        solver = GLMPathSolver(
            rows.stats(ws), fam, penalty.subset(ws), grids, ratios, folds_arr, fit_intercept=fit_intercept,
            standardize=standardize, tol=tol, max_passes=max(1, max_passes - passes), hessians=h,
            kkt_scale=kkt_scale, max_anchors=max_anchors,
        )  # fmt: skip
        if prev is not None:
            # warm start from the last round's solutions: the kernel coordinates of a feature do not
            # depend on the others, and the new features start at zero
            start = np.zeros((prev.beta.shape[0], ws.size))
            start[:, np.searchsorted(ws, prev_ws)] = prev.beta
            solver.warm_start(start, prev.b)
        run = rows.run_pass(ws)
        solver.run(run)
        _log.debug("round %d: %d features, %d passes", n_rounds, ws.size, solver.n_passes)
        prev, prev_ws = solver, ws
        passes += solver.n_passes
        # the gradient check on every feature outside the working set, at every model's solution
        coef = solver.beta / solver.kscale
        icpt = solver.b - coef @ solver.center if fit_intercept else np.zeros_like(solver.b)
        model_group = np.arange(solver.beta.shape[0]) // (R * A)
        include = groups.include[model_group]
        grad, gsum = rows.model_gradients(fam, ws, coef, icpt, include)
        passes += 1
        outside = np.ones(p, dtype=bool)
        outside[ws] = False
        outside &= live
        out_idx = np.flatnonzero(outside)
        viol = np.zeros((solver.beta.shape[0], out_idx.size))
        for m in range(solver.beta.shape[0]):
            gi, rest = divmod(m, R * A)
            ri, ai = divmod(rest, A)
            s = groups.scale[gi, out_idx]
            gu = (grad[m, out_idx] - groups.center[out_idx] * gsum[m]) / (groups.W[gi] * s)
            lo = np.where(np.isfinite(lower[out_idx]), lower[out_idx] * s, -np.inf)
            hi = np.where(np.isfinite(upper[out_idx]), upper[out_idx] * s, np.inf)
            l1 = float(grids[ri, ai] * ratios[ri]) * pf[out_idx]
            v = kkt_violation(None, None, np.zeros(out_idx.size), l1, np.zeros_like(l1), lo, hi, grad=-gu)  # type: ignore[arg-type]
            v[groups.constant[gi, out_idx]] = 0.0
            viol[m] = v / solver.tol_of(gi)  # in units of the model's tolerance
        worst = viol.max(axis=0, initial=0.0) if out_idx.size else np.zeros(0)
        enter = out_idx[worst > 1.0]
        if enter.size == 0 or passes >= max_passes:
            break
        # Which violators enter: the solutions at the largest alphas are exact on the working set
        # (their violations are real, as after glmnet's strong rule), those further down the path
        # lack what earlier alphas need (most of their violations vanish once that enters).  So
        # the features violating at the largest alpha enter first, larger violations first, at most
        # doubling the working set per round (and within the Grams' budget).
        bad = viol[:, worst > 1.0] > 1.0
        alpha_index = (np.arange(viol.shape[0]) % A)[:, None]
        first = np.where(bad, alpha_index, A).min(axis=0)
        order = np.lexsort((-worst[worst > 1.0], first))
        cap = max(ws.size, _FIRST_SET)
        fit = max(int(np.sqrt(max_gram_bytes / (8 * L * (2 * R + 2)))) - 1 - ws.size, 1)
        enter = enter[order[: min(cap, fit)]]
        ws = np.union1d(ws, enter)
    res = solver.result(run, auc=auc and isinstance(fam, Binomial))
    if auc and isinstance(fam, Binomial) and folds_arr.size:
        passes += 1
    K = folds_arr.size
    coef_full = np.zeros((R, A, p))
    coef_full[:, :, ws] = res.coef
    fold_full = np.zeros((R, A, K, p))
    fold_full[:, :, :, ws] = res.fold_coef
    out_kkt = (viol.max(axis=1, initial=0.0) if viol.size else np.zeros(viol.shape[0])).reshape(G, R, A)
    out_kkt = np.moveaxis(out_kkt, 0, 2)  # (R, A, K + 1), in units of each model's tolerance
    tols = np.array([solver.tol_of(gi) for gi in range(G)])
    kkt = np.maximum(res.kkt, out_kkt * tols)
    path = replace(
        res,
        coef=coef_full,
        fold_coef=fold_full,
        kkt=kkt,
        converged=res.converged & (out_kkt <= 1.0),
        n_passes=passes,
    )
    if solver.separable:
        import warnings

        warnings.warn(
            "the data are (nearly) separable: the path stopped where a model explains "
            "0.999 of the deviance (glmnet's rule); later alphas repeat that solution",
            GLMWarning,
            stacklevel=2,
        )
    return WideGLMResult(path=path, working_set=ws, n_rounds=n_rounds, n_passes=passes)
