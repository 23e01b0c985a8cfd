"""scikit-learn compatible estimators: Lasso, Ridge, ElasticNet and their CV versions.

All six minimise, for sample weights ``w`` (default 1)::

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
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from dreg.core.cv import CVResult, cross_validate
from dreg.core.folds import resolve_seed
from dreg.core.path import SOLVERS, PathResult, alpha_max, enet_path
from dreg.core.problem import make_problem, mse_from_stats
from dreg.core.stats import SufficientStats, collapse
from dreg.estimators._input import FoldSpec, compute_stats, is_dask_collection, to_numpy_X

__all__ = ["ElasticNet", "ElasticNetCV", "Lasso", "LassoCV", "Ridge", "RidgeCV"]

SELECTIONS = ("min", "1se")


# --------------------------------------------------------------------------- checks
def _check_nonneg_number(name: str, value: object, allow_zero: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if value < 0 or (not allow_zero and value == 0):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return float(value)


def _check_common(est: _Base) -> None:
    _check_nonneg_number("tol", est.tol, allow_zero=False)
    if isinstance(est.max_iter, bool) or not isinstance(est.max_iter, numbers.Integral) or est.max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {est.max_iter!r}")
    if est.solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {est.solver!r}")
    for name in ("fit_intercept", "standardize", "positive"):
        if not isinstance(getattr(est, name), bool | np.bool_):
            raise ValueError(f"{name} must be True or False, got {getattr(est, name)!r}")


def _check_l1_ratio(value: object) -> float:
    v = _check_nonneg_number("l1_ratio", value)
    if v > 1:
        raise ValueError(f"l1_ratio must be in [0, 1], got {value!r}")
    return v


def _per_feature(name: str, value: object, p: int, names: list[str] | None, default: float) -> NDArray[np.float64]:
    """A per-feature array from None, a scalar, an array or a {feature name: value} mapping."""
    if value is None:
        return np.full(p, default)
    if isinstance(value, Mapping):
        out = np.full(p, default)
        index = {n: i for i, n in enumerate(names or [])}
        for key, v in value.items():
            if isinstance(key, str):
                if key not in index:
                    raise ValueError(f"{name} names unknown feature {key!r}")
                out[index[key]] = float(v)
            elif isinstance(key, numbers.Integral) and 0 <= key < p:
                out[int(key)] = float(v)
            else:
                raise ValueError(f"{name} has an invalid key {key!r}")
        return out
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        return np.full(p, float(arr))
    if arr.shape != (p,):
        raise ValueError(f"{name} must have one value per feature ({p}), got shape {arr.shape}")
    return arr.copy()


def _penalty_arrays(est: _Base, p: int, names: list[str] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pf = _per_feature("penalty_factor", est.penalty_factor, p, names, 1.0)
    if not np.all(np.isfinite(pf)) or np.any(pf < 0):
        raise ValueError("penalty_factor must be finite and >= 0")
    lower = _per_feature("lower_bounds", est.lower_bounds, p, names, -np.inf)
    upper = _per_feature("upper_bounds", est.upper_bounds, p, names, np.inf)
    if est.positive:
        lower = np.maximum(lower, 0.0)
    if np.any(np.isnan(lower)) or np.any(np.isnan(upper)):
        raise ValueError("bounds must not be NaN")
    if np.any(lower > 0) or np.any(upper < 0):
        raise ValueError("lower_bounds must be <= 0 and upper_bounds >= 0 (zero must be feasible, as in glmnet)")
    return pf, lower, upper


def _warn_if_not_converged(est: object, converged: bool) -> None:
    if not converged:
        import warnings

        from sklearn.exceptions import ConvergenceWarning

        warnings.warn(
            f"{type(est).__name__}: the solver did not converge within max_iter={est.max_iter} "
            f"(largest KKT violation {est.kkt_violation_:.2e}); increase max_iter or tol",
            ConvergenceWarning,
            stacklevel=3,
        )


def _splits_to_folds(cv: object, X: object, y: object) -> np.ndarray:
    """Fold labels from a scikit-learn splitter or an iterable of ``(train, test)``.

    dreg's one-pass CV needs each training set to be the complement of its
    test set (rows in no test set are always training, label ``-1``), as for
    KFold, GroupKFold or PredefinedSplit; other schemes are refused.
    """
    if is_dask_collection(X):
        raise ValueError("a CV splitter needs in-memory X; for Dask inputs give per-row folds= labels")
    n = len(X)
    splits = list(cv.split(X, y)) if hasattr(cv, "split") else list(cv)
    if len(splits) < 2:
        raise ValueError(f"cross-validation needs at least 2 splits, got {len(splits)}")
    labels = np.full(n, -1, dtype=np.int64)
    for k, (_, test) in enumerate(splits):
        test = np.asarray(test)
        test = np.flatnonzero(test) if test.dtype == bool else test.astype(np.int64)
        if np.any(labels[test] >= 0):
            raise ValueError("the CV splits' test sets overlap; dreg needs disjoint test folds")
        labels[test] = k
    for k, (train, _) in enumerate(splits):
        train = np.asarray(train)
        train = np.flatnonzero(train) if train.dtype == bool else np.sort(train.astype(np.int64))
        if not np.array_equal(train, np.flatnonzero(labels != k)):
            raise ValueError(
                "each CV training set must be the complement of its test set "
                "(KFold, GroupKFold, PredefinedSplit); use folds= for custom schemes"
            )
    return labels


# --------------------------------------------------------------------------- base
class _Base(RegressorMixin, BaseEstimator):
    """Shared fitting, prediction and scoring."""

    _l1_fixed: float | None = None

    def _fold_spec(self, folds: object) -> FoldSpec | None:
        return None

    def _l1(self) -> float:
        return self._l1_fixed if self._l1_fixed is not None else _check_l1_ratio(self.l1_ratio)

    def _stats(self, X, y, sample_weight, spec: FoldSpec | None) -> tuple[SufficientStats, list[str] | None]:
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
        X : array-like, pandas DataFrame, Dask array or Dask DataFrame of shape (n_samples, n_features)
            DataFrames are matched to ``feature_names_in_`` by column name
            (extra columns are ignored).

        Returns
        -------
        ndarray of shape (n_samples,), or a lazy Dask array for Dask inputs
        """
        X = self._prepare_predict_X(X)
        coef = self.coef_
        b = float(self.intercept_)
        if is_dask_collection(X):
            if hasattr(X, "columns"):
                return X.map_partitions(_predict_frame, coef, b, meta=("prediction", "f8")).to_dask_array()
            if X.ndim != 2 or X.shape[1] != coef.shape[0]:
                raise ValueError(f"X has shape {X.shape}, expected (n, {coef.shape[0]})")
            return X.rechunk({1: -1}).map_blocks(_predict_block, coef, b, drop_axis=1, dtype=np.float64)
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
        stats, _, _ = compute_stats(X, y, sample_weight, None)
        if stats.n_features != self.coef_.shape[0]:
            raise ValueError(
                f"X has {stats.n_features} features, but {type(self).__name__} is expecting "
                f"{self.coef_.shape[0]} features as input"
            )
        one = collapse(stats)
        W = float(one.weight_sum[0])
        mse = float(mse_from_stats(one, self.coef_[None, :], np.array([self.intercept_]))[0])
        var = float(one.yy[0]) / W
        if var == 0.0:
            return 1.0 if mse == 0.0 else 0.0
        return 1.0 - mse / var

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


