"""Cross-validated estimators: ElasticNetCV, LassoCV and RidgeCV (objective in :mod:`._base`).

Every fold, every l1_ratio and the whole path are solved from one pass of
per-fold statistics (:func:`dreg.core.cv.cross_validate`), then the model is
refit on all rows along the selected l1_ratio's grid.
"""

from __future__ import annotations

import numbers

import numpy as np
from numpy.typing import ArrayLike

from dreg.core.cv import CVResult, cross_validate
from dreg.core.folds import resolve_seed
from dreg.core.path import PathResult, enet_path
from dreg.core.stats import SufficientStats
from dreg.core.wide import SparseOracle, wide_cross_validate
from dreg.estimators._base import COMMON_PARAMS, _Base, warn_if_not_converged
from dreg.estimators._input import FoldSpec, is_dask_collection, raise_for_invalid
from dreg.estimators._single import _wide_solver
from dreg.estimators._sklearn_base import check_is_fitted
from dreg.estimators._validation import check_param, check_params, penalty_from_params

__all__ = ["ElasticNetCV", "LassoCV", "RidgeCV"]


def _splits_to_folds(cv: object, X: object, y: object) -> np.ndarray:
    """Fold labels from a scikit-learn splitter or an iterable of ``(train, test)``.

    dreg's one-pass CV needs each training set to be the complement of its
    test set (rows in no test set are always training, label ``-1``), as for
    KFold, GroupKFold or PredefinedSplit; other schemes are refused.
    """
    if is_dask_collection(X):
        raise ValueError("a CV splitter needs in-memory X; for Dask inputs give per-row folds= labels")
    n = X.shape[0] if hasattr(X, "shape") else len(X)
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



