"""The wide engine: elastic-net paths and CV without a ``p x p`` Gram (glmnet's strong rules + KKT).

When ``p`` is too large for a Gram per fold on the coordinator (one-hot
columns with many levels, hashed text: at ``p = 50,000`` one Gram is 20 GB),
the solver keeps the Gram block of a *working set* ``W`` of features only and
talks to the data through an oracle (:class:`WideOracle`) that answers two
questions for a batch of models at once -- the ``K`` fold-training models and
the all-rows model, each on its own training rows:

* :meth:`WideOracle.gradients`: the full-length centered weighted gradients
  ``X_c^T diag(w) (y - X beta - b)`` of every model (one pass over the data;
  the same pass returns each model's training and held-out losses);
* :meth:`WideOracle.gram_block`: the weighted Gram columns of newly admitted
  features against the working set, sparse and uncentered (one pass); the
  coordinator centers them with the moments.

For each model the objective is dreg's (and, with ``standardize=False``,
scikit-learn's ``ElasticNet``)::

    1/(2W) sum_i w_i (y_i - b - x_i^T beta)^2
        + alpha sum_j pf_j (l1_ratio |beta_j s_j| + (1 - l1_ratio)/2 (beta_j s_j)^2),
    lower <= beta <= upper

with ``W = sum_i w_i`` over the model's training rows, ``s`` their weighted
population standard deviations (``standardize=True``, as glmnet) or ones.  On
the standardized scale ``b = beta * s`` it is the quadratic problem of
:mod:`dreg.core.problem`, ``1/2 b^T Q b - q^T b + P_alpha(b)`` with
``Q = D^-1 X_c^T diag(w) X_c D^-1 / W`` and ``q = D^-1 X_c^T diag(w) y / W``.
Centering is implicit: ``X_c^T diag(w) X_c = X^T diag(w) X - W xbar xbar^T``
(kept as a sparse matrix plus a rank-one term; the diagonal, which sets the
scales, from exact two-pass sums over the stored entries), and
``X_c^T diag(w) r = X^T diag(w) r - xbar sum_i w_i r_i``; ``X`` is never
densified.

Along a decreasing grid of alphas (Tibshirani et al. 2012, "Strong rules for
discarding predictors in lasso-type problems"; glmnet; H2O's active set):

1. **Screen** with the sequential strong rule on the previous alpha's
   gradients ``c = q - Q b`` (standardized scale): feature ``j`` may enter
   the working set when ``|c_j| >= l1_ratio pf_j (2 alpha - alpha_prev)`` for
   some model; features ever active and unpenalized ones (``pf = 0``) are
   always in it.  Newly admitted features cost one ``gram_block`` pass.
2. **Solve** each model on the working set by coordinate descent with
   covariance updates on ``Q_WW = A - v v^T``
   (:func:`dreg.core.solvers.cd_sparse.cd_sparse_path`: the dense engine's
   updates and exactness target on a sparse ``A``, so a cycle costs the stored
   entries of the active columns, not ``|W|`` each), features outside ``W``
   held at 0.
3. **Check KKT** on every feature with one ``gradients`` pass; features
   violating it beyond the exactness target ``1e-10 max(|q|, sqrt(yy))``
   join the working set (one ``gram_block`` pass) and the models that had
   violators are solved again.  The alpha is done when no feature outside
   ``W`` violates its conditions: the result solves the full problem, as the
   dense engine's does.

The coordinator holds the working set's Gram blocks (their stored entries,
at most ``models |W|^2``, bounded by ``max_gram_bytes``) and
``O(models alphas p)`` for the coefficient paths.
:class:`SparseOracle` is the in-memory oracle over a ``scipy.sparse`` matrix:
every call is one sparse product for all models at once.  Its work is split
into a chunk's additive part (:func:`chunk_moments`, merged with
:func:`merge_label_moments`; :func:`chunk_gradients` and :func:`chunk_gram`,
summed) and the models' answer from the sums (:func:`models_moments`,
:func:`models_gradients`, :func:`models_gram`), so an oracle over row chunks
on Dask workers (:mod:`dreg.job.wide_lake`) computes the same numbers.

Pure numpy/scipy: no Dask import.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from dreg.core._util import n_threads, single_blas_thread
from dreg.core.cv import CVResult, summarize_cv
from dreg.core.path import PathResult
from dreg.core.penalty import Penalty, unpenalized_fit
from dreg.core.solvers import kkt_violation
from dreg.core.solvers.cd_sparse import cd_sparse_path
from dreg.core.stats import SufficientStats

__all__ = [
    "DEFAULT_MAX_GRAM_BYTES",
    "SparseOracle",
    "WideCVResult",
    "WideGradients",
    "WideMoments",
    "WideOracle",
    "WidePathResult",
    "WideProblem",
    "chunk_gradients",
    "chunk_gram",
    "chunk_moments",
    "gram_bytes",
    "merge_label_moments",
    "models_gradients",
    "models_gram",
    "models_moments",
    "row_labels",
    "sparse_stats",
    "wide_cross_validate",
    "wide_path",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: the coordinator's default budget for Gram matrices (2 GiB)
DEFAULT_MAX_GRAM_BYTES = 2**31
# as dreg.core.problem: a feature whose spread is below this fraction of its mean is constant
_CONSTANT_RTOL = 1e-12
# glmnet's floor of l1_ratio in alpha_max and dreg's slack above it (dreg.core.penalty)
_L1_FLOOR = 1e-3
_ALPHA_MAX_SLACK = 1e-12
# KKT rounds (solve, check, admit) per alpha before the alpha is marked unconverged
_MAX_ROUNDS = 100


def gram_bytes(n_features: int, n_models: int) -> int:
    """Bytes of ``n_models`` dense ``n_features x n_features`` float64 Gram matrices."""
    return int(n_models) * int(n_features) ** 2 * 8


# --------------------------------------------------------------------------- the oracle
@dataclass(frozen=True)
class WideMoments:
    """Per-model weighted moments of the training rows (the pass-0 answer of an oracle).

    Models ``0 .. K-1`` are the fold-training models (all rows but fold
    ``fold_labels[k]``), model ``K`` the all-rows model.  With
    ``fit_intercept=False`` the moments are uncentered (``x_mean`` and
    ``y_mean`` are zero), as in :func:`dreg.core.problem.make_problem`.

    Attributes
    ----------
    fold_labels : ndarray of shape (n_folds,)
        Held-out labels (``>= 0``), sorted.
    count : ndarray of shape (n_models,)
        Training rows with positive weight.
    weight_sum : ndarray of shape (n_models,)
    x_mean : ndarray of shape (n_models, n_features)
    y_mean : ndarray of shape (n_models,)
    xx_diag : ndarray of shape (n_models, n_features)
        ``sum_i w_i (x_ij - xbar_j)^2``.
    xy : ndarray of shape (n_models, n_features)
        ``sum_i w_i (x_ij - xbar_j)(y_i - ybar)``.
    yy : ndarray of shape (n_models,)
        ``sum_i w_i (y_i - ybar)^2``.
    held_count, held_weight_sum : ndarray of shape (n_folds,)
        Rows with positive weight and total weight of each held-out fold.
    """

    fold_labels: IntArray
    count: IntArray
    weight_sum: FloatArray
    x_mean: FloatArray
    y_mean: FloatArray
    xx_diag: FloatArray
    xy: FloatArray
    yy: FloatArray
    held_count: IntArray
    held_weight_sum: FloatArray


@dataclass(frozen=True)
class WideGradients:
    """The answer of :meth:`WideOracle.gradients` for a batch of models.

    Attributes
    ----------
    grad : ndarray of shape (n_models, n_features)
        ``sum_i w_i (x_i - xbar) (y_i - b - x_i^T beta)`` over each model's
        training rows (``xbar = 0`` without an intercept): ``W s (q - Q b)``
        on the standardized scale.
    train_loss : ndarray of shape (n_models,)
        ``sum_i w_i (y_i - b - x_i^T beta)^2 / W`` over the training rows.
    held_out_loss : ndarray of shape (n_models,)
        The same over the model's held-out fold (NaN for the all-rows model).
    """

    grad: FloatArray
    train_loss: FloatArray
    held_out_loss: FloatArray


class WideOracle(Protocol):
    """What the wide solver needs from the data: one pass per call, all models at once.

    An implementation holds the rows (in memory, or in chunks on Dask
    workers), their weights and fold labels; the solver never sees a row.
    """

    @property
    def n_features(self) -> int: ...

    @property
    def n_models(self) -> int:
        """``K + 1``: the fold-training models, then the all-rows model."""
        ...

    @property
    def fit_intercept(self) -> bool:
        """Whether the moments, gradients and Gram blocks are centered."""
        ...

    def moments(self) -> WideMoments: ...

    def gradients(self, coef: FloatArray, intercept: FloatArray) -> WideGradients:
        """Gradients and losses of the models ``(coef[m], intercept[m])``, original scale.

        ``coef`` has shape (n_models, n_features), ``intercept`` (n_models,).
        """
        ...

    def gram_block(self, rows: IntArray, cols: IntArray) -> list[sp.csc_matrix]:
        """``X[:, rows]^T diag(w_m) X[:, cols]`` of every model ``m`` (uncentered, sparse).

        A list of ``n_models`` matrices of shape (|rows|, |cols|) over each
        model's training rows; centering is the solver's:
        ``X_c^T diag(w) X_c = X^T diag(w) X - W xbar xbar^T``.
        """
        ...


def _as_csc(X: object) -> sp.csc_matrix:
    """``X`` as a canonical CSC float64 matrix (sorted indices, no duplicates)."""
    if sp.issparse(X):
        Xc = sp.csc_matrix(X, dtype=np.float64, copy=False)
    else:
        Xc = sp.csc_matrix(np.asarray(X, dtype=np.float64))
    if not Xc.has_canonical_format:
        Xc = Xc.copy()
        Xc.sum_duplicates()
    return Xc


@dataclass(frozen=True)
class _Labels:
    """Row labels and each model's training labels."""

    names: IntArray  # the distinct row labels (-1 included when present), sorted
    index: IntArray  # each row's position in names
    held: IntArray  # positions in names of the held-out labels (>= 0)
    include: FloatArray  # (n_models, n_labels): 1 where the model trains on the label


