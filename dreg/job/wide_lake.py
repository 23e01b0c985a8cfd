"""The wide engine on a lake: rows stay on the workers as sparse chunks, the coordinator asks questions.

When the model's design is too wide for ``(cv + 1)`` Gram matrices on the
coordinator (``model.max_gram_bytes``: a categorical column with 20,000
levels makes ``6 x 20,000^2 x 8`` bytes = 19 GB), the fit runs
:func:`dreg.core.wide.wide_cross_validate` against :class:`LakeOracle`, a
:class:`~dreg.core.wide.WideOracle` whose rows are on the Dask workers:

1. **Load** (one read of each file, ``dreg-wide-load-<token>-<i>``): a task
   per file reads its row groups with the same checks as the statistics pass
   (:func:`dreg.job.lake._row_groups`: invalid rows dropped or refused,
   naming the file, the column and the count), keeps the usable rows on its
   worker, and returns a small :class:`WideSummary`: the file's account,
   its fold labels, each categorical column's levels with their row counts,
   and the observed sums of the imputed columns.
2. **Encode** (``dreg-wide-chunk-<token>-<i>``): the coordinator merges the
   summaries into the model's :class:`~dreg.core.design.Encoding` (levels
   sorted, rare ones lumped, imputation values, indicators: the Gram
   engine's rules) and each worker turns its rows into a CSC chunk of the
   model's design (:func:`dreg.core.design.sparse_design`: one stored entry
   per categorical value), persisted on the worker.  Nothing is read again.
3. **Passes**: :meth:`LakeOracle.moments` (once), :meth:`~LakeOracle.gradients`
   and :meth:`~LakeOracle.gram_block` each map one task over the chunks
   (``dreg-wide-grad-<token>-<t>-<i>``, ``dreg-wide-gram-...``) computing the
   chunk's additive part (:mod:`dreg.core.wide`'s ``chunk_*`` functions), and a
   tree of sums on the workers (``dreg-wide-sum-...``) brings one answer to
   the coordinator.  The request (the models' nonzero coefficients) is
   scattered once per pass.

Memory: the coordinator holds ``O(models x p)`` per answer, the working
set's Gram blocks (bounded by ``max_gram_bytes``) and the coefficient paths
(``O(models x alphas x p)``), never a ``p x p`` matrix; each worker holds its
files' chunks (stored entries: about one per row and column of the lake)
and one pass's answer per chunk.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from dreg._dask import TREE_FANIN, _tree_levels
from dreg.core.design import ColumnEncoding, DesignSpec, Encoding, sparse_design
from dreg.core.encode import _key, lump_levels, union_levels
from dreg.core.wide import (
    WideGradients,
    WideMoments,
    chunk_gradients,
    chunk_gram,
    chunk_moments,
    merge_label_moments,
    models_gradients,
    models_gram,
    models_moments,
    row_labels,
)
from dreg.job.errors import DataError
from dreg.job.lake import _MAX_ERRORS, LakeFile, ReadSpec, _row_groups
from dreg.job.record import FileAccount

__all__ = ["LakeOracle", "WideLake", "WideSummary", "load_wide_lake", "wide_encoding"]


# --------------------------------------------------------------------------- on the workers: one file
@dataclass(frozen=True, eq=False)
class _Rows:
    """A file's usable rows as read (numeric columns NaN where missing, categorical codes)."""

    numeric: dict[str, np.ndarray]
    categorical: dict[str, tuple[np.ndarray, list[Any]]]
    y: np.ndarray
    w: np.ndarray
    folds: np.ndarray


@dataclass(frozen=True)
class WideSummary:
    """What the load pass tells the coordinator about one or more files (mergeable).

    Attributes
    ----------
    files : tuple of FileAccount
        In lake order.
    labels : ndarray of int
        The fold labels the files' rows have, sorted.
    levels : tuple of dict
        Per categorical column: ``{level key: [level, rows with positive weight]}``.
    observed : ndarray of shape (n_imputed, 2)
        Per imputed column: total weight and weighted sum of its observed values.
    missing_rows : ndarray of shape (n_imputed,)
    errors, n_errors
        As :class:`dreg.job.lake.FilePart`'s: the first messages in lake order, and how many.
    """

    files: tuple[FileAccount, ...] = ()
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    levels: tuple[dict[Any, list[Any]], ...] = ()
    observed: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    missing_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    errors: tuple[str, ...] = ()
    n_errors: int = 0


@dataclass(frozen=True, eq=False)
class _Loaded:
    rows: _Rows | None
    summary: WideSummary


