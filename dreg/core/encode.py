"""Categorical features and missing numeric values as exact linear maps of statistics.

Every transformation of the design needed here -- aligning one-hot columns to
the union of the levels seen across files, lumping rare levels, imputing
missing values, adding missing-value indicators -- is a linear map of the
columns, ``Z' = Z A`` with ``A`` of shape ``(p_in, p_out)``.  Centered
statistics transform exactly under a linear map: for the rows ``z_i`` of one
fold label, ``z'_i - zbar' = A^T (z_i - zbar)``, hence::

    x_mean' = x_mean A,    xx' = A^T xx A,    xy' = A^T xy,

with ``count``, ``weight_sum``, ``y_mean`` and ``yy`` unchanged.  So the single
pass over the data computes ordinary :class:`~dreg.core.stats.SufficientStats`
of an augmented design, and everything else happens on the coordinator,
exactly, without a second pass:

* one-hot columns of the levels a file saw are placed among the union of
  levels with :func:`embed_features` (an absent level has a column that is
  identically 0 in that file: zero mean, zero Gram rows);
* rare levels are summed into one "other" column with :func:`lump_levels`
  and :func:`map_features` (one-hot columns of distinct levels add up to the
  one-hot column of their union);
* for missing numeric values the pass stores ``Z = [X_f, M]``: ``X`` with each
  missing value of imputed feature ``j`` replaced by a constant ``f_j`` (the
  "fill", 0 by default) and one 0/1 "is missing" column per imputed feature;
  the imputed design ``X~ = X_f + M diag(v - f)`` and the indicators ``M`` are
  a linear map of ``Z`` (:func:`imputation_values`, :func:`imputation_map`).

Rounding: :func:`map_features` is exact in exact arithmetic; in float64 the
absolute error of ``xx'[k, j, l]`` is of order ``eps s_j s_l`` with
``s = |A|^T sqrt(diag(xx[k]))``.  That is full relative accuracy unless the
map cancels large columns.  Imputing with fill 0 a feature whose observed
values have mean ``mu`` and spread ``sigma << |mu|`` is such a cancellation:
about ``log10(mu^2 / sigma^2)`` digits of its centered statistics are lost (12
for ``mu = 1e6, sigma = 1``).  A fill near ``mu`` (e.g. the midpoint of the
column's minimum and maximum from the Parquet footer statistics, known before
the pass) loses nothing.

Everything here is pure numpy: no Dask, pandas or pyarrow import.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from numbers import Real
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dreg.core.stats import SufficientStats

__all__ = [
    "NULL_LEVEL",
    "OTHER_LEVEL",
    "LevelLumping",
    "embed_features",
    "imputation_map",
    "imputation_values",
    "level_name",
    "lump_levels",
    "map_features",
    "one_hot_positions",
    "union_levels",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# an observed weight fraction at or below this is treated as "every row missing":
# the mean of M carries rounding of order 1e-16, so the observed mean would have
# a relative error of 1e-4 or worse
_MIN_OBSERVED_FRACTION = 1e-12


# --------------------------------------------------------------------------- linear maps
def map_features(stats: SufficientStats, A: ArrayLike) -> SufficientStats:
    """Statistics of the mapped design ``Z A``, per fold label, from those of ``Z``.

    For each label ``k`` (rows ``z_i``, weights ``w_i``), since
    ``z_i A - zbar A = A^T (z_i - zbar)``::

        x_mean'[k] = x_mean[k] A
        xx'[k]     = A^T xx[k] A      (sum_i w_i A^T (z_i - zbar)(z_i - zbar)^T A)
        xy'[k]     = A^T xy[k]

    ``count``, ``weight_sum``, ``y_mean`` and ``yy`` are unchanged.  Exact in
    exact arithmetic, so mapping commutes with :func:`~dreg.core.stats.merge`.
    In float64 the absolute error of ``xx'[k, j, l]`` is of order
    ``eps s_j s_l`` with ``s = |A|^T sqrt(diag(xx[k]))``: large only where the
    map cancels large columns (see the module docstring).

    Parameters
    ----------
    stats : SufficientStats
        Statistics of ``Z`` with ``n_features = p_in``.
    A : array-like of shape (p_in, p_out)
        Finite real matrix; column ``j`` holds the coefficients of output
        feature ``j``.

    Returns
    -------
    SufficientStats
        With ``n_features = p_out``.  ``nonfinite_x[j]`` is the sum of
        ``stats.nonfinite_x[i]`` over the input columns ``i`` with
        ``A[i, j] != 0`` (the NaN/inf values that reach output column ``j``).
        ``nonfinite_y``, ``nonfinite_w``, ``negative_w`` and ``n_blocks`` are
        kept.

    Raises
    ------
    ValueError
        If ``A`` is not a finite real matrix with ``stats.n_features`` rows.
    """
    A = np.asarray(A)
    if A.ndim != 2 or A.shape[0] != stats.n_features:
        raise ValueError(
            f"A must have shape ({stats.n_features}, n_out) to map statistics of {stats.n_features} features, "
            f"got shape {A.shape}"
        )
    if A.dtype.kind not in "biuf":
        raise ValueError(f"A must be a real matrix, got dtype {A.dtype}")
    A = A.astype(np.float64, copy=False)
    if not np.all(np.isfinite(A)):
        raise ValueError(f"A must be finite, got {int(np.count_nonzero(~np.isfinite(A)))} NaN/inf entries")
    # batched A^T (xx A) over the label axis: (p_out, p_in) @ (K, p_in, p_out)
    xx = A.T @ (stats.xx @ A)
    xx = 0.5 * (xx + np.swapaxes(xx, 1, 2))
    nonfinite_x = (A != 0).astype(np.int64).T @ np.asarray(stats.nonfinite_x, dtype=np.int64)
    # the per-label counts, y moments and counters are unchanged (read-only arrays, shared)
    return replace(stats, x_mean=stats.x_mean @ A, xx=xx, xy=stats.xy @ A, nonfinite_x=nonfinite_x)


def embed_features(stats: SufficientStats, positions: ArrayLike, n_out: int) -> SufficientStats:
    """Place the features of ``stats`` at given columns of a wider design of zero columns.

    Input column ``i`` becomes output column ``positions[i]``; every other
    output column is identically 0 (mean 0, zero rows and columns of ``xx``,
    zero ``xy``, no NaN/inf).  This equals ``map_features(stats, E)`` with
    ``E[i, positions[i]] = 1`` and zeros elsewhere, done by index scatter and
    exactly (no arithmetic).  It aligns the statistics of a file, whose one-hot
    columns are those of the levels it saw, to the union of levels across
    files: a level absent from the file has a one-hot column that is 0 on all
    of the file's rows.

    Parameters
    ----------
    stats : SufficientStats
        Statistics with ``n_features = p_in``.
    positions : array-like of int of shape (p_in,)
        Distinct output columns, each in ``[0, n_out)``.
    n_out : int
        Number of output features.

    Returns
    -------
    SufficientStats
        With ``n_features = n_out``; counters and ``n_blocks`` kept.

    Raises
    ------
    ValueError
        If ``positions`` has the wrong length, is not integer, repeats a
        column or is out of range.
    """
    if isinstance(n_out, bool) or not isinstance(n_out, (int, np.integer)) or n_out < 0:
        raise ValueError(f"n_out must be a non-negative integer, got {n_out!r}")
    n_out = int(n_out)
    pos = np.asarray(positions)
    p = stats.n_features
    if pos.ndim != 1 or pos.shape[0] != p:
        raise ValueError(f"positions must have shape ({p},) for statistics of {p} features, got shape {pos.shape}")
    if p and pos.dtype.kind not in "iu":
        raise ValueError(f"positions must be integers, got dtype {pos.dtype}")
    pos = pos.astype(np.int64)
    if p and (pos.min() < 0 or pos.max() >= n_out):
        bad = pos[(pos < 0) | (pos >= n_out)]
        raise ValueError(f"positions must lie in [0, {n_out}), got {bad.tolist()}")
    if np.unique(pos).shape[0] != p:
        values, counts = np.unique(pos, return_counts=True)
        raise ValueError(f"positions must be distinct, got repeated {values[counts > 1].tolist()}")
    K = stats.n_labels
    x_mean = np.zeros((K, n_out))
    x_mean[:, pos] = stats.x_mean
    xx = np.zeros((K, n_out, n_out))
    xx[:, pos[:, None], pos[None, :]] = stats.xx
    xy = np.zeros((K, n_out))
    xy[:, pos] = stats.xy
    nonfinite_x = np.zeros(n_out, dtype=np.int64)
    nonfinite_x[pos] = stats.nonfinite_x
    return replace(stats, x_mean=x_mean, xx=xx, xy=xy, nonfinite_x=nonfinite_x)


# --------------------------------------------------------------------------- categorical levels
class _OtherLevel:
    """The type of :data:`OTHER_LEVEL`: one instance, kept by copy and pickle."""

    _instance: _OtherLevel | None = None

    def __new__(cls) -> _OtherLevel:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "OTHER_LEVEL"

    def __reduce__(self) -> str:
        # pickle and copy refer to the module attribute: the identity survives
        return "OTHER_LEVEL"


NULL_LEVEL: None = None
"""The level of the rows where a categorical column is null: ``None`` (a level of its own)."""

OTHER_LEVEL: Any = _OtherLevel()
"""The level that :func:`lump_levels` merges rare levels into (never a data value)."""

# the kinds of data levels: a column's non-null levels are all of one kind
_DATA_KINDS = ("bool", "int", "str")


def _level_kind(level: Any) -> str:
    """``"null"``, ``"other"``, ``"bool"``, ``"int"`` or ``"str"`` (bool before int: bool is an int)."""
    if level is None:
        return "null"
    if level is OTHER_LEVEL:
        return "other"
    if isinstance(level, (bool, np.bool_)):
        return "bool"
    if isinstance(level, (int, np.integer)):
        return "int"
    if isinstance(level, (str, np.str_)):
        return "str"
    raise ValueError(
        f"unsupported categorical level {level!r} of type {type(level).__name__}: "
        "levels are str, int, bool or None (null)"
    )


def _plain(level: Any, kind: str) -> Any:
    """``level`` as a plain Python (JSON-friendly) value."""
    if kind == "bool":
        return bool(level)
    if kind == "int":
        return int(level)
    if kind == "str":
        return str(level)
    return level


def _key(level: Any) -> tuple[str, Any]:
    """A dictionary key that tells ``True`` from ``1`` (equal and equally hashed in Python)."""
    kind = _level_kind(level)
    return kind, _plain(level, kind)


def _single_kind(kinds: Iterable[str]) -> None:
    """Raise if the non-null levels of one column mix types."""
    data_kinds = sorted({k for k in kinds if k in _DATA_KINDS})
    if len(data_kinds) > 1:
        raise ValueError(
            f"categorical levels of one column must share one type, got {data_kinds[0]} and {data_kinds[1]}"
        )


def level_name(column: str, level: Any) -> str:
    """The feature name of a level's one-hot column: ``"column=level"``.

    ``True``/``False`` for booleans, decimal text for integers, the string
    itself for strings, ``"column=<null>"`` for :data:`NULL_LEVEL` and
    ``"column=<other>"`` for :data:`OTHER_LEVEL`.  (A string level that is
    literally ``"<null>"`` or ``"<other>"`` gets the same name as those.)

    Examples
    --------
    >>> level_name("colour", "red"), level_name("n", 3), level_name("b", True)
    ('colour=red', 'n=3', 'b=True')
    >>> level_name("colour", NULL_LEVEL), level_name("colour", OTHER_LEVEL)
    ('colour=<null>', 'colour=<other>')
    """
    kind = _level_kind(level)
    if kind == "null":
        text = "<null>"
    elif kind == "other":
        text = "<other>"
    else:
        text = str(_plain(level, kind))
    return f"{column}={text}"


def union_levels(*level_lists: Iterable[Any]) -> list[Any]:
    """Sorted union of the levels of one categorical column seen in several files.

    Non-null levels must all be of one type (``str``, ``int`` or ``bool``;
    numpy scalars count as their Python type and are returned as it).  They
    are sorted by value (strings by code point, ``False < True``), with
    :data:`NULL_LEVEL` last if present.  The sorted order makes the design,
    hence the model, independent of the order in which files are read.

    Parameters
    ----------
    *level_lists : iterables of levels
        Duplicates are allowed.

    Returns
    -------
    list
        Distinct levels as plain Python values.

    Raises
    ------
    ValueError
        If levels mix types (naming the two types), a level has another type
        (e.g. float), or :data:`OTHER_LEVEL` is given (it is an output of
        :func:`lump_levels`, not a data value).
    """
    seen: dict[tuple[str, Any], Any] = {}
    for levels in level_lists:
        for level in levels:
            key = _key(level)
            if key[0] == "other":
                raise ValueError("OTHER_LEVEL is made by lump_levels, it cannot be a level of the data")
            seen.setdefault(key, key[1])
    _single_kind(kind for kind, _ in seen)
    has_null = ("null", None) in seen
    out = sorted(value for (kind, _), value in seen.items() if kind != "null")
    return [*out, NULL_LEVEL] if has_null else out


def one_hot_positions(levels_in_file: Iterable[Any], union: Sequence[Any]) -> IntArray:
    """Columns of ``union`` that hold the one-hot columns of a file's levels.

    ``positions[i]`` is the index in ``union`` of ``levels_in_file[i]``, for
    :func:`embed_features` (add the offset of the column's first one-hot
    feature in the full design).

    Raises
    ------
    ValueError
        If a level is not in ``union`` or is repeated in ``levels_in_file``.
    """
    levels_in_file = list(levels_in_file)
    index = {_key(level): i for i, level in enumerate(union)}
    positions = []
    for level in levels_in_file:
        key = _key(level)
        if key not in index:
            raise ValueError(f"level {level!r} is not in the union of levels {list(union)!r}")
        positions.append(index[key])
    out = np.array(positions, dtype=np.int64)
    if np.unique(out).shape[0] != out.shape[0]:
        raise ValueError(f"levels of a file must be distinct, got {list(levels_in_file)!r}")
    return out


@dataclass(frozen=True, eq=False)
class LevelLumping:
    """Rare levels of a categorical column merged into :data:`OTHER_LEVEL`.

    Attributes
    ----------
    levels : tuple
        The output levels: the kept input levels in input order, then
        :data:`OTHER_LEVEL` if any level was lumped.
    target : ndarray of int of shape (n_levels_in,)
        The output level of each input level (``O(levels)``: a column of
        20,000 levels has no ``levels^2`` matrix to build).
    level_map : Mapping
        Input level -> output level (read-only), for the model record.
    """

    levels: tuple[Any, ...]
    target: IntArray
    level_map: Mapping[Any, Any]

    def __post_init__(self) -> None:
        self.target.setflags(write=False)

    @property
    def matrix(self) -> FloatArray:
        """0/1 matrix of shape (n_levels_in, n_levels_out), ``matrix[i, j] = 1`` when input level
        ``i`` goes to output level ``j``: the block of ``A`` for :func:`map_features` that turns
        the one-hot columns of the input levels into those of the output levels (dense: for
        few levels; :meth:`out_counts` and :attr:`target` scale)."""
        m = np.zeros((self.target.size, len(self.levels)))
        m[np.arange(self.target.size), self.target] = 1.0
        m.setflags(write=False)
        return m

    def out_counts(self, counts: ArrayLike) -> FloatArray:
        """Counts of the output levels from those of the input levels (``counts @ matrix``)."""
        return np.bincount(self.target, weights=np.asarray(counts, dtype=np.float64), minlength=len(self.levels))

    @property
    def lumped(self) -> tuple[Any, ...]:
        """The input levels merged into :data:`OTHER_LEVEL`, in input order."""
        return tuple(level for level, out in self.level_map.items() if out is OTHER_LEVEL)


def lump_levels(levels: Sequence[Any], counts: ArrayLike, min_count: float) -> LevelLumping:
    """Merge the levels seen fewer than ``min_count`` times into one "other" level.

    One-hot columns of distinct levels add up to the one-hot column of their
    union (a row has exactly one level), so with ``L = lump.matrix``::

        onehot(lumped levels) = onehot(levels) L

    exactly, and :func:`map_features` with ``L`` (as a diagonal block of the
    full ``A``) gives the statistics of the lumped design.  The null level is
    a level like any other: lumped when rare.  :data:`OTHER_LEVEL` is placed
    last, after the null level, and only exists when at least one level is
    lumped (then also when a single one is).

    Parameters
    ----------
    levels : sequence of shape (n_levels,)
        Distinct levels of one column (e.g. from :func:`union_levels`).
    counts : array-like of shape (n_levels,)
        Non-negative (weighted or row) count of each level.
    min_count : float
        Levels with ``count < min_count`` are lumped; ``0`` lumps none.

    Returns
    -------
    LevelLumping

    Raises
    ------
    ValueError
        On repeated levels, mixed level types, :data:`OTHER_LEVEL` among the
        input, counts of the wrong shape or negative/non-finite, or a
        negative/non-finite ``min_count``.
    """
    keys = [_key(level) for level in levels]
    if any(kind == "other" for kind, _ in keys):
        raise ValueError("OTHER_LEVEL is made by lump_levels, it cannot be a level of the data")
    if len(set(keys)) != len(keys):
        raise ValueError(f"levels must be distinct, got {list(levels)!r}")
    _single_kind(kind for kind, _ in keys)
    n = len(keys)
    counts = np.asarray(counts, dtype=np.float64)
    if counts.shape != (n,):
        raise ValueError(f"counts must have shape ({n},) for {n} levels, got shape {counts.shape}")
    if not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise ValueError(f"counts must be finite and non-negative, got {counts.tolist()}")
    if isinstance(min_count, bool) or not isinstance(min_count, Real) or not np.isfinite(min_count) or min_count < 0:
        raise ValueError(f"min_count must be a finite non-negative number, got {min_count!r}")
    plain = [value for _, value in keys]
    rare = counts < min_count
    kept = [level for level, r in zip(plain, rare, strict=True) if not r]
    out_levels = [*kept, OTHER_LEVEL] if np.any(rare) else kept
    target = np.where(rare, len(out_levels) - 1, np.cumsum(~rare) - 1).astype(np.int64)
    level_map = {level: (OTHER_LEVEL if r else level) for level, r in zip(plain, rare, strict=True)}
    return LevelLumping(levels=tuple(out_levels), target=target, level_map=MappingProxyType(level_map))


# --------------------------------------------------------------------------- missing numeric values
def _imputed_indices(imputed: Sequence[int], n_features: int) -> IntArray:
    idx = np.asarray(imputed)
    if idx.ndim != 1 or (idx.shape[0] and idx.dtype.kind not in "iu"):
        raise ValueError(f"imputed must be a sequence of feature indices, got {imputed!r}")
    idx = idx.astype(np.int64)
    if idx.shape[0] and (idx.min() < 0 or idx.max() >= n_features):
        raise ValueError(f"imputed feature indices must lie in [0, {n_features}), got {idx.tolist()}")
    if np.unique(idx).shape[0] != idx.shape[0]:
        raise ValueError(f"imputed feature indices must be distinct, got {idx.tolist()}")
    return idx


def _fills(fill: float | Sequence[float], q: int) -> FloatArray:
    f = np.asarray(fill, dtype=np.float64)
    f = np.full(q, float(f)) if f.ndim == 0 else f
    if f.shape != (q,):
        raise ValueError(f"fill must be a number or have shape ({q},), got shape {f.shape}")
    if not np.all(np.isfinite(f)):
        raise ValueError(f"fill must be finite, got {f.tolist()}")
    return f


def imputation_values(
    stats_total: SufficientStats,
    imputed: Sequence[int],
    how: Sequence[str | float],
    fill: float | Sequence[float] = 0.0,
) -> FloatArray:
    """The value that replaces the missing values of each imputed feature.

    ``stats_total`` are the statistics of all rows (one label, e.g. from
    :func:`~dreg.core.stats.collapse`) of the augmented design
    ``Z = [X_f, M]``: ``p`` features, missing values of feature
    ``j = imputed[i]`` replaced by ``fill[i]``, then the ``q`` indicator
    columns ``M[:, i] = 1`` where feature ``imputed[i]`` is missing.

    For ``how[i] == "mean"`` the weighted mean of the observed values is
    recovered exactly.  With ``W`` the total weight, ``X_f - f = (X - f)(1 - M)``
    gives ``mean(X_f) - f = sum_{obs} w (x - f) / W`` and
    ``1 - mean(M) = sum_{obs} w / W``, so::

        v = sum_{obs} w x / sum_{obs} w = f + (mean(X_f) - f) / (1 - mean(M))

    (``mean(X_f) / (1 - mean(M))`` for ``f = 0``; the form above keeps the
    quotient a small correction when ``f`` is near the mean).  ``"zero"``
    gives ``v = 0`` and a finite number gives itself.

    Parameters
    ----------
    stats_total : SufficientStats
        One label, ``n_features = p + q``.
    imputed : sequence of int of shape (q,)
        Distinct feature indices in ``[0, p)``; ``M``'s columns follow this order.
    how : sequence of shape (q,)
        ``"mean"``, ``"zero"`` or a finite number, per imputed feature.
    fill : float or sequence of float of shape (q,), default 0.0
        The values the data pass put in place of the missing values.

    Returns
    -------
    ndarray of shape (q,)

    Raises
    ------
    ValueError
        If ``stats_total`` has several labels, the shapes disagree, ``how``
        holds something else, or every row of a ``"mean"`` feature is missing
        (observed weight fraction ``<= 1e-12``; the message names the feature
        index).
    """
    if stats_total.n_labels != 1:
        raise ValueError(
            f"stats_total must hold the statistics of all rows under one label (collapse them), "
            f"got {stats_total.n_labels} labels"
        )
    q = len(imputed)
    p = stats_total.n_features - q
    if p < 0:
        raise ValueError(f"{q} imputed features but the statistics have only {stats_total.n_features} columns")
    idx = _imputed_indices(imputed, p)
    if len(how) != q:
        raise ValueError(f"how must have one entry per imputed feature ({q}), got {len(how)}")
    f = _fills(fill, q)
    W = float(stats_total.weight_sum[0])
    mean = stats_total.x_mean[0]
    values = np.empty(q)
    for i, (j, rule) in enumerate(zip(idx.tolist(), how, strict=True)):
        if isinstance(rule, str):
            if rule == "zero":
                values[i] = 0.0
                continue
            if rule != "mean":
                raise ValueError(f"how[{i}] for feature {j} must be 'mean', 'zero' or a finite number, got {rule!r}")
            observed = 1.0 - mean[p + i]
            if not W > 0.0 or not observed > _MIN_OBSERVED_FRACTION:
                raise ValueError(f"feature {j} is missing in every row: its mean cannot be imputed")
            values[i] = f[i] + (mean[j] - f[i]) / observed
            if not np.isfinite(values[i]):
                raise ValueError(f"the mean of feature {j} is not finite (its statistics hold NaN/inf)")
        elif isinstance(rule, Real) and not isinstance(rule, bool) and np.isfinite(rule):
            values[i] = float(rule)
        else:
            raise ValueError(f"how[{i}] for feature {j} must be 'mean', 'zero' or a finite number, got {rule!r}")
    return values


def imputation_map(
    n_features: int,
    imputed: Sequence[int],
    values: ArrayLike,
    indicators: bool,
    fill: float | Sequence[float] = 0.0,
) -> FloatArray:
    """The matrix ``A`` with ``[X~, M] = Z A`` (or ``X~ = Z A``) for :func:`map_features`.

    ``Z = [X_f, M]`` has ``p = n_features`` feature columns (missing values of
    feature ``imputed[i]`` replaced by ``fill[i]``) and ``q`` indicator
    columns.  The imputed feature ``j = imputed[i]`` is
    ``X~_j = X_f[:, j] + (values[i] - fill[i]) M[:, i]`` (the observed value
    where observed, ``values[i]`` where missing), so::

        A[:p, :p]        = I_p
        A[p + i, j]      = values[i] - fill[i]
        A[p + i, p + i]  = 1            (only with indicators: M is kept)

    Parameters
    ----------
    n_features : int
        ``p``, the number of features (without the indicator columns).
    imputed : sequence of int of shape (q,)
        Distinct feature indices in ``[0, p)``, in the order of ``M``'s columns.
    values : array-like of shape (q,)
        Finite imputation values (e.g. from :func:`imputation_values`).
    indicators : bool
        Append the ``q`` indicator columns to the output.
    fill : float or sequence of float of shape (q,), default 0.0
        The values the data pass put in place of the missing values.

    Returns
    -------
    ndarray of shape (p + q, p + q * indicators)
    """
    if isinstance(n_features, bool) or not isinstance(n_features, (int, np.integer)) or n_features < 0:
        raise ValueError(f"n_features must be a non-negative integer, got {n_features!r}")
    p = int(n_features)
    idx = _imputed_indices(imputed, p)
    q = idx.shape[0]
    v = np.asarray(values, dtype=np.float64)
    if v.shape != (q,):
        raise ValueError(f"values must have shape ({q},), one per imputed feature, got shape {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"imputation values must be finite, got {v.tolist()}")
    f = _fills(fill, q)
    n_out = p + (q if indicators else 0)
    A = np.zeros((p + q, n_out))
    A[np.arange(p), np.arange(p)] = 1.0
    A[p + np.arange(q), idx] = v - f
    if indicators:
        A[p + np.arange(q), p + np.arange(q)] = 1.0
    return A
