"""The design a data pass computes statistics of, when columns are categorical or have missing values.

A lake's feature columns are numeric (possibly with missing values) or
categorical.  The model's design has, per column in the configured order:

* a numeric column ``j``: its values, a missing value replaced by the
  imputation value ``v_j`` (``impute``), then, with ``indicator``, a 0/1
  "is missing" column named ``"j=<null>"`` -- only for a column that had
  missing values in the rows of the fit, as scikit-learn's
  ``SimpleImputer(add_indicator=True)``;
* a categorical column: one 0/1 column per level (every level: the intercept
  is unpenalized and the dummies penalized, so the problem is well posed, as in
  glmnet, H2O and glum), named ``"column=level"``; null is a level of its own
  (``"column=<null>"``) and rare levels may be lumped into ``"column=<other>"``.

One pass computes the statistics of the *pass design*
``Z = [X_f, M, D_1, ..., D_c]`` per block of rows (:func:`block_design_stats`):

* ``X_f``: the numeric columns, each missing value of imputed column ``i``
  replaced by a block constant ``f_i`` (the block's observed mean, so no digit
  is lost: see :mod:`dreg.core.encode`);
* ``M``: one "is missing" column per imputed column;
* ``D_c``: the one-hot columns of the levels categorical column ``c`` takes in
  the block, sorted (:func:`dreg.core.encode.union_levels`).

The indicator and one-hot parts of the Gram are not computed from a dense
matrix (``O(m L^2)`` for ``L`` levels) but from sparse products,
``O(nnz (p + 1))`` for ``nnz`` nonzero 0/1 entries: with ``d`` the 0/1 column
of a level, ``sum_i w_i (x_i - xbar)(d_i - dbar) = sum_{level rows} w_i (x_i - xbar)``,
and two 0/1 columns have a weighted co-occurrence count.

Blocks with different levels or fills merge exactly (:func:`merge_design`): a
level a block never saw has an all-zero column there
(:func:`~dreg.core.encode.embed_features`), and a fill is changed by the exact
column operation ``X_f[:, j] += (f' - f) M[:, i]``.  At the end
:func:`finish_design` computes the imputation values and the lumping from the
merged statistics and maps them, exactly, to the model's design
(``xx' = A^T xx A`` with a sparse ``A``).  The result equals imputing, encoding
and then computing statistics, to rounding, with no second pass.

Everything here is numpy and scipy.sparse; the reader turns Arrow or pandas
columns into the integer codes used here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from numbers import Real
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dreg.core.encode import (
    NULL_LEVEL,
    OTHER_LEVEL,
    _key,
    imputation_values,
    level_name,
    lump_levels,
    union_levels,
)
from dreg.core.stats import SufficientStats, collapse, column_block_stats, empty_stats, merge

__all__ = [
    "ColumnSpec",
    "ColumnEncoding",
    "DesignSpec",
    "DesignStats",
    "Encoding",
    "EncodedRows",
    "align_design",
    "block_design_stats",
    "coef_in_pass_design",
    "DesignAccumulator",
    "TooManyColumns",
    "too_many_columns_message",
    "map_design",
    "design_matrix",
    "sparse_design",
    "linear_predictor",
    "empty_design",
    "finish_design",
    "merge_design",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

IMPUTE_RULES = ("mean", "zero")


# --------------------------------------------------------------------------- what the user asked for
@dataclass(frozen=True)
class ColumnSpec:
    """One feature column as configured.

    Attributes
    ----------
    name : str
    categorical : bool
        One-hot encode the column (every level; null is a level).
    impute : {"mean", "zero"}, float or None
        Numeric columns only: what replaces a missing (null or NaN) value.
        ``"mean"`` is the weighted mean of the observed values over the rows of
        the fit.  ``None``: a missing value is an invalid row, as without
        categorical support.
    indicator : bool
        With ``impute``: add a 0/1 "is missing" column (when the column had
        missing values in the fit).
    """

    name: str
    categorical: bool = False
    impute: str | float | None = None
    indicator: bool = False

    def __post_init__(self) -> None:
        if self.categorical and (self.impute is not None or self.indicator):
            raise ValueError(f"column {self.name!r} is categorical: null is a level of its own, it is not imputed")
        if self.impute is not None and not (
            self.impute in IMPUTE_RULES
            or (isinstance(self.impute, Real) and not isinstance(self.impute, bool) and np.isfinite(self.impute))
        ):
            raise ValueError(
                f"impute for column {self.name!r} must be 'mean', 'zero' or a finite number, got {self.impute!r}"
            )
        if self.indicator and self.impute is None:
            raise ValueError(f"column {self.name!r}: a missing indicator needs an imputation rule")


@dataclass(frozen=True)
class DesignSpec:
    """The feature columns of a fit, in order, and the level lumping threshold."""

    columns: tuple[ColumnSpec, ...]
    min_level_count: float = 0

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"feature columns repeated: {dup}")
        m = self.min_level_count
        if isinstance(m, bool) or not isinstance(m, Real) or not np.isfinite(m) or m < 0:
            raise ValueError(f"min_level_count must be a finite non-negative number, got {m!r}")

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def numeric(self) -> list[str]:
        """Numeric columns, in order: the ``X_f`` part of the pass design."""
        return [c.name for c in self.columns if not c.categorical]

    @property
    def imputed(self) -> list[str]:
        """Imputed numeric columns, in order: the ``M`` part of the pass design."""
        return [c.name for c in self.columns if c.impute is not None]

    @property
    def categorical(self) -> list[str]:
        """Categorical columns, in order: the one-hot blocks of the pass design."""
        return [c.name for c in self.columns if c.categorical]

    @property
    def plain(self) -> bool:
        """True when the design is the columns themselves (nothing encoded or imputed)."""
        return not any(c.categorical or c.impute is not None for c in self.columns)

    @classmethod
    def build(
        cls,
        features: Sequence[str],
        categorical: Sequence[str] = (),
        impute: str | float | Mapping[str, str | float] | None = None,
        indicator: bool = False,
        min_level_count: float = 0,
    ) -> DesignSpec:
        """From configuration-style arguments.

        ``impute`` is one rule for every numeric column, or a mapping
        ``{column: rule}`` for some of them (a column it names must be a
        numeric feature).
        """
        cat = set(categorical)
        unknown = sorted(cat - set(features))
        if unknown:
            raise ValueError(f"categorical column(s) {unknown} are not features")
        if isinstance(impute, Mapping):
            bad = sorted(set(impute) - set(features))
            if bad:
                raise ValueError(f"impute names column(s) {bad} that are not features")
            bad = sorted(set(impute) & cat)
            if bad:
                raise ValueError(f"impute names categorical column(s) {bad}: null is a level of its own")
            rules = dict(impute)
        elif impute is None:
            rules = {}
        else:
            rules = {f: impute for f in features if f not in cat}
        if indicator and not rules:
            raise ValueError("a missing indicator needs an imputation rule (impute)")
        cols = tuple(
            ColumnSpec(
                f,
                categorical=f in cat,
                impute=rules.get(f),
                indicator=bool(indicator) and f in rules,
            )
            for f in features
        )
        return cls(cols, min_level_count)

    def to_json(self) -> dict[str, Any]:
        return {
            "columns": [
                {"name": c.name, "categorical": c.categorical, "impute": c.impute, "indicator": c.indicator}
                for c in self.columns
            ],
            "min_level_count": self.min_level_count,
        }


# --------------------------------------------------------------------------- pass statistics
@dataclass(frozen=True, eq=False)
class DesignStats:
    """Statistics of the pass design ``Z = [X_f, M, D_1, ..., D_c]`` of some rows.

    Attributes
    ----------
    stats : SufficientStats
        ``n_features = n_numeric + len(fills) + sum(len(l) for l in levels)``.
    n_numeric : int
    imputed : tuple of int
        Position among the numeric columns of each imputed column (``M``'s order).
    fills : ndarray of shape (q,)
        The constant in place of the missing values of each imputed column:
        the mean of observed values of some of these rows (so that ``X_f``
        keeps the column's spread and no digit is lost), 0 when none was
        observed.
    fill_rows : ndarray of int of shape (q,)
        How many observed rows (of positive weight) the fill was taken from:
        a merge keeps the better-founded fill (:func:`merge_design`).
    missing_rows : ndarray of int of shape (q,)
        Rows of positive weight where the column is missing (``M``'s count).
    levels : tuple of tuple
        Per categorical column, its levels in these rows, sorted
        (:func:`~dreg.core.encode.union_levels`).
    counts : tuple of ndarray of int
        Rows with positive weight at each level.
    """

    stats: SufficientStats
    n_numeric: int
    imputed: tuple[int, ...]
    fills: FloatArray
    levels: tuple[tuple[Any, ...], ...]
    counts: tuple[IntArray, ...]
    fill_rows: IntArray = field(default=None)  # type: ignore[assignment]
    missing_rows: IntArray = field(default=None)  # type: ignore[assignment]
    # the categorical columns' names, for messages (set by the reader; kept by merges)
    names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        q = len(self.imputed)
        for name in ("fill_rows", "missing_rows"):
            if getattr(self, name) is None:
                object.__setattr__(self, name, np.zeros(q, dtype=np.int64))
        p = self.n_numeric + len(self.imputed) + sum(len(lv) for lv in self.levels)
        if self.stats.n_features != p:
            raise ValueError(f"statistics of {self.stats.n_features} features for a pass design of {p}")

    @property
    def q(self) -> int:
        return len(self.imputed)

    def offsets(self) -> list[int]:
        """First column of each one-hot block, then the total number of columns."""
        out = [self.n_numeric + self.q]
        for lv in self.levels:
            out.append(out[-1] + len(lv))
        return out

    # npz-friendly form (levels as JSON text; no pickle)
    def to_arrays(self) -> dict[str, np.ndarray]:
        import json

        arrays = {f"stats_{k}": v for k, v in self.stats.to_arrays().items()}
        arrays["design_imputed"] = np.asarray(self.imputed, dtype=np.int64)
        arrays["design_fills"] = np.asarray(self.fills, dtype=np.float64)
        arrays["design_fill_rows"] = np.asarray(self.fill_rows, dtype=np.int64)
        arrays["design_missing_rows"] = np.asarray(self.missing_rows, dtype=np.int64)
        arrays["design_n_numeric"] = np.array([self.n_numeric], dtype=np.int64)
        arrays["design_levels"] = np.array(json.dumps([list(lv) for lv in self.levels]))
        arrays["design_names"] = np.array(json.dumps(list(self.names)))
        for i, c in enumerate(self.counts):
            arrays[f"design_counts_{i}"] = np.asarray(c, dtype=np.int64)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> DesignStats:
        import json

        stats = SufficientStats.from_arrays({k[6:]: v for k, v in arrays.items() if k.startswith("stats_")})
        levels = tuple(tuple(lv) for lv in json.loads(str(arrays["design_levels"])))
        counts = tuple(np.asarray(arrays[f"design_counts_{i}"], dtype=np.int64) for i in range(len(levels)))
        return cls(
            stats=stats,
            n_numeric=int(arrays["design_n_numeric"][0]),
            imputed=tuple(int(i) for i in arrays["design_imputed"]),
            fills=np.asarray(arrays["design_fills"], dtype=np.float64),
            levels=levels,
            counts=counts,
            fill_rows=np.asarray(arrays["design_fill_rows"], dtype=np.int64),
            missing_rows=np.asarray(arrays["design_missing_rows"], dtype=np.int64),
            names=tuple(json.loads(str(arrays["design_names"]))) if "design_names" in arrays else (),
        )


def empty_design(spec: DesignSpec) -> DesignStats:
    """Statistics of zero rows for ``spec`` (the identity of :func:`merge_design`)."""
    numeric = spec.numeric
    imputed = tuple(numeric.index(c) for c in spec.imputed)
    n_cat = len(spec.categorical)
    return DesignStats(
        stats=empty_stats(len(numeric) + len(imputed)),
        n_numeric=len(numeric),
        imputed=imputed,
        fills=np.zeros(len(imputed)),
        levels=((),) * n_cat,
        counts=(np.zeros(0, dtype=np.int64),) * n_cat,
    )


def block_design_stats(
    numeric: Sequence[np.ndarray],
    missing: Sequence[np.ndarray | None],
    categorical: Sequence[tuple[np.ndarray, Sequence[Any]]],
    y: np.ndarray,
    sample_weight: np.ndarray | None,
    fold: np.ndarray | None,
    rows: np.ndarray | None,
    imputed: Sequence[int],
    scratch: np.ndarray | None = None,
) -> DesignStats:
    """Statistics of the pass design of one block of rows.

    Parameters
    ----------
    numeric : sequence of ndarray of shape (n_rows,)
        The numeric columns; an imputed column may hold NaN where missing
        (replaced here by the block's observed mean, or 0 when none is
        observed).
    missing : sequence of (ndarray of bool of shape (n_rows,) or None)
        For each imputed column (``imputed`` order), its missing rows, or None
        when none is missing.
    categorical : sequence of (codes, levels)
        Per categorical column: integer codes of the rows used (shape
        ``(n_used,)``, into ``levels``) and the levels they index (any order,
        distinct; :data:`~dreg.core.encode.NULL_LEVEL` for null).
    y, sample_weight, fold, rows, scratch
        As :func:`~dreg.core.stats.column_block_stats`: ``y``, the weights and
        the folds are those of the used rows, ``rows`` their indices.
    imputed : sequence of int
        Position among ``numeric`` of each imputed column.

    Returns
    -------
    DesignStats
        One block of a :class:`DesignAccumulator` (the same computation as
        the lake reader's, which adds a file's row groups to one).
    """
    acc = DesignAccumulator._for_block(len(numeric), imputed, len(categorical))
    acc.add(numeric, missing, categorical, y, sample_weight, fold, rows, scratch)
    return acc.finish()


# --------------------------------------------------------------------------- merging
def _refill(stats: SufficientStats, numeric_pos: IntArray, m_pos: IntArray, delta: FloatArray) -> SufficientStats:
    """Statistics after ``Z[:, numeric_pos[k]] += delta[k] * Z[:, m_pos[k]]`` for every ``k``.

    Exact column operations, all at once (one copy of ``xx``): with
    ``B = I + D``, ``D[m_k, j_k] = delta_k``, the new design is ``Z B`` and
    ``xx' = B^T xx B``.  The indicator columns ``m`` are never among the
    changed columns ``j``, so the row update ``R = B^T xx`` and then the
    column update ``R B`` read only columns they do not write.
    """
    j = np.asarray(numeric_pos, dtype=np.int64)
    m = np.asarray(m_pos, dtype=np.int64)
    d = np.asarray(delta, dtype=np.float64)
    x_mean = stats.x_mean.copy()
    xx = stats.xx.copy()
    xy = stats.xy.copy()
    x_mean[:, j] += d * x_mean[:, m]
    xy[:, j] += d * xy[:, m]
    xx[:, j, :] += d[None, :, None] * xx[:, m, :]
    xx[:, :, j] += d[None, None, :] * xx[:, :, m]
    return replace(stats, x_mean=x_mean, xx=xx, xy=xy)


def _align(d: DesignStats, levels: Sequence[tuple[Any, ...]], fills: FloatArray) -> DesignStats:
    """``d`` with the given levels (a superset of its own, same order rules) and fills."""
    stats = d.stats
    change = [
        i
        for i, (f_own, f_new) in enumerate(zip(d.fills, fills, strict=True))
        # no missing row: M's column is 0 and the fill is not in the statistics (zero-weight
        # missing rows add nothing either)
        if f_own != f_new and (d.missing_rows[i] > 0 or np.any(stats.x_mean[:, d.n_numeric + i]))
    ]
    if change:
        idx = np.asarray(change, dtype=np.int64)
        stats = _refill(
            stats,
            np.asarray(d.imputed, dtype=np.int64)[idx],
            d.n_numeric + idx,
            np.asarray(fills, dtype=np.float64)[idx] - d.fills[idx],
        )
    new_fills = np.asarray(fills, dtype=np.float64).copy()
    if all(len(a) == len(b) for a, b in zip(d.levels, levels, strict=True)):
        return replace(d, stats=stats, fills=new_fills)
    head = d.n_numeric + d.q
    positions = [np.arange(head)]
    out_off = head
    counts = []
    for own, union, cnt in zip(d.levels, levels, d.counts, strict=True):
        index = {_key(lv): i for i, lv in enumerate(union)}
        pos = np.array([index[_key(lv)] for lv in own], dtype=np.int64)
        positions.append(out_off + pos)
        full = np.zeros(len(union), dtype=np.int64)
        full[pos] = cnt
        counts.append(full)
        out_off += len(union)
    from dreg.core.encode import embed_features

    stats = embed_features(stats, np.concatenate(positions), out_off)
    return DesignStats(
        stats,
        d.n_numeric,
        d.imputed,
        new_fills,
        tuple(tuple(u) for u in levels),
        tuple(counts),
        d.fill_rows,
        d.missing_rows,
    )


def merge_design(a: DesignStats, b: DesignStats) -> DesignStats:
    """Merge the pass statistics of two disjoint row sets (exact, any levels and fills).

    The merged levels are the sorted union; the merged fill of an imputed
    column is the one taken from more observed rows (``a``'s on a tie), so a
    block where a column is entirely missing (fill 0) never shifts the others.
    """
    if a.n_numeric != b.n_numeric or a.imputed != b.imputed or len(a.levels) != len(b.levels):
        raise ValueError("cannot merge statistics of different pass designs")
    names = a.names or b.names
    levels = []
    for c, (x, y) in enumerate(zip(a.levels, b.levels, strict=True)):
        try:
            levels.append(tuple(union_levels(x, y)))
        except ValueError as exc:  # e.g. integer levels in one file, strings in another
            where = f"categorical column {names[c]!r}" if c < len(names) else f"categorical column {c}"
            raise ValueError(f"{where}: {exc}") from None
    levels = tuple(levels)
    fills = np.where(b.fill_rows > a.fill_rows, b.fills, a.fills)
    a2 = _align(a, levels, fills)
    b2 = _align(b, levels, fills)
    stats = merge(a2.stats, b2.stats)
    counts = tuple(x + y for x, y in zip(a2.counts, b2.counts, strict=True))
    return DesignStats(
        stats,
        a.n_numeric,
        a.imputed,
        fills,
        levels,
        counts,
        a.fill_rows + b.fill_rows,
        a.missing_rows + b.missing_rows,
        names,
    )


# --------------------------------------------------------------------------- the model's design
@dataclass(frozen=True)
class ColumnEncoding:
    """How one feature column becomes columns of the model's design (model.json).

    Attributes
    ----------
    name : str
    kind : {"numeric", "categorical"}
    impute : float or None
        Numeric: the value that replaces a missing value (None: not imputed).
    impute_rule : str, float or None
        What was asked (``"mean"``, ``"zero"`` or a number).
    indicator : bool
        Numeric: a ``"name=<null>"`` column follows.
    levels : tuple
        Categorical: the model's levels in design order (data levels sorted,
        then :data:`~dreg.core.encode.NULL_LEVEL` if seen, then
        :data:`~dreg.core.encode.OTHER_LEVEL` if any level was lumped).
    counts : tuple of int
        Rows of the fit at each of ``levels``.
    lumped : tuple
        Data levels merged into the other level.
    """

    name: str
    kind: str = "numeric"
    impute: float | None = None
    impute_rule: str | float | None = None
    indicator: bool = False
    levels: tuple[Any, ...] = ()
    counts: tuple[int, ...] = ()
    lumped: tuple[Any, ...] = ()

    @property
    def feature_names(self) -> list[str]:
        if self.kind == "categorical":
            return [level_name(self.name, lv) for lv in self.levels]
        return [self.name] + ([level_name(self.name, NULL_LEVEL)] if self.indicator else [])

    @property
    def width(self) -> int:
        return len(self.levels) if self.kind == "categorical" else 1 + int(self.indicator)

    def level_index(self) -> dict[tuple[str, Any], int]:
        """Data level (as :func:`~dreg.core.encode._key`) -> design column within this column's block."""
        index = {_key(lv): i for i, lv in enumerate(self.levels) if lv is not OTHER_LEVEL}
        if self.lumped:
            other = len(self.levels) - 1
            for lv in self.lumped:
                index[_key(lv)] = other
        return index

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.kind == "numeric":
            out.update(impute=self.impute, impute_rule=self.impute_rule, indicator=self.indicator)
        else:
            data = [lv for lv in self.levels if lv is not OTHER_LEVEL]
            out.update(
                levels=data,
                other=bool(self.lumped),
                counts=list(self.counts),
                lumped=list(self.lumped),
            )
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ColumnEncoding:
        if d.get("kind", "numeric") == "numeric":
            return cls(
                name=d["name"],
                impute=None if d.get("impute") is None else float(d["impute"]),
                impute_rule=d.get("impute_rule"),
                indicator=bool(d.get("indicator", False)),
            )
        levels = [*d["levels"], OTHER_LEVEL] if d.get("other") else list(d["levels"])
        return cls(
            name=d["name"],
            kind="categorical",
            levels=tuple(levels),
            counts=tuple(int(c) for c in d.get("counts", ())),
            lumped=tuple(d.get("lumped", ())),
        )


@dataclass(frozen=True)
class Encoding:
    """The model's design: how every feature column is encoded (the ``encoding`` of model.json)."""

    columns: tuple[ColumnEncoding, ...]
    min_level_count: float = 0

    @property
    def feature_names(self) -> list[str]:
        return [n for c in self.columns for n in c.feature_names]

    @property
    def plain(self) -> bool:
        return all(c.kind == "numeric" and c.impute is None for c in self.columns)

    @property
    def source_columns(self) -> list[str]:
        return [c.name for c in self.columns]

    def slices(self) -> list[slice]:
        out, start = [], 0
        for c in self.columns:
            out.append(slice(start, start + c.width))
            start += c.width
        return out

    def to_json(self) -> dict[str, Any]:
        return {"columns": [c.to_json() for c in self.columns], "min_level_count": self.min_level_count}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Encoding:
        return cls(tuple(ColumnEncoding.from_json(c) for c in d["columns"]), d.get("min_level_count", 0))

    @classmethod
    def numeric(cls, names: Sequence[str]) -> Encoding:
        return cls(tuple(ColumnEncoding(n) for n in names))


@dataclass(frozen=True, eq=False)
class FinishedDesign:
    """What :func:`finish_design` returns: the model design's statistics and its encoding."""

    stats: SufficientStats
    encoding: Encoding
    map: Any = field(repr=False, default=None)  # the sparse A with model design = Z A


def finish_design(d: DesignStats, spec: DesignSpec) -> FinishedDesign:
    """Imputation values, level lumping and the exact statistics of the model's design.

    The imputation means are the weighted means of the observed values over
    every row of ``d`` (all fold labels: the rows of the fit).  Levels with
    fewer than ``spec.min_level_count`` rows are lumped
    (:func:`~dreg.core.encode.lump_levels`).  Then ``xx' = A^T xx A`` with the
    sparse ``A`` that maps the pass design to the model's design.

    Raises
    ------
    ValueError
        A ``"mean"`` column with no observed value (naming it).
    """
    import scipy.sparse as sp

    numeric = spec.numeric
    imputed_names = spec.imputed
    q = d.q
    fills0 = np.asarray(d.fills, dtype=np.float64)
    total = collapse(d.stats) if d.stats.n_labels else None
    rules = [next(c.impute for c in spec.columns if c.name == n) for n in imputed_names]
    if q:
        if total is None:
            values = np.array([0.0 if r in ("mean", "zero") else float(r) for r in rules])
        else:
            head = d.n_numeric + q
            sub = _head_stats(total, head)
            try:
                values = imputation_values(sub, list(d.imputed), rules, fill=fills0)
            except ValueError as exc:
                msg = str(exc)
                for i, j in enumerate(d.imputed):
                    msg = msg.replace(f"feature {j} ", f"column {numeric[j]!r} ")
                raise ValueError(msg) from None
    else:
        values = np.zeros(0)
    had_missing = d.missing_rows > 0
    lumps = [lump_levels(lv, cnt, spec.min_level_count) for lv, cnt in zip(d.levels, d.counts, strict=True)]
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    columns: list[ColumnEncoding] = []
    out = 0
    offs = d.offsets()
    cat_i = 0
    for c in spec.columns:
        if c.categorical:
            lump = lumps[cat_i]
            a = offs[cat_i]
            r, k = np.arange(lump.target.size), lump.target
            rows += (a + r).tolist()
            cols += (out + k).tolist()
            vals += [1.0] * len(r)
            cnt = np.rint(lump.out_counts(d.counts[cat_i])).astype(np.int64) if len(lump.levels) else np.zeros(0)
            columns.append(
                ColumnEncoding(
                    name=c.name,
                    kind="categorical",
                    levels=lump.levels,
                    counts=tuple(int(x) for x in np.asarray(cnt).ravel()),
                    lumped=lump.lumped,
                )
            )
            out += len(lump.levels)
            cat_i += 1
            continue
        j = numeric.index(c.name)
        rows.append(j)
        cols.append(out)
        vals.append(1.0)
        if c.impute is None:
            columns.append(ColumnEncoding(c.name))
            out += 1
            continue
        i = imputed_names.index(c.name)
        mi = d.n_numeric + i
        if had_missing[i]:
            rows.append(mi)
            cols.append(out)
            vals.append(float(values[i] - fills0[i]))
        indicator = c.indicator and bool(had_missing[i])
        if indicator:
            rows.append(mi)
            cols.append(out + 1)
            vals.append(1.0)
        columns.append(
            ColumnEncoding(c.name, impute=float(values[i]), impute_rule=c.impute, indicator=indicator)
        )
        out += 1 + int(indicator)
    A = sp.csr_matrix((vals, (rows, cols)), shape=(d.stats.n_features, out))
    return FinishedDesign(
        stats=_map_sparse(d.stats, A),
        encoding=Encoding(tuple(columns), spec.min_level_count),
        map=A,
    )


def align_design(part: DesignStats, whole: DesignStats) -> DesignStats:
    """``part`` (e.g. the new files' statistics) with the levels and fills of ``whole``
    (all files' statistics, which include ``part``'s rows)."""
    return _align(part, whole.levels, whole.fills)


def map_design(part: DesignStats, finished: FinishedDesign) -> SufficientStats:
    """Statistics of the model's design for ``part``, aligned (:func:`align_design`) to the
    statistics :func:`finish_design` finished: the same exact map."""
    return _map_sparse(part.stats, finished.map)


def coef_in_pass_design(encoding: Encoding, coef: ArrayLike, d: DesignStats, spec: DesignSpec) -> FloatArray | str:
    """A fixed model's coefficients as coefficients of the pass design ``Z`` of ``d``.

    ``eta = Z @ result + intercept`` on every row of ``d``, exactly: a model
    with its own imputation values, levels and lumping (e.g. a champion fitted
    on other files) scores rows summarized in another fit's pass statistics.
    A level it does not know scores 0 (all-zero dummies); a lumped level
    scores its other level.  Returns the reason as a string when that is not
    possible (a column it lacks, or missing values it cannot impute).
    """
    coef = np.asarray(coef, dtype=np.float64)
    out = np.zeros(d.stats.n_features)
    by_name = {c.name: (c, sl) for c, sl in zip(encoding.columns, encoding.slices(), strict=True)}
    read = set(spec.names)
    for name, (_, sl) in by_name.items():
        if name not in read and np.any(coef[sl] != 0):
            return f"the model uses column {name!r}, which this fit does not read"
    numeric = spec.numeric
    imputed = spec.imputed
    offs = d.offsets()
    cat_i = 0
    for c in spec.columns:
        enc = by_name.get(c.name)
        if c.categorical:
            levels, start = d.levels[cat_i], offs[cat_i]
            cat_i += 1
            if enc is None:
                if levels:
                    return f"the model has no column {c.name!r}"
                continue
            if enc[0].kind != "categorical":
                return f"column {c.name!r} is numeric in the model, categorical now"
            index = enc[0].level_index()
            beta = coef[enc[1]]
            for i, lv in enumerate(levels):
                k = index.get(_key(lv))
                if k is not None:
                    out[start + i] = beta[k]
            continue
        if enc is None:
            return f"the model has no column {c.name!r}"
        ce, sl = enc
        if ce.kind != "numeric":
            return f"column {c.name!r} is categorical in the model, numeric now"
        j = numeric.index(c.name)
        beta = coef[sl]
        out[j] = beta[0]
        if c.name in imputed:
            i = imputed.index(c.name)
            if d.missing_rows[i] == 0:
                continue  # no missing value in these rows
            if ce.impute is None:
                return f"column {c.name!r} has missing values that the model does not impute"
            # X_f[:, j] holds the fill where missing: add (v - f) beta per missing row, and the indicator
            mi = d.n_numeric + i
            out[mi] = beta[0] * (ce.impute - float(d.fills[i])) + (beta[1] if ce.indicator else 0.0)
    return out


def _head_stats(s: SufficientStats, p: int) -> SufficientStats:
    return replace(s, x_mean=s.x_mean[:, :p], xx=s.xx[:, :p, :p], xy=s.xy[:, :p], nonfinite_x=s.nonfinite_x[:p])


def _map_sparse(s: SufficientStats, A: Any) -> SufficientStats:
    """:func:`dreg.core.encode.map_features` for a sparse ``A``: ``O(nnz(A) p)`` per label."""
    At = A.T.tocsr()
    K = s.n_labels
    p_out = A.shape[1]
    xx = np.empty((K, p_out, p_out))
    for k in range(K):
        B = np.asarray(At @ s.xx[k])  # (p_out, p_in)
        G = np.asarray(At @ B.T)  # (p_out, p_out) = A^T xx A
        xx[k] = 0.5 * (G + G.T)
    x_mean = np.asarray((At @ s.x_mean.T).T) if K else np.zeros((0, p_out))
    xy = np.asarray((At @ s.xy.T).T) if K else np.zeros((0, p_out))
    nonfinite_x = (abs(At) > 0).astype(np.int64) @ np.asarray(s.nonfinite_x, dtype=np.int64)
    return replace(s, x_mean=x_mean, xx=xx, xy=xy, nonfinite_x=np.asarray(nonfinite_x, dtype=np.int64))


# --------------------------------------------------------------------------- encoding rows
@dataclass(frozen=True, eq=False)
class EncodedRows:
    """Rows encoded with a model's :class:`Encoding`.

    Attributes
    ----------
    X : ndarray of shape (n_rows, n_features) or None
        The model's design (None from :func:`linear_predictor`).
    eta : ndarray of shape (n_rows,) or None
        ``X @ coef + intercept`` (only from :func:`linear_predictor`).
    unseen : dict
        ``{column: {level: rows}}``: levels of categorical columns that the
        model does not know; their rows get all-zero dummies for the column.
    """

    X: FloatArray | None
    eta: FloatArray | None
    unseen: dict[str, dict[Any, int]]


def _column_parts(
    encoding: Encoding,
    numeric: Mapping[str, np.ndarray],
    categorical: Mapping[str, tuple[np.ndarray, Sequence[Any]]],
) -> tuple[list[Any], dict[str, dict[Any, int]], int]:
    """Per encoded column: ``("num", values, has_missing)`` or ``("cat", design column per row or -1)``."""
    unseen: dict[str, dict[Any, int]] = {}
    parts: list[Any] = []
    n = None
    for c in encoding.columns:
        if c.kind == "categorical":
            if c.name not in categorical:
                raise KeyError(c.name)
            codes, levels = categorical[c.name]
            codes = np.asarray(codes, dtype=np.int64)
            index = c.level_index()
            where = np.array([index.get(_key(lv), -1) for lv in levels], dtype=np.int64)
            col = where[codes] if codes.size else np.zeros(0, dtype=np.int64)
            if np.any(col < 0):
                counts = np.bincount(codes[col < 0], minlength=len(levels))
                unseen[c.name] = {levels[i]: int(k) for i, k in enumerate(counts) if k}
            parts.append(("cat", col))
            n = col.shape[0]
        else:
            if c.name not in numeric:
                raise KeyError(c.name)
            x = np.asarray(numeric[c.name], dtype=np.float64)
            miss = np.isnan(x)
            if c.impute is not None:
                x = np.where(miss, c.impute, x)
            parts.append(("num", x, miss))
            n = x.shape[0]
    return parts, unseen, 0 if n is None else n


def design_matrix(
    encoding: Encoding,
    numeric: Mapping[str, np.ndarray],
    categorical: Mapping[str, tuple[np.ndarray, Sequence[Any]]],
) -> EncodedRows:
    """The model's design for some rows: imputed numeric columns, indicators, one-hot levels.

    Parameters
    ----------
    encoding : Encoding
    numeric : mapping
        Numeric column name -> float values (NaN where missing).  A column
        without imputation keeps its NaN (the caller decides what that means).
    categorical : mapping
        Categorical column name -> ``(codes, levels)`` as
        :func:`dreg.job.lake.categorical_codes` gives them.  A rare level
        lumped at the fit goes to the column's other level; a level the model
        does not know gets all-zero dummies and is counted in ``unseen``.
    """
    parts, unseen, n = _column_parts(encoding, numeric, categorical)
    X = np.zeros((n, sum(c.width for c in encoding.columns)))
    for c, part, sl in zip(encoding.columns, parts, encoding.slices(), strict=True):
        if part[0] == "cat":
            col = part[1]
            ok = col >= 0
            X[np.flatnonzero(ok), sl.start + col[ok]] = 1.0
        else:
            X[:, sl.start] = part[1]
            if c.indicator:
                X[:, sl.start + 1] = part[2]
    return EncodedRows(X=X, eta=None, unseen=unseen)


def linear_predictor(
    encoding: Encoding,
    numeric: Mapping[str, np.ndarray],
    categorical: Mapping[str, tuple[np.ndarray, Sequence[Any]]],
    coef: ArrayLike,
    intercept: float,
) -> EncodedRows:
    """``eta = X @ coef + intercept`` without building the one-hot columns.

    A categorical column adds the coefficient of each row's level (a gather),
    so a column of many levels costs one lookup per row.  Equal to
    ``design_matrix(...).X @ coef + intercept`` up to the order of summation.
    A row with a missing value in a numeric column that is not imputed gets
    NaN.
    """
    coef = np.asarray(coef, dtype=np.float64)
    parts, unseen, n = _column_parts(encoding, numeric, categorical)
    eta = np.full(n, float(intercept))
    for c, part, sl in zip(encoding.columns, parts, encoding.slices(), strict=True):
        beta = coef[sl]
        if part[0] == "cat":
            col = part[1]
            ext = np.concatenate([beta, [0.0]])  # -1 (unseen) -> the appended 0
            eta += ext[col]
        else:
            eta += beta[0] * part[1]
            if c.indicator:
                eta += beta[1] * part[2]
    return EncodedRows(X=None, eta=eta, unseen=unseen)


def sparse_design(
    encoding: Encoding,
    numeric: Mapping[str, np.ndarray],
    categorical: Mapping[str, tuple[np.ndarray, Sequence[Any]]],
) -> tuple[Any, dict[str, dict[Any, int]]]:
    """:func:`design_matrix` as a ``scipy.sparse`` CSC matrix: ``(X, unseen)``.

    The same columns and values, with only the nonzero entries stored: a
    categorical column of ``L`` levels costs one entry per row, not ``L``
    (the wide engine's chunks, where ``L`` may be 20,000 or more).  A missing
    value of a numeric column that is not imputed stays NaN (stored).
    """
    import scipy.sparse as sp

    parts, unseen, n = _column_parts(encoding, numeric, categorical)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    every = np.arange(n, dtype=np.int64)
    for c, part, sl in zip(encoding.columns, parts, encoding.slices(), strict=True):
        if part[0] == "cat":
            col = part[1]
            ok = col >= 0
            rows.append(every[ok])
            cols.append(sl.start + col[ok])
            vals.append(np.ones(int(ok.sum())))
            continue
        x, miss = part[1], part[2]
        nz = x != 0.0  # NaN != 0: a missing value that is not imputed is kept
        rows.append(every[nz])
        cols.append(np.full(int(nz.sum()), sl.start, dtype=np.int64))
        vals.append(x[nz])
        if c.indicator:
            rows.append(every[miss])
            cols.append(np.full(int(miss.sum()), sl.start + 1, dtype=np.int64))
            vals.append(np.ones(int(miss.sum())))
    width = sum(c.width for c in encoding.columns)
    if rows:
        r, k, v = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    else:
        r = k = np.zeros(0, dtype=np.int64)
        v = np.zeros(0)
    X = sp.csc_matrix((v, (r, k)), shape=(n, width))
    X.sum_duplicates()
    return X, unseen


# --------------------------------------------------------------------------- a file's row groups
class TooManyColumns(ValueError):
    """The pass design is wider than the Gram engine's memory limit allows."""


def too_many_columns_message(
    width: int, max_columns: int, numeric: int, indicators: int, levels: Mapping[str, int], when: str = ""
) -> str:
    """What makes a pass design too wide: its columns by kind, the categorical columns by level count."""
    by_size = sorted(levels.items(), key=lambda kv: -kv[1])
    shown = ", ".join(f"{name!r} {k:,}" for name, k in by_size[:5]) + (
        f" and {len(by_size) - 5} more" if len(by_size) > 5 else ""
    )
    return (
        f"the design has {width:,} columns{(' ' + when) if when else ''} ({numeric:,} numeric, "
        f"{indicators:,} missing indicators, {sum(levels.values()):,} categorical levels: {shown}), more than the "
        f"{max_columns:,} whose per-fold Gram matrices fit in max_gram_bytes"
    )


class DesignAccumulator:
    """The pass statistics of consecutive blocks (a file's row groups), accumulated cheaply.

    :func:`block_design_stats` then :func:`merge_design` per block costs
    ``O(K p^2)`` memory traffic per block (a full Gram of the pass design, and
    Chan's merge of it); with many levels that dominates.  Here the numeric
    columns are merged per block as usual (a small Gram), while the sparse
    0/1 columns (indicators and levels) only *add* raw per-fold sums, with the
    numeric columns and ``y`` shifted by a fixed shift ``s`` (the first
    block's means)::

        cw += S_k^T w,   T += S_k^T diag(w) (C_k - s),   G += S_k^T diag(w) S_k

    in place, and :meth:`finish` centers them once, exactly: the cross
    products are ``T - cw (xbar_k - s)^T`` and the 0/1 Gram
    ``G - cw cw^T / W_k`` (an indicator's variance ``cw (W_k - cw) / W_k`` with
    ``W_k - cw`` summed over its observed rows: exactly 0 when every row is
    missing).  Levels get a slot when first seen and are sorted at the end.  A
    block whose fill for an imputed column would differ from the one already
    used (possible only before the column's first observed value) starts a
    new run, merged by :func:`merge_design`.  The result equals merging the
    blocks' own statistics (:func:`block_design_stats`), to rounding.
    """

    def __init__(self, spec: DesignSpec, max_columns: int | None = None) -> None:
        self._n_numeric = len(spec.numeric)
        self._imputed = tuple(spec.numeric.index(c) for c in spec.imputed)
        self._names = tuple(spec.categorical)
        self._done: DesignStats | None = None
        # the pass design's width beyond which add() raises instead of growing the raw sums
        # (each fold keeps (pass columns)^2 of them: a column with 20,000 levels would take GBs)
        self.max_columns = max_columns
        self._reset()

    @classmethod
    def _for_block(cls, n_numeric: int, imputed: Sequence[int], n_categorical: int) -> DesignAccumulator:
        """An accumulator by layout alone (:func:`block_design_stats`): columns named by position."""
        acc = cls.__new__(cls)
        acc._n_numeric = int(n_numeric)
        acc._imputed = tuple(int(i) for i in imputed)
        acc._names = tuple(f"#{c}" for c in range(n_categorical))
        acc._done = None
        acc.max_columns = None
        acc._reset()
        return acc

    def _reset(self) -> None:
        q = len(self._imputed)
        self._dense: SufficientStats | None = None
        self._fills = np.zeros(q)
        self._fill_rows = np.zeros(q, dtype=np.int64)
        self._missing_rows = np.zeros(q, dtype=np.int64)
        self._index: list[dict[tuple[str, Any], int]] = [{} for _ in self._names]  # level key -> slot
        self._kinds: list[set[str]] = [set() for _ in self._names]  # kinds of levels seen (one data kind)
        self._slots: list[tuple[int, Any]] = []  # slot - q -> (column, level), in order of first sight
        self._counts: list[int] = []  # rows of positive weight per slot - q
        self._shift: FloatArray | None = None
        self._raw: dict[int, list[np.ndarray]] = {}  # label -> [cw, comp, T, G]

    def add(
        self,
        numeric: Sequence[np.ndarray],
        missing: Sequence[np.ndarray | None],
        categorical: Sequence[tuple[np.ndarray, Sequence[Any]]],
        y: np.ndarray,
        sample_weight: np.ndarray | None,
        fold: np.ndarray | None,
        rows: np.ndarray | None,
        scratch: np.ndarray | None = None,
    ) -> SufficientStats:
        """Add a block (arguments as :func:`block_design_stats`); returns the statistics of its
        numeric columns, for the caller's NaN/inf check."""
        import scipy.sparse as sp

        from dreg.core.encode import _single_kind

        m = int(y.shape[0])
        q = len(self._imputed)
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        w_pos = np.ones(m, dtype=bool) if w is None else w > 0
        dense: list[np.ndarray] = list(numeric)
        fills = self._fills.copy()
        fill_rows = np.zeros(q, dtype=np.int64)
        missing_rows = np.zeros(q, dtype=np.int64)
        miss_used: list[np.ndarray | None] = []
        restart = False
        for i, (j, miss) in enumerate(zip(self._imputed, missing, strict=True)):
            col = np.asarray(numeric[j], dtype=np.float64)
            used = col if rows is None else col[rows]
            mu = None if miss is None else (miss if rows is None else miss[rows])
            obs = used[w_pos if mu is None else (~mu & w_pos)]
            obs = obs[np.isfinite(obs)]  # infinities are reported by the caller
            fill_rows[i] = obs.size
            missing_rows[i] = 0 if mu is None else int(np.count_nonzero(mu & w_pos))
            if self._fill_rows[i] == 0 and obs.size:
                # the first observed values set the run's fill; missing rows filled before
                # with another value start a new run
                restart |= bool(self._missing_rows[i] > 0)
                fills[i] = float(np.mean(obs))
            if miss is not None:
                dense[j] = np.where(miss, fills[i], col)
            miss_used.append(mu)
        if restart:
            self._flush()
        self._fills = fills
        self._fill_rows += fill_rows
        self._missing_rows += missing_rows
        base = column_block_stats(dense, y, w, fold, rows, scratch) if m else empty_stats(len(dense))
        self._dense = base if self._dense is None else merge(self._dense, base)
        if m == 0:
            return base
        # each level's slot (sparse column q + slot): new levels go to the end
        cat_cols = []
        for c, (codes, levels) in enumerate(categorical):
            codes = np.asarray(codes, dtype=np.int64)
            present = np.bincount(codes, minlength=len(levels)) > 0
            remap = np.full(len(levels), -1, dtype=np.int64)
            for i, lv in enumerate(levels):
                if not present[i]:
                    continue
                key = _key(lv)
                slot = self._index[c].get(key)
                if slot is None:
                    if key[0] not in self._kinds[c]:
                        try:
                            _single_kind([*self._kinds[c], key[0]])
                        except ValueError as exc:
                            raise ValueError(f"categorical column {self._names[c]!r}: {exc}") from None
                        self._kinds[c].add(key[0])
                    slot = len(self._slots)
                    self._index[c][key] = slot
                    self._slots.append((c, key[1]))
                    self._counts.append(0)
                remap[i] = slot
            slots = remap[codes]
            for slot, k in enumerate(np.bincount(slots[w_pos], minlength=len(self._slots))):
                if k:
                    self._counts[slot] += int(k)
            cat_cols.append(q + slots)
        if not q and not cat_cols:
            return base
        pd = len(dense)
        if self._shift is None:
            W = base.weight_sum
            tot = float(W.sum())
            self._shift = np.concatenate([W @ base.x_mean, [W @ base.y_mean]]) / tot if tot > 0 else np.zeros(pd + 1)
        C = np.empty((m, pd + 1))
        for j, col in enumerate(dense):
            x = np.asarray(col, dtype=np.float64)
            C[:, j] = x if rows is None else x[rows]
        C[:, pd] = y
        C -= self._shift
        ns = q + len(self._slots)
        r_parts, c_parts = [], []
        for i, mu in enumerate(miss_used):
            if mu is not None:
                r = np.flatnonzero(mu)
                r_parts.append(r)
                c_parts.append(np.full(r.shape[0], i, dtype=np.int64))
        for cols in cat_cols:
            r_parts.append(np.arange(m, dtype=np.int64))
            c_parts.append(cols)
        r_all = np.concatenate(r_parts) if r_parts else np.zeros(0, dtype=np.int64)
        c_all = np.concatenate(c_parts) if c_parts else np.zeros(0, dtype=np.int64)
        labels = np.zeros(m, dtype=np.int64) if fold is None else np.asarray(fold, dtype=np.int64)
        order = np.argsort(labels, kind="stable")
        where = np.empty(m, dtype=np.int64)
        where[order] = np.arange(m)
        S = sp.csr_matrix((np.ones(r_all.shape[0]), (where[r_all], c_all)), shape=(m, ns))
        present_labels, starts = np.unique(labels[order], return_index=True)
        ends = np.append(starts[1:], m)
        Cs = C[order]
        ws = np.ones(m) if w is None else w[order]
        if self.max_columns is not None and pd + ns > self.max_columns:
            raise TooManyColumns(
                too_many_columns_message(
                    pd + ns,
                    self.max_columns,
                    pd,
                    q,
                    {name: sum(1 for c, _ in self._slots if c == k) for k, name in enumerate(self._names)},
                    "so far",
                )
            )
        self._grow(ns, pd)
        for label, a, b in zip(present_labels.tolist(), starts.tolist(), ends.tolist(), strict=True):
            acc = self._raw.get(label)
            if acc is None:
                acc = [np.zeros(ns), np.zeros(q), np.zeros((ns, pd + 1)), np.zeros((ns, ns))]
                self._raw[label] = acc
            Sk = S[a:b]
            wk = ws[a:b]
            Skw = sp.csr_matrix(Sk.multiply(wk[:, None]))
            acc[0] += np.asarray(Skw.sum(axis=0)).ravel()
            acc[2] += np.asarray(Skw.T @ Cs[a:b])
            G = (Skw.T @ Sk).tocoo()
            G.sum_duplicates()
            acc[3][G.row, G.col] += G.data
            if q:
                Mk = sp.csc_matrix(Sk[:, :q])
                for i in range(q):
                    observed = np.ones(b - a, dtype=bool)
                    observed[Mk.indices[Mk.indptr[i] : Mk.indptr[i + 1]]] = False
                    acc[1][i] += wk[observed].sum()
        return base

    def _grow(self, ns: int, pd: int) -> None:
        """Pad the raw sums to ``ns`` sparse columns (new levels take the last slots)."""
        for acc in self._raw.values():
            old = acc[0].shape[0]
            if old == ns:
                continue
            extra = ns - old
            acc[0] = np.concatenate([acc[0], np.zeros(extra)])
            acc[2] = np.vstack([acc[2], np.zeros((extra, pd + 1))])
            G = np.zeros((ns, ns))
            G[:old, :old] = acc[3]
            acc[3] = G

    def _current(self) -> DesignStats:
        """The run's statistics as :class:`DesignStats` (centered, levels sorted)."""
        q = len(self._imputed)
        n_num = self._n_numeric
        dense = self._dense if self._dense is not None else empty_stats(n_num)
        # Z order: M, then per column its levels sorted
        levels, counts, perm = [], [], list(range(q))
        for c in range(len(self._names)):
            mine = [(lv, s) for (cc, lv), s in zip(self._slots, range(len(self._slots)), strict=True) if cc == c]
            order = union_levels([lv for lv, _ in mine])
            slot_of = {_key(lv): s for lv, s in mine}
            levels.append(tuple(order))
            counts.append(np.array([self._counts[slot_of[_key(lv)]] for lv in order], dtype=np.int64))
            perm += [q + slot_of[_key(lv)] for lv in order]
        perm_a = np.asarray(perm, dtype=np.int64)
        ns = len(perm)
        pd = n_num
        K = dense.n_labels
        p = pd + ns
        x_mean = np.zeros((K, p))
        xx = np.zeros((K, p, p))
        xy = np.zeros((K, p))
        x_mean[:, :pd] = dense.x_mean
        xx[:, :pd, :pd] = dense.xx
        xy[:, :pd] = dense.xy
        for k, label in enumerate(dense.labels.tolist()):
            W = float(dense.weight_sum[k])
            acc = self._raw.get(label)
            if acc is None or W <= 0.0 or not ns:
                continue
            cw, comp, T, G = acc[0][perm_a], acc[1], acc[2][perm_a], acc[3][np.ix_(perm_a, perm_a)]
            d = np.concatenate([dense.x_mean[k], [dense.y_mean[k]]]) - self._shift
            cross = T - cw[:, None] * d[None, :]
            Gc = G - np.outer(cw, cw) / W
            if q:
                Gc[np.arange(q), np.arange(q)] = cw[:q] * comp / W
            x_mean[k, pd:] = cw / W
            xx[k, pd:, :pd] = cross[:, :pd]
            xx[k, :pd, pd:] = cross[:, :pd].T
            xx[k, pd:, pd:] = 0.5 * (Gc + Gc.T)
            xy[k, pd:] = cross[:, pd]
        stats = replace(
            dense,
            x_mean=x_mean,
            xx=xx,
            xy=xy,
            nonfinite_x=np.concatenate([dense.nonfinite_x, np.zeros(ns, dtype=np.int64)]),
        )
        return DesignStats(
            stats=stats,
            n_numeric=n_num,
            imputed=self._imputed,
            fills=self._fills.copy(),
            levels=tuple(levels),
            counts=tuple(counts),
            fill_rows=self._fill_rows.copy(),
            missing_rows=self._missing_rows.copy(),
            names=self._names,
        )

    def _flush(self) -> None:
        if self._dense is None:
            return
        cur = self._current()
        self._done = cur if self._done is None else merge_design(self._done, cur)
        self._reset()

    def finish(self) -> DesignStats:
        """The pass statistics of every block added."""
        cur = self._current()
        out = cur if self._done is None else merge_design(self._done, cur)
        self._done = None
        self._reset()
        return out