def _labels(folds: ArrayLike | None, n: int, names: ArrayLike | None = None) -> _Labels:
    """The labels of ``n`` rows; ``names``: every label of the data set (a chunk's rows use some)."""
    lab = np.full(n, -1, dtype=np.int64) if folds is None else np.asarray(folds, dtype=np.int64)
    if lab.shape != (n,):
        raise ValueError(f"folds must have one label per row ({n}), got shape {lab.shape}")
    if names is None:
        names, index = np.unique(lab, return_inverse=True)
    else:
        names = np.asarray(names, dtype=np.int64)
        index = np.minimum(np.searchsorted(names, lab), max(names.size - 1, 0))
        if lab.size and np.any(names[index] != lab):
            raise ValueError(f"row labels {np.setdiff1d(lab, names).tolist()[:5]} are not among {names.tolist()}")
    held = np.flatnonzero(names >= 0)
    include = np.ones((held.size + 1, names.size))
    include[np.arange(held.size), held] = 0.0
    return _Labels(names, index.astype(np.int64), held, include)


def _merge_labels(
    include: FloatArray,
    W: FloatArray,
    mean: FloatArray,
    ymean: FloatArray,
    xx: FloatArray,
    xy: FloatArray,
    yy: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Centered moments of unions of labels (Chan, Golub & LeVeque: exact, no raw sums).

    ``W, ymean, yy`` have shape (L,), ``mean, xx, xy`` (L, p); ``include``
    (M, L) selects the labels of each of the M unions.
    """
    Wm = include @ W
    safe = np.where(Wm > 0, Wm, 1.0)
    mm = (include * W) @ mean / safe[:, None]
    ym = (include * W) @ ymean / safe
    M = include.shape[0]
    xxm = include @ xx
    xym = include @ xy
    yym = include @ yy
    for m in range(M):
        sel = np.flatnonzero(include[m] > 0)
        dx = mean[sel] - mm[m]
        dy = ymean[sel] - ym[m]
        xxm[m] += W[sel] @ (dx * dx)
        xym[m] += (W[sel] * dy) @ dx
        yym[m] += W[sel] @ (dy * dy)
    return Wm, mm, ym, xxm, xym, yym


def row_labels(folds: ArrayLike | None, n: int, names: ArrayLike | None = None) -> _Labels:
    """The fold labels of a chunk of ``n`` rows against ``names``, every label of the data set.

    What the ``chunk_*`` functions take: a chunk's rows may use only some
    labels, and their per-label results must line up with the other chunks'.
    ``folds=None``: every row is ``-1`` (never held out).
    """
    return _labels(folds, n, names)


def merge_label_moments(a: tuple[FloatArray, ...], b: tuple[FloatArray, ...]) -> tuple[FloatArray, ...]:
    """Two chunks' per-label ``(count, W, xbar, ybar, xx_diag, xy, yy)`` (:func:`chunk_moments`) merged.

    Chan, Golub & LeVeque's update per label: exact, no raw sums.
    """
    ca, Wa, ma, ya, xxa, xya, yya = a
    cb, Wb, mb, yb, xxb, xyb, yyb = b
    W = Wa + Wb
    safe = np.where(W > 0, W, 1.0)
    fb = Wb / safe
    dx = mb - ma
    dy = yb - ya
    c = Wa * Wb / safe
    return (
        ca + cb,
        W,
        ma + fb[:, None] * dx,
        ya + fb * dy,
        xxa + xxb + c[:, None] * dx * dx,
        xya + xyb + c[:, None] * dx * dy[:, None],
        yya + yyb + c * dy * dy,
    )


def models_moments(lab: _Labels, parts: tuple[FloatArray, ...], fit_intercept: bool) -> WideMoments:
    """:class:`WideMoments` of the models from per-label moments (:func:`chunk_moments`, merged)."""
    count, W, mean, ymean, xx, xy, yy = parts
    if not fit_intercept:
        # uncentered: sum w x^2 = xx + W xbar^2 per label, and so on
        xx = xx + W[:, None] * mean * mean
        xy = xy + (W * ymean)[:, None] * mean
        yy = yy + W * ymean * ymean
        Wm = lab.include @ W
        mm = np.zeros((Wm.size, mean.shape[1]))
        ym = np.zeros(Wm.size)
        xxm, xym, yym = lab.include @ xx, lab.include @ xy, lab.include @ yy
    else:
        Wm, mm, ym, xxm, xym, yym = _merge_labels(lab.include, W, mean, ymean, xx, xy, yy)
    return WideMoments(
        fold_labels=lab.names[lab.held].copy(),
        count=np.rint(lab.include @ count).astype(np.int64),
        weight_sum=Wm,
        x_mean=mm,
        y_mean=ym,
        xx_diag=np.clip(xxm, 0.0, None),
        xy=xym,
        yy=np.clip(yym, 0.0, None),
        held_count=np.asarray(count[lab.held], dtype=np.int64),
        held_weight_sum=W[lab.held].copy(),
    )


def chunk_moments(X: sp.csc_matrix, y: FloatArray, w: FloatArray, lab: _Labels) -> tuple[FloatArray, ...]:
    """``(count, W, xbar, ybar, xx_diag, xy, yy)`` of each row label, centered within the label."""
    L, p = lab.names.size, X.shape[1]
    count = np.bincount(lab.index, weights=(w > 0).astype(np.float64), minlength=L).astype(np.int64)
    W = np.bincount(lab.index, weights=w, minlength=L)
    safe = np.where(W > 0, W, 1.0)
    ymean = np.bincount(lab.index, weights=w * y, minlength=L) / safe
    dy = y - ymean[lab.index]
    yy = np.bincount(lab.index, weights=w * dy * dy, minlength=L)
    # one product for the sums of x and of x (y - ybar) of every label
    onehot = lab.index[:, None] == np.arange(L)[None, :]
    B = np.concatenate([w[:, None] * onehot, (w * dy)[:, None] * onehot], axis=1)
    S = np.asarray(X.T @ B)
    mean = (S[:, :L] / safe).T
    xy = S[:, L:].T.copy()
    # two-pass variances over the stored entries; the unstored zeros add W_0 xbar^2
    col = np.repeat(np.arange(p), np.diff(X.indptr))
    rl = lab.index[X.indices]
    bins = rl * p + col
    wr = w[X.indices]
    dev = X.data - mean[rl, col]
    xx = np.bincount(bins, weights=wr * dev * dev, minlength=L * p).reshape(L, p)
    w_stored = np.bincount(bins, weights=wr, minlength=L * p).reshape(L, p)
    xx += np.clip(W[:, None] - w_stored, 0.0, None) * mean * mean
    return count, W, mean, ymean, xx, xy, yy


def chunk_gram(X: sp.csc_matrix, w: FloatArray, lab: _Labels, rows: IntArray, cols: IntArray) -> sp.csr_matrix:
    """``[X[:, rows]^T diag(w 1_l) X[:, cols] for each row label l]`` side by side, shape (|rows|, L |cols|).

    One sparse product: the columns ``cols`` are spread over one block per
    label (as many stored entries as they have), so all labels cost what one does.
    """
    L, c = lab.names.size, cols.size
    Z = X[:, cols]
    zcol = np.repeat(np.arange(c), np.diff(Z.indptr))
    spread = sp.csc_matrix(
        (Z.data * w[Z.indices], (Z.indices, lab.index[Z.indices] * c + zcol)), shape=(X.shape[0], L * c)
    )
    return sp.csr_matrix(X[:, rows].T @ spread)


class SparseOracle:
    """The in-memory :class:`WideOracle` over a ``scipy.sparse`` matrix.

    Each call is one sparse product for all models: ``X^T R`` with ``R`` the
    ``n x n_models`` matrix of weighted residuals, each column zero on the rows
    its model does not train on; the Gram columns of all folds come from one
    product ``X_W^T Y`` with ``Y`` the new columns spread over one column
    block per fold label (as many stored entries as the columns themselves).

    Parameters
    ----------
    X : scipy.sparse matrix or array of shape (n_samples, n_features)
        Converted to CSC float64 (a dense array is converted too).
    y : array-like of shape (n_samples,)
    sample_weight : array-like of shape (n_samples,), optional
        Non-negative; default ones.
    folds : array-like of int of shape (n_samples,), optional
        Fold label of each row; ``-1`` marks rows that are never held out.
        Without labels there is one model, the all-rows one.
    fit_intercept : bool, default True
        Center implicitly (an unpenalized intercept), or not at all.
    """

    def __init__(
        self,
        X: object,
        y: ArrayLike,
        sample_weight: ArrayLike | None = None,
        folds: ArrayLike | None = None,
        *,
        fit_intercept: bool = True,
    ) -> None:
        self._X = _as_csc(X)
        n, p = self._X.shape
        self._y = np.asarray(y, dtype=np.float64).reshape(-1)
        self._w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64).reshape(-1)
        if self._y.shape != (n,) or self._w.shape != (n,):
            raise ValueError(f"X has {n} rows, y {self._y.shape[0]} and sample_weight {self._w.shape[0]}")
        if not (np.all(np.isfinite(self._X.data)) and np.all(np.isfinite(self._y)) and np.all(np.isfinite(self._w))):
            raise ValueError("X, y and sample_weight must be finite")
        if np.any(self._w < 0):
            raise ValueError("sample_weight must be >= 0")
        self._fit_intercept = bool(fit_intercept)
        self._labels = _labels(folds, n)
        self._moments = self._compute_moments()

    # -- shape ----------------------------------------------------------------
    @property
    def n_features(self) -> int:
        return int(self._X.shape[1])

    @property
    def n_models(self) -> int:
        return int(self._labels.include.shape[0])

    @property
    def fit_intercept(self) -> bool:
        return self._fit_intercept

    # -- pass 0 ----------------------------------------------------------------
    def _compute_moments(self) -> WideMoments:
        parts = chunk_moments(self._X, self._y, self._w, self._labels)
        return models_moments(self._labels, parts, self._fit_intercept)

    def moments(self) -> WideMoments:
        return self._moments

    # -- one pass: gradients and losses ----------------------------------------
    def gradients(self, coef: FloatArray, intercept: FloatArray) -> WideGradients:
        sums = chunk_gradients(self._X, self._y, self._w, self._labels, coef, intercept)
        return models_gradients(self._moments, sums, self._fit_intercept)

    # -- one pass: Gram columns ---------------------------------------------------
    def gram_block(self, rows: IntArray, cols: IntArray) -> list[sp.csc_matrix]:
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        return models_gram(self._labels, chunk_gram(self._X, self._w, self._labels, rows, cols), cols.size)

    # -- the rows by label, for solvers that need the rows (dreg.core.wide_admm) ----------------
    def label_rows(self) -> tuple[IntArray, FloatArray, list[tuple[sp.csc_matrix, FloatArray, FloatArray]]]:
        """The rows by label: ``(labels, include, rows)``.

        ``labels``: the distinct row labels (``-1`` included when present);
        ``include`` of shape (n_models, n_labels): 1 where a model trains on a
        label; ``rows[l] = (X, y, sample_weight)``: the rows labelled ``labels[l]`` (copies).
        """
        lab = self._labels
        order = np.argsort(lab.index, kind="stable")
        ends = np.searchsorted(lab.index[order], np.arange(lab.names.size + 1))
        parts = [order[a:b] for a, b in zip(ends[:-1], ends[1:], strict=True)]
        return lab.names.copy(), lab.include.copy(), [(self._X[r], self._y[r], self._w[r]) for r in parts]


def chunk_gradients(
    X: sp.csc_matrix, y: FloatArray, w: FloatArray, lab: _Labels, coef: FloatArray, intercept: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """One chunk's additive part of :meth:`WideOracle.gradients`: ``(X^T WR, sum WR, sum WR R, held)``.

    ``R = y - X beta_m - b_m`` for every model (n x n_models, from the nonzero
    columns of ``coef`` only), ``WR`` its columns weighted by each model's
    training weights; ``held`` the weighted squared residuals of each fold
    model on its held-out rows.  Sums over chunks give the data set's
    (:func:`models_gradients` finishes them).
    """
    coef = np.asarray(coef, dtype=np.float64)
    intercept = np.asarray(intercept, dtype=np.float64)
    nz = np.flatnonzero(np.any(coef != 0.0, axis=0))
    R = np.repeat(y[:, None], coef.shape[0], axis=1)
    R -= intercept[None, :]
    if nz.size:
        R -= X[:, nz] @ coef[:, nz].T
    WR = R * (w[:, None] * lab.include[:, lab.index].T)
    xtwr = np.asarray(X.T @ WR).T
    K = lab.held.size
    held = np.zeros(K)
    if K:
        held_w = w[:, None] * (lab.index[:, None] == lab.held[None, :])
        RK = R[:, :K]
        held = np.einsum("ik,ik->k", held_w, RK * RK)
    return xtwr, WR.sum(axis=0), np.einsum("im,im->m", WR, R), held


def models_gradients(
    mom: WideMoments, sums: tuple[FloatArray, FloatArray, FloatArray, FloatArray], fit_intercept: bool
) -> WideGradients:
    """:class:`WideGradients` from the summed :func:`chunk_gradients` of every chunk."""
    xtwr, wr, wrr, held_sum = sums
    grad = xtwr - mom.x_mean * wr[:, None] if fit_intercept else xtwr.copy()
    safe = np.where(mom.weight_sum > 0, mom.weight_sum, 1.0)
    K = held_sum.size
    held = np.full(grad.shape[0], np.nan)
    held[:K] = held_sum / np.where(mom.held_weight_sum > 0, mom.held_weight_sum, 1.0)
    return WideGradients(grad=grad, train_loss=wrr / safe, held_out_loss=held)


def models_gram(lab: _Labels, per_label: sp.csr_matrix, n_cols: int) -> list[sp.csc_matrix]:
    """Every model's Gram block from the per-label products of :func:`chunk_gram` (summed over chunks)."""
    c = n_cols
    blocks = [per_label[:, li * c : (li + 1) * c] for li in range(lab.names.size)]
    out = []
    for m in range(lab.include.shape[0]):
        parts = [blocks[li] for li in np.flatnonzero(lab.include[m] > 0)]
        total = parts[0]
        for part in parts[1:]:
            total = total + part
        out.append(sp.csc_matrix(total))
    return out

def sparse_stats(
    X: object, y: ArrayLike, sample_weight: ArrayLike | None = None, folds: ArrayLike | None = None
) -> SufficientStats:
    """Per-fold :class:`~dreg.core.stats.SufficientStats` of a sparse matrix without densifying it.

    The statistics :func:`dreg.core.stats.block_stats` computes from dense
    rows (equal to rounding), for the Gram engine on sparse input: per label,
    ``X_l^T diag(w) X_l - W_l xbar_l xbar_l^T`` from one sparse product over
    all labels (:func:`chunk_gram`), the diagonal from exact
    two-pass sums.  ``folds`` as in :func:`~dreg.core.stats.block_stats`
    (``None``: every row under label 0).  Costs ``n_labels`` dense ``p x p``
    matrices; the values must be finite.
    """
    Xc = _as_csc(X)
    n, p = Xc.shape
    yv = np.asarray(y, dtype=np.float64).reshape(-1)
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64).reshape(-1)
    lab = _labels(np.zeros(n, dtype=np.int64) if folds is None else folds, n)
    count, W, mean, ymean, xx_diag, xy, yy = chunk_moments(Xc, yv, w, lab)
    every = np.arange(p)
    xx = chunk_gram(Xc, w, lab, every, every).toarray().reshape(p, lab.names.size, p).transpose(1, 0, 2)
    xx -= W[:, None, None] * mean[:, :, None] * mean[:, None, :]
    xx[:, every, every] = xx_diag
    return SufficientStats(
        labels=lab.names.copy(),
        count=count,
        weight_sum=W,
        x_mean=mean,
        y_mean=ymean,
        xx=xx,
        xy=xy,
        yy=yy,
        nonfinite_x=np.zeros(p, dtype=np.int64),
    )


