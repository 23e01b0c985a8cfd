"""The shared base of dreg's estimators: statistics, prediction and scoring.

All six estimators minimise, for sample weights ``w`` (default 1)::


    1/(2 sum(w)) sum_i w_i (y_i - b - x_i^T beta)^2
        + alpha sum_j pf_j (l1_ratio |beta_j| + (1 - l1_ratio)/2 beta_j^2)

with the intercept ``b`` unpenalized and ``pf`` the ``penalty_factor``.  With
``standardize=True`` (the default, as in glmnet) the penalty applies to the
coefficients of the features standardized by their weighted mean and
population standard deviation, i.e. ``beta_j`` above is ``beta_j * sd_j``, and
``coef_`` is reported on the original scale.  With ``standardize=False`` the
objective is exactly scikit-learn's ``ElasticNet`` objective.

scikit-learn's ``Ridge`` is unscaled (``||y - Xw||^2 + alpha ||w||^2``): its
``alpha`` equals ``n_samples * alpha`` here (``sum(w) * alpha`` with weights)
and ``Ridge(alpha=a, standardize=False)`` matches ``sklearn.linear_model.Ridge(alpha=n * a)``.

Every fit reads the data once: per-fold sufficient statistics are computed in
one pass (on the current Dask scheduler for Dask inputs, in-process for numpy
and pandas) and the whole path, every fold and every l1_ratio are solved from
them.

:mod:`._single` holds the single-alpha estimators, :mod:`._cv` the CV ones and
:mod:`._validation` their parameter constraints.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from dreg.core.datafit import SquaredError
from dreg.core.problem import GramProblem
from dreg.core.stats import SufficientStats, collapse
from dreg.core.wide import gram_bytes
from dreg.estimators._encoding import EncodingMixin
from dreg.estimators._input import FoldSpec, compute_stats, is_dask_collection, is_sparse, sparse_data, to_numpy_X
from dreg.estimators._sklearn_base import BaseEstimator, RegressorMixin, check_is_fitted
from dreg.estimators._validation import check_param

__all__ = ["COMMON_PARAMS", "_Base", "warn_if_not_converged"]

# checked at every fit, after the estimator's own (alpha, l1_ratio, CV parameters)
COMMON_PARAMS = ("tol", "max_iter", "solver", "fit_intercept", "standardize", "positive", "engine", "max_gram_bytes")


def warn_if_not_converged(est: object, converged: bool) -> None:
    if not converged:
        import warnings

        from sklearn.exceptions import ConvergenceWarning

        warnings.warn(
            f"{type(est).__name__}: the solver did not converge within max_iter={est.max_iter} "
            f"(largest KKT violation {est.kkt_violation_:.2e}); increase max_iter or tol",
            ConvergenceWarning,
            stacklevel=3,
        )



class _Base(EncodingMixin, RegressorMixin, BaseEstimator):
    """Shared fitting, prediction and scoring."""

    #: l1_ratio set by the class (Lasso 1, Ridge 0), or None: the ``l1_ratio`` parameter
    _l1_fixed: float | None = None
    #: the loss: builds the problems and scores held-out folds
    _datafit = SquaredError()

    def _l1(self) -> float:
        return self._l1_fixed if self._l1_fixed is not None else check_param("l1_ratio", self.l1_ratio)

    def _problem(self, stats: SufficientStats) -> GramProblem:
        """The problem of all rows of ``stats``."""
        return self._datafit.problem(collapse(stats), self.fit_intercept, self.standardize)

    def _engine(self, X, n_folds: int) -> str:
        """The engine that fits ``X`` with ``n_folds`` fold models (0 for a single fit).

        ``'auto'`` on scipy.sparse input of ``p`` features picks the wide engine when

        1. the ``n_folds + 1`` dense Grams, ``(K + 1) p^2 8`` bytes, exceed
           ``max_gram_bytes`` (the Gram engine cannot run), or
        2. ``p >= 1500`` and two features share at most 0.1 rows on average,
           ``(nnz / p)^2 / n <= 0.1`` for ``X`` of ``n`` rows and ``nnz``
           stored values (``n d^2`` at density ``d``): nearly orthogonal
           columns, as one-hot or hashed features, where the wide engine's
           working-set solves converge in few sweeps and the Gram engine's
           dense ``p x p`` paths dominate;

        and the Gram engine otherwise.  Rule 2 is the crossover measured by
        ``benchmarks/bench_crossover.py`` on this project's 2-core machine
        (5 folds, 100 alphas, n from 5,000 to 80,000; the tables are in
        benchmarks/RESULTS.md): at every measured point with ``p >= 1500``
        and at most 0.08 shared rows the wide engine was faster, at 0.5 and
        2 shared rows it was slower at every ``p`` measured, and at
        ``p = 1000`` the Gram engine was faster on a quiet machine (the wide
        engine only under load, which slows the Gram engine's memory-bound
        sweeps more).  Neither the density nor the stored values per column
        alone separated the two.  The constants are machine-specific: rerun
        the script to check them elsewhere.  Both engines are exact, so the
        rule moves time, not results (but a wide model's ``coef_at``
        answers grid alphas only).  Dense (numpy, pandas) and Dask input
        always takes the Gram engine under ``'auto'``.  ``'gram'`` on sparse
        input beyond the budget is a ``ValueError``; ``'wide'`` takes any
        in-memory input.
        """
        engine = check_param("engine", self.engine)
        budget = check_param("max_gram_bytes", self.max_gram_bytes)
        if engine == "wide":
            if is_dask_collection(X):
                raise ValueError("engine='wide' needs in-memory X (numpy, pandas or scipy.sparse); Dask inputs use 'gram'")
            return "wide"
        if not is_sparse(X):
            return "gram"
        p = int(X.shape[1])
        need = gram_bytes(p, n_folds + 1)
        if need > budget:
            if engine == "auto":
                return "wide"
            raise ValueError(
                f"engine='gram' on sparse X with p={p} features needs {n_folds + 1} dense p x p Gram matrices, "
                f"{need:,} bytes ((K + 1) p^2 8 with K={n_folds} folds), more than max_gram_bytes={budget:,}; "
                "use engine='wide' (or 'auto'), or raise max_gram_bytes"
            )
        # rule 2 (measured, see the docstring): (nnz / p)^2 / n <= 1 / 10, in exact integers
        n, nnz = int(X.shape[0]), int(X.nnz)
        if engine == "auto" and p >= 1_500 and 10 * nnz**2 <= n * p**2:
            return "wide"
        return "gram"

    def _wide_data(self, X, y, sample_weight, spec: FoldSpec | None):
        """Checked in-memory data for the wide engine (after any DataFrame encoding); sets ``n_features_in_``."""
        X = self._fit_encoding(X, sample_weight)
        data = sparse_data(X, y, sample_weight, spec)
        self.n_features_in_ = int(data.X.shape[1])
        columns = getattr(X, "columns", None)
        if data.feature_names is not None and columns is not None and all(isinstance(c, str) for c in columns):
            self.feature_names_in_ = np.asarray(data.feature_names, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        return data

    def _stats(self, X, y, sample_weight, spec: FoldSpec | None) -> tuple[SufficientStats, list[str] | None]:
        X = self._fit_encoding(X, sample_weight)
        stats, names, _ = compute_stats(X, y, sample_weight, spec)
        self.n_features_in_ = stats.n_features
        columns = getattr(X, "columns", None)
        if names is not None and columns is not None and all(isinstance(c, str) for c in columns):
            self.feature_names_in_ = np.asarray(names, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        return stats, names

    # -- prediction ---------------------------------------------------------
    def _prepare_predict_X(self, X):
        check_is_fitted(self, "coef_")
        X = self._predict_encoding(X)
        names = getattr(self, "feature_names_in_", None)
        if hasattr(X, "columns") and names is not None:
            missing = [n for n in names if n not in set(map(str, X.columns))]
            if missing:
                raise ValueError(f"X is missing {len(missing)} feature column(s) seen in fit: {missing[:10]}")
            X = X[list(names)]
        return X

    def predict(self, X: ArrayLike):
        """Predict ``X @ coef_ + intercept_``.

        Parameters
        ----------
        X : array-like, scipy.sparse matrix, pandas DataFrame, Dask array or Dask DataFrame of shape (n_samples, n_features)
            DataFrames are matched to ``feature_names_in_`` by column name
            (extra columns are ignored).

        Returns
        -------
        ndarray of shape (n_samples,), or a lazy Dask array for Dask inputs
        """
        check_is_fitted(self, "coef_")
        return self._predict_with(X, self.coef_, float(self.intercept_))

    def _predict_with(self, X: ArrayLike, coef: np.ndarray, b: float):
        """``X @ coef + b`` for any input :meth:`predict` takes."""
        X = self._prepare_predict_X(X)
        if is_dask_collection(X):
            if hasattr(X, "columns"):
                return X.map_partitions(_predict_frame, coef, b, meta=("prediction", "f8")).to_dask_array()
            if X.ndim != 2 or X.shape[1] != coef.shape[0]:
                raise ValueError(f"X has shape {X.shape}, expected (n, {coef.shape[0]})")
            return X.rechunk({1: -1}).map_blocks(_predict_block, coef, b, drop_axis=1, dtype=np.float64)
        if is_sparse(X):
            if X.ndim != 2 or X.shape[1] != coef.shape[0]:
                raise ValueError(
                    f"X has {X.shape[-1]} features, but {type(self).__name__} is expecting {coef.shape[0]} features as input"
                )
            Xs = sp.csr_matrix(X, dtype=np.float64)
            bad = np.unique(Xs.indices[~np.isfinite(Xs.data)])
            if bad.size:
                raise ValueError(f"Input X contains NaN or infinity in {bad.size} column(s): {bad[:10].tolist()}")
            return np.asarray(Xs @ coef).reshape(-1) + b
        Xa, _ = to_numpy_X(X)
        if Xa.shape[1] != coef.shape[0]:
            raise ValueError(
                f"X has {Xa.shape[1]} features, but {type(self).__name__} is expecting {coef.shape[0]} features as input"
            )
        if Xa.dtype.kind == "f" and not np.all(np.isfinite(Xa)):
            bad = np.flatnonzero(~np.all(np.isfinite(Xa), axis=0))
            names = getattr(self, "feature_names_in_", None)
            cols = [str(names[j]) if names is not None else str(j) for j in bad[:10]]
            raise ValueError(f"Input X contains NaN or infinity in {bad.size} column(s): {cols}")
        return _predict_block(Xa, coef, b)

    def score(self, X, y, sample_weight=None) -> float:
        """Coefficient of determination R^2 (weighted), computed in one pass.

        For Dask inputs the residual and total sums of squares come from the
        same mergeable statistics as ``fit``, so nothing is collected.
        """
        X = self._prepare_predict_X(X)
        if is_sparse(X):
            # from the predictions: the statistics of a wide X would be a p x p Gram
            data = sparse_data(X, y, sample_weight)
            pred = self._predict_with(data.X, self.coef_, float(self.intercept_))
            w = np.ones(data.y.shape[0]) if data.sample_weight is None else data.sample_weight
            ybar = float(w @ data.y / w.sum())
            total = float(w @ (data.y - ybar) ** 2)
            resid = float(w @ (data.y - pred) ** 2)
            if total == 0.0:
                return 1.0 if resid == 0.0 else 0.0
            return 1.0 - resid / total
        stats, _, _ = compute_stats(X, y, sample_weight, None)
        if stats.n_features != self.coef_.shape[0]:
            raise ValueError(
                f"X has {stats.n_features} features, but {type(self).__name__} is expecting "
                f"{self.coef_.shape[0]} features as input"
            )
        one = collapse(stats)
        W = float(one.weight_sum[0])
        mse = float(self._datafit.held_out_loss(one, self.coef_[None, :], np.array([self.intercept_]))[0])
        var = float(one.yy[0]) / W
        if var == 0.0:
            return 1.0 if mse == 0.0 else 0.0
        return 1.0 - mse / var

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = True
        return tags


def _predict_block(X: np.ndarray, coef: np.ndarray, intercept: float) -> np.ndarray:
    return np.asarray(X, dtype=np.float64) @ coef + intercept


def _predict_frame(df, coef: np.ndarray, intercept: float):
    import pandas as pd

    from dreg._frames import numeric_frame_to_numpy

    X, _ = numeric_frame_to_numpy(df)
    return pd.Series(X @ coef + intercept, index=df.index, name="prediction")
