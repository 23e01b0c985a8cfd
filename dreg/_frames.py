"""pandas frames to numeric numpy arrays, for the in-process pass and the Dask pass.

Shared by :mod:`dreg.estimators` (pandas input) and :mod:`dreg._dask` (each
partition of a Dask DataFrame), below both: no Dask import, and pandas is
imported only when a frame is converted.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "encode_frame",
    "encoding_from_partials",
    "frame_design_spec",
    "non_numeric_columns",
    "numeric_frame_to_numpy",
    "partial_encoding",
    "raise_for_non_numeric",
]


def non_numeric_columns(frame: object) -> list[str]:
    """``"'name' (dtype)"`` of each column of a pandas or Dask frame that is neither numeric nor bool."""
    import pandas as pd

    types = pd.api.types
    return [
        f"{c!r} ({frame[c].dtype})"
        for c in frame.columns
        if not (types.is_numeric_dtype(frame[c].dtype) or types.is_bool_dtype(frame[c].dtype))
    ]


def raise_for_non_numeric(frame: object, what: str = "X") -> None:
    """``ValueError`` naming every non-numeric column of ``frame``."""
    bad = non_numeric_columns(frame)
    if bad:
        raise ValueError(
            f"{what} has {len(bad)} non-numeric column(s): {', '.join(bad)}; encode them as numbers before fitting"
        )


def numeric_frame_to_numpy(df: object, what: str = "X") -> tuple[np.ndarray, list[str]]:
    """The values of a pandas frame as a 2-d numeric array, and its column names.

    Plain numpy dtypes are taken as they are (bool becomes float64); nullable
    extension dtypes become float64 with missing values as NaN, which the
    statistics pass then counts and reports by column.
    """
    import pandas as pd

    assert isinstance(df, pd.DataFrame)
    raise_for_non_numeric(df, what)
    names = [str(c) for c in df.columns]
    if all(
        df[c].dtype.kind in "fiub" and not isinstance(df[c].dtype, pd.api.extensions.ExtensionDtype) for c in df.columns
    ):
        arr = df.to_numpy()
        if arr.dtype.kind == "b" or arr.dtype == object:
            arr = arr.astype(np.float64)
    else:
        # nullable extension dtypes: missing values become NaN (and are then reported)
        arr = df.to_numpy(dtype=np.float64, na_value=np.nan)
    return arr, names


# --------------------------------------------------------------------------- categorical and missing columns
def is_categorical_dtype(dtype: object) -> bool:
    """category, object, string and bool columns are categorical (as string, dictionary and bool
    columns of a lake are)."""
    import pandas as pd

    types = pd.api.types
    return (
        isinstance(dtype, pd.CategoricalDtype)
        or types.is_object_dtype(dtype)
        or types.is_string_dtype(dtype)
        or types.is_bool_dtype(dtype)
    )


def frame_design_spec(frame: object, impute: Any = None, missing_indicator: bool = False, min_level_count: float = 0):
    """The :class:`dreg.core.design.DesignSpec` of a pandas or Dask frame's columns, or None when
    every column is numeric and nothing is imputed (the plain numeric path)."""
    from dreg.core.design import DesignSpec

    names = [str(c) for c in frame.columns]
    categorical = [str(c) for c in frame.columns if is_categorical_dtype(frame[c].dtype)]
    if not categorical and impute is None:
        return None
    return DesignSpec.build(names, categorical, impute, missing_indicator, min_level_count)


def _codes(col: object) -> tuple[np.ndarray, list[Any]]:
    """``(codes, levels)`` of a pandas column: null (None, NaN, NA) is the last level, ``None``."""
    import pandas as pd

    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    levels = [v.item() if hasattr(v, "item") else v for v in list(uniques)]
    codes = np.asarray(codes, dtype=np.int64)
    codes = np.where(codes < 0, len(levels), codes)
    return codes, [*levels, None]


def frame_columns(df: object, spec: Any) -> tuple[dict[str, np.ndarray], dict[str, tuple[np.ndarray, list[Any]]]]:
    """The numeric columns (float64, NaN for missing) and categorical ``(codes, levels)`` of a pandas frame."""
    numeric = {}
    categorical = {}
    for c in spec.columns:
        col = df[c.name]
        if c.categorical:
            categorical[c.name] = _codes(col)
        else:
            if is_categorical_dtype(col.dtype):
                raise ValueError(f"column {c.name!r} has dtype {col.dtype}; it was numeric in fit")
            numeric[c.name] = col.to_numpy(dtype=np.float64, na_value=np.nan)
    return numeric, categorical


def check_missing(numeric: dict[str, np.ndarray], spec: Any, what: str = "X") -> None:
    """``ValueError`` naming the columns with NaN/inf that are not imputed, and infinities of imputed ones."""
    problems = []
    for c in spec.columns:
        if c.categorical:
            continue
        x = numeric[c.name]
        bad = np.isinf(x) if c.impute is not None else ~np.isfinite(x)
        k = int(np.count_nonzero(bad))
        if k:
            problems.append(f"column {c.name!r}: {k}")
    if problems:
        raise ValueError(
            f"{what} contains NaN or infinite values that are not imputed ({'; '.join(problems)}); "
            "pass impute='mean' (or a per-column mapping) to replace missing values"
        )


def partial_encoding(df: object, spec: Any, w: np.ndarray | None) -> dict[str, Any]:
    """What one part of the rows contributes to an encoding: per categorical column its levels and
    row counts (positive weight), per imputed column the weighted sum and weight of its observed
    values and its missing rows (positive weight)."""
    numeric, categorical = frame_columns(df, spec)
    check_missing(numeric, spec)
    n = len(df)
    w = np.ones(n) if w is None else np.asarray(w, dtype=np.float64)
    pos = w > 0
    out: dict[str, Any] = {"levels": {}, "sums": {}}
    for name, (codes, levels) in categorical.items():
        counts = np.bincount(codes[pos], minlength=len(levels))
        present = np.bincount(codes, minlength=len(levels)) > 0
        out["levels"][name] = [(lv, int(k)) for lv, k, p in zip(levels, counts, present, strict=True) if p]
    for c in spec.columns:
        if c.impute is None:
            continue
        x = numeric[c.name]
        obs = ~np.isnan(x)
        out["sums"][c.name] = (
            float(np.dot(w[obs], x[obs])),
            float(w[obs].sum()),
            int(np.count_nonzero(~obs & pos)),
        )
    return out


def encoding_from_partials(partials: list[dict[str, Any]], spec: Any) -> Any:
    """The :class:`dreg.core.design.Encoding` of all rows from their :func:`partial_encoding` parts:
    levels sorted (null last), rare ones lumped, imputation values the weighted observed means."""
    from dreg.core.design import ColumnEncoding, Encoding
    from dreg.core.encode import _key, lump_levels, union_levels

    columns = []
    for c in spec.columns:
        if c.categorical:
            counts: dict[Any, int] = {}
            values: dict[Any, Any] = {}
            for part in partials:
                for lv, k in part["levels"][c.name]:
                    key = _key(lv)
                    counts[key] = counts.get(key, 0) + k
                    values[key] = lv
            levels = union_levels(values.values())
            cnt = np.array([counts[_key(lv)] for lv in levels], dtype=np.float64)
            lump = lump_levels(levels, cnt, spec.min_level_count)
            out_counts = np.rint(lump.out_counts(cnt)).astype(np.int64) if len(levels) else np.zeros(0, dtype=np.int64)
            columns.append(
                ColumnEncoding(
                    c.name, kind="categorical", levels=lump.levels, counts=tuple(int(k) for k in out_counts), lumped=lump.lumped
                )
            )
        elif c.impute is None:
            columns.append(ColumnEncoding(c.name))
        else:
            s = sum(p["sums"][c.name][0] for p in partials)
            wsum = sum(p["sums"][c.name][1] for p in partials)
            missing = sum(p["sums"][c.name][2] for p in partials)
            if c.impute == "mean":
                if not wsum > 0:
                    raise ValueError(f"column {c.name!r} is missing in every row: its mean cannot be imputed")
                value = s / wsum
            elif c.impute == "zero":
                value = 0.0
            else:
                value = float(c.impute)
            columns.append(
                ColumnEncoding(c.name, impute=value, impute_rule=c.impute, indicator=bool(c.indicator and missing > 0))
            )
    return Encoding(tuple(columns), spec.min_level_count)


def encode_frame(df: object, encoding: Any, what: str = "X") -> tuple[np.ndarray, dict[str, dict[Any, int]]]:
    """The model's design of a pandas frame's rows (:func:`dreg.core.design.design_matrix`) and the
    unseen levels per column.  A non-imputed numeric column with NaN raises, naming it."""
    from dreg.core.design import DesignSpec, design_matrix

    spec = DesignSpec.build(
        encoding.source_columns,
        [c.name for c in encoding.columns if c.kind == "categorical"],
        {c.name: c.impute for c in encoding.columns if c.impute is not None} or None,
    )
    missing = [c for c in encoding.source_columns if c not in set(map(str, df.columns))]
    if missing:
        raise ValueError(f"{what} is missing {len(missing)} column(s) seen in fit: {missing[:10]}")
    df = df.rename(columns={c: str(c) for c in df.columns}) if any(not isinstance(c, str) for c in df.columns) else df
    numeric, categorical = frame_columns(df, spec)
    check_missing(numeric, spec, what)
    rows = design_matrix(encoding, numeric, categorical)
    return rows.X, rows.unseen