# --------------------------------------------------------------------------- the problems
def _grow_symmetric(A: sp.csc_matrix, B: sp.csc_matrix) -> sp.csc_matrix:
    """``[[A, B_top], [B_top^T, B_bottom]]`` as CSC with sorted indices, in ``O(nnz)``.

    ``A`` (w x w, symmetric, sorted) is the old working set's block and ``B``
    ((w + k) x k, sorted) the new columns against the whole new working set:
    an old column keeps its entries and gains the new rows (all greater) at
    its end; the new columns are ``B``'s.
    """
    w, k = A.shape[0], B.shape[1]
    top = sp.csr_matrix(B[:w])  # row j of B_top is the tail of old column j
    old_counts, tail_counts = np.diff(A.indptr), np.diff(top.indptr)
    counts = np.concatenate([old_counts + tail_counts, np.diff(B.indptr)])
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    indices = np.empty(indptr[-1], dtype=np.int64)
    data = np.empty(indptr[-1])
    old_col = np.repeat(np.arange(w), old_counts)
    at = indptr[old_col] + np.arange(A.nnz) - A.indptr[old_col]
    indices[at], data[at] = A.indices, A.data
    tail_col = np.repeat(np.arange(w), tail_counts)
    at = indptr[tail_col] + old_counts[tail_col] + np.arange(top.nnz) - top.indptr[tail_col]
    indices[at], data[at] = w + top.indices, top.data
    start = indptr[w]
    indices[start:], data[start:] = B.indices, B.data
    out = sp.csc_matrix((data, indices, indptr), shape=(w + k, w + k))
    out.has_sorted_indices = True
    return out