class _CV(_Base):
    def _l1_ratios(self) -> np.ndarray:
        if self._l1_fixed is not None:
            return np.array([self._l1_fixed])
        return np.atleast_1d(np.asarray(check_param("l1_ratio", self.l1_ratio, "l1_ratios"), dtype=np.float64))

    def _check_cv_params(self) -> None:
        check_params(self, COMMON_PARAMS)
        check_param("selection", self.selection)
        if isinstance(self.cv, bool) or isinstance(self.cv, numbers.Integral):
            check_param("cv", self.cv)
        elif isinstance(self.cv, str | bytes | float) or not (hasattr(self.cv, "split") or hasattr(self.cv, "__iter__")):
            raise ValueError(
                f"cv must be an integer >= 2, a CV splitter or an iterable of (train, test), got {self.cv!r}"
            )
        check_params(self, ("alphas", "eps"))

    def fit(self, X, y, sample_weight=None, folds=None):
        """Cross-validate the path and refit on all rows at the selected alpha.

        Parameters
        ----------
        X : array-like, scipy.sparse matrix, pandas DataFrame, Dask array or Dask DataFrame of shape (n_samples, n_features)
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
            n_folds = int(self.cv)
        else:
            spec = FoldSpec(folds=folds)
            n_folds = int(np.unique(np.asarray(folds)[np.asarray(folds) >= 0]).size) if not is_dask_collection(folds) else 0
        if self._engine(X, n_folds) == "wide":
            return self._fit_cv_wide(self._wide_data(X, y, sample_weight, spec))
        stats, names = self._stats(X, y, sample_weight, spec)
        return self._fit_cv_stats(stats, names)

    def _fit_cv_wide(self, data):
        """The CV by the wide engine (:func:`dreg.core.wide.wide_cross_validate`): the fold
        models and the all-rows model in the same passes, so no separate refit."""
        oracle = SparseOracle(data.X, data.y, data.sample_weight, data.folds, fit_intercept=self.fit_intercept)
        return self._fit_cv_oracle(oracle, data.feature_names)

    def fit_oracle(self, oracle, feature_names: list[str] | None = None):
        """Fit by the wide engine from a :class:`dreg.core.wide.WideOracle` (e.g. a lake's chunks on
        Dask workers, :class:`dreg.job.wide_lake.LakeOracle`): the data are reached only through it.

        The oracle's models are its ``K`` fold-training models and the all-rows
        model (its ``fit_intercept`` must be this estimator's).
        """
        self._check_cv_params()
        if bool(oracle.fit_intercept) != bool(self.fit_intercept):
            raise ValueError(f"the oracle's fit_intercept={oracle.fit_intercept}, the estimator's {self.fit_intercept}")
        self.n_features_in_ = int(oracle.n_features)
        if feature_names is not None:
            self.feature_names_in_ = np.asarray(list(feature_names), dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        return self._fit_cv_oracle(oracle, feature_names)

    def _fit_cv_oracle(self, oracle, feature_names):
        l1_ratios = self._l1_ratios()
        p = int(oracle.n_features)
        penalty = penalty_from_params(self, float(l1_ratios[0]), p, feature_names)
        alphas = self.alphas if np.ndim(self.alphas) == 0 else np.asarray(self.alphas, dtype=np.float64)
        res = wide_cross_validate(
            oracle,
            penalty,
            l1_ratios=l1_ratios,
            alphas=alphas,
            eps=self.eps,
            standardize=self.standardize,
            tol=self.tol,
            max_iter=self.max_iter,
            max_gram_bytes=self.max_gram_bytes,
            n_jobs=self.n_jobs,
            solver=_wide_solver(self.solver),
        )
        chosen = res.cv.best_alpha_index if self.selection == "min" else res.cv.alpha_1se_index
        self._set_cv_attributes(res.cv, res.path, chosen)
        # no Gram to refit from between grid points (see _model_at)
        self._refit_ = None
        self.engine_ = "wide"
        self.n_passes_ = int(res.n_passes)
        self.passes_ = res.passes
        self.working_set_ = int(res.working_set)
        return self

    def fit_stats(self, stats: SufficientStats, feature_names: list[str] | None = None):
        """Fit from per-fold statistics computed elsewhere (e.g. a Parquet lake pass).

        ``stats`` holds one label per fold (and optionally ``-1``); the data
        are not needed.  Bad values recorded in ``stats`` raise ``ValueError``.
        """
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
        penalty = penalty_from_params(self, float(l1_ratios[0]), stats.n_features, names)
        alphas = self.alphas if np.ndim(self.alphas) == 0 else np.asarray(self.alphas, dtype=np.float64)
        cv = cross_validate(
            stats,
            penalty,
            l1_ratios=l1_ratios,
            alphas=alphas,
            eps=self.eps,
            fit_intercept=self.fit_intercept,
            standardize=self.standardize,
            datafit=self._datafit,
            solver=self.solver,
            tol=self.tol,
            max_iter=self.max_iter,
            n_jobs=self.n_jobs,
        )
        li = cv.best_l1_index
        chosen = cv.best_alpha_index if self.selection == "min" else cv.alpha_1se_index
        problem = self._problem(stats)
        refit_penalty = penalty.with_l1_ratio(float(cv.l1_ratios[li]))
        path = enet_path(
            problem,
            cv.alphas[li],
            refit_penalty,
            solver=self.solver,
            tol=self.tol,
            max_iter=self.max_iter,
        )
        self._set_cv_attributes(cv, path, chosen)
        # the all-rows problem (a p x p Gram): any alpha of the path is an exact refit from it
        self._refit_ = (problem, refit_penalty)
        self.engine_ = "gram"
        self.n_passes_ = 1
        for name in ("passes_", "working_set_"):
            if hasattr(self, name):
                delattr(self, name)
        return self

    def restore_refit(self, stats: SufficientStats) -> None:
        """Give a fitted model (e.g. read from a registry) the statistics of its fit, so that
        :meth:`coef_at` refits between grid points.  ``stats``: those of every row (any labels)."""
        check_is_fitted(self, "coef_path_")
        if stats.n_features != self.coef_.shape[0]:
            raise ValueError(f"the statistics have {stats.n_features} features, the model {self.coef_.shape[0]}")
        names = list(self.feature_names_in_) if hasattr(self, "feature_names_in_") else None
        penalty = penalty_from_params(self, float(self.l1_ratio_), stats.n_features, names)
        self._refit_ = (self._problem(stats), penalty.with_l1_ratio(float(self.l1_ratio_)))

    # -- any alpha of the path ----------------------------------------------
    def _model_at(self, alpha: float) -> tuple[np.ndarray, float]:
        """``(coef, intercept)`` of the all-rows model at ``alpha`` (chosen ``l1_ratio_``)."""
        check_is_fitted(self, "coef_path_")
        try:
            a = float(alpha)
        except (TypeError, ValueError):
            raise ValueError(f"alpha must be a number, got {alpha!r}") from None
        if not np.isfinite(a) or a < 0:
            raise ValueError(f"alpha must be finite and >= 0, got {alpha!r}")
        cv = self.cv_result_
        grid = np.asarray(cv.alphas[cv.best_l1_index], dtype=np.float64)
        on = np.flatnonzero(np.abs(grid - a) <= 1e-12 * grid)
        if on.size:
            k = int(on[0])
            return self.coef_path_[k].copy(), float(self.intercept_path_[k])
        refit = getattr(self, "_refit_", None)
        if refit is None and getattr(self, "engine_", "gram") == "wide":
            raise ValueError(
                f"alpha={a:g} is not on the grid of this model (alphas_ from {grid.max():g} to {grid.min():g}); "
                "a model fitted by the wide engine keeps no Gram matrix to refit from between grid "
                "points: use a grid alpha, or fit again with that alpha in alphas"
            )
        if refit is None:
            raise ValueError(
                f"alpha={a:g} is not on the grid of this model (alphas_ from {grid.max():g} to {grid.min():g}); "
                "off the grid the model is an exact refit from the statistics of the fit, which a model "
                "loaded from model.json does not carry: use a grid alpha, or fit again"
            )
        problem, penalty = refit
        # warm start from the nearest grid model on the side of larger alphas (sparser)
        above = np.flatnonzero(grid > a)
        init = self.coef_path_[int(above[np.argmin(grid[above])])] if above.size else self.coef_path_[-1]
        res = enet_path(
            problem, np.array([a]), penalty, solver=self.solver, tol=self.tol, max_iter=self.max_iter, coef_init=init
        )
        return np.asarray(res.coef[0], dtype=np.float64), float(res.intercept[0])

    def coef_at(self, alpha: float) -> np.ndarray:
        """Coefficients of the all-rows model at any ``alpha`` of the chosen ``l1_ratio_``.

        On a grid point this is that row of ``coef_path_``; between (or beyond)
        grid points it is an exact refit from the fit's statistics (the
        solution of the objective at ``alpha``, to the solver's KKT precision),
        never an interpolation.  A model loaded from ``model.json`` holds the
        path but not the statistics: it answers on grid points only.

        Parameters
        ----------
        alpha : float
            >= 0.

        Returns
        -------
        ndarray of shape (n_features,)
        """
        return self._model_at(alpha)[0]

    def intercept_at(self, alpha: float) -> float:
        """The intercept of the all-rows model at ``alpha`` (see :meth:`coef_at`)."""
        return self._model_at(alpha)[1]

    def predict(self, X: ArrayLike, alpha: float | None = None):
        """Predict with the chosen model, or with the model at ``alpha`` (see :meth:`coef_at`).

        Parameters
        ----------
        X : array-like, scipy.sparse matrix, pandas DataFrame, Dask array or Dask DataFrame of shape (n_samples, n_features)
        alpha : float, optional
            Default: the chosen alpha (``chosen_alpha_``), i.e. ``coef_`` and ``intercept_``.

        Returns
        -------
        ndarray of shape (n_samples,), or a lazy Dask array for Dask inputs
        """
        if alpha is None:
            return super().predict(X)
        coef, b = self._model_at(alpha)
        return self._predict_with(X, coef, b)

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
        warn_if_not_converged(self, bool(path.converged[chosen]))
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
    engine : {{'auto', 'gram', 'wide'}}, default 'auto'
        As in :class:`ElasticNet`; 'auto' picks 'wide' for scipy.sparse input
        whose ``K + 1`` dense Grams (``K`` folds and the refit), ``(K + 1) p^2 8``
        bytes, exceed ``max_gram_bytes``, or with ``p >= 1500`` features whose
        columns share at most 0.1 rows on average (``(nnz / p)^2 / n <= 0.1``;
        the crossover measured by ``benchmarks/bench_crossover.py``).  The wide engine solves the fold
        models and the all-rows model along the grid in the same passes
        (``n_passes_``, ``passes_``); its models answer ``coef_at`` on grid
        alphas only.
    max_gram_bytes : int, default 2**31
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
    impute : None, {{'mean', 'zero'}}, float or dict, default None
        DataFrames: what replaces missing (NaN/None/NA) values of numeric
        columns -- the weighted mean of the observed values, 0, a number, or a
        mapping ``{{column: rule}}`` for some columns (see
        :mod:`dreg.estimators._encoding`).  None: missing values raise.
    missing_indicator : bool, default False
        Add a 0/1 ``"column=<null>"`` feature for each imputed column that had
        missing values.
    min_level_count : float, default 0
        Levels of categorical columns (category, object, string, bool dtypes:
        one 0/1 feature per level, null a level) seen in fewer rows are lumped
        into ``"column=<other>"``.

    Attributes
    ----------
    encoding_ : Encoding
        Only for DataFrames with categorical columns or ``impute``: the
        levels, their counts and the imputation values
        (:class:`dreg.core.design.Encoding`).
    feature_names_ : ndarray of shape (n_features,)
        The names of ``coef_``'s features (``column=level`` for dummies).
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
    engine_ : str
        The engine that ran, 'gram' or 'wide'.
    n_passes_ : int
        Passes over the data (1 for the Gram engine).
    passes_ : ndarray of shape (n_l1_ratios, n_alphas)
        Wide engine only: passes spent on each alpha (one gradient pass per
        KKT check, one Gram-block pass per admission to the working set).
    working_set_ : int
        Wide engine only: features whose Gram columns the coordinator held at the end.
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
        engine: str = "auto",
        max_gram_bytes: int = 2**31,
        selection: str = "min",
        tol: float = 1e-7,
        max_iter: int = 10_000,
        random_state=0,
        n_jobs: int | None = None,
        impute=None,
        missing_indicator: bool = False,
        min_level_count: float = 0,
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
        self.engine = engine
        self.max_gram_bytes = max_gram_bytes
        self.selection = selection
        self.tol = tol
        self.max_iter = max_iter
        self.impute = impute
        self.missing_indicator = missing_indicator
        self.min_level_count = min_level_count
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
        engine: str = "auto",
        max_gram_bytes: int = 2**31,
        selection: str = "min",
        tol: float = 1e-7,
        max_iter: int = 10_000,
        random_state=0,
        n_jobs: int | None = None,
        impute=None,
        missing_indicator: bool = False,
        min_level_count: float = 0,
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
        self.engine = engine
        self.max_gram_bytes = max_gram_bytes
        self.selection = selection
        self.tol = tol
        self.max_iter = max_iter
        self.impute = impute
        self.missing_indicator = missing_indicator
        self.min_level_count = min_level_count
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
