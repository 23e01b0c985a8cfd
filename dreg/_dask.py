"""The distributed statistics pass: one task per chunk, then a tree reduction.

This is the only module of the estimator path that imports Dask.  It runs on
whatever Dask scheduler is current (a ``distributed.Client`` if one is active,
else Dask's default), and every task key starts with ``dreg-`` so the pass
reads well on the dashboard's task stream:

* ``dreg-stats-<token>-<i>``: statistics of chunk ``i`` (reads the chunk once);
* ``dreg-rows-<token>-<i>`` / ``dreg-offset-<token>-<i>``: row counts and
  global row offsets, only when chunk sizes are unknown (Dask DataFrames);
  they depend on the same chunk task as ``dreg-stats``, so the chunk is still
  loaded once;
* ``dreg-merge-<token>-<level>-<j>``: the pairwise centered merges.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import dask
import numpy as np
from dask.base import tokenize
from dask.delayed import Delayed, delayed

from dreg._frames import numeric_frame_to_numpy, raise_for_non_numeric
from dreg.core.folds import FoldSpec
from dreg.core.stats import SufficientStats, block_stats, merge

if TYPE_CHECKING:  # pragma: no cover
    import dask.array as da

__all__ = ["TREE_FANIN", "dask_stats", "stats_graph", "tree_merge"]

# statistics merged per reduction task: 8 keeps the tree shallow and the task count
# (files + files/7) low on lakes of thousands of files, while the merges stay O(K p^2)
TREE_FANIN = 8


def _is_dask_frame(obj: object) -> bool:
    import dask.dataframe as dd

    return isinstance(obj, dd.DataFrame)


def _is_dask_series(obj: object) -> bool:
    import dask.dataframe as dd

    return isinstance(obj, dd.Series)


def _merge_many(*parts: SufficientStats) -> SufficientStats:
    out = parts[0]
    for p in parts[1:]:
        out = merge(out, p)
    return out


def _tree_levels(n: int, fanin: int) -> list[list[tuple[int, int]]]:
    """The merge tree over ``n`` leaves: per level, the ``[start, stop)`` groups of the level below."""
    levels = []
    while n > 1:
        groups = [(j, min(j + fanin, n)) for j in range(0, n, fanin)]
        levels.append(groups)
        n = len(groups)
    return levels


def tree_merge(
    leaves: Sequence[Delayed], token: str, fanin: int = TREE_FANIN, func=_merge_many, prefix: str = "dreg-merge"
) -> Delayed:
    """Reduce delayed results ``fanin`` at a time with ``func`` down to one."""
    level = list(leaves)
    for depth, groups in enumerate(_tree_levels(len(level), fanin)):
        level = [
            level[a]
            if b - a == 1
            else delayed(func, pure=True)(*level[a:b], dask_key_name=f"{prefix}-{token}-{depth}-{a // fanin}")
            for a, b in groups
        ]
    return level[0]


def tree_reduce(values: Sequence[Any], fanin: int = TREE_FANIN, func=_merge_many) -> Any:
    """:func:`tree_merge` on values in this process: the same grouping, so the same result bit for bit."""
    level = list(values)
    if not level:
        raise ValueError("nothing to reduce")
    for groups in _tree_levels(len(level), fanin):
        level = [level[a] if b - a == 1 else func(*level[a:b]) for a, b in groups]
    return level[0]


def _frame_block_stats(
    part: object,
    offset: int,
    features: list[str],
    y_col: str,
    w_col: str | None,
    fold_col: str | None,
    spec: FoldSpec,
) -> SufficientStats:
    X, _ = numeric_frame_to_numpy(part[features])
    y = part[y_col].to_numpy(dtype=np.float64, na_value=np.nan)
    w = None if w_col is None else part[w_col].to_numpy(dtype=np.float64, na_value=np.nan)
    n = X.shape[0]
    if fold_col is not None:
        labels = part[fold_col].to_numpy()
    else:
        labels = spec.labels_for(offset, offset + n)
    return block_stats(X, y, w, labels)


def _array_block_stats(
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None,
    folds: np.ndarray | None,
    offset: int,
    spec: FoldSpec,
) -> SufficientStats:
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"a chunk of X has {X.shape[0]} rows but its chunk of y has {y.shape[0]}")
    labels = folds if folds is not None else spec.labels_for(offset, offset + X.shape[0])
    return block_stats(X, y, w, labels)


def _offsets(parts: Sequence[Delayed], token: str) -> list[Delayed | int]:
    """Global row offsets computed inside the graph (chunk sizes unknown)."""
    offsets: list[Delayed | int] = [0]
    for i, part in enumerate(parts[:-1]):
        rows = delayed(len, pure=True)(part, dask_key_name=f"dreg-rows-{token}-{i}")
        offsets.append(
            delayed(operator.add, pure=True)(offsets[-1], rows, dask_key_name=f"dreg-offset-{token}-{i + 1}")
        )
    return offsets


def _frame_leaves(X, y, sample_weight, folds, spec: FoldSpec, token: str) -> tuple[list[Delayed], list[str]]:
    features = [str(c) for c in X.columns]
    if len(set(features)) != len(features):
        raise ValueError("X has duplicate column names")
    raise_for_non_numeric(X)
    frame = X.rename(columns={c: str(c) for c in X.columns}) if any(not isinstance(c, str) for c in X.columns) else X
    extra = {}
    y_col, w_col, fold_col = "__dreg_y__", None, None
    extra[y_col] = _as_series(y, frame, "y")
    if sample_weight is not None:
        w_col = "__dreg_w__"
        extra[w_col] = _as_series(sample_weight, frame, "sample_weight")
    if folds is not None:
        fold_col = "__dreg_fold__"
        extra[fold_col] = _as_series(folds, frame, "folds")
    # one frame, so that each partition is read once even when y comes from the same source
    frame = frame.assign(**extra)
    parts = frame.to_delayed()
    offsets: list[Delayed | int] = [0] * len(parts)
    if fold_col is None and spec.n_folds is not None:
        offsets = _offsets(parts, token)
    leaves = [
        delayed(_frame_block_stats, pure=True)(
            part, offsets[i], features, y_col, w_col, fold_col, spec, dask_key_name=f"dreg-stats-{token}-{i}"
        )
        for i, part in enumerate(parts)
    ]
    return leaves, features


def _as_series(v, frame, name: str):
    if _is_dask_series(v):
        return v
    if _is_dask_frame(v):
        if len(v.columns) != 1:
            raise ValueError(f"{name} must be a single column, got {len(v.columns)}")
        return v[v.columns[0]]
    raise ValueError(
        f"X is a Dask DataFrame, so {name} must be a Dask Series partitioned like X "
        f"(e.g. a column of the same DataFrame), got {type(v).__name__}"
    )


def _as_array_like(v, chunks: tuple[int, ...], name: str, n: float) -> da.Array:
    import dask.array as da

    if isinstance(v, da.Array):
        arr = v
    elif hasattr(v, "__dask_graph__") and hasattr(v, "to_dask_array"):
        arr = v.to_dask_array(lengths=True)
    else:
        arr = da.from_array(np.asarray(v), chunks=(chunks,) if not any(math.isnan(c) for c in chunks) else "auto")
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-dimensional, got {arr.ndim} dimensions")
    if not math.isnan(n) and not math.isnan(arr.shape[0]) and arr.shape[0] != n:
        raise ValueError(f"X has {int(n)} rows but {name} has {int(arr.shape[0])}")
    if arr.chunks[0] != chunks:
        arr = arr.rechunk({0: chunks})
    return arr


def _array_leaves(X, y, sample_weight, folds, spec: FoldSpec, token: str) -> list[Delayed]:
    if X.ndim == 1:
        raise ValueError("X must be 2-dimensional (n_samples, n_features); use X.reshape(-1, 1)")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-dimensional, got {X.ndim} dimensions")
    if np.dtype(X.dtype).kind not in "biuf":
        raise ValueError(f"X must be numeric, got dtype {X.dtype}")
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    row_chunks = X.chunks[0]
    known = not any(math.isnan(c) for c in row_chunks)
    n = X.shape[0]
    y = _as_array_like(y, row_chunks, "y", n)
    w = None if sample_weight is None else _as_array_like(sample_weight, row_chunks, "sample_weight", n)
    f = None if folds is None else _as_array_like(folds, row_chunks, "folds", n)
    xs = X.to_delayed().ravel()
    ys = y.to_delayed().ravel()
    ws = [None] * len(xs) if w is None else list(w.to_delayed().ravel())
    fs = [None] * len(xs) if f is None else list(f.to_delayed().ravel())
    if known:
        offsets: list = np.concatenate([[0], np.cumsum(row_chunks)[:-1]]).astype(int).tolist()
    elif f is None and spec.n_folds is not None:
        offsets = _offsets(list(xs), token)
    else:
        offsets = [0] * len(xs)
    return [
        delayed(_array_block_stats, pure=True)(
            xs[i], ys[i], ws[i], fs[i], offsets[i], spec, dask_key_name=f"dreg-stats-{token}-{i}"
        )
        for i in range(len(xs))
    ]


def stats_graph(X, y, sample_weight, spec: FoldSpec) -> tuple[Delayed, list[str] | None]:
    """The delayed statistics of the whole input, and the feature names."""
    if not any(hasattr(v, "__dask_graph__") for v in (X, y, sample_weight, spec.folds)):
        raise TypeError("dask_stats needs at least one Dask collection")
    token = tokenize(X, y, sample_weight, spec.folds, spec.n_folds, spec.random_state)[:16]
    folds = spec.folds
    # tasks get the spec without the (possibly Dask) fold array, which is wired in separately
    spec = FoldSpec(n_folds=spec.n_folds, random_state=spec.random_state, folds=folds if folds is None else True)
    names: list[str] | None = None
    # dask.array is imported here, not at module import: the lake pass's workers
    # load this module for tree_merge only
    import dask.array as da

    if _is_dask_frame(X):
        leaves, names = _frame_leaves(X, y, sample_weight, folds, spec, token)
    else:
        if not isinstance(X, da.Array):
            if hasattr(X, "columns"):
                # pandas X with Dask y: bring X into Dask, aligned on positions
                names = [str(c) for c in X.columns]
            X = da.from_array(np.asarray(X), chunks=(max(1, 2**23 // max(1, 8 * np.shape(X)[1])), -1))
        leaves = _array_leaves(X, y, sample_weight, folds, spec, token)
    if not leaves:
        raise ValueError("X has no chunks")
    return tree_merge(leaves, token), names


def dask_stats(X, y, sample_weight, spec: FoldSpec) -> tuple[SufficientStats, list[str] | None]:
    """Compute per-fold statistics of Dask inputs on the current scheduler."""
    root, names = stats_graph(X, y, sample_weight, spec)
    (stats,) = dask.compute(root)
    if stats.count.sum() == 0 and stats.n_labels == 0:
        raise ValueError("X has 0 rows")
    return stats, names