class WideProblem:
    """The standardized problems of an oracle's models and the working set's Gram blocks.

    Model ``m``'s problem on the standardized scale has ``q_m = D_m^-1 xy_m / W_m``,
    ``yy_m / W_m`` and the scale ``s_m`` of :func:`dreg.core.problem.make_problem`
    (weighted population standard deviations with ``standardize=True``, ones
    otherwise; features constant on the model's rows get coefficient 0).  Its
    ``Q_m`` is only ever formed on the working set ``W``, as a sparse matrix
    plus a rank-one centering term: ``Q_m[W, W] = A_m - v_m v_m^T`` with
    ``A_m = D^-1 X_W^T diag(w_m) X_W D^-1 / W_m`` (:attr:`A`, grown by
    :meth:`admit` with one ``gram_block`` pass, its diagonal set to the exact
    ``Q_jj + v_j^2``) and ``v_m = D^-1 xbar_m[W]`` (:attr:`v`; zero without an
    intercept).  Its storage never exceeds ``max_gram_bytes``.

    Parameters
    ----------
    oracle : WideOracle
    standardize : bool, default True
    max_gram_bytes : int, default 2**31
        Budget of the working set's Gram blocks (stored entries and indices).
    """

    def __init__(self, oracle: WideOracle, *, standardize: bool = True, max_gram_bytes: int = DEFAULT_MAX_GRAM_BYTES):
        self.oracle = oracle
        self.max_gram_bytes = int(max_gram_bytes)
        self.moments = oracle.moments()
        self.n_passes = 1
        mom = self.moments
        W = mom.weight_sum
        if not np.all(W > 0):
            raise ValueError("the rows of a model have zero total weight")
        var = np.clip(mom.xx_diag / W[:, None], 0.0, None)
        if oracle.fit_intercept:
            constant = (np.sqrt(var) <= _CONSTANT_RTOL * np.abs(mom.x_mean)) | (var <= 0.0)
        else:
            constant = var <= 0.0
        scale = np.sqrt(var) if standardize else np.ones_like(var)
        self.scale = np.where(constant | (scale <= 0), 1.0, scale)
        self.constant = constant
        self.q = np.where(constant, 0.0, mom.xy / W[:, None] / self.scale)
        self.yy = mom.yy / W
        # Q_jj (a pinned constant feature gets 1) and the centering term, per model
        self.diag = np.where(constant, 1.0, var / self.scale**2)
        self.v_all = mom.x_mean / self.scale if oracle.fit_intercept else np.zeros_like(var)
        # the exactness target of every model (dreg.core.solvers.cd: 1e-10 of the gradient's scale)
        self.target = 1e-10 * np.maximum(
            np.maximum(np.max(np.abs(self.q), axis=1, initial=0.0), np.sqrt(self.yy)), 1e-300
        )
        self.work = np.zeros(0, dtype=np.int64)
        self.in_work = np.zeros(self.n_features, dtype=bool)
        self.A: list[sp.csc_matrix] = [sp.csc_matrix((0, 0)) for _ in range(self.n_models)]
        self._starts: dict[bytes, tuple[FloatArray, WideGradients, FloatArray]] = {}

    @property
    def n_features(self) -> int:
        return int(self.q.shape[1])

    @property
    def n_models(self) -> int:
        return int(self.q.shape[0])

    @property
    def gram_nbytes(self) -> int:
        """Bytes held by the working set's Gram blocks."""
        return int(sum(a.data.nbytes + a.indices.nbytes + a.indptr.nbytes for a in self.A))

    # -- the working set ---------------------------------------------------------------
    def admit(self, features: NDArray[np.bool_] | IntArray) -> int:
        """Add ``features`` (a mask or indices) to the working set; returns how many were new.

        One ``gram_block`` pass for the new columns against the whole new
        working set.  Raises ``ValueError`` when the blocks would exceed
        ``max_gram_bytes``.
        """
        idx = np.flatnonzero(features) if np.asarray(features).dtype == bool else np.asarray(features, dtype=np.int64)
        new = np.unique(idx[~self.in_work[idx]])
        if new.size == 0:
            return 0
        w_old = self.work.size
        rows = np.concatenate([self.work, new])
        blocks = self.oracle.gram_block(rows, new)  # raw X_rows^T diag(w_m) X_new, sparse
        self.n_passes += 1
        W = self.moments.weight_sum
        A = []
        for m, raw in enumerate(blocks):
            s = self.scale[m]
            B = sp.csc_matrix(raw, dtype=np.float64, copy=True)
            B.sort_indices()
            col = np.repeat(np.arange(new.size), np.diff(B.indptr))
            B.data /= W[m] * s[rows][B.indices] * s[new][col]
            # the diagonal: exactly Q_jj + v_j^2 (Q_jj from the two-pass moments)
            on_diag = B.indices == w_old + col
            B.data[on_diag] = (self.diag[m, new] + self.v_all[m, new] ** 2)[col[on_diag]]
            A.append(_grow_symmetric(self.A[m], B))
        need = int(sum(a.data.nbytes + a.indices.nbytes + a.indptr.nbytes for a in A))
        if need > self.max_gram_bytes:
            raise ValueError(
                f"the wide engine's working set would grow to {rows.size} features, whose Gram blocks for "
                f"{self.n_models} model(s) need {need:,} bytes, more than max_gram_bytes={self.max_gram_bytes:,} "
                "(the path reaches too many active features: raise max_gram_bytes, or end the path "
                "earlier with a larger eps or fewer alphas)"
            )
        self.A = A
        self.work = rows
        self.in_work[new] = True
        return int(new.size)

    # -- between scales, and one gradient pass -------------------------------------------
    def to_original(self, coef_std: FloatArray) -> tuple[FloatArray, FloatArray]:
        """``(coef, intercept)`` on the original scale of standardized ``coef_std`` (n_models, p)."""
        coef = coef_std / self.scale
        if self.oracle.fit_intercept:
            intercept = self.moments.y_mean - np.einsum("mp,mp->m", coef, self.moments.x_mean)
        else:
            intercept = np.zeros(self.n_models)
        return coef, intercept

    def solve_working_set(
        self,
        m: int,
        alpha: float,
        b: FloatArray,
        penalty: Penalty,
        lo: FloatArray,
        hi: FloatArray,
        *,
        tol: float,
        max_iter: int,
    ) -> tuple[int, bool]:
        """Solve model ``m`` at ``alpha`` on the working set, in place in ``b[m]`` (standardized).

        Coordinate descent on ``Q_WW = A_m - v v^T``
        (:func:`~dreg.core.solvers.cd_sparse.cd_sparse_path`) from ``b[m, W]``,
        features outside ``W`` held at 0; ``lo``/``hi`` as :meth:`bounds`.
        Returns ``(sweeps, converged)``.
        """
        pos = self.work
        if pos.size == 0:
            return 0, True
        sub = Penalty(penalty.l1_ratio, penalty.penalty_factor[pos], lo[m, pos], hi[m, pos])
        sol = cd_sparse_path(
            self.A[m], self.v_all[m, pos], self.diag[m, pos], self.q[m, pos], np.array([alpha]), sub,
            yy=float(self.yy[m]), tol=tol, max_iter=max_iter, coef_init=b[m, pos], target=float(self.target[m]),
        )  # fmt: skip
        b[m, pos] = sol.coef[0]
        return int(sol.n_iter[0]), bool(sol.converged[0])

    def gradient(self, coef_std: FloatArray) -> tuple[FloatArray, WideGradients]:
        """``(c, answer)``: ``c = q - Q b`` of every model (standardized scale, 0 on constants) in one pass."""
        coef, intercept = self.to_original(coef_std)
        answer = self.oracle.gradients(coef, intercept)
        self.n_passes += 1
        W = self.moments.weight_sum
        c = np.where(self.constant, 0.0, answer.grad / W[:, None] / self.scale)
        return c, answer

    # -- the penalty per model --------------------------------------------------------------
    def bounds(self, penalty: Penalty) -> tuple[FloatArray, FloatArray]:
        """Standardized bounds of every model, shape (n_models, p); constant features pinned at 0."""
        with np.errstate(invalid="ignore"):
            lo = np.where(np.isfinite(penalty.lower), penalty.lower * self.scale, -np.inf)
            hi = np.where(np.isfinite(penalty.upper), penalty.upper * self.scale, np.inf)
        return np.where(self.constant, 0.0, lo), np.where(self.constant, 0.0, hi)

    def start(self, penalty: Penalty) -> tuple[FloatArray, WideGradients, FloatArray]:
        """``(b, answer, c)`` at the fit of the unpenalized features (the model at ``alpha_max``).

        ``b`` of shape (n_models, p) is standardized and zero on penalized
        features; ``c`` its gradient.  Cached per penalty factor and bounds
        (the fit does not depend on ``l1_ratio``).
        """
        key = b"".join(a.tobytes() for a in (penalty.penalty_factor, penalty.lower, penalty.upper))
        if key in self._starts:
            return self._starts[key]
        b = np.zeros((self.n_models, self.n_features))
        free = (penalty.penalty_factor == 0) & ~np.all(self.constant, axis=0)
        if np.any(free):
            self.admit(free)
            lo, hi = self.bounds(penalty)
            pos = np.flatnonzero(free[self.work])
            U = self.work[pos]
            for m in range(self.n_models):
                v = self.v_all[m, U]
                QU = self.A[m][pos][:, pos].toarray() - np.outer(v, v)
                sub = Penalty(1.0, np.zeros(U.size), lo[m, U], hi[m, U])
                b[m, U] = unpenalized_fit(QU, self.q[m, U], sub, float(self.yy[m]))
        c, answer = self.gradient(b)
        self._starts[key] = (b, answer, c)
        return b, answer, c

    def alpha_max(self, penalty: Penalty) -> float:
        """Smallest alpha at which every penalized coefficient of the all-rows model is zero.

        :meth:`dreg.core.penalty.Penalty.alpha_max` from the gradient at the
        unpenalized fit (one pass, shared with the path's start).
        """
        _, _, c = self.start(penalty)
        full = self.n_models - 1
        lo, hi = self.bounds(penalty)
        c, lo, hi = c[full], lo[full], hi[full]
        pf = penalty.penalty_factor
        P = (pf > 0) & ~self.constant[full]
        if not np.any(P):
            return 0.0
        t = np.where(lo < 0, np.where(hi > 0, np.abs(c), np.maximum(-c, 0.0)), np.maximum(c, 0.0))
        t = np.where((lo >= 0) & (hi <= 0), 0.0, t)
        return float(np.max(t[P] / (max(penalty.l1_ratio, _L1_FLOOR) * pf[P]))) * (1.0 + _ALPHA_MAX_SLACK)

    def alpha_grid(self, penalty: Penalty, n_alphas: int = 100, eps: float | None = None) -> FloatArray:
        """:func:`dreg.core.path.alpha_grid` of the all-rows model, without its Gram."""
        if n_alphas < 1:
            raise ValueError(f"alphas must be a positive count, got {n_alphas}")
        full = self.n_models - 1
        n, p = int(self.moments.count[full]), self.n_features
        if penalty.l1_ratio == 0.0:
            pf = penalty.penalty_factor
            P = (pf > 0) & ~self.constant[full]
            top = 1e3 * float(np.mean(self.diag[full, P] / pf[P])) if np.any(P) else 0.0
            eps = (1e-6 if n > p else 1e-4) if eps is None else eps
        else:
            top = self.alpha_max(penalty)
            eps = (1e-4 if n > p else 1e-2) if eps is None else eps
        if not top > 0 or not np.isfinite(top):
            top = float(np.finfo(float).resolution)
        if n_alphas == 1:
            return np.array([top])
        return np.geomspace(top, top * eps, n_alphas)


