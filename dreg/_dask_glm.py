"""The GLM passes on Dask: blocks persisted on the workers, one graph per pass.

The binomial and Poisson fits read the data several times
(:mod:`dreg.core.glm`), so the chunks are loaded once and persisted on the
workers as plain numpy blocks ``(X, y, w, fold)``; every later pass is a graph
of per-block :func:`dreg.core.glm.glm_block_pass` calls and a tree reduction
(:func:`dreg._dask.tree_merge`) of their :class:`~dreg.core.glm.PassStats`.
Task keys read on the dashboard as

* ``dreg-glmblock-<token>-<i>``: chunk ``i`` loaded and persisted (the only read);
* ``dreg-glmstats-<token>-<i>`` / ``dreg-glmmerge-...``: pass 0 (statistics) on the blocks;
* ``dreg-glmpass-<token>-<t>-<i>`` / ``dreg-glmreduce-<t>-...``: pass ``t``.

The request (the coefficients of every model) is one task that each worker
fetches once per pass, not a copy embedded in every block task.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import dask
import numpy as np
from dask.base import tokenize
from dask.delayed import Delayed, delayed

from dreg._dask import _as_array_like, _as_series, _is_dask_frame, _offsets, tree_merge
from dreg._frames import numeric_frame_to_numpy, raise_for_non_numeric
from dreg.core.folds import FoldSpec
from dreg.core.glm import PassRequest, PassStats, glm_block_pass, merge_pass
from dreg.core.stats import SufficientStats, block_stats, merge

__all__ = ["DaskGLMData", "persist_glm_data"]


def _block_from_arrays(X, y, w, folds, offset: int, spec: FoldSpec) -> tuple:
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"a chunk of X has {X.shape[0]} rows but its chunk of y has {y.shape[0]}")
    labels = folds if folds is not None else spec.labels_for(offset, offset + X.shape[0])
    return (
        np.ascontiguousarray(X),
        np.asarray(y).reshape(-1),
        None if w is None else np.asarray(w, dtype=np.float64).reshape(-1),
        None if labels is None else np.asarray(labels).astype(np.int64),
    )


def _block_from_frame(part, offset: int, features: list[str], y_col: str, w_col, fold_col, spec: FoldSpec) -> tuple:
    X, _ = numeric_frame_to_numpy(part[features])
    y = part[y_col].to_numpy()
    w = None if w_col is None else part[w_col].to_numpy(dtype=np.float64, na_value=np.nan)
    labels = part[fold_col].to_numpy() if fold_col is not None else spec.labels_for(offset, offset + X.shape[0])
    return np.ascontiguousarray(X), y, w, None if labels is None else np.asarray(labels).astype(np.int64)


def _y_summary(block: tuple, binomial: bool) -> tuple:
    """The distinct targets (binomial, up to 3 are enough to refuse) or the smallest one (Poisson)."""
    y = block[1]
    if binomial:
        u = np.unique(y[~_isnan(y)]) if y.dtype.kind == "f" else np.unique(y)
        return (u[:3], int(np.count_nonzero(_isnan(y))) if y.dtype.kind == "f" else 0)
    yf = y.astype(np.float64)
    return (np.array([np.nanmin(yf)]) if yf.size else np.zeros(0), 0)


def _isnan(y: np.ndarray) -> np.ndarray:
    return np.isnan(y) if y.dtype.kind == "f" else np.zeros(y.shape, dtype=bool)


def _merge_summary(*parts: tuple) -> tuple:
    vals = np.concatenate([p[0] for p in parts])
    return (np.unique(vals)[:3] if vals.size else vals, sum(p[1] for p in parts))


def _map_target(block: tuple, positive: Any) -> tuple:
    X, y, w, f = block
    y01 = (y == positive).astype(np.float64) if positive is not None else y.astype(np.float64)
    return X, y01, w, f


def _stats_of(block: tuple) -> SufficientStats:
    X, y, w, f = block
    return block_stats(X, y, w, f)


def _pass_of(block: tuple, request: PassRequest) -> PassStats:
    X, y, w, f = block
    return glm_block_pass(X, y, w, f, request)


def _merge_stats(*parts: SufficientStats) -> SufficientStats:
    out = parts[0]
    for p in parts[1:]:
        out = merge(out, p)
    return out


def _merge_passes(*parts: PassStats) -> PassStats:
    out = parts[0]
    for p in parts[1:]:
        out = merge_pass(out, p)
    return out


@dataclass
class DaskGLMData:
    """Blocks persisted on the workers, their pass-0 statistics and a ``run_pass`` for :func:`dreg.core.glm.glm_fit`.

    Attributes
    ----------
    blocks : list of Delayed
        ``(X, y, w, fold)`` numpy tuples held in worker memory (``y`` mapped to 0/1 for binomial).
    stats : SufficientStats
    feature_names : list of str or None
    classes : ndarray or None
        The two distinct targets (binomial).
    token : str
    """

    blocks: list[Delayed]
    stats: SufficientStats
    feature_names: list[str] | None
    classes: np.ndarray | None
    token: str
    passes: int = 0

    def run_pass(self, request: PassRequest) -> PassStats:
        """One pass: ``glm_block_pass`` on every persisted block, tree-merged."""
        self.passes += 1
        t = self.passes
        req = delayed(request, pure=True, name=f"dreg-glmrequest-{self.token}-{t}")
        leaves = [
            delayed(_pass_of, pure=True)(b, req, dask_key_name=f"dreg-glmpass-{self.token}-{t}-{i}")
            for i, b in enumerate(self.blocks)
        ]
        root = tree_merge(leaves, f"{self.token}-{t}", func=_merge_passes, prefix="dreg-glmreduce")
        (out,) = dask.compute(root)
        return out


def _raw_blocks(X, y, sample_weight, folds, spec: FoldSpec, token: str) -> tuple[list[Delayed], list[str] | None]:
    import dask.array as da

    names: list[str] | None = None
    if _is_dask_frame(X):
        features = [str(c) for c in X.columns]
        if len(set(features)) != len(features):
            raise ValueError("X has duplicate column names")
        raise_for_non_numeric(X)
        frame = X.rename(columns={c: str(c) for c in X.columns}) if any(not isinstance(c, str) for c in X.columns) else X
        extra = {"__dreg_y__": _as_series(y, frame, "y")}
        w_col = fold_col = None
        if sample_weight is not None:
            w_col = "__dreg_w__"
            extra[w_col] = _as_series(sample_weight, frame, "sample_weight")
        if folds is not None:
            fold_col = "__dreg_fold__"
            extra[fold_col] = _as_series(folds, frame, "folds")
        frame = frame.assign(**extra)
        parts = frame.to_delayed()
        offsets: list = [0] * len(parts)
        if fold_col is None and spec.n_folds is not None:
            offsets = _offsets(parts, token)
        blocks = [
            delayed(_block_from_frame, pure=True)(
                part, offsets[i], features, "__dreg_y__", w_col, fold_col, spec, dask_key_name=f"dreg-glmblock-{token}-{i}"
            )
            for i, part in enumerate(parts)
        ]
        return blocks, features
    if not isinstance(X, da.Array):
        if hasattr(X, "columns"):
            names = [str(c) for c in X.columns]
        X = da.from_array(np.asarray(X), chunks=(max(1, 2**23 // max(1, 8 * np.shape(X)[1])), -1))
    if X.ndim != 2:
        raise ValueError(f"X must be 2-dimensional, got {X.ndim} dimensions")
    if np.dtype(X.dtype).kind not in "biuf":
        raise ValueError(f"X must be numeric, got dtype {X.dtype}")
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    row_chunks = X.chunks[0]
    n = X.shape[0]
    known = not any(math.isnan(c) for c in row_chunks)
    ya = _as_array_like(y, row_chunks, "y", n)
    wa = None if sample_weight is None else _as_array_like(sample_weight, row_chunks, "sample_weight", n)
    fa = None if folds is None else _as_array_like(folds, row_chunks, "folds", n)
    xs = X.to_delayed().ravel()
    ys = ya.to_delayed().ravel()
    ws = [None] * len(xs) if wa is None else list(wa.to_delayed().ravel())
    fs = [None] * len(xs) if fa is None else list(fa.to_delayed().ravel())
    if known:
        offsets = np.concatenate([[0], np.cumsum(row_chunks)[:-1]]).astype(int).tolist()
    elif fa is None and spec.n_folds is not None:
        offsets = _offsets(list(xs), token)
    else:
        offsets = [0] * len(xs)
    blocks = [
        delayed(_block_from_arrays, pure=True)(xs[i], ys[i], ws[i], fs[i], offsets[i], spec, dask_key_name=f"dreg-glmblock-{token}-{i}")
        for i in range(len(xs))
    ]
    return blocks, names


def persist_glm_data(X, y, sample_weight, spec: FoldSpec, family_name: str) -> DaskGLMData:
    """Load and persist the blocks (the one read of the data), check the targets, and run pass 0.

    Raises ``ValueError`` for binomial targets without exactly two classes and
    for negative Poisson targets, before any fitting.
    """
    token = tokenize(X, y, sample_weight, spec.folds, spec.n_folds, spec.random_state, family_name)[:16]
    folds = spec.folds
    spec = FoldSpec(n_folds=spec.n_folds, random_state=spec.random_state, folds=folds if folds is None else True)
    raw, names = _raw_blocks(X, y, sample_weight, folds, spec, token)
    if not raw:
        raise ValueError("X has no chunks")
    raw = list(dask.persist(*raw))
    binomial = family_name == "binomial"
    summaries = [delayed(_y_summary, pure=True)(b, binomial, dask_key_name=f"dreg-glmy-{token}-{i}") for i, b in enumerate(raw)]
    (summary,) = dask.compute(tree_merge(summaries, token, func=_merge_summary, prefix="dreg-glmymerge"))
    values, n_nan = summary
    classes = None
    positive = None
    if binomial:
        if n_nan:
            raise ValueError(f"y contains {n_nan} NaN value(s)")
        if values.size != 2:
            raise ValueError(
                f"binomial (logistic) regression needs exactly 2 classes in y, got {values.size}"
                + ("" if values.size < 3 else " or more")
            )
        classes = values
        positive = values[1]
    elif values.size and values.min() < 0:
        raise ValueError("Poisson regression needs y >= 0, got negative value(s)")
    blocks = [delayed(_map_target, pure=True)(b, positive, dask_key_name=f"dreg-glmy01-{token}-{i}") for i, b in enumerate(raw)]
    blocks = list(dask.persist(*blocks))
    del raw
    leaves = [delayed(_stats_of, pure=True)(b, dask_key_name=f"dreg-glmstats-{token}-{i}") for i, b in enumerate(blocks)]
    (stats,) = dask.compute(tree_merge(leaves, token, func=_merge_stats, prefix="dreg-glmmerge"))
    return DaskGLMData(blocks, stats, names, classes, token)