def _merge_levels(columns: list[Any], codes: np.ndarray, levels: list[Any], index: dict) -> np.ndarray:
    """Codes of one row group re-based on the file's level list (``columns``' shared ``index``)."""
    where = np.empty(len(levels), dtype=np.int64)
    for i, lv in enumerate(levels):
        k = _key(lv)
        if k not in index:
            index[k] = len(index)
            columns.append(lv)
        where[i] = index[k]
    return where[codes] if codes.size else np.zeros(0, dtype=np.int64)


def _load(f: LakeFile, spec: ReadSpec, url: str) -> _Loaded:
    """Read a file's usable rows (kept on the worker) and summarize them; a bad file's
    :class:`DataError` comes back as a value, naming it."""
    from dreg.job.cache import read_tail

    try:
        return _load_or_raise(f, spec, url, read_tail)
    except DataError as exc:
        return _Loaded(None, WideSummary(errors=(str(exc),), n_errors=1))


def _load_or_raise(f: LakeFile, spec: ReadSpec, url: str, read_tail: Any) -> _Loaded:
    design = spec.encoded
    categorical = list(design.categorical) if design is not None else []
    imputed = list(design.imputed) if design is not None else []
    numeric = [c for c in spec.features if c not in set(categorical)]
    tail = read_tail(url, f.size, spec.storage_options)
    footer = None if tail is None else tail.fingerprint
    metadata = None if tail is None else tail.metadata()
    content = tail.data if metadata is not None and tail.whole else None
    num_parts: dict[str, list[np.ndarray]] = {c: [] for c in numeric}
    cat_parts: dict[str, list[np.ndarray]] = {c: [] for c in categorical}
    file_levels: dict[str, list[Any]] = {c: [] for c in categorical}
    file_index: dict[str, dict[Any, int]] = {c: {} for c in categorical}
    ys: list[np.ndarray] = []
    ws: list[np.ndarray] = []
    fs: list[np.ndarray] = []
    rows = used = 0
    invalid_total: dict[str, int] = {}
    for feats, y, w, folds, keep, invalid, n, extra in _row_groups(f, spec, url, True, metadata, content):
        rows += n
        for c, k in invalid.items():
            invalid_total[c] = invalid_total.get(c, 0) + k
        m = y.shape[0]
        used += m
        if m == 0:
            continue
        for c, v in zip(numeric, feats, strict=True):
            v = np.asarray(v, dtype=np.float64)
            num_parts[c].append(v if keep is None else v[keep])
        if extra is not None:
            for c, (codes, levels) in zip(categorical, extra[1], strict=True):
                cat_parts[c].append(_merge_levels(file_levels[c], codes, levels, file_index[c]))
        ys.append(np.asarray(y, dtype=np.float64))
        ws.append(np.ones(m) if w is None else np.asarray(w, dtype=np.float64))
        fs.append(np.full(m, -1, dtype=np.int64) if folds is None else np.asarray(folds, dtype=np.int64))
    cat = lambda parts: np.concatenate(parts) if parts else np.zeros(0)  # noqa: E731
    y_all = cat(ys)
    w_all = cat(ws)
    folds_all = cat(fs).astype(np.int64)
    num = {c: cat(num_parts[c]) for c in numeric}
    cats = {c: (cat(cat_parts[c]).astype(np.int64), file_levels[c]) for c in categorical}
    positive = w_all > 0
    levels = []
    for c in categorical:
        codes, lv = cats[c]
        present = np.bincount(codes, minlength=len(lv)) > 0  # a dictionary's unused entries are no level
        counts = np.bincount(codes[positive], minlength=len(lv))
        levels.append({_key(v): [v, int(k)] for v, k, here in zip(lv, counts, present, strict=True) if here})
    observed = np.zeros((len(imputed), 2))
    missing_rows = np.zeros(len(imputed), dtype=np.int64)
    for i, c in enumerate(imputed):
        x = num[c]
        obs = ~np.isnan(x)
        observed[i] = (w_all[obs].sum(), w_all[obs] @ x[obs])
        missing_rows[i] = int(np.count_nonzero(~obs))
    account = FileAccount(
        path=url, size=f.size, mtime=f.mtime, etag=f.etag, rows=rows, rows_used=used,
        rows_dropped=rows - used, invalid=invalid_total, footer=footer,
    )  # fmt: skip
    summary = WideSummary(
        files=(account,),
        labels=np.unique(folds_all),
        levels=tuple(levels),
        observed=observed,
        missing_rows=missing_rows,
    )
    return _Loaded(_Rows(num, cats, y_all, w_all, folds_all), summary)


def _summary(loaded: _Loaded) -> WideSummary:
    return loaded.summary