# --------------------------------------------------------------------------- the path
@dataclass(frozen=True)
class WidePathResult:
    """Solutions of every model of a :class:`WideProblem` along a grid of alphas.

    Attributes
    ----------
    alphas : ndarray of shape (n_alphas,)
    l1_ratio : float
    coef : ndarray of shape (n_alphas, n_models, n_features)
        Original scale.
    intercept : ndarray of shape (n_alphas, n_models)
    n_iter : ndarray of shape (n_alphas, n_models)
        Coordinate-descent sweeps on the working set.
    converged : ndarray of bool of shape (n_alphas, n_models)
    kkt : ndarray of shape (n_alphas, n_models)
        Largest KKT violation over *all* features (standardized scale), from
        the oracle's gradients at the solution.
    train_loss, held_out_loss : ndarray of shape (n_alphas, n_models)
        Weighted mean squared errors on each model's training rows and
        held-out fold (NaN for the all-rows model).
    passes : ndarray of shape (n_alphas,)
        Oracle calls (passes over the data) spent on each alpha: one
        ``gradients`` pass per KKT check, one ``gram_block`` pass per
        admission.
    working_set : ndarray of shape (n_alphas,)
        Size of the working set after each alpha.
    """

    alphas: FloatArray
    l1_ratio: float
    coef: FloatArray
    intercept: FloatArray
    n_iter: IntArray
    converged: NDArray[np.bool_]
    kkt: FloatArray
    train_loss: FloatArray
    held_out_loss: FloatArray
    passes: IntArray
    working_set: IntArray

    def model_path(self, m: int = -1) -> PathResult:
        """The :class:`~dreg.core.path.PathResult` of model ``m`` (default: the all-rows model)."""
        return PathResult(
            alphas=self.alphas,
            l1_ratio=self.l1_ratio,
            coef=self.coef[:, m].copy(),
            intercept=self.intercept[:, m].copy(),
            n_iter=self.n_iter[:, m].copy(),
            converged=self.converged[:, m].copy(),
            kkt=self.kkt[:, m].copy(),
            solver="cd",
        )


