"""Mergeable sufficient statistics of weighted least squares, per fold.

For squared loss everything a solver and a cross-validation need about a set of
rows is, with weights ``w`` and ``W = sum(w)``:

* ``count``      number of rows with positive weight,
* ``weight_sum`` ``W``,
* ``x_mean``     weighted feature means ``xbar = X^T w / W``,
* ``y_mean``     weighted target mean ``ybar``,
* ``xx``         centered Gram ``sum_i w_i (x_i - xbar)(x_i - xbar)^T``,
* ``xy``         centered ``sum_i w_i (x_i - xbar)(y_i - ybar)``,
* ``yy``         centered ``sum_i w_i (y_i - ybar)^2``.

Statistics of disjoint row sets merge exactly with the pairwise update of Chan,
Golub and LeVeque (1979), the same update as ``dask.array``'s moment reductions::

    W = Wa + Wb,  d = xbar_b - xbar_a,
    xbar = xbar_a + d * Wb / W,
    xx = xx_a + xx_b + (Wa * Wb / W) d d^T

Never do raw sums of ``x x^T`` appear: data whose means are around 1e6 with
unit variance keep full float64 accuracy.  A :class:`SufficientStats` holds one
such set per fold label; merging aligns labels.

Everything here is pure numpy (plus one numba-compiled loop for columnar
readers, :func:`column_block_stats`, with an interpreted fallback): no Dask import.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dreg.core._util import count_nonfinite, integer_labels, numba_jit

__all__ = [
    "SufficientStats",
    "block_stats",
    "column_block_stats",
    "sorted_block_stats",
    "merge",
    "merge_all",
    "collapse",
    "leave_one_out",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class SufficientStats:
    """Centered weighted sufficient statistics for each of ``K`` fold labels.

    Attributes
    ----------
    labels : ndarray of shape (K,)
        Sorted fold labels (int64).  ``-1`` marks rows that are never held out.
    count : ndarray of shape (K,)
        Rows with positive weight.
    weight_sum : ndarray of shape (K,)
    x_mean : ndarray of shape (K, n_features)
    y_mean : ndarray of shape (K,)
    xx : ndarray of shape (K, n_features, n_features)
        Centered weighted Gram matrices.
    xy : ndarray of shape (K, n_features)
    yy : ndarray of shape (K,)
    nonfinite_x : ndarray of shape (n_features,)
        NaN/inf values seen in each feature column (over all labels).
    nonfinite_y, nonfinite_w, negative_w : int
        NaN/inf targets, NaN/inf weights and negative weights seen.
    n_blocks : int
        Number of data blocks merged into these statistics.
    """

    labels: IntArray
    count: IntArray
    weight_sum: FloatArray
    x_mean: FloatArray
    y_mean: FloatArray
    xx: FloatArray
    xy: FloatArray
    yy: FloatArray
    nonfinite_x: IntArray
    nonfinite_y: int = 0
    nonfinite_w: int = 0
    negative_w: int = 0
    n_blocks: int = 1

    def __post_init__(self) -> None:
        for name in ("labels", "count", "weight_sum", "x_mean", "y_mean", "xx", "xy", "yy"):
            getattr(self, name).setflags(write=False)

    @property
    def n_features(self) -> int:
        return int(self.x_mean.shape[1])

    @property
    def n_labels(self) -> int:
        return int(self.labels.shape[0])

    @property
    def is_finite(self) -> bool:
        """True when no NaN/inf was seen in X, y or the weights."""
        return not np.any(self.nonfinite_x) and self.nonfinite_y == 0 and self.nonfinite_w == 0

    def select(self, label: int) -> SufficientStats:
        """Statistics of a single label."""
        idx = np.searchsorted(self.labels, label)
        if idx >= self.n_labels or self.labels[idx] != label:
            raise KeyError(f"fold label {label} not present")
        s = slice(idx, idx + 1)
        return self._take(s)

    def _take(self, s: slice | IntArray) -> SufficientStats:
        return SufficientStats(
            labels=self.labels[s].copy(),
            count=self.count[s].copy(),
            weight_sum=self.weight_sum[s].copy(),
            x_mean=self.x_mean[s].copy(),
            y_mean=self.y_mean[s].copy(),
            xx=self.xx[s].copy(),
            xy=self.xy[s].copy(),
            yy=self.yy[s].copy(),
            nonfinite_x=self.nonfinite_x,
            nonfinite_y=self.nonfinite_y,
            nonfinite_w=self.nonfinite_w,
            negative_w=self.negative_w,
            n_blocks=self.n_blocks,
        )

    # -- serialisation (npz / JSON friendly, never pickle) -------------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays, e.g. for ``numpy.savez`` (the xx matrices are stored whole)."""
        return {
            "labels": np.asarray(self.labels),
            "count": np.asarray(self.count),
            "weight_sum": np.asarray(self.weight_sum),
            "x_mean": np.asarray(self.x_mean),
            "y_mean": np.asarray(self.y_mean),
            "xx": np.asarray(self.xx),
            "xy": np.asarray(self.xy),
            "yy": np.asarray(self.yy),
            "nonfinite_x": np.asarray(self.nonfinite_x),
            "scalars": np.array(
                [self.nonfinite_y, self.nonfinite_w, self.negative_w, self.n_blocks],
                dtype=np.int64,
            ),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> SufficientStats:
        nf_y, nf_w, neg_w, n_blocks = (int(v) for v in arrays["scalars"])
        return cls(
            labels=np.asarray(arrays["labels"], dtype=np.int64),
            count=np.asarray(arrays["count"], dtype=np.int64),
            weight_sum=np.asarray(arrays["weight_sum"], dtype=np.float64),
            x_mean=np.asarray(arrays["x_mean"], dtype=np.float64),
            y_mean=np.asarray(arrays["y_mean"], dtype=np.float64),
            xx=np.asarray(arrays["xx"], dtype=np.float64),
            xy=np.asarray(arrays["xy"], dtype=np.float64),
            yy=np.asarray(arrays["yy"], dtype=np.float64),
            nonfinite_x=np.asarray(arrays["nonfinite_x"], dtype=np.int64),
            nonfinite_y=nf_y,
            nonfinite_w=nf_w,
            negative_w=neg_w,
            n_blocks=n_blocks,
        )


def empty_stats(n_features: int) -> SufficientStats:
    """Statistics of zero rows (the identity of :func:`merge`)."""
    p = n_features
    return SufficientStats(
        labels=np.zeros(0, dtype=np.int64),
        count=np.zeros(0, dtype=np.int64),
        weight_sum=np.zeros(0),
        x_mean=np.zeros((0, p)),
        y_mean=np.zeros(0),
        xx=np.zeros((0, p, p)),
        xy=np.zeros((0, p)),
        yy=np.zeros(0),
        nonfinite_x=np.zeros(p, dtype=np.int64),
        n_blocks=0,
    )


def _as_2d_float(X: ArrayLike) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-dimensional, got shape {X.shape}")
    if X.dtype.kind not in "biuf":
        raise ValueError(f"X must be numeric, got dtype {X.dtype}")
    return X


def _group_stats(
    Xg: np.ndarray, yg: np.ndarray, wg: np.ndarray | None
) -> tuple[int, float, FloatArray, float, FloatArray, FloatArray, float]:
    """Statistics of one group of rows.  ``Xg`` and ``yg`` are private float64 copies
    that are overwritten in place (centered, then scaled by sqrt(w))."""
    if wg is None:
        n = Xg.shape[0]
        W = float(n)
        count = n
        if n == 0:
            p = Xg.shape[1]
            return 0, 0.0, np.zeros(p), 0.0, np.zeros((p, p)), np.zeros(p), 0.0
        xm = Xg.mean(axis=0)
        ym = float(yg.mean())
        Xg -= xm
        yg -= ym
        # corrected two-pass: remove the rounding left in the first mean
        rx = Xg.mean(axis=0)
        ry = float(yg.mean())
        xx = Xg.T @ Xg  # numpy dispatches A.T @ A to syrk
        xy = Xg.T @ yg
        yy = float(yg @ yg)
    else:
        count = int(np.count_nonzero(wg > 0))
        W = float(wg.sum())
        p = Xg.shape[1]
        if W <= 0.0:
            return count, 0.0, np.zeros(p), 0.0, np.zeros((p, p)), np.zeros(p), 0.0
        xm = (wg @ Xg) / W
        ym = float(wg @ yg) / W
        Xg -= xm
        yg -= ym
        rx = (wg @ Xg) / W
        ry = float(wg @ yg) / W
        sw = np.sqrt(wg)
        Xg *= sw[:, None]
        yg *= sw
        xx = Xg.T @ Xg
        xy = Xg.T @ yg
        yy = float(yg @ yg)
    # sum w (x - m')(x - m')^T = sum w (x - m)(x - m)^T + W r r^T  with m = m' + r
    xx -= W * np.outer(rx, rx)
    xy -= W * rx * ry
    yy -= W * ry * ry
    xx = 0.5 * (xx + xx.T)
    return count, W, xm + rx, ym + ry, xx, xy, max(yy, 0.0)


def block_stats(
    X: ArrayLike,
    y: ArrayLike,
    sample_weight: ArrayLike | None = None,
    fold: ArrayLike | None = None,
) -> SufficientStats:
    """Sufficient statistics of one block of rows, one set per fold label.

    Parameters
    ----------
    X : array-like of shape (n_rows, n_features)
        Any numeric dtype; accumulated in float64.
    y : array-like of shape (n_rows,)
    sample_weight : array-like of shape (n_rows,), optional
        Non-negative weights; ``None`` means unit weights.
    fold : array-like of int of shape (n_rows,), optional
        Fold label of each row; ``None`` puts every row under label 0.

    Returns
    -------
    SufficientStats
        With one entry per distinct label present in ``fold``.  NaN/inf values
        and negative weights are counted (``nonfinite_*``, ``negative_w``)
        rather than raised here, so that a distributed pass can report them for
        the whole data set at once; the moments are then meaningless.
    """
    X = _as_2d_float(X)
    n, p = X.shape
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"y must have shape ({n},), got {y.shape}")
    if y.dtype.kind not in "biuf":
        raise ValueError(f"y must be numeric, got dtype {y.dtype}")
    w = None
    if sample_weight is not None:
        w = np.asarray(sample_weight, dtype=np.float64)
        if w.shape != (n,):
            raise ValueError(f"sample_weight must have shape ({n},), got {w.shape}")
    if fold is None:
        labels = np.zeros(1 if n else 0, dtype=np.int64)
        bounds = np.array([0, n]) if n else np.array([0])
        order = None
    else:
        fold = np.asarray(fold)
        if fold.shape != (n,):
            raise ValueError(f"fold must have shape ({n},), got {fold.shape}")
        labels_int = fold.astype(np.int64) if fold.dtype.kind == "b" else integer_labels(fold)
        if labels_int is None:
            raise ValueError(f"fold labels must be integers, got dtype {fold.dtype}")
        fold = labels_int
        order = np.argsort(fold, kind="stable")
        sorted_fold = fold[order]
        labels, starts = np.unique(sorted_fold, return_index=True)
        bounds = np.append(starts, n)

    # --- validity counters (cheap: only computed exactly when a sum is not finite)
    nonfinite_x = np.zeros(p, dtype=np.int64)
    nonfinite_y = 0
    nonfinite_w = negative_w = 0
    # inf + (-inf) in a sum is NaN: count it here, do not warn (the caller reports it)
    with np.errstate(invalid="ignore", over="ignore"):
        colsum = X.sum(axis=0, dtype=np.float64) if n else np.zeros(p)
        if not np.all(np.isfinite(colsum)):
            nonfinite_x = count_nonfinite(X, axis=0)
        if n and not np.isfinite(y.sum(dtype=np.float64)):
            nonfinite_y = count_nonfinite(y)
        if w is not None and n:
            if not np.isfinite(w.sum()):
                nonfinite_w = count_nonfinite(w)
            negative_w = int(np.count_nonzero(w < 0))

    bad = np.any(nonfinite_x) or nonfinite_y or nonfinite_w or negative_w
    if not bad:
        # one gather (and float64 cast) of the whole block, then contiguous slices
        Xs = np.array(X if order is None else X[order], dtype=np.float64, order="C", copy=True)
        ys = np.array(y if order is None else y[order], dtype=np.float64, copy=True)
        ws = None if w is None else (w if order is None else w[order])
        return sorted_block_stats(Xs, ys, ws, labels, bounds)
    # invalid input: the moments are meaningless (NaN); the counters are what the caller reports
    K = labels.shape[0]
    return SufficientStats(
        labels=labels,
        count=np.zeros(K, dtype=np.int64),
        weight_sum=np.zeros(K),
        x_mean=np.full((K, p), np.nan),
        y_mean=np.zeros(K),
        xx=np.full((K, p, p), np.nan),
        xy=np.zeros((K, p)),
        yy=np.zeros(K),
        nonfinite_x=nonfinite_x,
        nonfinite_y=nonfinite_y,
        nonfinite_w=nonfinite_w,
        negative_w=negative_w,
        n_blocks=1,
    )


