"""Penalized logistic and Poisson regression: LogisticRegression(CV), PoissonRegressor(CV).

Each model minimises glmnet's objective, for sample weights ``w`` (default 1)::

    (1/sum(w)) sum_i w_i nll(y_i, b + x_i^T beta)
        + alpha sum_j pf_j (l1_ratio |beta_j| + (1 - l1_ratio)/2 beta_j^2)

with ``nll = log(1 + e^eta) - y eta`` (binomial, ``y`` in {0, 1} mapped from the
two classes, ``classes_[1]`` is 1) or ``nll = e^eta - y eta`` (Poisson, ``y >=
0``).  ``standardize``, ``fit_intercept``, ``penalty_factor``, the bounds and
the weights mean what they mean for :class:`dreg.ElasticNet`; the intercept is
never penalized.  With ``standardize=False``:

* scikit-learn's ``LogisticRegression(C=C, l1_ratio=r)`` is ``alpha = 1 / (C n)``
  (``1 / (C sum(w))`` with weights), ``l1_ratio = r``;
* scikit-learn's ``PoissonRegressor(alpha=a)`` is ``alpha = a``, ``l1_ratio = 0``.

The fit reads the data a few times (:mod:`dreg.core.glm`): pass 0 is the
statistics pass, each later pass advances every fold model and every alpha
at once; ``n_passes_`` reports how many.  Dask inputs are persisted on the
workers for the passes (:mod:`dreg._dask_glm`).
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from dreg.core.cv import select_alpha
from dreg.core.datafit import PROBABILITY_CLAMP, Binomial, Poisson
from dreg.core.folds import fold_ids, resolve_seed
from dreg.core.glm import GLMPathResult, glm_fit, in_memory_pass
from dreg.core.stats import SufficientStats
from dreg.core.wide import gram_bytes
from dreg.core.wide_glm import SparseGLMRows, WideGLMResult, wide_glm_fit
from dreg.estimators._cv import _splits_to_folds
from dreg.estimators._encoding import EncodingMixin
from dreg.estimators._input import (
    FoldSpec,
    _check_folds,
    compute_stats,
    is_dask_collection,
    is_sparse,
    sparse_data,
    to_numpy_1d,
    to_numpy_X,
)
from dreg.estimators._sklearn_base import BaseEstimator, ClassifierMixin, RegressorMixin, check_is_fitted
from dreg.estimators._validation import check_param, check_params, penalty_from_params

__all__ = ["LogisticRegression", "LogisticRegressionCV", "PoissonRegressor", "PoissonRegressorCV"]

_GLM_PARAMS = ("tol", "max_iter", "fit_intercept", "standardize", "positive", "engine", "max_gram_bytes")


# --------------------------------------------------------------------------- data
def _prepare(est, X, y, sample_weight, spec: FoldSpec | None):
    """``(stats, names, run_pass, classes)`` of the inputs: pass 0 done, the passes ready."""
    fam = est._family
    spec = spec or FoldSpec()
    X = est._fit_encoding(X, sample_weight)
    if any(is_dask_collection(v) for v in (X, y, sample_weight, spec.folds)):
        from dreg._dask_glm import persist_glm_data
        from dreg.estimators._input import raise_for_invalid

        data = persist_glm_data(X, y, sample_weight, spec, fam.name)
        raise_for_invalid(data.stats, data.feature_names)
        return data.stats, data.feature_names, data.run_pass, data.classes
    Xa, names = to_numpy_X(X)
    n = Xa.shape[0]
    if n == 0:
        raise ValueError("Found array with 0 sample(s) (shape=(0, %d)) while a minimum of 1 is required." % Xa.shape[1])
    ya, classes = _targets(fam, y, n)
    wa = None if sample_weight is None else to_numpy_1d(sample_weight, "sample_weight", n).astype(np.float64)
    if spec.folds is not None:
        fa = _check_folds(to_numpy_1d(spec.folds, "folds", n))
        spec = FoldSpec(folds=fa)
    elif spec.n_folds is not None:
        fa = fold_ids(0, n, spec.n_folds, spec.random_state)
        spec = FoldSpec(folds=fa)
    else:
        fa = None
    stats, names2, _ = compute_stats(Xa, ya, wa, spec)
    Xf = Xa if Xa.dtype == np.float64 else Xa.astype(np.float64)
    return stats, names, in_memory_pass(Xf, ya, wa, fa, n_jobs=getattr(est, "n_jobs", None)), classes


def _targets(fam, y, n: int) -> tuple[np.ndarray, np.ndarray | None]:
    """``(y as float64, classes)``: binomial labels mapped to 0/1 (``classes[1]`` is 1), Poisson counts checked."""
    if fam.name == "binomial":
        y_raw = _labels_1d(y, n)
        from sklearn.utils.multiclass import type_of_target

        kind = type_of_target(y_raw, input_name="y")
        if kind not in ("binary", "multiclass"):
            raise ValueError(f"Unknown label type: {kind}; binomial (logistic) regression needs 2 class labels")
        classes = np.unique(y_raw)
        if classes.size != 2:
            what = "one class" if classes.size == 1 else f"{classes.size} classes"
            raise ValueError(
                f"Only binary classification is supported: binomial (logistic) regression needs exactly 2 classes "
                f"in y, got {what}: {classes[:10].tolist()}"
            )
        ya = (y_raw == classes[1]).astype(np.float64)
    else:
        classes = None
        ya = to_numpy_1d(y, "y", n).astype(np.float64)
        if np.any(ya < 0):
            raise ValueError(f"Poisson regression needs y >= 0, got {int(np.sum(ya < 0))} negative value(s)")
    return ya, classes


def _engine(est, X, n_folds: int) -> str:
    """The engine of a GLM fit: ``'gram'`` (dense rows, :mod:`dreg.core.glm`) or ``'wide'`` (:mod:`dreg.core.wide_glm`).

    ``'auto'``: scipy.sparse input always takes the wide engine (its passes
    are sparse products; the Gram engine's passes need dense rows), dense
    in-memory input takes it when the ``n_folds + 1`` dense Grams,
    ``(K + 1) p^2 8`` bytes, exceed ``max_gram_bytes``, Dask input never.
    """
    engine = check_param("engine", est.engine)
    budget = check_param("max_gram_bytes", est.max_gram_bytes)
    dask = is_dask_collection(X)
    if engine == "wide":
        if dask:
            raise ValueError("engine='wide' needs in-memory X (numpy, pandas or scipy.sparse); Dask inputs use 'gram'")
        return "wide"
    if dask:
        return "gram"
    if is_sparse(X):
        if engine == "gram":
            raise ValueError(
                "engine='gram' needs dense rows for logistic and Poisson fits; scipy.sparse X takes engine='wide' "
                "(or 'auto'), or densify X yourself"
            )
        return "wide"
    shape = getattr(X, "shape", None)
    if shape is None:  # lists and array-likes: their converted shape
        shape = np.asarray(X).shape
    p = int(shape[1]) if len(shape) == 2 else 0  # DataFrames: the columns before any one-hot encoding
    need = gram_bytes(p, n_folds + 1)
    if need > budget:
        if engine == "auto":
            return "wide"
        raise ValueError(
            f"engine='gram' with p={p} features needs {n_folds + 1} dense p x p Gram matrices, {need:,} bytes "
            f"((K + 1) p^2 8 with K={n_folds} folds), more than max_gram_bytes={budget:,}; use engine='wide' "
            "(or 'auto'), or raise max_gram_bytes"
        )
    return "gram"


def _prepare_wide(est, X, y, sample_weight, spec: FoldSpec | None):
    """``(rows, names, classes)`` for the wide engine: checked sparse rows, never densified."""
    fam = est._family
    X = est._fit_encoding(X, sample_weight)
    n = int(X.shape[0])
    ya, classes = _targets(fam, y, n)
    data = sparse_data(X, ya, sample_weight, spec)
    est._set_features(int(data.X.shape[1]), data.feature_names, X)
    rows = SparseGLMRows(data.X, data.y, data.sample_weight, data.folds)
    return rows, data.feature_names, classes


def _labels_1d(y, n: int) -> np.ndarray:
    if y is None:
        raise ValueError("this estimator requires y to be passed, but the target y is None")
    arr = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        from sklearn.exceptions import DataConversionWarning

        warnings.warn(
            "A column-vector y was passed when a 1d array was expected. Please change the shape of y "
            "to (n_samples,), for example using ravel().",
            DataConversionWarning,
            stacklevel=4,
        )
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"y must be 1-dimensional, got shape {arr.shape}")
    if arr.shape[0] != n:
        raise ValueError(f"X has {n} rows but y has {arr.shape[0]}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ValueError("Input y contains NaN or infinity")
    return arr


# --------------------------------------------------------------------------- shared base
class _GLMBase(EncodingMixin, BaseEstimator):
    _family: Binomial | Poisson

    def _set_features(self, n_features: int, names, X) -> None:
        self.n_features_in_ = int(n_features)
        columns = getattr(X, "columns", None)
        if names is not None and columns is not None and all(isinstance(c, str) for c in columns):
            self.feature_names_in_ = np.asarray(names, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_

    def _warn(self, res: GLMPathResult, index: tuple) -> None:
        if not bool(res.converged[index]):
            from sklearn.exceptions import ConvergenceWarning

            warnings.warn(
                f"{type(self).__name__}: not converged within max_iter={self.max_iter} passes "
                f"(largest KKT violation {float(res.kkt[index]):.2e}); increase max_iter or tol",
                ConvergenceWarning,
                stacklevel=3,
            )

    def _set_wide(self, out: WideGLMResult | None) -> None:
        """``working_set_`` and ``n_rounds_`` of a wide fit (removed after a Gram-engine fit)."""
        if out is None:
            for name in ("working_set_", "n_rounds_"):
                if hasattr(self, name):
                    delattr(self, name)
            return
        self.working_set_ = int(out.working_set.size)
        self.n_rounds_ = int(out.n_rounds)

    # -- prediction ------------------------------------------------------------
    def _model_at(self, alpha: float) -> tuple[np.ndarray, float]:
        raise ValueError(f"{type(self).__name__} was fitted at one alpha; the CV estimators answer at any alpha")

    def _linear(self, X, alpha: float | None = None):
        check_is_fitted(self, "coef_")
        X = self._predict_encoding(X)
        if alpha is None:
            coef = np.asarray(self.coef_, dtype=np.float64).reshape(-1)
            b = float(np.asarray(self.intercept_).reshape(-1)[0])
        else:
            coef, b = self._model_at(alpha)
        names = getattr(self, "feature_names_in_", None)
        if hasattr(X, "columns") and names is not None:
            missing = [n for n in names if n not in set(map(str, X.columns))]
            if missing:
                raise ValueError(f"X is missing {len(missing)} feature column(s) seen in fit: {missing[:10]}")
            X = X[list(names)]
        if is_dask_collection(X):
            if hasattr(X, "columns"):
                X = X.to_dask_array(lengths=True)
            if X.ndim != 2 or X.shape[1] != coef.shape[0]:
                raise ValueError(f"X has shape {X.shape}, expected (n, {coef.shape[0]})")
            return X.rechunk({1: -1}).map_blocks(_eta_block, coef, b, drop_axis=1, dtype=np.float64)
        if is_sparse(X):
            if X.ndim != 2 or X.shape[1] != coef.shape[0]:
                raise ValueError(
                    f"X has shape {X.shape}, but {type(self).__name__} is expecting {coef.shape[0]} features as input"
                )
            Xs = X.tocsr()
            if not np.all(np.isfinite(Xs.data)):
                raise ValueError("Input X contains NaN or infinity")
            return np.asarray(Xs @ coef, dtype=np.float64).reshape(-1) + b
        Xa, _ = to_numpy_X(X)
        if Xa.shape[1] != coef.shape[0]:
            raise ValueError(
                f"X has {Xa.shape[1]} features, but {type(self).__name__} is expecting {coef.shape[0]} features as input"
            )
        if Xa.dtype.kind == "f" and not np.all(np.isfinite(Xa)):
            raise ValueError("Input X contains NaN or infinity")
        return _eta_block(Xa, coef, b)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = True  # scipy.sparse X: the wide engine
        return tags


def _eta_block(X: np.ndarray, coef: np.ndarray, intercept: float) -> np.ndarray:
    return np.asarray(X, dtype=np.float64) @ coef + intercept


class _BinomialMixin(ClassifierMixin):
    _family = Binomial()

    def decision_function(self, X, alpha: float | None = None):
        """The linear predictor ``X @ coef_[0] + intercept_[0]`` (log-odds of ``classes_[1]``).

        ``alpha`` (CV estimators): the model at that alpha of the path instead
        (:meth:`LogisticRegressionCV.coef_at`).  Returns an ndarray of shape
        (n_samples,), or a lazy Dask array for Dask input.
        """
        return self._linear(X, alpha)

    def predict_proba(self, X, alpha: float | None = None):
        """Probabilities of ``classes_``, shape (n_samples, 2), clamped to ``[1e-15, 1 - 1e-15]``
        (``alpha``: of the model at that alpha, CV estimators)."""
        eta = self._linear(X, alpha)
        if is_dask_collection(eta):
            return eta.map_blocks(_proba_block, new_axis=1, chunks=(eta.chunks[0], (2,)), dtype=np.float64)
        return _proba_block(eta)

    def predict_log_proba(self, X, alpha: float | None = None):
        return np.log(self.predict_proba(X, alpha))

    def predict(self, X, alpha: float | None = None):
        """The class of each row: ``classes_[1]`` where the log-odds are positive (``alpha``: of the
        model at that alpha, CV estimators)."""
        eta = self._linear(X, alpha)
        if is_dask_collection(eta):
            return eta.map_blocks(_class_block, self.classes_, dtype=self.classes_.dtype)
        return _class_block(eta, self.classes_)

    def _set_classes(self, classes) -> None:
        self.classes_ = np.asarray(classes)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags


def _proba_block(eta: np.ndarray) -> np.ndarray:
    p1 = Binomial().mean(eta)
    return np.column_stack([1.0 - p1, p1])


def _class_block(eta: np.ndarray, classes: np.ndarray) -> np.ndarray:
    return classes[(eta > 0).astype(np.int64)]


class _PoissonMixin(RegressorMixin):
    _family = Poisson()

    def predict(self, X, alpha: float | None = None):
        """The mean ``exp(X @ coef_ + intercept_)`` (``alpha``: of the model at that alpha, CV estimators)."""
        eta = self._linear(X, alpha)
        if is_dask_collection(eta):
            return eta.map_blocks(Poisson().mean, dtype=np.float64)
        return Poisson().mean(eta)

    def score(self, X, y, sample_weight=None) -> float:
        """D^2: the share of the Poisson deviance explained (scikit-learn's ``PoissonRegressor.score``)."""
        mu = np.asarray(self.predict(X))
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        w = np.ones_like(y) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        fam = Poisson()
        sat = fam.saturated(y)
        dev = 2 * w @ (mu - y * np.log(np.maximum(mu, PROBABILITY_CLAMP)) - sat)
        ybar = (w @ y) / w.sum()
        dev0 = 2 * w @ (ybar - y * np.log(max(ybar, PROBABILITY_CLAMP)) - sat)
        return float(1.0 - dev / dev0) if dev0 > 0 else 0.0

    def _set_classes(self, classes) -> None:
        pass

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.positive_only = True
        return tags


# --------------------------------------------------------------------------- single alpha
class _SingleGLM(_GLMBase):
    def fit(self, X, y, sample_weight=None):
        """Fit the model at ``alpha``.

        Parameters
        ----------
        X : array-like, pandas DataFrame, Dask array or Dask DataFrame of shape (n_samples, n_features)
        y : array-like, pandas Series, Dask array or Dask Series of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self
        """
        alpha = check_param("alpha", self.alpha)
        l1_ratio = check_param("l1_ratio", self.l1_ratio)
        check_params(self, _GLM_PARAMS)
        self.engine_ = _engine(self, X, 0)
        if self.engine_ == "wide":
            rows, names, classes = _prepare_wide(self, X, y, sample_weight, None)
            self._set_classes(classes)
            penalty = penalty_from_params(self, l1_ratio, rows.n_features, names)
            out = wide_glm_fit(
                rows, self._family, penalty, alphas=np.array([alpha]), fit_intercept=self.fit_intercept,
                standardize=self.standardize, tol=self.tol, max_passes=self.max_iter, max_gram_bytes=self.max_gram_bytes,
            )  # fmt: skip
            self._set_wide(out)
            res = out.path
        else:
            stats, names, run_pass, classes = _prepare(self, X, y, sample_weight, None)
            self._set_features(stats.n_features, names, X)
            self._set_classes(classes)
            penalty = penalty_from_params(self, l1_ratio, stats.n_features, names)
            res = glm_fit(
                stats, self._family, penalty, run_pass, alphas=np.array([alpha]), fit_intercept=self.fit_intercept,
                standardize=self.standardize, tol=self.tol, max_passes=self.max_iter,
            )
            self._set_wide(None)
        self._set_coef(res.coef[0, 0], float(res.intercept[0, 0]))
        self.n_passes_ = int(res.n_passes) + 1
        self.n_iter_ = self.n_passes_
        self.kkt_violation_ = float(res.kkt[0, 0, -1])
        self._warn(res, (0, 0, -1))
        return self


class LogisticRegression(_BinomialMixin, _SingleGLM):
    """Penalized logistic regression (binomial GLM, logit link) at one alpha.

    Minimises the objective of the module docs with ``nll = log(1 + e^eta) - y eta``.
    ``LogisticRegression(C=C, l1_ratio=r)`` of scikit-learn is ``alpha = 1 / (C n)``
    with ``standardize=False``.

    Parameters
    ----------
    alpha : float, default 0.01
    l1_ratio : float, default 0.0
    fit_intercept, standardize, penalty_factor, positive, lower_bounds, upper_bounds
        As in :class:`dreg.ElasticNet`.
    tol : float, default 1e-8
        KKT tolerance relative to the gradient of the intercept-only model.
    max_iter : int, default 100
        Maximum passes over the data.
    n_jobs : int or None
        Threads of the in-process passes (numpy input).
    impute : None, {'mean', 'zero'}, float or dict, default None
        DataFrames: what replaces missing (NaN/None/NA) values of numeric
        columns -- the weighted mean of the observed values, 0, a number, or a
        mapping ``{column: rule}`` for some columns (see
        :mod:`dreg.estimators._encoding`).  None: missing values raise.
    missing_indicator : bool, default False
        Add a 0/1 ``"column=<null>"`` feature for each imputed column that had
        missing values.
    min_level_count : float, default 0
        Levels of categorical columns (category, object, string, bool dtypes:
        one 0/1 feature per level, null a level) seen in fewer rows are lumped
        into ``"column=<other>"``.
    engine : {'auto', 'gram', 'wide'}, default 'auto'
        ``'gram'``: passes over dense rows with per-fold ``p x p`` Hessians
        (:mod:`dreg.core.glm`); ``'wide'``: a working set of features over
        sparse rows (:mod:`dreg.core.wide_glm`: the Gram engine's solver on the
        working set, one gradient pass over all features per round, never a
        ``p x p`` matrix).  ``'auto'``: ``'wide'`` for scipy.sparse ``X`` and
        where the ``K + 1`` dense Grams exceed ``max_gram_bytes``, ``'gram'``
        otherwise (Dask input: always).  A wide CV model answers ``coef_at``
        on its grid alphas only.
    max_gram_bytes : int, default 2**31
        Memory budget of the dense Grams (see ``engine``); the wide engine's
        working-set Grams must fit in it too.

    Attributes
    ----------
    encoding_ : Encoding
        Only for DataFrames with categorical columns or ``impute``: the
        levels, their counts and the imputation values
        (:class:`dreg.core.design.Encoding`).
    feature_names_ : ndarray of shape (n_features,)
        The names of ``coef_``'s features (``column=level`` for dummies).
    classes_ : ndarray of shape (2,)
    coef_ : ndarray of shape (1, n_features)
    intercept_ : ndarray of shape (1,)
    n_passes_ : int
        Passes over the data, pass 0 included.
    engine_ : str
        The engine that ran (``'gram'`` or ``'wide'``).
    working_set_, n_rounds_ : int
        Wide engine only: the features of the final working set and the
        restricted solves (each followed by one gradient pass over all features).
    n_iter_, kkt_violation_, n_features_in_, feature_names_in_
    """

    def __init__(
        self,
        alpha: float = 0.01,
        l1_ratio: float = 0.0,
        *,
        fit_intercept: bool = True,
        standardize: bool = True,
        penalty_factor=None,
        positive: bool = False,
        lower_bounds=None,
        upper_bounds=None,
        tol: float = 1e-8,
        max_iter: int = 100,
        n_jobs: int | None = None,
        impute=None,
        missing_indicator: bool = False,
        min_level_count: float = 0,
        engine: str = "auto",
        max_gram_bytes: int = 2**31,
    ) -> None:
        self.engine = engine
        self.max_gram_bytes = max_gram_bytes
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.penalty_factor = penalty_factor
        self.positive = positive
        self.lower_bounds = lower_bounds
        self.upper_bounds = upper_bounds
        self.tol = tol
        self.max_iter = max_iter
        self.impute = impute
        self.missing_indicator = missing_indicator
        self.min_level_count = min_level_count
        self.n_jobs = n_jobs

    def _set_coef(self, coef: np.ndarray, intercept: float) -> None:
        self.coef_ = coef.reshape(1, -1).copy()
        self.intercept_ = np.array([intercept])


class PoissonRegressor(_PoissonMixin, _SingleGLM):
    """Penalized Poisson regression (log link) at one alpha; ``predict`` returns the mean.

    Minimises the objective of the module docs with ``nll = e^eta - y eta``.
    scikit-learn's ``PoissonRegressor(alpha=a)`` is ``alpha = a``, ``l1_ratio = 0``
    with ``standardize=False``.  Parameters as :class:`LogisticRegression`.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
    intercept_ : float
    n_passes_, n_iter_, kkt_violation_, n_features_in_, feature_names_in_
    """

    def __init__(
        self,
        alpha: float = 0.01,
        l1_ratio: float = 0.0,
        *,
        fit_intercept: bool = True,
        standardize: bool = True,
        penalty_factor=None,
        positive: bool = False,
        lower_bounds=None,
        upper_bounds=None,
        tol: float = 1e-8,
        max_iter: int = 100,
        n_jobs: int | None = None,
        impute=None,
        missing_indicator: bool = False,
        min_level_count: float = 0,
        engine: str = "auto",
        max_gram_bytes: int = 2**31,
    ) -> None:
        self.engine = engine
        self.max_gram_bytes = max_gram_bytes
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.penalty_factor = penalty_factor
        self.positive = positive
        self.lower_bounds = lower_bounds
        self.upper_bounds = upper_bounds
        self.tol = tol
        self.max_iter = max_iter
        self.impute = impute
        self.missing_indicator = missing_indicator
        self.min_level_count = min_level_count
        self.n_jobs = n_jobs

    def _set_coef(self, coef: np.ndarray, intercept: float) -> None:
        self.coef_ = coef.copy()
        self.intercept_ = float(intercept)


# --------------------------------------------------------------------------- cross-validated
class _CVGLM(_GLMBase):
    _scorings: tuple[str, ...] = ("deviance",)

    def fit(self, X, y, sample_weight=None, folds=None):
        """Cross-validate the path of every l1_ratio and refit on all rows (in the same passes).

        Parameters
        ----------
        X, y, sample_weight
            As in :meth:`LogisticRegression.fit`.
        folds : array-like of int of shape (n_samples,), optional
            Fold label of each row (overrides ``cv``); ``-1``: always training.

        Returns
        -------
        self
        """
        ratios = np.atleast_1d(np.asarray(check_param("l1_ratio", self.l1_ratio, "l1_ratios"), dtype=np.float64))
        check_params(self, _GLM_PARAMS)
        check_param("selection", self.selection)
        check_params(self, ("alphas", "eps"))
        check_param("scoring", self.scoring)
        if self.scoring not in self._scorings:
            raise ValueError(f"scoring must be one of {self._scorings}, got {self.scoring!r}")
        if isinstance(self.cv, bool) or isinstance(self.cv, numbers.Integral):
            check_param("cv", self.cv)
        else:
            if folds is not None:
                raise ValueError("give either a CV splitter in cv or folds=, not both")
            folds = _splits_to_folds(self.cv, X, y)
        if folds is None:
            spec = FoldSpec(n_folds=int(self.cv), random_state=resolve_seed(self.random_state))
            n_folds = int(self.cv)
        else:
            spec = FoldSpec(folds=folds)
            n_folds = int(np.unique(np.asarray(folds)[np.asarray(folds) >= 0]).size) if not is_dask_collection(folds) else 0
        self.engine_ = _engine(self, X, n_folds)
        if self.engine_ == "wide":
            rows, names, classes = _prepare_wide(self, X, y, sample_weight, spec)
            n_samples = int(np.count_nonzero(rows.w > 0))
            fold_labels, penalty, alphas = self._cv_setup(rows.labels, n_samples, rows.n_features, names, classes, ratios)
            out = wide_glm_fit(
                rows, self._family, penalty, l1_ratios=ratios, alphas=alphas, eps=self.eps, folds=fold_labels,
                fit_intercept=self.fit_intercept, standardize=self.standardize, tol=self.tol, max_passes=self.max_iter,
                auc=isinstance(self._family, Binomial), max_gram_bytes=self.max_gram_bytes,
            )  # fmt: skip
            self._set_cv(out.path)
            self._set_wide(out)
            return self
        self._set_wide(None)
        stats, names, run_pass, classes = _prepare(self, X, y, sample_weight, spec)
        self._set_features(stats.n_features, names, X)
        self._fit_prepared(stats, names, run_pass, classes, ratios)
        # in-memory rows (already held by the caller): coef_at refits between grid points from them;
        # passes over a cluster's persisted rows are released, as in the batch job
        in_memory = not any(is_dask_collection(v) for v in (X, y, sample_weight, folds))
        self._refit_ = (stats, names, run_pass) if in_memory else None
        return self

    def fit_passes(self, stats: SufficientStats, feature_names, run_pass, classes=None):
        """Fit from pass-0 statistics and a way to run the further passes (the batch job's entry).

        Parameters
        ----------
        stats : SufficientStats
            Pass-0 statistics per fold label of the rows (binomial: the target
            already mapped to 0/1 with ``classes[1]`` as 1).
        feature_names : list of str
        run_pass : callable
            ``run_pass(PassRequest) -> PassStats`` over the same rows, fold
            labels and (0/1) targets (:func:`dreg.core.glm.glm_block_pass` on
            every block, merged with :func:`dreg.core.glm.merge_pass`).
        classes : array-like of 2 labels, optional
            Binomial: the original labels (``classes_``).

        Returns
        -------
        self
        """
        ratios = np.atleast_1d(np.asarray(check_param("l1_ratio", self.l1_ratio, "l1_ratios"), dtype=np.float64))
        check_params(self, _GLM_PARAMS)
        check_param("selection", self.selection)
        check_params(self, ("alphas", "eps"))
        check_param("scoring", self.scoring)
        if self.scoring not in self._scorings:
            raise ValueError(f"scoring must be one of {self._scorings}, got {self.scoring!r}")
        names = [str(f) for f in feature_names]
        if len(names) != stats.n_features:
            raise ValueError(f"{len(names)} feature names for statistics of {stats.n_features} features")
        self.n_features_in_ = stats.n_features
        self.feature_names_in_ = np.asarray(names, dtype=object)
        return self._fit_prepared(stats, names, run_pass, None if classes is None else np.asarray(classes), ratios)

    def __getstate__(self) -> dict:
        # the training rows' passes (a closure over the caller's arrays) are not part of the
        # model: a pickled copy answers on grid points, as a model loaded from model.json
        state = dict(super().__getstate__())  # object.__getstate__ gives the live __dict__, not a copy
        state.pop("_refit_", None)
        return state

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
        grid = np.asarray(self.alphas_, dtype=np.float64)
        if grid.ndim == 2:  # several l1_ratios: the chosen one's grid
            ratios = np.atleast_1d(np.asarray(self.l1_ratio, dtype=np.float64))
            grid = grid[int(np.argmin(np.abs(ratios - self.l1_ratio_)))]
        on = np.flatnonzero(np.abs(grid - a) <= 1e-12 * grid)
        coef_path = np.asarray(self.coef_path_, dtype=np.float64)
        if on.size:
            k = int(on[0])
            return coef_path[k].reshape(-1).copy(), float(np.asarray(self.intercept_path_).reshape(-1)[k])
        refit = getattr(self, "_refit_", None)
        if refit is None:
            raise ValueError(
                f"alpha={a:g} is not on the grid of this model (alphas from {grid.max():g} to {grid.min():g}); off "
                "the grid a GLM is refitted with passes over its training rows, which this model does not hold "
                "(fitted on Dask collections, or loaded from model.json): use a grid alpha, or fit again"
            )
        stats, names, run_pass = refit
        penalty = penalty_from_params(self, float(self.l1_ratio_), stats.n_features, names)
        res = glm_fit(
            stats, self._family, penalty, run_pass, alphas=np.array([a]), fit_intercept=self.fit_intercept,
            standardize=self.standardize, tol=self.tol, max_passes=self.max_iter,
        )  # fmt: skip
        self._warn(res, (0, 0, -1))
        return np.asarray(res.coef[0, 0], dtype=np.float64).reshape(-1), float(res.intercept[0, 0])

    def coef_at(self, alpha: float) -> np.ndarray:
        """Coefficients of the all-rows model at any ``alpha`` of the chosen ``l1_ratio_``.

        On a grid point, that row of ``coef_path_``; between (or beyond) grid
        points, an exact refit at ``alpha`` with passes over the training rows
        (the single-alpha estimator's solution), never an interpolation.  Only
        fits on in-memory data hold their rows for that: a fit on Dask
        collections or a model loaded from model.json answers on grid points.

        Returns
        -------
        ndarray of shape (n_features,)
        """
        return self._model_at(alpha)[0]

    def intercept_at(self, alpha: float) -> float:
        """The intercept of the all-rows model at ``alpha`` (see :meth:`coef_at`)."""
        return self._model_at(alpha)[1]

    def _cv_setup(self, labels, n_samples: int, n_features: int, names, classes, ratios):
        """``(fold_labels, penalty, alphas)`` of a CV fit over rows labelled ``labels`` (either engine)."""
        self._refit_ = None
        self._set_classes(classes)
        fold_labels = labels[labels >= 0]
        if fold_labels.size < 2:
            raise ValueError(f"cross-validation needs at least 2 folds, got {fold_labels.size} (n_samples={n_samples})")
        penalty = penalty_from_params(self, float(ratios[0]), n_features, names)
        alphas = self.alphas if np.ndim(self.alphas) == 0 else np.asarray(self.alphas, dtype=np.float64)
        return fold_labels, penalty, alphas

    def _fit_prepared(self, stats: SufficientStats, names, run_pass, classes, ratios):
        fold_labels, penalty, alphas = self._cv_setup(
            stats.labels, int(stats.count.sum()), stats.n_features, names, classes, ratios
        )
        res = glm_fit(
            stats, self._family, penalty, run_pass, l1_ratios=ratios, alphas=alphas, eps=self.eps, folds=fold_labels,
            fit_intercept=self.fit_intercept, standardize=self.standardize, tol=self.tol, max_passes=self.max_iter,
            auc=isinstance(self._family, Binomial),
        )
        self._set_cv(res)
        return self

    def _set_cv(self, res: GLMPathResult) -> None:
        K = res.fold_labels.size
        dev = res.deviance_path
        self.deviance_path_ = dev
        self.deviance_mean_ = dev.mean(axis=-1)
        self.deviance_se_ = dev.std(axis=-1, ddof=1) / np.sqrt(K)
        if self.scoring == "deviance":
            mean, se = self.deviance_mean_, self.deviance_se_
        else:
            path = res.auc_path if self.scoring == "auc" else res.accuracy_path
            mean = -path.mean(axis=-1)
            se = path.std(axis=-1, ddof=1) / np.sqrt(K)
        li, ai, a1 = select_alpha(mean, se)
        chosen = ai if self.selection == "min" else a1
        self.alphas_ = res.alphas[li] if res.alphas.shape[0] == 1 else res.alphas
        self.alpha_ = float(res.alphas[li, ai])
        self.alpha_1se_ = float(res.alphas[li, a1])
        self.chosen_alpha_ = float(res.alphas[li, chosen])
        self.chosen_alpha_index_ = int(chosen)
        self.l1_ratio_ = float(res.l1_ratios[li])
        self.coef_path_ = res.coef[li]
        self.intercept_path_ = res.intercept[li]
        self.fold_coef_ = res.fold_coef[li, chosen].copy()
        self.n_folds_ = K
        self.n_passes_ = int(res.n_passes) + 1
        self.n_iter_ = self.n_passes_
        self.dev_ratio_ = res.dev_ratio[li]
        self.kkt_violation_ = float(res.kkt[li, chosen, -1])
        self.path_result_ = res
        self._set_coef(res.coef[li, chosen], float(res.intercept[li, chosen]))
        self._warn(res, (li, chosen, -1))


_CV_DOC = """
    Parameters
    ----------
    l1_ratio : float or list of float, default 1.0
        Candidate mixes; a list is cross-validated.
    alphas : int or array-like, default 100
        Number of alphas from ``alpha_max`` (the grid rule of
        :func:`dreg.core.path.alpha_grid` on the intercept-only model's
        quadratic) or an explicit grid.
    eps : float, optional
        ``alpha_min / alpha_max``; default 1e-4 if n_samples > n_features else 1e-2.
    cv : int, CV splitter or iterable of (train, test), default 5
    selection : {{'min', '1se'}}, default 'min'
        The alpha of ``coef_``: the best CV score, or the largest alpha
        within one standard error of it.
    scoring : {scorings}, default 'deviance'
        The CV criterion: held-out mean deviance (minimised){more}.
    fit_intercept, standardize, penalty_factor, positive, lower_bounds, upper_bounds, tol, max_iter, n_jobs
        As in :class:`{single}`.
    random_state : int, Generator, RandomState or None, default 0
        Seed of the fold assignment.
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
    engine : {{'auto', 'gram', 'wide'}}, default 'auto'
        ``'gram'``: passes over dense rows with per-fold ``p x p`` Hessians
        (:mod:`dreg.core.glm`); ``'wide'``: a working set of features over
        sparse rows (:mod:`dreg.core.wide_glm`: the Gram engine's solver on the
        working set, one gradient pass over all features per round, never a
        ``p x p`` matrix).  ``'auto'``: ``'wide'`` for scipy.sparse ``X`` and
        where the ``K + 1`` dense Grams exceed ``max_gram_bytes``, ``'gram'``
        otherwise (Dask input: always).  A wide CV model answers ``coef_at``
        on its grid alphas only.
    max_gram_bytes : int, default 2**31
        Memory budget of the dense Grams (see ``engine``); the wide engine's
        working-set Grams must fit in it too.

    Attributes
    ----------
    encoding_ : Encoding
        Only for DataFrames with categorical columns or ``impute``: the
        levels, their counts and the imputation values
        (:class:`dreg.core.design.Encoding`).
    feature_names_ : ndarray of shape (n_features,)
        The names of ``coef_``'s features (``column=level`` for dummies).
    alpha_, alpha_1se_, chosen_alpha_, chosen_alpha_index_, l1_ratio_ : float
    alphas_ : ndarray of shape (n_alphas,) or (n_l1_ratios, n_alphas)
    deviance_path_ : ndarray of shape (n_l1_ratios, n_alphas, n_folds)
        Held-out mean deviance of each fold.
    deviance_mean_, deviance_se_ : ndarray of shape (n_l1_ratios, n_alphas)
    {extra}coef_path_ : ndarray of shape (n_alphas, n_features)
        Full-data coefficients along the selected l1_ratio's grid.
    intercept_path_, dev_ratio_ : ndarray of shape (n_alphas,)
    fold_coef_ : ndarray of shape (n_folds, n_features)
    n_passes_ : int
        Passes over the data, pass 0 (statistics) and the AUC pass included.
    engine_ : str
        The engine that ran (``'gram'`` or ``'wide'``).
    working_set_, n_rounds_ : int
        Wide engine only: the features of the final working set and the
        restricted solves (each followed by one gradient pass over all features).
    n_folds_, n_iter_, kkt_violation_, n_features_in_, feature_names_in_
    path_result_ : dreg.core.glm.GLMPathResult
"""


class LogisticRegressionCV(_BinomialMixin, _CVGLM):
    __doc__ = """Penalized logistic regression with alpha (and l1_ratio) chosen by K-fold CV.

    Every fold model, every alpha and every l1_ratio, and the refit on all
    rows, advance together in each pass over the data (:mod:`dreg.core.glm`).
    Objective as in :class:`LogisticRegression`.
""" + _CV_DOC.format(
        scorings="{'deviance', 'auc', 'accuracy'}",
        more=", held-out AUC or accuracy (maximised)",
        single="LogisticRegression",
        extra=(
            "auc_path_, accuracy_path_ : ndarray of shape (n_l1_ratios, n_alphas, n_folds)\n"
            "        Held-out AUC (from fine histograms of the scores, exact to ``auc_error_``) and accuracy.\n"
            "    classes_ : ndarray of shape (2,)\n    coef_ : ndarray of shape (1, n_features)\n"
            "    intercept_ : ndarray of shape (1,)\n    "
        ),
    )
    _scorings = ("deviance", "auc", "accuracy")

    def __init__(
        self,
        l1_ratio=1.0,
        *,
        alphas=100,
        eps: float | None = None,
        cv=5,
        selection: str = "min",
        scoring: str = "deviance",
        fit_intercept: bool = True,
        standardize: bool = True,
        penalty_factor=None,
        positive: bool = False,
        lower_bounds=None,
        upper_bounds=None,
        tol: float = 1e-8,
        max_iter: int = 100,
        random_state=0,
        n_jobs: int | None = None,
        impute=None,
        missing_indicator: bool = False,
        min_level_count: float = 0,
        engine: str = "auto",
        max_gram_bytes: int = 2**31,
    ) -> None:
        self.engine = engine
        self.max_gram_bytes = max_gram_bytes
        self.l1_ratio = l1_ratio
        self.alphas = alphas
        self.eps = eps
        self.cv = cv
        self.selection = selection
        self.scoring = scoring
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.penalty_factor = penalty_factor
        self.positive = positive
        self.lower_bounds = lower_bounds
        self.upper_bounds = upper_bounds
        self.tol = tol
        self.max_iter = max_iter
        self.impute = impute
        self.missing_indicator = missing_indicator
        self.min_level_count = min_level_count
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _set_coef(self, coef: np.ndarray, intercept: float) -> None:
        self.coef_ = coef.reshape(1, -1).copy()
        self.intercept_ = np.array([intercept])

    def _set_cv(self, res: GLMPathResult) -> None:
        self.auc_path_ = res.auc_path
        self.auc_error_ = res.auc_error
        self.accuracy_path_ = res.accuracy_path
        super()._set_cv(res)


class PoissonRegressorCV(_PoissonMixin, _CVGLM):
    __doc__ = """Penalized Poisson regression with alpha (and l1_ratio) chosen by K-fold CV.

    Objective as in :class:`PoissonRegressor`; ``predict`` returns the mean.
""" + _CV_DOC.format(
        scorings="{'deviance'}",
        more="",
        single="PoissonRegressor",
        extra="coef_ : ndarray of shape (n_features,)\n    intercept_ : float\n    ",
    )

    def __init__(
        self,
        l1_ratio=1.0,
        *,
        alphas=100,
        eps: float | None = None,
        cv=5,
        selection: str = "min",
        scoring: str = "deviance",
        fit_intercept: bool = True,
        standardize: bool = True,
        penalty_factor=None,
        positive: bool = False,
        lower_bounds=None,
        upper_bounds=None,
        tol: float = 1e-8,
        max_iter: int = 100,
        random_state=0,
        n_jobs: int | None = None,
        impute=None,
        missing_indicator: bool = False,
        min_level_count: float = 0,
        engine: str = "auto",
        max_gram_bytes: int = 2**31,
    ) -> None:
        self.engine = engine
        self.max_gram_bytes = max_gram_bytes
        self.l1_ratio = l1_ratio
        self.alphas = alphas
        self.eps = eps
        self.cv = cv
        self.selection = selection
        self.scoring = scoring
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.penalty_factor = penalty_factor
        self.positive = positive
        self.lower_bounds = lower_bounds
        self.upper_bounds = upper_bounds
        self.tol = tol
        self.max_iter = max_iter
        self.impute = impute
        self.missing_indicator = missing_indicator
        self.min_level_count = min_level_count
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _set_coef(self, coef: np.ndarray, intercept: float) -> None:
        self.coef_ = coef.copy()
        self.intercept_ = float(intercept)