def wide_path(
    problem: WideProblem,
    alphas: FloatArray,
    penalty: Penalty,
    *,
    tol: float = 1e-7,
    max_iter: int = 10_000,
    n_jobs: int | None = None,
    solver: str = "cd",
) -> WidePathResult:
    """Solve the elastic net of every model of ``problem`` along a decreasing grid.

    Minimises for each model and each ``alpha`` (rows, weights and scale of
    the model)::

        1/(2W) sum_i w_i (y_i - b - x_i^T beta)^2
            + alpha sum_j pf_j (l1_ratio |beta_j s_j| + (1 - l1_ratio)/2 (beta_j s_j)^2)

    subject to ``lower <= beta <= upper``, by the working-set iterations of
    the module docstring: strong-rule screening, coordinate descent on the
    working set's Gram block, a KKT check of every feature with one
    ``gradients`` pass, and again with the violators until there are none.

    Parameters
    ----------
    problem : WideProblem
    alphas : ndarray of shape (n_alphas,)
        Decreasing, >= 0.
    penalty : Penalty
        ``l1_ratio``, ``penalty_factor`` and bounds (original scale) of
        shape (n_features,).
    tol, max_iter
        As in :func:`dreg.core.path.enet_path` (per alpha and model).
    n_jobs : int or None, default None
        Threads solving the models of an alpha concurrently (``None``: every CPU).
    solver : {'cd', 'admm'}, default 'cd'
        ``'admm'``: consensus ADMM over the oracle's row blocks with an exact
        finish (:func:`dreg.core.wide_admm.wide_admm_path`; the oracle must
        give its rows in blocks, as :class:`SparseOracle`).

    Returns
    -------
    WidePathResult
    """
    if solver == "admm":
        from dreg.core.wide_admm import wide_admm_path  # imports this module

        return wide_admm_path(problem, alphas, penalty, tol=tol, max_iter=max_iter, n_jobs=n_jobs).path
    if solver != "cd":
        raise ValueError(f"solver must be 'cd' or 'admm', got {solver!r}")
    alphas = np.asarray(alphas, dtype=np.float64)
    if alphas.ndim != 1 or alphas.size == 0:
        raise ValueError("alphas must be a non-empty 1-d array")
    if np.any(np.diff(alphas) > 0):
        raise ValueError("alphas must be in decreasing order")
    if penalty.n_features != problem.n_features:
        raise ValueError(f"the penalty has {penalty.n_features} features, the problem {problem.n_features}")
    M, p, A = problem.n_models, problem.n_features, alphas.size
    l1r = penalty.l1_ratio
    pf = penalty.penalty_factor
    lo, hi = problem.bounds(penalty)
    b, answer, c = problem.start(penalty)
    b = b.copy()
    ever = (pf == 0) & ~np.all(problem.constant, axis=0)
    coef = np.zeros((A, M, p))
    intercept = np.zeros((A, M))
    n_iter = np.zeros((A, M), dtype=np.int64)
    converged = np.zeros((A, M), dtype=bool)
    kkt = np.zeros((A, M))
    train_loss = np.zeros((A, M))
    held_loss = np.zeros((A, M))
    passes = np.zeros(A, dtype=np.int64)
    working = np.zeros(A, dtype=np.int64)
    target = problem.target
    ok = np.zeros(M, dtype=bool)
    sweeps = np.zeros(M, dtype=np.int64)

    def solve(m: int, alpha: float) -> None:
        n, ok[m] = problem.solve_working_set(m, alpha, b, penalty, lo, hi, tol=tol, max_iter=max_iter)
        sweeps[m] += n

    threads = min(n_threads(n_jobs), M)
    pool = ThreadPoolExecutor(threads, thread_name_prefix="dreg-wide") if threads > 1 else None
    try:
        with single_blas_thread():
            alpha_prev = None
            for i, alpha in enumerate(alphas):
                before = problem.n_passes
                # 1. the sequential strong rule on the previous alpha's gradients
                step = alpha if alpha_prev is None else 2.0 * alpha - alpha_prev
                strong = np.any((np.abs(c) >= l1r * pf * step) & ~problem.constant, axis=0) | ever
                problem.admit(strong)
                todo = list(range(M))
                sweeps[:] = 0
                for _round in range(_MAX_ROUNDS):
                    # 2. the working set's problems
                    if pool is not None and len(todo) > 1:
                        list(pool.map(solve, todo, [alpha] * len(todo)))
                    else:
                        for m in todo:
                            solve(m, alpha)
                    # 3. KKT on every feature, from one gradient pass
                    c, answer = problem.gradient(b)
                    l1 = np.broadcast_to(penalty.l1(alpha), (M, p))
                    l2 = np.broadcast_to(penalty.l2(alpha), (M, p))
                    v = kkt_violation(None, None, b, l1, l2, lo, hi, grad=c)
                    outside = (v > target[:, None]) & ~problem.in_work[None, :]
                    if not outside.any():
                        break
                    todo = np.flatnonzero(outside.any(axis=1)).tolist()
                    problem.admit(outside.any(axis=0))
                vmax = v.max(axis=1, initial=0.0)
                coef[i], intercept[i] = problem.to_original(b)
                n_iter[i] = np.maximum(sweeps, 1)
                converged[i] = (ok & ~outside.any(axis=1)) | (vmax <= target)
                kkt[i] = vmax
                train_loss[i] = answer.train_loss
                held_loss[i] = answer.held_out_loss
                passes[i] = problem.n_passes - before
                working[i] = problem.work.size
                ever |= np.any(b != 0.0, axis=0)
                alpha_prev = alpha
    finally:
        if pool is not None:
            pool.shutdown()
    return WidePathResult(
        alphas=alphas,
        l1_ratio=l1r,
        coef=coef,
        intercept=intercept,
        n_iter=n_iter,
        converged=converged,
        kkt=kkt,
        train_loss=train_loss,
        held_out_loss=held_loss,
        passes=passes,
        working_set=working,
    )