def merge_summaries(*parts: WideSummary) -> WideSummary:
    """Summaries of files merged (lake order kept); once a file failed, only errors are kept."""
    if any(p.n_errors for p in parts):
        errors = tuple(e for p in parts for e in p.errors)[:_MAX_ERRORS]
        return WideSummary(errors=errors, n_errors=sum(p.n_errors for p in parts))
    first = parts[0]
    levels = [dict(d) for d in first.levels]
    for p in parts[1:]:
        for merged, d in zip(levels, p.levels, strict=True):
            for k, (lv, n) in d.items():
                if k in merged:
                    merged[k] = [merged[k][0], merged[k][1] + n]
                else:
                    merged[k] = [lv, n]
    return WideSummary(
        files=tuple(a for p in parts for a in p.files),
        labels=np.unique(np.concatenate([p.labels for p in parts])),
        levels=tuple(levels),
        observed=sum((p.observed for p in parts[1:]), first.observed.copy()),
        missing_rows=sum((p.missing_rows for p in parts[1:]), first.missing_rows.copy()),
    )


# --------------------------------------------------------------------------- the model's design
def wide_encoding(summary: WideSummary, design: DesignSpec | None, features: list[str]) -> Encoding:
    """The model's :class:`Encoding` from the merged summaries, by the Gram engine's rules.

    Levels sorted (:func:`~dreg.core.encode.union_levels`, null last), those
    with fewer than ``min_level_count`` rows lumped into ``<other>``; an
    imputed column's value is the weighted mean of its observed values
    (``"mean"``), 0 (``"zero"``) or the given number, with its ``=<null>``
    indicator when asked and some row was missing.  Raises ``ValueError`` for
    a ``"mean"`` column with no observed value, or levels of mixed types.
    """
    if design is None:
        return Encoding.numeric(features)
    columns = []
    cat_i = imp_i = 0
    for c in design.columns:
        if c.categorical:
            d = summary.levels[cat_i]
            cat_i += 1
            try:
                levels = union_levels([lv for lv, _ in d.values()])
            except ValueError as exc:
                raise ValueError(f"column {c.name!r}: {exc}") from None
            counts = np.array([d[_key(lv)][1] for lv in levels], dtype=np.float64)
            lump = lump_levels(levels, counts, design.min_level_count)
            out_counts = lump.out_counts(counts)
            columns.append(
                ColumnEncoding(
                    name=c.name,
                    kind="categorical",
                    levels=lump.levels,
                    counts=tuple(int(round(x)) for x in np.asarray(out_counts).ravel()),
                    lumped=lump.lumped,
                )
            )
            continue
        if c.impute is None:
            columns.append(ColumnEncoding(c.name))
            continue
        w_obs, wx_obs = summary.observed[imp_i]
        had_missing = bool(summary.missing_rows[imp_i] > 0)
        imp_i += 1
        if c.impute == "mean":
            if not w_obs > 0:
                raise ValueError(f"column {c.name!r} has no observed value to take the mean of (impute: mean)")
            value = float(wx_obs / w_obs)
        elif c.impute == "zero":
            value = 0.0
        else:
            value = float(c.impute)
        columns.append(
            ColumnEncoding(c.name, impute=value, impute_rule=c.impute, indicator=bool(c.indicator and had_missing))
        )
    return Encoding(tuple(columns), design.min_level_count)


@dataclass(frozen=True, eq=False)
class _Chunk:
    """A file's rows in the model's design, on its worker."""

    X: sp.csc_matrix
    y: np.ndarray
    w: np.ndarray
    folds: np.ndarray
    # 0/1 "was missing" of each imputed column (in encoding order), for scoring a model that
    # imputed other values (the promotion's champion): x_champion = x + (v_champion - v) M
    missing: sp.csc_matrix


def _encode(loaded: _Loaded, encoding: Encoding) -> _Chunk:
    r = loaded.rows
    X, _unseen = sparse_design(encoding, r.numeric, r.categorical)
    X.sort_indices()
    imputed = [c.name for c in encoding.columns if c.kind == "numeric" and c.impute is not None]
    rows = [np.flatnonzero(np.isnan(r.numeric[c])) for c in imputed]
    cols = [np.full(a.size, j, dtype=np.int64) for j, a in enumerate(rows)]
    n = r.y.size
    if rows:
        ri, ci = np.concatenate(rows), np.concatenate(cols)
    else:
        ri = ci = np.zeros(0, dtype=np.int64)
    missing = sp.csc_matrix((np.ones(ri.size), (ri, ci)), shape=(n, len(imputed)))
    return _Chunk(X, r.y, r.w, r.folds, missing)