def _predict_block(X: np.ndarray, coef: np.ndarray, intercept: float) -> np.ndarray:
    return np.asarray(X, dtype=np.float64) @ coef + intercept


def _predict_frame(df, coef: np.ndarray, intercept: float):
    import pandas as pd

    from dreg._frames import numeric_frame_to_numpy

    X, _ = numeric_frame_to_numpy(df)
    return pd.Series(X @ coef + intercept, index=df.index, name="prediction")


# --------------------------------------------------------------------------- single alpha
class _SingleAlpha(_Base):
    def fit(self, X, y, sample_weight=None):
        """Fit the model at ``alpha``.

        Parameters
        ----------
        X : array-like, pandas DataFrame, Dask array or Dask DataFrame of shape (n_samples, n_features)
        y : array-like, pandas Series, Dask array or Dask Series of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights.

        Returns
        -------
        self
        """
        alpha = _check_nonneg_number("alpha", self.alpha)
        l1_ratio = self._l1()
        _check_common(self)
        stats, names = self._stats(X, y, sample_weight, None)
        problem = make_problem(collapse(stats), self.fit_intercept, self.standardize)
        pf, lower, upper = _penalty_arrays(self, stats.n_features, names)
        alphas = np.array([alpha])
        if l1_ratio > 0:
            # glmnet's advice: reach a small alpha along a short warm-started path
            top = alpha_max(problem, l1_ratio, pf, lower, upper)
            if top > alpha > 0:
                alphas = np.geomspace(top, alpha, max(2, min(20, int(np.ceil(np.log10(top / alpha) * 5)) + 1)))
            elif alpha == 0 and top > 0:
                alphas = np.concatenate([np.geomspace(top, top * 1e-4, 20), [0.0]])
        res = enet_path(
            problem, alphas, l1_ratio, pf, lower, upper, solver=self.solver, tol=self.tol, max_iter=self.max_iter
        )
        self.coef_ = res.coef[-1].copy()
        self.intercept_ = float(res.intercept[-1])
        self.n_iter_ = int(res.n_iter.sum())
        self.kkt_violation_ = float(res.kkt[-1])
        _warn_if_not_converged(self, bool(res.converged[-1]))
        self.solver_ = res.solver
        return self