def _finite_block(labels, count, weight_sum, x_mean, y_mean, xx, xy, yy) -> SufficientStats:
    """The statistics of one block whose values were all finite (no bad value to count)."""
    return SufficientStats(
        labels=np.asarray(labels, dtype=np.int64),
        count=np.array(count, dtype=np.int64),  # a copy: it becomes read-only
        weight_sum=weight_sum,
        x_mean=x_mean,
        y_mean=y_mean,
        xx=xx,
        xy=xy,
        yy=yy,
        nonfinite_x=np.zeros(x_mean.shape[1], dtype=np.int64),
        n_blocks=1,
    )


def sorted_block_stats(
    Xs: np.ndarray,
    ys: np.ndarray,
    ws: np.ndarray | None,
    labels: IntArray,
    bounds: IntArray,
) -> SufficientStats:
    """Statistics of rows already grouped by label, with finite values.

    ``Xs`` (float64, C or Fortran order), ``ys`` (float64) and ``ws`` are
    private copies that are overwritten; rows ``bounds[k]:bounds[k+1]`` carry
    ``labels[k]``.  :func:`block_stats` calls this after one gather of a
    row-major block; columnar readers use :func:`column_block_stats`.
    """
    K = labels.shape[0]
    p = Xs.shape[1]
    count = np.zeros(K, dtype=np.int64)
    weight_sum, x_mean, y_mean, xx, xy, yy = _moment_arrays(K, p)
    for k in range(K):
        a, b = bounds[k], bounds[k + 1]
        res = _group_stats(Xs[a:b], ys[a:b], None if ws is None else ws[a:b])
        count[k], weight_sum[k], x_mean[k], y_mean[k], xx[k], xy[k], yy[k] = res
    return _finite_block(labels, count, weight_sum, x_mean, y_mean, xx, xy, yy)