# --------------------------------------------------------------------------- passes (worker side)
def _moments_task(chunk: _Chunk, names: np.ndarray) -> tuple[np.ndarray, ...]:
    lab = row_labels(chunk.folds, chunk.y.size, names)
    return chunk_moments(chunk.X, chunk.y, chunk.w, lab)


def _merge_moments(*parts: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    out = parts[0]
    for p in parts[1:]:
        out = merge_label_moments(out, p)
    return out


def _gradients_task(chunk: _Chunk, names: np.ndarray, request: tuple[Any, ...]) -> tuple[np.ndarray, ...]:
    p, nz, coef_nz, intercept = request
    coef = np.zeros((coef_nz.shape[0], p))
    coef[:, nz] = coef_nz
    lab = row_labels(chunk.folds, chunk.y.size, names)
    return chunk_gradients(chunk.X, chunk.y, chunk.w, lab, coef, intercept)


def _gram_task(chunk: _Chunk, names: np.ndarray, request: tuple[np.ndarray, np.ndarray]) -> sp.csr_matrix:
    rows, cols = request
    lab = row_labels(chunk.folds, chunk.y.size, names)
    return chunk_gram(chunk.X, chunk.w, lab, rows, cols)


def _add(*parts: Any) -> Any:
    """Sum of pass answers: arrays, sparse matrices, or tuples of them."""
    if isinstance(parts[0], tuple):
        return tuple(_add(*items) for items in zip(*parts, strict=True))
    out = parts[0].copy()
    for p in parts[1:]:
        out = out + p
    return out


def _new_rows_task(chunk: _Chunk, names: np.ndarray, request: tuple[Any, ...]) -> np.ndarray:
    """``[challenger's, champion's weighted squared errors, weight, rows]`` on the chunk's held-out rows.

    Row ``i`` of fold ``k`` is scored by fold model ``k`` (the challenger's
    cross-validated prediction) and by the champion's fixed model, whose
    prediction is ``X champ_coef + M shift + champ_b`` (``M``: the imputed
    columns' missing values, ``shift``: the champion's coefficient times the
    difference of its imputation values from this fit's).
    """
    folds, fold_coef, fold_b, champ_coef, shift, champ_b = request
    held = np.isin(chunk.folds, folds) & (chunk.w > 0)
    if not held.any():
        return np.zeros(4)
    rows = np.flatnonzero(held)
    X = chunk.X[rows]
    y, w, lab = chunk.y[held], chunk.w[held], chunk.folds[held]
    k = np.searchsorted(folds, lab)
    pred = np.asarray(X @ fold_coef.T)[np.arange(y.size), k] + fold_b[k]
    champ = X @ champ_coef + chunk.missing[rows] @ shift + champ_b
    return np.array([w @ (y - pred) ** 2, w @ (y - champ) ** 2, w.sum(), float(y.size)])


# --------------------------------------------------------------------------- the coordinator's side
def _reduce(client: Any, futures: list[Any], func: Any, key: str) -> Any:
    """Reduce futures ``TREE_FANIN`` at a time on the workers; the result's value."""
    level = list(futures)
    for depth, groups in enumerate(_tree_levels(len(level), TREE_FANIN)):
        level = [
            level[a]
            if b - a == 1
            else client.submit(func, *level[a:b], key=f"{key}-{depth}-{a // TREE_FANIN}", pure=False)
            for a, b in groups
        ]
    return level[0].result()


class LakeOracle:
    """The :class:`~dreg.core.wide.WideOracle` of a lake's chunks on Dask workers.

    Each call is one pass: a task per chunk and a tree of sums on the workers.
    The models are the ``K`` fold-training models and the all-rows model, as
    :class:`~dreg.core.wide.SparseOracle`'s, and the answers equal its answers
    on the same rows to rounding (the sums are grouped by chunk).

    Attributes
    ----------
    n_passes : int
        Passes run (the moments' included).
    """

    def __init__(
        self, client: Any, chunks: list[Any], names: np.ndarray, n_features: int, *, fit_intercept: bool, token: str
    ):
        self._client = client
        self._chunks = chunks
        self._names = np.asarray(names, dtype=np.int64)
        self._lab = row_labels(None, 0, self._names)
        self._p = int(n_features)
        self._fit_intercept = bool(fit_intercept)
        self._token = token
        self._count = itertools.count()
        self.n_passes = 0
        self._names_future = client.scatter(self._names, broadcast=True, hash=False)
        parts = _reduce(client, self._map(_moments_task, "moments"), _merge_moments, f"dreg-wide-merge-{token}")
        self._moments = models_moments(self._lab, parts, self._fit_intercept)
        #: centered moments whatever fit_intercept (the data's baseline: means and spreads)
        self.centered = self._moments if self._fit_intercept else models_moments(self._lab, parts, True)

    def _map(self, func: Any, what: str, request: Any = None) -> list[Any]:
        t = next(self._count)
        self.n_passes += 1
        args = [self._names_future] if request is None else [self._names_future, request]
        return [
            self._client.submit(func, c, *args, key=f"dreg-wide-{what}-{self._token}-{t}-{i}", pure=False)
            for i, c in enumerate(self._chunks)
        ]

    @property
    def n_features(self) -> int:
        return self._p

    @property
    def n_models(self) -> int:
        return int(self._lab.include.shape[0])

    @property
    def fit_intercept(self) -> bool:
        return self._fit_intercept

    def moments(self) -> WideMoments:
        return self._moments

    def gradients(self, coef: np.ndarray, intercept: np.ndarray) -> WideGradients:
        coef = np.asarray(coef, dtype=np.float64)
        nz = np.flatnonzero(np.any(coef != 0.0, axis=0))
        request = self._client.scatter(
            (self._p, nz, np.ascontiguousarray(coef[:, nz]), np.asarray(intercept, dtype=np.float64)),
            broadcast=True,
            hash=False,
        )
        sums = _reduce(self._client, self._map(_gradients_task, "grad", request), _add, f"dreg-wide-sum-{self._token}")
        return models_gradients(self._moments, sums, self._fit_intercept)

    def gram_block(self, rows: np.ndarray, cols: np.ndarray) -> list[sp.csc_matrix]:
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        request = self._client.scatter((rows, cols), broadcast=True, hash=False)
        per_label = _reduce(self._client, self._map(_gram_task, "gram", request), _add, f"dreg-wide-sum-{self._token}")
        return models_gram(self._lab, per_label, cols.size)

    def new_rows_errors(self, which: list[int], request: tuple[Any, ...]) -> np.ndarray:
        """:func:`_new_rows_task` summed over the chunks ``which`` (one pass over them)."""
        if not which:
            return np.zeros(4)
        t = next(self._count)
        self.n_passes += 1
        req = self._client.scatter(request, broadcast=True, hash=False)
        futures = [
            self._client.submit(
                _new_rows_task,
                self._chunks[i],
                self._names_future,
                req,
                key=f"dreg-wide-new-{self._token}-{t}-{i}",
                pure=False,
            )
            for i in which
        ]
        return _reduce(self._client, futures, _add, f"dreg-wide-sum-{self._token}")

    def release(self) -> None:
        """Drop the chunks from the workers' memory."""
        self._chunks = []


@dataclass(frozen=True, eq=False)
class WideLake:
    """A lake loaded for the wide engine: the oracle, the encoding and the files' account."""

    oracle: LakeOracle
    encoding: Encoding
    summary: WideSummary


def load_wide_lake(client: Any, lake: Any, spec: ReadSpec, *, fit_intercept: bool) -> WideLake:
    """Load the lake's files on the workers, build the encoding and the oracle (module docstring).

    Raises :class:`DataError` naming the first bad file (and how many), or a
    column whose levels or imputation cannot be built.
    """
    from dask.base import tokenize

    token = tokenize(lake.url, [f.identity() for f in lake.files], spec)[:16]
    loaded = [
        client.submit(_load, f, spec, lake.full_url(f), key=f"dreg-wide-load-{token}-{i}", pure=False)
        for i, f in enumerate(lake.files)
    ]
    summaries = [
        client.submit(_summary, x, key=f"dreg-wide-summary-{token}-{i}", pure=False) for i, x in enumerate(loaded)
    ]
    summary = _reduce(client, summaries, merge_summaries, f"dreg-wide-summaries-{token}")
    if summary.n_errors:
        from dreg.job.lake import raise_file_errors

        raise_file_errors(summary.errors, summary.n_errors)
    try:
        encoding = wide_encoding(summary, spec.encoded, list(spec.features))
    except ValueError as exc:
        raise DataError(f"lake {lake.url!r}: {exc}") from None
    enc = client.scatter(encoding, broadcast=True, hash=False)
    chunks = [
        client.submit(_encode, x, enc, key=f"dreg-wide-chunk-{token}-{i}", pure=False) for i, x in enumerate(loaded)
    ]
    del loaded, summaries  # the raw rows are freed once encoded
    names = summary.labels
    oracle = LakeOracle(client, chunks, names, len(encoding.feature_names), fit_intercept=fit_intercept, token=token)
    return WideLake(oracle, encoding, replace(summary, levels=()))