class ElasticNet(_SingleAlpha):
    """Linear regression with combined L1 and L2 penalties.

    Minimises::

        1/(2 sum(w)) sum_i w_i (y_i - b - x_i^T beta)^2
            + alpha sum_j pf_j (l1_ratio |beta_j| + (1 - l1_ratio)/2 beta_j^2)

    on standardized features when ``standardize=True`` (see the module docs).

    Parameters
    ----------
    alpha : float, default 1.0
        Regularization strength (>= 0).
    l1_ratio : float, default 0.5
        Mix of L1 (1) and L2 (0).
    fit_intercept : bool, default True
    standardize : bool, default True
        Penalize coefficients of features scaled to unit weighted standard
        deviation (glmnet); ``coef_`` is on the original scale.
    penalty_factor : None, float, array of shape (n_features,) or dict, default None
        Per-feature multipliers of alpha; 0 leaves a feature unpenalized.  A dict
        maps feature names (or indices) to factors; others get 1.
    positive : bool, default False
        Constrain coefficients to be >= 0.
    lower_bounds, upper_bounds : None, float, array or dict, default None
        Box constraints on the original-scale coefficients; ``lower <= 0 <= upper``.
    solver : {'auto', 'cd', 'admm'}, default 'auto'
        'auto' uses the exact eigen solver for pure ridge and coordinate
        descent otherwise (see :func:`dreg.core.path.choose_solver`).
    tol : float, default 1e-7
        Relative tolerance (glmnet's ``thresh`` for CD: ``max_j Q_jj db_j^2 <
        tol * var(y)``; ADMM's ``eps_rel``).  Solutions are then polished to
        rounding accuracy when the support is identified.
    max_iter : int, default 10000
        Maximum CD sweeps or ADMM iterations per alpha.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
    intercept_ : float
    n_iter_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features,)
        Only when X has string column names.
    kkt_violation_ : float
        Largest violation of the optimality conditions (standardized scale).
    solver_ : str
    """

    def __init__(
        self,
        alpha: float = 1.0,
        l1_ratio: float = 0.5,
        *,
        fit_intercept: bool = True,
        standardize: bool = True,
        penalty_factor=None,
        positive: bool = False,
        lower_bounds=None,
        upper_bounds=None,
        solver: str = "auto",
        tol: float = 1e-7,
        max_iter: int = 10_000,
    ) -> None:
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.penalty_factor = penalty_factor
        self.positive = positive
        self.lower_bounds = lower_bounds
        self.upper_bounds = upper_bounds
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter


class Lasso(_SingleAlpha):
    """L1-penalized linear regression: :class:`ElasticNet` with ``l1_ratio = 1``.

    Minimises ``1/(2 sum(w)) sum_i w_i (y_i - b - x_i^T beta)^2 + alpha sum_j pf_j |beta_j|``
    (on standardized features when ``standardize=True``).  Parameters and
    attributes are those of :class:`ElasticNet` without ``l1_ratio``.
    """

    _l1_fixed = 1.0

    def __init__(
        self,
        alpha: float = 1.0,
        *,
        fit_intercept: bool = True,
        standardize: bool = True,
        penalty_factor=None,
        positive: bool = False,
        lower_bounds=None,
        upper_bounds=None,
        solver: str = "auto",
        tol: float = 1e-7,
        max_iter: int = 10_000,
    ) -> None:
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.penalty_factor = penalty_factor
        self.positive = positive
        self.lower_bounds = lower_bounds
        self.upper_bounds = upper_bounds
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter


class Ridge(_SingleAlpha):
    """L2-penalized linear regression: :class:`ElasticNet` with ``l1_ratio = 0``.

    Minimises ``1/(2 sum(w)) sum_i w_i (y_i - b - x_i^T beta)^2 + alpha/2 sum_j pf_j beta_j^2``
    (on standardized features when ``standardize=True``).  The default
    ``alpha = 0.01`` is the recommended starting point.  scikit-learn's
    ``Ridge(alpha=A)`` is unscaled: ``A = n_samples * alpha`` (``sum(w) * alpha``
    with weights), with ``standardize=False``.  Without bounds the solution is
    exact (eigendecomposition); parameters are those of :class:`ElasticNet`
    without ``l1_ratio``.
    """

    _l1_fixed = 0.0

    def __init__(
        self,
        alpha: float = 0.01,
        *,
        fit_intercept: bool = True,
        standardize: bool = True,
        penalty_factor=None,
        positive: bool = False,
        lower_bounds=None,
        upper_bounds=None,
        solver: str = "auto",
        tol: float = 1e-7,
        max_iter: int = 10_000,
    ) -> None:
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.penalty_factor = penalty_factor
        self.positive = positive
        self.lower_bounds = lower_bounds
        self.upper_bounds = upper_bounds
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter


# --------------------------------------------------------------------------- CV
class _CV(_Base):
    _l1_list_allowed = False

    def _l1_ratios(self) -> np.ndarray:
        if self._l1_fixed is not None:
            return np.array([self._l1_fixed])
        values = np.atleast_1d(np.asarray(self.l1_ratio, dtype=object))
        if values.ndim != 1 or values.size == 0:
            raise ValueError("l1_ratio must be a number or a non-empty list of numbers")
        return np.array([_check_l1_ratio(v) for v in values])

    def _check_cv_params(self) -> None:
        _check_common(self)
        if self.selection not in SELECTIONS:
            raise ValueError(f"selection must be one of {SELECTIONS}, got {self.selection!r}")
        if isinstance(self.cv, bool) or (isinstance(self.cv, numbers.Integral) and self.cv < 2):
            raise ValueError(f"cv must be an integer >= 2, got {self.cv!r}")
        if isinstance(self.cv, str | bytes | float) or (
            not isinstance(self.cv, numbers.Integral)
            and not (hasattr(self.cv, "split") or hasattr(self.cv, "__iter__"))
        ):
            raise ValueError(
                f"cv must be an integer >= 2, a CV splitter or an iterable of (train, test), got {self.cv!r}"
            )
        if np.ndim(self.alphas) == 0:
            if isinstance(self.alphas, bool) or not isinstance(self.alphas, numbers.Integral) or self.alphas < 1:
                raise ValueError(f"alphas must be a positive integer or an array of alphas, got {self.alphas!r}")
        else:
            a = np.asarray(self.alphas, dtype=np.float64)
            if a.ndim != 1 or a.size == 0 or not np.all(np.isfinite(a)) or np.any(a < 0):
                raise ValueError("alphas must be a non-empty 1-d array of finite values >= 0")
        if self.eps is not None:
            e = _check_nonneg_number("eps", self.eps, allow_zero=False)
            if e >= 1:
                raise ValueError(f"eps must be in (0, 1), got {self.eps!r}")

    def fit(self, X, y, sample_weight=None, folds=None):
        """Cross-validate the path and refit on all rows at the selected alpha.

        Parameters
        ----------
        X : array-like, pandas DataFrame, Dask array or Dask DataFrame of shape (n_samples, n_features)
        y : array-like, pandas Series, Dask array or Dask Series of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), optional
        folds : array-like of int of shape (n_samples,), optional
            Fold label of each row (e.g. groups or time blocks); overrides
            ``cv``, whose count is then the number of distinct labels.  Label
            ``-1`` marks rows that are always in the training set (as in
            scikit-learn's ``PredefinedSplit``).  By default rows are assigned
            to ``cv`` folds from ``random_state`` and their position, whatever
            the chunking (:func:`dreg.core.folds.fold_ids`).

        Returns
        -------
        self
        """
        self._check_cv_params()
        if not isinstance(self.cv, numbers.Integral):
            if folds is not None:
                raise ValueError("give either a CV splitter in cv or folds=, not both")
            folds = _splits_to_folds(self.cv, X, y)
        if folds is None:
            spec = FoldSpec(n_folds=int(self.cv), random_state=resolve_seed(self.random_state))
        else:
            spec = FoldSpec(folds=folds)
        stats, names = self._stats(X, y, sample_weight, spec)
        return self._fit_cv_stats(stats, names)

    def fit_stats(self, stats: SufficientStats, feature_names: list[str] | None = None):
        """Fit from per-fold statistics computed elsewhere (e.g. a Parquet lake pass).

        ``stats`` holds one label per fold (and optionally ``-1``); the data
        are not needed.  Bad values recorded in ``stats`` raise ``ValueError``.
        """
        from dreg.estimators._input import raise_for_invalid

        self._check_cv_params()
        raise_for_invalid(stats, feature_names)
        self.n_features_in_ = stats.n_features
        if feature_names is not None:
            self.feature_names_in_ = np.asarray(list(feature_names), dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        return self._fit_cv_stats(stats, feature_names)

    def _fit_cv_stats(self, stats: SufficientStats, names: list[str] | None):
        l1_ratios = self._l1_ratios()
        pf, lower, upper = _penalty_arrays(self, stats.n_features, names)
        alphas = self.alphas if np.ndim(self.alphas) == 0 else np.asarray(self.alphas, dtype=np.float64)
        cv = cross_validate(
            stats,
            l1_ratios=l1_ratios,
            alphas=alphas,
            eps=self.eps,
            fit_intercept=self.fit_intercept,
            standardize=self.standardize,
            penalty_factor=pf,
            lower=lower,
            upper=upper,
            solver=self.solver,
            tol=self.tol,
            max_iter=self.max_iter,
            n_jobs=self.n_jobs,
        )
        li = cv.best_l1_index
        chosen = cv.best_alpha_index if self.selection == "min" else cv.alpha_1se_index
        problem = make_problem(collapse(stats), self.fit_intercept, self.standardize)
        path = enet_path(
            problem,
            cv.alphas[li],
            float(cv.l1_ratios[li]),
            pf,
            lower,
            upper,
            solver=self.solver,
            tol=self.tol,
            max_iter=self.max_iter,
        )
        self._set_cv_attributes(cv, path, chosen)
        return self

    def _set_cv_attributes(self, cv: CVResult, path: PathResult, chosen: int) -> None:
        li = cv.best_l1_index
        single = self._l1_fixed is not None or np.ndim(self.l1_ratio) == 0
        squeeze = (lambda a: a[0]) if single else (lambda a: a)
        self.cv_result_ = cv
        self.alpha_ = cv.alpha_min
        self.alpha_1se_ = cv.alpha_1se
        self.chosen_alpha_ = float(cv.alphas[li, chosen])
        self.chosen_alpha_index_ = int(chosen)
        self.l1_ratio_ = cv.l1_ratio
        self.alphas_ = squeeze(cv.alphas)
        self.mse_path_ = squeeze(cv.mse_path)
        self.mse_mean_ = squeeze(cv.mse_mean)
        self.mse_se_ = squeeze(cv.mse_se)
        self.train_mse_path_ = squeeze(cv.train_mse_path)
        self.n_folds_ = int(cv.fold_labels.size)
        self.coef_path_ = path.coef
        self.intercept_path_ = path.intercept
        self.coef_ = path.coef[chosen].copy()
        self.intercept_ = float(path.intercept[chosen])
        self.fold_coef_ = cv.fold_coef[chosen].copy()
        self.n_iter_ = int(path.n_iter[chosen])
        self.kkt_violation_ = float(path.kkt[chosen])
        _warn_if_not_converged(self, bool(path.converged[chosen]))
        self.solver_ = path.solver


_CV_DOC = """
    Parameters
    ----------
    {l1_doc}alphas : int or array-like, default 100
        Number of alphas on the automatic grid (see :func:`dreg.core.path.alpha_grid`)
        or an explicit grid (sorted decreasing).
    eps : float, optional
        ``alpha_min / alpha_max`` of the automatic grid; default {eps_doc}.
    cv : int, CV splitter or iterable of (train, test), default 5
        Number of folds (ignored when ``fit(..., folds=...)`` is given).  A
        scikit-learn splitter (KFold, GroupKFold, PredefinedSplit...) or a
        list of splits is accepted for in-memory data when every training set
        is the complement of its test set; it is turned into per-row labels.
    fit_intercept, standardize, penalty_factor, positive, lower_bounds, upper_bounds, solver, tol, max_iter
        As in :class:`ElasticNet`.
    selection : {{'min', '1se'}}, default 'min'
        Which alpha the final model uses: the minimum of the mean CV error, or
        the largest alpha within one standard error of it (glmnet's lambda.1se).
        (scikit-learn's ``selection`` is a coordinate order; here it picks alpha.)
    random_state : int, Generator, RandomState or None, default 0
        Seed of the fold assignment.
    n_jobs : int or None, default None
        Threads of the coordinator solving the fold paths concurrently
        (:func:`dreg.core.cv.cross_validate`): ``None`` or ``-1`` every CPU
        available to the process.  Results do not depend on it.

    Attributes
    ----------
    alpha_ : float
        Alpha with the smallest mean CV error.
    alpha_1se_ : float
        Largest alpha within one standard error of that minimum.
    chosen_alpha_ : float
        The alpha of ``coef_`` (``alpha_`` or ``alpha_1se_`` per ``selection``).
    chosen_alpha_index_ : int
        Its index in ``alphas_`` (of the selected l1_ratio): ``coef_`` is
        ``coef_path_[chosen_alpha_index_]``.
    l1_ratio_ : float
    alphas_ : ndarray of shape (n_alphas,){alphas_shape}
    mse_path_ : ndarray of shape (n_alphas, n_folds){mse_shape}
        Weighted held-out MSE of each fold.
    mse_mean_, mse_se_ : ndarray of shape (n_alphas,){mean_shape}
        Mean over folds and its standard error ``std(ddof=1)/sqrt(n_folds)``.
    train_mse_path_ : like ``mse_path_``
        Training MSE of each fold's model (the generalization gap is
        ``mse_path_ - train_mse_path_``).
    coef_ : ndarray of shape (n_features,)
    intercept_ : float
    coef_path_ : ndarray of shape (n_alphas, n_features)
        Coefficients on all rows along the selected l1_ratio's grid.
    intercept_path_ : ndarray of shape (n_alphas,)
    fold_coef_ : ndarray of shape (n_folds, n_features)
        Each fold's coefficients at ``chosen_alpha_`` (selection stability).
    n_folds_, n_iter_, n_features_in_, feature_names_in_, kkt_violation_, solver_
    cv_result_ : dreg.core.cv.CVResult
"""


class _FixedMixCV(_CV):
    """CV estimators whose l1_ratio is fixed by the class (LassoCV, RidgeCV): same parameters."""

    def __init__(
        self,
        *,
        alphas=100,
        eps: float | None = None,
        cv: int = 5,
        fit_intercept: bool = True,
        standardize: bool = True,
        penalty_factor=None,
        positive: bool = False,
        lower_bounds=None,
        upper_bounds=None,
        solver: str = "auto",
        selection: str = "min",
        tol: float = 1e-7,
        max_iter: int = 10_000,
        random_state=0,
        n_jobs: int | None = None,
    ) -> None:
        self.alphas = alphas
        self.eps = eps
        self.cv = cv
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.penalty_factor = penalty_factor
        self.positive = positive
        self.lower_bounds = lower_bounds
        self.upper_bounds = upper_bounds
        self.solver = solver
        self.selection = selection
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state
        self.n_jobs = n_jobs


class ElasticNetCV(_CV):
    __doc__ = """Elastic net with alpha and l1_ratio chosen by K-fold cross-validation.

    All folds, all l1_ratios and the whole path are solved from one pass of
    per-fold sufficient statistics.  Objective as in :class:`ElasticNet`.
""" + _CV_DOC.format(
        l1_doc="l1_ratio : float or list of float, default 0.5\n        Candidate mixes; a list is cross-validated.\n    ",
        eps_doc="1e-4 if n_samples > n_features else 1e-2",
        alphas_shape=" or (n_l1_ratios, n_alphas)",
        mse_shape=" or (n_l1_ratios, n_alphas, n_folds)",
        mean_shape=" or (n_l1_ratios, n_alphas)",
    )

    def __init__(
        self,
        l1_ratio=0.5,
        *,
        alphas=100,
        eps: float | None = None,
        cv: int = 5,
        fit_intercept: bool = True,
        standardize: bool = True,
        penalty_factor=None,
        positive: bool = False,
        lower_bounds=None,
        upper_bounds=None,
        solver: str = "auto",
        selection: str = "min",
        tol: float = 1e-7,
        max_iter: int = 10_000,
        random_state=0,
        n_jobs: int | None = None,
    ) -> None:
        self.l1_ratio = l1_ratio
        self.alphas = alphas
        self.eps = eps
        self.cv = cv
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.penalty_factor = penalty_factor
        self.positive = positive
        self.lower_bounds = lower_bounds
        self.upper_bounds = upper_bounds
        self.solver = solver
        self.selection = selection
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state
        self.n_jobs = n_jobs


class LassoCV(_FixedMixCV):
    __doc__ = """Lasso with alpha chosen by K-fold cross-validation (``l1_ratio = 1``).
""" + _CV_DOC.format(
        l1_doc="",
        eps_doc="1e-4 if n_samples > n_features else 1e-2",
        alphas_shape="",
        mse_shape="",
        mean_shape="",
    )
    _l1_fixed = 1.0


class RidgeCV(_FixedMixCV):
    __doc__ = """Ridge with alpha chosen by K-fold cross-validation (``l1_ratio = 0``).

    Every alpha of every fold comes from one eigendecomposition per fold.
    scikit-learn's ``RidgeCV`` alphas are unscaled: ``sklearn_alpha =
    n_train * alpha`` (see :class:`Ridge`).
""" + _CV_DOC.format(
        l1_doc="",
        eps_doc="1e-6 if n_samples > n_features else 1e-4 (ridge grid of :func:`dreg.core.path.alpha_grid`)",
        alphas_shape="",
        mse_shape="",
        mean_shape="",
    )
    _l1_fixed = 0.0
