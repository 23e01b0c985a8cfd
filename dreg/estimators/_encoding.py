"""Categorical columns and missing values of pandas and Dask DataFrames, for every estimator.

A DataFrame whose columns include category, object, string or bool dtypes,
or a fit with ``impute`` set, is encoded before the numeric fit, the same way
the batch job encodes a lake (:mod:`dreg.core.design`):

* a categorical column becomes one 0/1 column per level, every level (null a
  level of its own, named ``"column=<null>"``; levels seen in fewer than
  ``min_level_count`` rows of positive weight are lumped into
  ``"column=<other>"``), levels sorted so that the model does not depend on
  row order;
* a missing value (NaN, None, ``pd.NA``) of an imputed numeric column is
  replaced by the weighted mean of the column's observed values (``"mean"``),
  0 (``"zero"``) or a number; ``missing_indicator=True`` adds a
  ``"column=<null>"`` 0/1 column for each imputed column that had missing
  values.

The fit is then exactly the fit of the encoded design (imputing first, then
fitting).  ``encoding_`` records the levels, counts and imputation values,
``feature_names_in_`` / ``feature_names_`` the encoded feature names (those
of ``coef_``); ``predict`` encodes its rows with ``encoding_``: a level the
fit did not see gets all-zero dummies (counted in ``unseen_levels_`` of the
last prediction).

For pandas input the encoding is computed in memory; for a Dask DataFrame a
first pass over the partitions gathers the levels, counts and observed means
(small per-partition summaries), then the usual single statistics pass reads
the encoded partitions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["EncodingMixin"]


def _is_pandas_frame(obj: object) -> bool:
    return type(obj).__module__.split(".")[0] == "pandas" and hasattr(obj, "columns")


def _is_dask_frame(obj: object) -> bool:
    return hasattr(obj, "__dask_graph__") and hasattr(obj, "columns") and hasattr(obj, "map_partitions")


class EncodingMixin:
    """``impute``, ``missing_indicator`` and ``min_level_count`` for DataFrames (see the module)."""

    def _encoding_params(self) -> tuple[Any, bool, float]:
        impute = getattr(self, "impute", None)
        indicator = bool(getattr(self, "missing_indicator", False))
        min_count = getattr(self, "min_level_count", 0)
        return impute, indicator, min_count

    def _fit_encoding(self, X: Any, sample_weight: Any = None) -> Any:
        """``X`` encoded for the fit (a DataFrame of the model's design), setting ``encoding_``;
        ``X`` itself when nothing is categorical or imputed."""
        from dreg._frames import encode_frame, encoding_from_partials, frame_design_spec, partial_encoding

        impute, indicator, min_count = self._encoding_params()
        if hasattr(self, "encoding_"):
            del self.encoding_
        if not (_is_pandas_frame(X) or _is_dask_frame(X)):
            if impute is not None or indicator:
                raise ValueError(
                    "impute and missing_indicator need a pandas or Dask DataFrame (named columns); "
                    f"got {type(X).__name__}"
                )
            return X
        spec = frame_design_spec(X, impute, indicator, min_count)
        if spec is None:
            if indicator:
                raise ValueError("missing_indicator=True needs impute (the indicators mark the imputed values)")
            return X
        if _is_dask_frame(X):
            encoding = _dask_encoding(X, spec, sample_weight)
            self.encoding_ = encoding
            return _encode_dask(X, encoding)
        import pandas as pd

        w = None
        if sample_weight is not None and not hasattr(sample_weight, "__dask_graph__"):
            w = np.asarray(sample_weight, dtype=np.float64)
            w = np.full(len(X), float(w)) if w.ndim == 0 else w
            if w.shape != (len(X),):
                raise ValueError(f"X has {len(X)} rows but sample_weight has {w.shape[0]}")
        frame = X.rename(columns={c: str(c) for c in X.columns}) if any(not isinstance(c, str) for c in X.columns) else X
        encoding = encoding_from_partials([partial_encoding(frame, spec, w)], spec)
        self.encoding_ = encoding
        Xe, _ = encode_frame(frame, encoding)
        return pd.DataFrame(Xe, columns=encoding.feature_names, index=X.index)

    def _predict_encoding(self, X: Any) -> Any:
        """``X`` encoded with ``encoding_`` (a DataFrame of the model's design), or ``X`` as is."""
        encoding = getattr(self, "encoding_", None)
        if encoding is None:
            return X
        if _is_dask_frame(X):
            return _encode_dask(X, encoding)
        if not _is_pandas_frame(X):
            return X  # already the model's design (n, len(coef_))
        import pandas as pd

        from dreg._frames import encode_frame

        Xe, unseen = encode_frame(X, encoding)
        self.unseen_levels_ = unseen
        return pd.DataFrame(Xe, columns=encoding.feature_names, index=X.index)

    @property
    def feature_names_(self) -> np.ndarray:
        """The names of ``coef_``'s features: encoded ones (``column=level``) with ``encoding_``."""
        names = getattr(self, "feature_names_in_", None)
        if names is None:
            raise AttributeError("feature_names_: the model was fitted without feature names")
        return np.asarray(names, dtype=object)


def _dask_encoding(X: Any, spec: Any, sample_weight: Any) -> Any:
    """Levels, counts and observed means of a Dask DataFrame: one small summary per partition."""
    import dask
    from dask.delayed import delayed

    from dreg._frames import encoding_from_partials, partial_encoding

    parts = X.to_delayed()
    if sample_weight is None:
        ws = [None] * len(parts)
    elif hasattr(sample_weight, "to_delayed"):
        ws = list(sample_weight.to_delayed())
        if hasattr(ws[0], "ravel"):
            ws = list(np.asarray(ws).ravel())
        if len(ws) != len(parts):
            raise ValueError("sample_weight must be partitioned like X (use a column of the same DataFrame)")
    else:
        raise ValueError("with a Dask DataFrame X, sample_weight must be a Dask Series or array partitioned like X")
    tasks = [
        delayed(_partial_with_weights, pure=True)(p, spec, w, dask_key_name=f"dreg-encoding-{i}-{dask.base.tokenize(p, w)}")
        for i, (p, w) in enumerate(zip(parts, ws, strict=True))
    ]
    partials = dask.compute(*tasks)
    _ = partial_encoding
    return encoding_from_partials(list(partials), spec)


def _partial_with_weights(part: Any, spec: Any, w: Any) -> dict[str, Any]:
    from dreg._frames import partial_encoding

    frame = part.rename(columns={c: str(c) for c in part.columns})
    weights = None if w is None else np.asarray(w, dtype=np.float64).reshape(-1)
    return partial_encoding(frame, spec, weights)


def _encode_partition(part: Any, encoding: Any) -> Any:
    import pandas as pd

    from dreg._frames import encode_frame

    Xe, _ = encode_frame(part, encoding)
    return pd.DataFrame(Xe, columns=encoding.feature_names, index=part.index)


def _encode_dask(X: Any, encoding: Any) -> Any:
    import pandas as pd

    meta = pd.DataFrame({name: pd.Series(dtype="float64") for name in encoding.feature_names})
    return X.map_partitions(_encode_partition, encoding, meta=meta)
