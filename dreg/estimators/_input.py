"""Input checking and the in-process statistics pass (numpy and pandas inputs).

Dask inputs are handed to :mod:`dreg._dask`, which is imported only then, so
that numpy users never import Dask.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from dreg._frames import numeric_frame_to_numpy
from dreg.core._util import available_cpus, integer_labels, single_blas_thread
from dreg.core.folds import FoldSpec
from dreg.core.stats import SufficientStats, block_stats, empty_stats, merge_all
from dreg.core.wide import sparse_stats

__all__ = [
    "FoldSpec",
    "SparseData",
    "compute_stats",
    "is_dask_collection",
    "is_sparse",
    "raise_for_invalid",
    "sparse_data",
    "to_numpy_X",
]

# rows per in-process block: ~64 MB of float64 features, enough for BLAS to
# run at full speed while the per-block copies stay small
_BLOCK_BYTES = 64 * 2**20


def is_dask_collection(obj: object) -> bool:
    """True for Dask arrays, DataFrames and Series (without importing Dask)."""
    return obj is not None and hasattr(obj, "__dask_graph__") and hasattr(obj, "__dask_keys__")


def _is_pandas(obj: object) -> bool:
    return type(obj).__module__.split(".")[0] == "pandas"


def to_numpy_X(X: ArrayLike) -> tuple[np.ndarray, list[str] | None]:
    """A 2-d numeric numpy array and the column names (pandas only).

    Uses scikit-learn's ``check_array`` for its standard messages (1-d input,
    sparse, complex, empty); NaN/inf are not rejected here but counted by the
    statistics pass, which names the columns.  A non-empty 2-d numeric ndarray,
    which ``check_array`` returns unchanged, is returned without importing
    scikit-learn (e.g. a loaded model's ``predict`` in the batch job).
    """
    if type(X) is np.ndarray and X.ndim == 2 and X.dtype.kind in "iuf" and X.shape[0] > 0 and X.shape[1] > 0:
        return X, None
    from sklearn.utils.validation import check_array

    if X is None:
        raise ValueError("X is None; dreg needs a 2-d array-like of features")
    if _is_pandas(X) and hasattr(X, "columns"):
        arr, names = numeric_frame_to_numpy(X)
    else:
        names = None
        arr = X
    arr = np.asarray(arr) if not hasattr(arr, "tocsr") else arr
    if getattr(arr, "ndim", 2) == 1:
        raise ValueError(
            f"X must be 2-dimensional (n_samples, n_features), got a 1-d array of shape {arr.shape}. "
            "Reshape your data either using array.reshape(-1, 1) if your data has a single feature "
            "or array.reshape(1, -1) if it contains a single sample."
        )
    if getattr(arr, "dtype", None) is not None and arr.dtype.kind == "b":
        arr = arr.astype(np.float64)
    try:
        arr = check_array(
            arr,
            accept_sparse=False,
            dtype="numeric" if getattr(arr, "dtype", None) is None or arr.dtype.kind not in "iuf" else None,
            ensure_all_finite=False,
            ensure_2d=True,
            allow_nd=False,
            input_name="X",
        )
    except TypeError as exc:
        if "sparse" in str(exc).lower():
            raise TypeError(f"dreg does not support sparse input: {exc}") from None
        raise TypeError(f"X must be numeric: {exc}") from None
    return arr, names


def to_numpy_1d(v: ArrayLike, name: str, n: int | None = None) -> np.ndarray:
    if v is None:
        raise ValueError(f"this estimator requires {name} to be passed, but the target {name} is None")
    if _is_pandas(v) and hasattr(v, "columns"):
        if v.shape[1] != 1:
            raise ValueError(f"{name} must be 1-dimensional, got a DataFrame with {v.shape[1]} columns")
        v = v.iloc[:, 0]
    if _is_pandas(v):
        import pandas as pd

        if not (pd.api.types.is_numeric_dtype(v.dtype) or pd.api.types.is_bool_dtype(v.dtype)):
            raise ValueError(f"{name} must be numeric, got dtype {v.dtype}")
        arr = v.to_numpy(dtype=np.float64, na_value=np.nan) if name != "folds" else v.to_numpy()
    else:
        arr = np.asarray(v)
    if arr.ndim == 2 and arr.shape[1] == 1:
        if name == "y":
            import warnings

            from sklearn.exceptions import DataConversionWarning

            warnings.warn(
                "A column-vector y was passed when a 1d array was expected. Please change the shape of y "
                "to (n_samples,), for example using ravel().",
                DataConversionWarning,
                stacklevel=4,
            )
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-dimensional, got shape {arr.shape}")
    if name != "folds" and arr.dtype.kind not in "biuf":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}") from None
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"X has {n} rows but {name} has {arr.shape[0]}")
    return arr


def _check_folds(folds: np.ndarray) -> np.ndarray:
    labels = integer_labels(folds)
    if labels is None:
        raise ValueError(f"folds must hold integer fold labels, got dtype {folds.dtype}")
    return labels


def _map_blocks(fn, starts: list[int]) -> list[SufficientStats]:
    """Blocks in parallel threads, one BLAS thread each, results in block order.

    numpy releases the GIL in BLAS and large ufunc loops, so threads over
    blocks use every core; a multi-threaded BLAS inside each Gram instead
    collapses on a loaded machine (threads waiting for descheduled siblings;
    see benchmarks/README.md, "Measured speed-ups").  Merging in block
    order keeps the result independent of the thread count.
    """
    n_threads = min(len(starts), available_cpus())
    if n_threads <= 1:
        return [fn(s) for s in starts]
    from concurrent.futures import ThreadPoolExecutor

    with single_blas_thread(), ThreadPoolExecutor(n_threads) as pool:
        return list(pool.map(fn, starts))


def raise_for_invalid(stats: SufficientStats, feature_names: Sequence[str] | None) -> None:
    """Raise a ``ValueError`` naming every column with NaN/inf and bad weights."""
    _raise_for_counts(stats.nonfinite_x, stats.nonfinite_y, stats.nonfinite_w, stats.negative_w, feature_names)


def _raise_for_counts(
    nonfinite_x: np.ndarray, nonfinite_y: int, nonfinite_w: int, negative_w: int, feature_names: Sequence[str] | None
) -> None:
    problems = []
    bad_cols = np.flatnonzero(nonfinite_x)
    if bad_cols.size:
        total = int(nonfinite_x.sum())
        parts = []
        for j in bad_cols[:20]:
            label = f"column {feature_names[j]!r} (index {j})" if feature_names else f"column {j}"
            parts.append(f"{label}: {int(nonfinite_x[j])}")
        more = f", and {bad_cols.size - 20} more columns" if bad_cols.size > 20 else ""
        problems.append(
            f"X contains {total} NaN or infinite value(s) in {bad_cols.size} column(s): " + "; ".join(parts) + more
        )
    if nonfinite_y:
        problems.append(f"y contains {nonfinite_y} NaN or infinite value(s)")
    if nonfinite_w:
        problems.append(f"sample_weight contains {nonfinite_w} NaN or infinite value(s)")
    if negative_w:
        problems.append(f"sample_weight contains {negative_w} negative value(s); weights must be >= 0")
    if problems:
        raise ValueError("Invalid input: " + ". ".join(problems) + ".")


# --------------------------------------------------------------------------- scipy.sparse input
def is_sparse(X: object) -> bool:
    """True for scipy.sparse matrices and arrays (CSR, CSC, COO, ...)."""
    return sp.issparse(X)


@dataclass(frozen=True)
class SparseData:
    """Checked in-memory data for the sparse paths: ``X`` as CSC float64, never densified."""

    X: sp.csc_matrix
    y: np.ndarray
    sample_weight: np.ndarray | None
    folds: np.ndarray | None
    feature_names: list[str] | None


def sparse_data(X: object, y: object, sample_weight: object = None, spec: FoldSpec | None = None) -> SparseData:
    """In-memory ``X`` (scipy.sparse, or numpy/pandas converted) as checked CSC float64 data.

    NaN/inf values (counted per column over the stored entries) and negative
    weights raise the same ``ValueError`` as :func:`raise_for_invalid`; the
    fold labels are :func:`compute_stats`'s (``spec.folds``, or hashed from the
    row positions).
    """
    if any(is_dask_collection(v) for v in (X, y, sample_weight, spec.folds if spec else None)):
        raise ValueError("the sparse and wide paths need in-memory data (numpy, pandas or scipy.sparse), not Dask")
    if is_sparse(X):
        if X.ndim != 2:
            raise ValueError(f"X must be 2-dimensional, got shape {X.shape}")
        if X.dtype.kind not in "biuf":
            raise TypeError(f"X must be numeric, got dtype {X.dtype}")
        Xc, names = sp.csc_matrix(X, dtype=np.float64), None
    else:
        Xa, names = to_numpy_X(X)
        Xc = sp.csc_matrix(np.asarray(Xa, dtype=np.float64))
    Xc.sum_duplicates()
    n, p = Xc.shape
    if n == 0 or p == 0:
        raise ValueError(f"Found array with shape {Xc.shape} while at least 1 sample and 1 feature are required.")
    ya = to_numpy_1d(y, "y", n).astype(np.float64)
    wa = _weights(sample_weight, n)
    bad = ~np.isfinite(Xc.data)
    cols = np.repeat(np.arange(p), np.diff(Xc.indptr))
    _raise_for_counts(
        np.bincount(cols[bad], minlength=p).astype(np.int64),
        int(np.count_nonzero(~np.isfinite(ya))),
        0 if wa is None else int(np.count_nonzero(~np.isfinite(wa))),
        0 if wa is None else int(np.count_nonzero(wa < 0)),
        names,
    )
    spec = spec or FoldSpec()
    if spec.folds is not None:
        folds = _check_folds(to_numpy_1d(spec.folds, "folds", n))
    else:
        folds = spec.labels_for(0, n)
    return SparseData(Xc, ya, wa, folds, names)


def _weights(sample_weight: object, n: int) -> np.ndarray | None:
    """``sample_weight`` as ``n`` float64 values (a scalar is repeated), or None."""
    if sample_weight is None:
        return None
    if np.ndim(np.asarray(sample_weight)) == 0:
        return np.full(n, float(np.asarray(sample_weight)))
    return to_numpy_1d(sample_weight, "sample_weight", n).astype(np.float64)


def compute_stats(
    X: object,
    y: object,
    sample_weight: object = None,
    spec: FoldSpec | None = None,
) -> tuple[SufficientStats, list[str] | None, int]:
    """Per-fold statistics of the inputs in one pass.

    Returns ``(stats, feature_names, n_samples)``.  Dask collections go through
    :func:`dreg._dask.dask_stats` on the current Dask scheduler; numpy and
    pandas inputs are processed here, block by block, in-process; scipy.sparse
    inputs by :func:`dreg.core.wide.sparse_stats` (dense ``p x p`` Grams from
    sparse products).
    """
    spec = spec or FoldSpec()
    if any(is_dask_collection(v) for v in (X, y, sample_weight, spec.folds)):
        from dreg._dask import dask_stats

        stats, names = dask_stats(X, y, sample_weight, spec)
        raise_for_invalid(stats, names)
        return stats, names, int(stats.count.sum())
    if is_sparse(X):
        # the Gram engine on sparse input: per-fold Grams from sparse products, X never densified
        data = sparse_data(X, y, sample_weight, spec)
        stats = sparse_stats(data.X, data.y, data.sample_weight, data.folds)
        return stats, None, int(data.X.shape[0])
    Xa, names = to_numpy_X(X)
    n, p = Xa.shape
    ya = to_numpy_1d(y, "y", n)
    wa = _weights(sample_weight, n)
    fa = None
    if spec.folds is not None:
        fa = _check_folds(to_numpy_1d(spec.folds, "folds", n))
    if n == 0:
        raise ValueError(f"Found array with 0 sample(s) (shape={Xa.shape}) while a minimum of 1 is required.")
    step = max(1, _BLOCK_BYTES // max(1, 8 * p))
    starts = list(range(0, n, step))

    def one(start: int) -> SufficientStats:
        stop = min(n, start + step)
        labels = fa[start:stop] if fa is not None else spec.labels_for(start, stop)
        return block_stats(Xa[start:stop], ya[start:stop], None if wa is None else wa[start:stop], labels)

    parts = _map_blocks(one, starts)
    stats = merge_all(parts) if parts else empty_stats(p)
    raise_for_invalid(stats, names)
    return stats, names, n