# --------------------------------------------------------------------------- cross-validation
@dataclass(frozen=True)
class WideCVResult:
    """A cross-validation by the wide engine.

    Attributes
    ----------
    cv : CVResult
        As :func:`dreg.core.cv.cross_validate` returns it (same grid rule, folds
        and selection).
    path : PathResult
        The all-rows model along the selected l1_ratio's grid (solved in the
        same passes as the folds: no separate refit).
    passes : ndarray of shape (n_l1_ratios, n_alphas)
        Passes over the data per alpha (see :class:`WidePathResult`).
    n_passes : int
        All passes, the moments' and the starts' included.
    working_set : int
        Features in the final working set.
    """

    cv: CVResult
    path: PathResult
    passes: IntArray
    n_passes: int
    working_set: int


def _check_folds(mom: WideMoments) -> IntArray:
    """The held-out labels, after the checks (and messages) of :func:`dreg.core.cv.cross_validate`."""
    folds = mom.fold_labels
    n_samples = int(mom.count[-1])
    if folds.size < 2:
        raise ValueError(f"cross-validation needs at least 2 folds, got {folds.size} (n_samples={n_samples})")
    small = folds[mom.held_count < 2]
    if small.size:
        raise ValueError(
            f"fold(s) {small.tolist()} have fewer than 2 rows with positive weight (n_samples={n_samples}) "
            f"(rows per fold: {dict(zip(folds.tolist(), mom.held_count.tolist(), strict=True))})"
        )
    return folds


