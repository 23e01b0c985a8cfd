"""The binomial and Poisson passes over a lake (:mod:`dreg.core.glm`), as Dask graphs.

A GLM path needs more than one pass over the rows (``n_passes_``: about
10–20 for a whole cross-validated path).  Pass 0 is the ordinary statistics
pass (:func:`dreg.job.scan.lake_graph`, served by the statistics cache where it
can); every later pass evaluates a stack of models on every row and returns
per-fold-label sums (:class:`~dreg.core.glm.PassStats`).  Two ways to reach
the rows again, chosen by ``data.passes``:

``persist``
    Each file's rows are read once more (after pass 0), checked exactly as
    in the statistics pass, and held in the workers' memory as float64
    blocks ``(X, y, w, folds)``; every pass is a graph of per-block
    :func:`~dreg.core.glm.glm_block_pass` tasks.  Costs ``8 (p + 3)`` bytes
    per row of worker memory.
``reread``
    Every pass reads every file again (columns projected, one row group at a
    time); no memory beyond one file per task.  Slower on every pass, bounded
    memory.
``auto`` (default)
    ``persist`` when the blocks take at most half of the workers' memory
    limit (unlimited workers count as enough), ``reread`` otherwise.

Both give the same statistics: the blocks of a file are its row groups in
order, and merges follow the lake's file order.

Task keys on the dashboard: ``dreg-glmload-<token>-<i>`` (file ``i`` read
into worker memory), ``dreg-glmpass-<token>-<t>-<i>`` (pass ``t`` on file
``i``), ``dreg-glmreduce-<token>-<t>-...`` (its merge tree).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dreg.core.glm import PassRequest, PassStats, glm_block_pass, merge_pass
from dreg.core.stats import SufficientStats
from dreg.job.errors import DataError
from dreg.job.lake import Lake, LakeFile, ReadSpec, read_file_arrays

__all__ = ["LakePasses", "binomial_stats", "choose_mode", "discover_classes"]

# share of the workers' total memory limit the persisted blocks may take (mode "auto")
PERSIST_SHARE = 0.5


def load_block(f: LakeFile, spec: ReadSpec, url: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """``(X, y, w, folds)`` of one file: its row groups in order, rows checked as in the statistics pass."""
    Xs, ys, ws, fs = [], [], [], []
    for X, y, w, folds, _invalid, _n in read_file_arrays(f, spec, url):
        Xs.append(np.asarray(X, dtype=np.float64))
        ys.append(np.asarray(y, dtype=np.float64))
        if w is not None:
            ws.append(np.asarray(w, dtype=np.float64))
        fs.append(np.zeros(len(y), dtype=np.int64) if folds is None else np.asarray(folds, dtype=np.int64))
    p = len(spec.encoding.feature_names) if spec.encoded is not None and spec.encoding is not None else len(spec.features)
    X = np.ascontiguousarray(np.concatenate(Xs)) if Xs else np.zeros((0, p))
    y = np.concatenate(ys) if ys else np.zeros(0)
    w = (np.concatenate(ws) if ws else np.zeros(0)) if spec.weight else None
    folds = np.concatenate(fs) if fs else np.zeros(0, dtype=np.int64)
    return X, y, w, folds


def _to01(block: tuple, positive: float | None) -> tuple:
    X, y, w, f = block
    return (X, (y == positive).astype(np.float64), w, f) if positive is not None else block


def _persisted_pass(block: tuple, request: PassRequest) -> PassStats:
    X, y, w, f = block
    return glm_block_pass(X, y, w, f, request)


def _reread_pass(f: LakeFile, spec: ReadSpec, url: str, positive: float | None, request: PassRequest) -> PassStats:
    X, y, w, folds = _to01(load_block(f, spec, url), positive)
    return glm_block_pass(X, y, w, folds, request)


def _merge_passes(*parts: PassStats) -> PassStats:
    out = parts[0]
    for p in parts[1:]:
        out = merge_pass(out, p)
    return out


def _summary(y: np.ndarray) -> tuple[np.ndarray, float]:
    """``(up to 3 distinct values, smallest value)`` of finite targets: enough to refuse a
    target that is not binary, or a negative Poisson count."""
    y = y[np.isfinite(y)]
    return np.unique(y)[:3], float(y.min()) if y.size else np.inf


def _target_values(f: LakeFile, spec: ReadSpec, url: str) -> tuple[np.ndarray, float]:
    """:func:`_summary` of a file's target column, read alone."""
    import fsspec
    import pyarrow as pa

    from dreg.job.lake import _column_array, _open

    pf = _open(fsspec.filesystem(spec.protocol, **spec.storage_options), f, url)
    try:
        col = pf.read(columns=[spec.target]).column(spec.target)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DataError(f"{url}: cannot read column {spec.target!r} ({type(exc).__name__}: {exc})") from None
    return _summary(_column_array(col).astype(np.float64))


def _block_values(block: tuple) -> tuple[np.ndarray, float]:
    return _summary(block[1])


def _union(*parts: tuple[np.ndarray, float]) -> tuple[np.ndarray, float]:
    return np.unique(np.concatenate([p[0] for p in parts]))[:3], min(p[1] for p in parts)


