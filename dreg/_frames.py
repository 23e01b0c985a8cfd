"""pandas frames to numeric numpy arrays, for the in-process pass and the Dask pass.

Shared by :mod:`dreg.estimators` (pandas input) and :mod:`dreg._dask` (each
partition of a Dask DataFrame), below both: no Dask import, and pandas is
imported only when a frame is converted.
"""

from __future__ import annotations

import numpy as np

__all__ = ["non_numeric_columns", "numeric_frame_to_numpy", "raise_for_non_numeric"]


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