def wide_cross_validate(
    oracle: WideOracle,
    penalty: Penalty,
    *,
    l1_ratios: ArrayLike | None = None,
    alphas: int | ArrayLike = 100,
    eps: float | None = None,
    standardize: bool = True,
    tol: float = 1e-7,
    max_iter: int = 10_000,
    max_gram_bytes: int = DEFAULT_MAX_GRAM_BYTES,
    n_jobs: int | None = None,
    solver: str = "cd",
) -> WideCVResult:
    """Cross-validate the elastic-net path with the wide engine.

    The same computation as :func:`dreg.core.cv.cross_validate` -- for each
    l1_ratio ``r`` and held-out fold ``k`` minimise, along the grid::

        1/(2W_k) sum_{i not in k} w_i (y_i - b - x_i^T beta)^2
            + alpha sum_j pf_j (r |beta_j s_j| + (1 - r)/2 (beta_j s_j)^2)

    and score the model on fold ``k`` -- with the fold models and the
    all-rows model solved in lockstep by :func:`wide_path`, each pass of the
    oracle serving all of them.

    Parameters
    ----------
    oracle : WideOracle
        With fold labels: ``n_models = n_folds + 1``.
    penalty : Penalty
        Penalty factors and bounds (original scale), shape (n_features,).
    l1_ratios : array-like of float in [0, 1], optional
        Default ``[penalty.l1_ratio]``.
    alphas : int or array-like, default 100
        Number of alphas of the automatic grid (on all rows, per l1_ratio, as
        :func:`dreg.core.path.alpha_grid`) or an explicit grid (sorted decreasing).
    eps : float, optional
        ``alpha_min / alpha_max`` of the automatic grid.
    standardize : bool, default True
    tol, max_iter
        As in :func:`dreg.core.path.enet_path`.
    max_gram_bytes : int, default 2**31
        Budget of the working set's Gram blocks (see :class:`WideProblem`).
    n_jobs : int or None, default None
        Threads solving the models of an alpha concurrently.
    solver : {'cd', 'admm'}, default 'cd'
        As in :func:`wide_path` (with ``'admm'`` the l1_ratios share each row
        block's factorization).

    Returns
    -------
    WideCVResult
    """
    if solver not in ("cd", "admm"):
        raise ValueError(f"solver must be 'cd' or 'admm', got {solver!r}")
    ratios = [penalty.l1_ratio] if l1_ratios is None else l1_ratios
    l1_ratios = np.atleast_1d(np.asarray(ratios, dtype=np.float64))
    penalties = [penalty.with_l1_ratio(float(r)) for r in l1_ratios]
    folds = _check_folds(oracle.moments())
    problem = WideProblem(oracle, standardize=standardize, max_gram_bytes=max_gram_bytes)
    K, p, L = folds.size, problem.n_features, l1_ratios.size
    if np.ndim(alphas) == 0:
        grids = np.stack([problem.alpha_grid(pen, int(alphas), eps) for pen in penalties])
    else:
        grids = np.tile(np.sort(np.asarray(alphas, dtype=np.float64))[::-1], (L, 1))
    A = grids.shape[1]
    mse = np.zeros((L, A, K))
    train_mse = np.zeros((L, A, K))
    n_iter = np.zeros((L, K), dtype=np.int64)
    fold_coefs = np.zeros((L, A, K, p))
    passes = np.zeros((L, A), dtype=np.int64)
    paths = []
    for li, pen in enumerate(penalties):
        res = wide_path(problem, grids[li], pen, tol=tol, max_iter=max_iter, n_jobs=n_jobs, solver=solver)
        mse[li] = res.held_out_loss[:, :K]
        train_mse[li] = res.train_loss[:, :K]
        n_iter[li] = res.n_iter[:, :K].sum(axis=0)
        fold_coefs[li] = res.coef[:, :K]
        passes[li] = res.passes
        paths.append(res.model_path(-1))
    cv = summarize_cv(l1_ratios, grids, folds, mse, train_mse, fold_coefs, n_iter)
    return WideCVResult(
        cv=cv,
        path=paths[cv.best_l1_index],
        passes=passes,
        n_passes=problem.n_passes,
        working_set=int(problem.work.size),
    )