# --------------------------------------------------------------------------- columnar blocks
def _fold_codes(fold: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """``(labels, codes, bounds)``: sorted distinct labels, each row's index into
    them, and the row offsets of each label once rows are grouped by label."""
    lo, hi = int(fold.min()), int(fold.max())
    if hi - lo <= max(4096, fold.shape[0]):  # small range (fold ids): counting, no sort
        shifted = fold - lo
        counts = np.bincount(shifted, minlength=hi - lo + 1)
        present = np.flatnonzero(counts)
        labels = present + lo
        if present.shape[0] == counts.shape[0]:
            codes = shifted
        else:
            lookup = np.full(counts.shape[0], -1, dtype=np.int64)
            lookup[present] = np.arange(present.shape[0])
            codes = lookup[shifted]
        sizes = counts[present]
    else:
        labels, codes, sizes = np.unique(fold, return_inverse=True, return_counts=True)
    bounds = np.zeros(labels.shape[0] + 1, dtype=np.int64)
    np.cumsum(sizes, out=bounds[1:])
    return labels.astype(np.int64, copy=False), codes.astype(np.int64, copy=False), bounds


def _positions(codes, bounds):  # pragma: no cover - compiled
    """Row ``i``'s position once rows are grouped by code (stable: a counting sort)."""
    nxt = bounds[:-1].copy()
    dest = np.empty(codes.shape[0], dtype=np.int64)
    for i in range(codes.shape[0]):
        c = codes[i]
        dest[i] = nxt[c]
        nxt[c] += 1
    return dest


def _positions_numpy(codes, bounds):
    dest = np.empty(codes.shape[0], dtype=np.int64)
    dest[np.argsort(codes, kind="stable")] = np.arange(codes.shape[0])
    return dest


def _shift_into(col, codes, dest, ws, shift, out, sums):  # pragma: no cover - compiled
    """``sqrt(w) (col - shift)`` into ``out[dest]``, and ``sum w (col - shift)`` per code.

    One pass over the column.  Rows with a negative code are skipped; ``ws``
    holds the weights in ``out``'s row order (empty: unit weights).
    """
    weighted = ws.shape[0] > 0
    for k in range(sums.shape[0]):
        sums[k] = 0.0
    for i in range(col.shape[0]):
        c = codes[i]
        if c >= 0:
            d = dest[i]
            v = col[i] - shift
            if weighted:
                sums[c] += ws[d] * v
                v *= np.sqrt(ws[d])
            else:
                sums[c] += v
            out[d] = v


def _shift_into_numpy(col, codes, dest, ws, shift, out, sums):
    if np.any(codes < 0):
        keep = codes >= 0
        col, codes, dest = col[keep], codes[keep], dest[keep]
    v = col - shift
    if ws.shape[0]:
        wr = ws[dest]
        sums[:] = np.bincount(codes, weights=wr * v, minlength=sums.shape[0])
        v *= np.sqrt(wr)
    else:
        sums[:] = np.bincount(codes, weights=v, minlength=sums.shape[0])
    out[dest] = v


def _kernel_column(x: FloatArray) -> FloatArray:
    """``x`` as the one array type :func:`_shift_into` is compiled for: a
    contiguous read-only float64 view (a copy only of a strided column).

    A columnar reader's columns are read-only (Arrow's buffers) or fresh
    (converted dtypes), contiguous or not (a column of a C-ordered matrix):
    each combination would otherwise compile its own specialization.
    """
    view = np.ascontiguousarray(x).view()
    view.flags.writeable = False
    return view


_jit = numba_jit()
_NUMBA = _jit is not None
if _NUMBA:
    _positions = _jit(_positions)
    _shift_into = _jit(_shift_into)
else:
    _positions = _positions_numpy
    _shift_into = _shift_into_numpy


def column_block_stats(
    columns: Sequence[np.ndarray],
    y: np.ndarray,
    sample_weight: np.ndarray | None = None,
    fold: np.ndarray | None = None,
    rows: np.ndarray | None = None,
    scratch: np.ndarray | None = None,
) -> SufficientStats:
    """Statistics of a block given column by column (as a columnar reader holds it).

    Equal, to rounding, to ``block_stats(np.column_stack(columns)[rows], y,
    sample_weight, fold)`` for finite values, with one copy of the data and
    one compiled pass per column: the column, shifted by its own mean ``s``
    (computed first, pairwise summation), is scattered into fold order while
    the sums of the shifted values per fold are accumulated; ``[X y]`` then
    gets one Gram (BLAS ``syrk``) per fold, which holds ``xx``, ``xy`` and
    ``yy`` at once, corrected exactly to the fold's mean ``m = s + r`` by
    ``- W r r^T``.  The fold means are close to ``s`` relative to the spread
    (``(m - s)^2 <= (n / n_fold) var``), so the correction cancels no digits:
    this is not the raw ``sum x x^T - W m m^T``.

    Parameters
    ----------
    columns : sequence of ndarray of shape (n_rows,)
        Feature columns, any numeric dtype (accumulated in float64).
    y : ndarray of shape (n_used,)
        Targets of the rows used (``rows``, or all rows).
    sample_weight : ndarray of shape (n_used,), optional
        Non-negative weights; ``None`` means unit weights.
    fold : ndarray of int of shape (n_used,), optional
        Fold labels; ``None`` puts every row under label 0.
    rows : ndarray of int of shape (n_used,), optional
        Increasing indices of the rows of ``columns`` to use (e.g. the valid
        ones); ``None`` uses every row.
    scratch : ndarray of shape (>= n_used, >= n_features + 1), optional
        Fortran-ordered float64 work array, overwritten: a reader passes the
        same one for every block of a file (fresh memory costs page faults).

    Returns
    -------
    SufficientStats
        NaN/inf values are not counted here: they make the moments of their
        fold non-finite, which the caller checks.
    """
    m = int(y.shape[0])
    p = len(columns)
    if m == 0:
        return empty_stats(p)
    labels, codes, bounds, dest = _fold_layout(fold, m)
    K = labels.shape[0]
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    ws, count, W = _fold_weights(w, codes, dest, bounds, K)
    A = _work_array(scratch, m, p)
    shift, sums = _scatter_shifted(columns, y, w, rows, codes, dest, ws, W, A)
    x_mean, y_mean, xx, xy, yy = _fold_moments(A, bounds, W, sums, shift, p)
    return _finite_block(labels, count, W, x_mean, y_mean, xx, xy, yy)


def _fold_layout(fold: ArrayLike | None, m: int) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """``(labels, codes, bounds, dest)``: each row's label index and its position in fold order."""
    if fold is None:
        labels = np.zeros(1, dtype=np.int64)
        codes = np.zeros(m, dtype=np.int64)
        bounds = np.array([0, m], dtype=np.int64)
        return labels, codes, bounds, np.arange(m, dtype=np.int64)
    labels, codes, bounds = _fold_codes(np.asarray(fold, dtype=np.int64))
    return labels, codes, bounds, _positions(codes, bounds)


def _fold_weights(
    w: FloatArray | None, codes: IntArray, dest: IntArray, bounds: IntArray, K: int
) -> tuple[FloatArray, IntArray, FloatArray]:
    """``(ws, count, W)``: the weights in fold order (empty for unit weights),
    the rows with positive weight and the weight sum of each fold."""
    sizes = np.diff(bounds)
    if w is None:
        return np.zeros(0), sizes, sizes.astype(np.float64)
    ws = np.empty(w.shape[0])
    ws[dest] = w
    count = np.bincount(codes[w > 0], minlength=K)
    W = np.add.reduceat(ws, bounds[:-1])  # every label has rows: no empty segment
    return ws, count, W


def _work_array(scratch: np.ndarray | None, m: int, p: int) -> FloatArray:
    """The Fortran-ordered ``(m, p + 1)`` array ``[X y]`` in fold order: ``scratch`` if it fits."""
    if (
        scratch is not None
        and scratch.dtype == np.float64
        and scratch.flags.f_contiguous
        and scratch.shape[0] >= m
        and scratch.shape[1] >= p + 1
    ):
        return scratch[:m, : p + 1]
    return np.empty((m, p + 1), dtype=np.float64, order="F")


def _scatter_shifted(
    columns: Sequence[np.ndarray],
    y: np.ndarray,
    w: FloatArray | None,
    rows: np.ndarray | None,
    codes: IntArray,
    dest: IntArray,
    ws: FloatArray,
    W: FloatArray,
    A: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Fill ``A`` with each column minus its own weighted mean ``shift``, in fold
    order (and times ``sqrt(w)``); returns ``(shift, sums)``, ``sums[j, k]`` the
    weighted sum of column ``j``'s shifted values in fold ``k``."""
    p = len(columns)
    m = y.shape[0]
    if rows is None:
        codes_x, dest_x = codes, dest
    else:
        n = columns[0].shape[0] if p else m
        codes_x = np.full(n, -1, dtype=np.int64)
        codes_x[rows] = codes
        dest_x = np.zeros(n, dtype=np.int64)
        dest_x[rows] = dest
    shift = np.empty(p + 1)
    sums = np.empty((p + 1, W.shape[0]))
    W_all = float(W.sum())
    for j, col in enumerate([*columns, y]):
        x = col if col.dtype == np.float64 else col.astype(np.float64)
        is_y = j == p
        used = x if rows is None or is_y else x[rows]
        # shift by the column's own (weighted) mean: then the per-fold means are
        # close to the shift relative to the spread and the exact correction loses nothing
        total = float(used.sum()) if w is None else float(w @ used)
        shift[j] = total / W_all if W_all > 0.0 else 0.0
        # column j of the Fortran-ordered A is contiguous whether A is the
        # whole work array or a slice of a larger scratch: one specialization
        if is_y:
            _shift_into(_kernel_column(x), codes, dest, ws, shift[j], A[:, j], sums[j])
        else:
            _shift_into(_kernel_column(x), codes_x, dest_x, ws, shift[j], A[:, j], sums[j])
    return shift, sums


def _fold_moments(
    A: FloatArray, bounds: IntArray, W: FloatArray, sums: FloatArray, shift: FloatArray, p: int
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """``(x_mean, y_mean, xx, xy, yy)`` of each fold from one Gram of its rows of ``A``."""
    K = W.shape[0]
    resid = np.divide(sums, W, out=np.zeros_like(sums), where=W > 0)  # (per-fold mean) - shift
    x_mean = np.zeros((K, p))
    y_mean = np.zeros(K)
    xx = np.zeros((K, p, p))
    xy = np.zeros((K, p))
    yy = np.zeros(K)
    for k in range(K):
        if W[k] <= 0.0:  # only zero weights: no moments (as block_stats)
            continue
        Ak = A[bounds[k] : bounds[k + 1]]
        G = Ak.T @ Ak  # numpy dispatches A.T @ A to syrk
        r = resid[:, k]
        # sum w (a - s)(a - s)^T = sum w (a - m)(a - m)^T + W r r^T  with m = s + r
        G -= W[k] * np.outer(r, r)
        xx[k] = 0.5 * (G[:p, :p] + G[:p, :p].T)
        xy[k] = G[:p, p]
        yy[k] = max(G[p, p], 0.0)
        x_mean[k] = shift[:p] + r[:p]
        y_mean[k] = shift[p] + r[p]
    return x_mean, y_mean, xx, xy, yy


def _chan(
    Wa: FloatArray,
    ma: FloatArray,
    mya: FloatArray,
    xxa: FloatArray,
    xya: FloatArray,
    yya: FloatArray,
    Wb: FloatArray,
    mb: FloatArray,
    myb: FloatArray,
    xxb: FloatArray,
    xyb: FloatArray,
    yyb: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Vectorised pairwise centered update over a leading label axis."""
    W = Wa + Wb
    with np.errstate(invalid="ignore", divide="ignore"):
        fb = np.where(W > 0, Wb / np.where(W > 0, W, 1.0), 0.0)
        c = np.where(W > 0, Wa * Wb / np.where(W > 0, W, 1.0), 0.0)
    dx = mb - ma
    dy = myb - mya
    x_mean = ma + dx * fb[:, None]
    y_mean = mya + dy * fb
    xx = xxa + xxb + c[:, None, None] * dx[:, :, None] * dx[:, None, :]
    xy = xya + xyb + (c * dy)[:, None] * dx
    yy = yya + yyb + c * dy * dy
    return W, x_mean, y_mean, xx, xy, yy


# the moments of a SufficientStats, in the order _chan and _group_stats use
_MOMENTS = ("weight_sum", "x_mean", "y_mean", "xx", "xy", "yy")


def _moment_arrays(K: int, p: int) -> list[np.ndarray]:
    """Zeroed ``weight_sum, x_mean, y_mean, xx, xy, yy`` for ``K`` labels and ``p`` features."""
    return [np.zeros(K), np.zeros((K, p)), np.zeros(K), np.zeros((K, p, p)), np.zeros((K, p)), np.zeros(K)]


def _aligned_moments(s: SufficientStats, index: IntArray, K: int) -> list[np.ndarray]:
    """The moments of ``s`` at rows ``index`` of zeroed ``K``-label arrays (zero elsewhere)."""
    out = _moment_arrays(K, s.n_features)
    for arr, name in zip(out, _MOMENTS, strict=True):
        arr[index] = getattr(s, name)
    return out


def merge(a: SufficientStats, b: SufficientStats) -> SufficientStats:
    """Merge statistics of two disjoint row sets, label by label (exact, order-free)."""
    if a.n_features != b.n_features:
        raise ValueError(f"cannot merge statistics with {a.n_features} and {b.n_features} features")
    labels = np.union1d(a.labels, b.labels)
    K = labels.shape[0]
    ia = np.searchsorted(labels, a.labels)
    ib = np.searchsorted(labels, b.labels)

    count = np.zeros(K, dtype=np.int64)
    count[ia] += a.count
    count[ib] += b.count
    W, x_mean, y_mean, xx, xy, yy = _chan(*_aligned_moments(a, ia, K), *_aligned_moments(b, ib, K))
    return SufficientStats(
        labels=labels,
        count=count,
        weight_sum=W,
        x_mean=x_mean,
        y_mean=y_mean,
        xx=xx,
        xy=xy,
        yy=yy,
        nonfinite_x=a.nonfinite_x + b.nonfinite_x,
        nonfinite_y=a.nonfinite_y + b.nonfinite_y,
        nonfinite_w=a.nonfinite_w + b.nonfinite_w,
        negative_w=a.negative_w + b.negative_w,
        n_blocks=a.n_blocks + b.n_blocks,
    )


def merge_all(parts: Sequence[SufficientStats]) -> SufficientStats:
    """Merge many statistics with a balanced binary tree (as a Dask tree reduction does)."""
    if not parts:
        raise ValueError("nothing to merge")
    level = list(parts)
    while len(level) > 1:
        nxt = [merge(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def collapse(stats: SufficientStats, labels: ArrayLike | None = None, new_label: int = 0) -> SufficientStats:
    """Merge the given labels (default: all) into a single label ``new_label``."""
    if labels is None:
        idx = np.arange(stats.n_labels)
    else:
        idx = np.searchsorted(stats.labels, np.asarray(labels, dtype=np.int64))
    # one label each, renamed; the bad-value counts are the whole input's, set once at the end
    singles = [replace(stats._take(slice(int(i), int(i) + 1)), labels=np.array([new_label], dtype=np.int64)) for i in idx]
    out = merge_all(singles) if singles else empty_stats(stats.n_features)
    return replace(
        out,
        nonfinite_x=stats.nonfinite_x,
        nonfinite_y=stats.nonfinite_y,
        nonfinite_w=stats.nonfinite_w,
        negative_w=stats.negative_w,
        n_blocks=stats.n_blocks,
    )


def leave_one_out(stats: SufficientStats, folds: ArrayLike) -> list[SufficientStats]:
    """Training statistics for each held-out fold: the merge of every other label.

    Uses prefix and suffix merges, ``O(K)`` merges in all, never subtraction.
    Labels not in ``folds`` (such as ``-1``, "never held out") are always part of
    the training statistics.
    """
    folds = np.asarray(folds, dtype=np.int64)
    always = [lab for lab in stats.labels if lab not in set(folds.tolist())]
    base = collapse(stats, always) if always else None
    singles = [collapse(stats, [f]) for f in folds]
    K = len(singles)
    prefix: list[SufficientStats | None] = [None] * (K + 1)
    suffix: list[SufficientStats | None] = [None] * (K + 1)
    for k in range(K):
        prefix[k + 1] = singles[k] if prefix[k] is None else merge(prefix[k], singles[k])
    for k in range(K - 1, -1, -1):
        suffix[k] = singles[k] if suffix[k + 1] is None else merge(singles[k], suffix[k + 1])
    out = []
    for k in range(K):
        parts = [s for s in (base, prefix[k], suffix[k + 1]) if s is not None]
        out.append(merge_all(parts) if parts else empty_stats(stats.n_features))
    return out