def choose_mode(mode: str, client: Any, rows: int, n_features: int) -> tuple[str, str]:
    """``(persist | reread, why)`` for ``data.passes`` = ``mode`` (``auto`` decides by memory)."""
    need = 8 * (n_features + 3) * rows
    if mode != "auto":
        return mode, f"data.passes: {mode}"
    workers = client.scheduler_info().get("workers", {}).values()
    limits = [w.get("memory_limit") or 0 for w in workers]
    if not limits or any(m <= 0 for m in limits):
        return "persist", f"{need / 2**20:.0f} MiB of blocks; workers without a memory limit"
    budget = PERSIST_SHARE * sum(limits)
    if need <= budget:
        return "persist", f"{need / 2**20:.0f} MiB of blocks <= {PERSIST_SHARE:.0%} of the workers' {sum(limits) / 2**30:.1f} GiB"
    return "reread", f"{need / 2**20:.0f} MiB of blocks > {PERSIST_SHARE:.0%} of the workers' {sum(limits) / 2**30:.1f} GiB"


@dataclass
class LakePasses:
    """``run_pass`` over a lake's files for :func:`dreg.core.glm.glm_fit` (persisted or re-read).

    ``positive``: the binomial target value mapped to 1 (every other value to 0);
    ``None`` for Poisson.  ``passes`` counts the passes run (pass 0 excluded).
    """

    client: Any
    lake: Lake
    spec: ReadSpec
    token: str
    mode: str
    positive: float | None = None
    passes: int = 0
    _blocks: list[Any] = field(default_factory=list)
    _raw: list[Any] | None = None  # unmapped blocks persisted by discover_classes, until load() maps them

    def load(self) -> None:
        """Persist mode: read every file into worker memory (blocks mapped to 0/1 for binomial)."""
        from dask.delayed import delayed

        if self.mode != "persist" or self._blocks:
            return
        raw = [
            delayed(load_block, pure=True)(f, self.spec, self.lake.full_url(f), dask_key_name=f"dreg-glmload-{self.token}-{i}")
            for i, f in enumerate(self.lake.files)
        ]
        mapped = [
            delayed(_to01, pure=True)(b, self.positive, dask_key_name=f"dreg-glmblock-{self.token}-{i}")
            for i, b in enumerate(raw)
        ]
        self._blocks = list(self.client.persist(mapped))
        self._raw = None

    def run_pass(self, request: PassRequest, files: Sequence[int] | None = None) -> PassStats:
        """One pass of ``request`` over every file (or the files ``files``, by lake index), tree-merged."""
        from dask.delayed import delayed

        from dreg._dask import tree_merge

        self.passes += 1
        t = self.passes
        index = list(range(len(self.lake.files))) if files is None else list(files)
        if not index:
            raise ValueError("a pass over no file")
        req = delayed(request, pure=True, name=f"dreg-glmrequest-{self.token}-{t}")
        if self.mode == "persist":
            self.load()
            leaves = [
                delayed(_persisted_pass, pure=True)(self._blocks[i], req, dask_key_name=f"dreg-glmpass-{self.token}-{t}-{i}")
                for i in index
            ]
        else:
            leaves = [
                delayed(_reread_pass, pure=True)(
                    self.lake.files[i],
                    self.spec,
                    self.lake.full_url(self.lake.files[i]),
                    self.positive,
                    req,
                    dask_key_name=f"dreg-glmpass-{self.token}-{t}-{i}",
                )
                for i in index
            ]
        root = tree_merge(leaves, f"{self.token}-{t}", func=_merge_passes, prefix="dreg-glmreduce")
        return self.client.compute(root, sync=True)

    def release(self) -> None:
        """Drop the persisted blocks from worker memory."""
        self._blocks = []


def discover_classes(passes: LakePasses) -> tuple[np.ndarray, float]:
    """``(distinct target values (at most 3), smallest target)`` over the lake, from the
    blocks (persist: the one read of the files) or the target columns alone (reread)."""
    from dask.delayed import delayed

    from dreg._dask import tree_merge

    lake, spec, token = passes.lake, passes.spec, passes.token
    if passes.mode == "persist":
        raw = [
            delayed(load_block, pure=True)(f, spec, lake.full_url(f), dask_key_name=f"dreg-glmload-{token}-{i}")
            for i, f in enumerate(lake.files)
        ]
        raw = passes.client.persist(raw)
        passes._raw = raw  # kept in memory until load() maps them: the files are read once
        leaves = [delayed(_block_values, pure=True)(b, dask_key_name=f"dreg-glmy-{token}-{i}") for i, b in enumerate(raw)]
    else:
        leaves = [
            delayed(_target_values, pure=True)(f, spec, lake.full_url(f), dask_key_name=f"dreg-glmy-{token}-{i}")
            for i, f in enumerate(lake.files)
        ]
    return passes.client.compute(tree_merge(leaves, token, func=_union, prefix="dreg-glmymerge"), sync=True)


def binomial_stats(stats: SufficientStats, negative: float, positive: float) -> SufficientStats:
    """Pass-0 statistics of the target mapped to ``(y - negative) / (positive - negative)`` (0/1 for two classes).

    Exact for an affine map: the means shift and scale, the centered cross
    moments scale.
    """
    from dataclasses import replace

    d = float(positive) - float(negative)
    return replace(
        stats,
        y_mean=(stats.y_mean - negative) / d,
        xy=stats.xy / d,
        yy=stats.yy / (d * d),
    )
