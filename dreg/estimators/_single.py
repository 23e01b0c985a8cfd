"""Single-alpha estimators: ElasticNet, Lasso and Ridge (objective in :mod:`._base`).

A fit at one alpha is a short warm-started path ending at that alpha (glmnet's
advice), solved from one pass of statistics.
"""

from __future__ import annotations

import numpy as np

from dreg.core.path import enet_path
from dreg.core.wide import SparseOracle, WideProblem, wide_path
from dreg.estimators._base import COMMON_PARAMS, _Base, warn_if_not_converged
from dreg.estimators._validation import check_param, check_params, penalty_from_params

__all__ = ["ElasticNet", "Lasso", "Ridge"]


class _SingleAlpha(_Base):
    def fit(self, X, y, sample_weight=None):
        """Fit the model at ``alpha``.

        Parameters
        ----------
        X : array-like, scipy.sparse matrix, pandas DataFrame, Dask array or Dask DataFrame of shape (n_samples, n_features)
        y : array-like, pandas Series, Dask array or Dask Series of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights.

        Returns
        -------
        self
        """
        alpha = check_param("alpha", self.alpha)
        l1_ratio = self._l1()
        check_params(self, COMMON_PARAMS)
        if self._engine(X, 0) == "wide":
            data = self._wide_data(X, y, sample_weight, None)
            oracle = SparseOracle(data.X, data.y, data.sample_weight, fit_intercept=self.fit_intercept)
            problem = WideProblem(oracle, standardize=self.standardize, max_gram_bytes=self.max_gram_bytes)
            penalty = penalty_from_params(self, l1_ratio, problem.n_features, data.feature_names)
            alphas = _path_to(alpha, problem.alpha_max(penalty) if l1_ratio > 0 else 0.0)
            wide = wide_path(
                problem, alphas, penalty, tol=self.tol, max_iter=self.max_iter, solver=_wide_solver(self.solver)
            )
            res = wide.model_path(-1)
            self.n_passes_ = int(problem.n_passes)
            self.engine_ = "wide"
        else:
            stats, names = self._stats(X, y, sample_weight, None)
            problem = self._problem(stats)
            penalty = penalty_from_params(self, l1_ratio, stats.n_features, names)
            alphas = _path_to(alpha, penalty.alpha_max(problem) if l1_ratio > 0 else 0.0)
            res = enet_path(problem, alphas, penalty, solver=self.solver, tol=self.tol, max_iter=self.max_iter)
            self.n_passes_ = 1
            self.engine_ = "gram"
        self.coef_ = res.coef[-1].copy()
        self.intercept_ = float(res.intercept[-1])
        self.n_iter_ = int(res.n_iter.sum())
        self.kkt_violation_ = float(res.kkt[-1])
        warn_if_not_converged(self, bool(res.converged[-1]))
        self.solver_ = res.solver
        return self


def _wide_solver(solver: str) -> str:
    """The wide engine's solver for the ``solver`` parameter: consensus ADMM for ``'admm'``
    (:mod:`dreg.core.wide_admm`), else the working set's coordinate descent."""
    return "admm" if solver == "admm" else "cd"


def _path_to(alpha: float, top: float) -> np.ndarray:
    """The alphas of a single fit: glmnet's advice, a short warm-started path from
    ``alpha_max`` (``top``; 0 for ridge) down to a small ``alpha``."""
    if top > alpha > 0:
        return np.geomspace(top, alpha, max(2, min(20, int(np.ceil(np.log10(top / alpha) * 5)) + 1)))
    if alpha == 0 and top > 0:
        return np.concatenate([np.geomspace(top, top * 1e-4, 20), [0.0]])
    return np.array([alpha])


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
        descent otherwise (see :func:`dreg.core.path.choose_solver`).  On the
        wide engine 'admm' is consensus ADMM over row blocks
        (:mod:`dreg.core.wide_admm`) and 'auto' and 'cd' the working set's
        coordinate descent: the same solution.
    engine : {'auto', 'gram', 'wide'}, default 'auto'
        'gram' solves from the dense ``p x p`` Gram of the rows (any input;
        scipy.sparse input is multiplied out without densifying X); 'wide'
        never forms it: strong rules, a KKT check over all features and
        coordinate descent on the Gram block of a working set
        (:mod:`dreg.core.wide`; in-memory input, numpy or scipy.sparse).
        'auto' picks 'wide' for scipy.sparse input whose Gram,
        ``p^2 8`` bytes, exceeds ``max_gram_bytes``, or with ``p >= 1500``
        features whose columns share at most 0.1 rows on average
        (``(nnz / p)^2 / n <= 0.1``: one-hot or hashed features; the crossover
        measured by ``benchmarks/bench_crossover.py``), and 'gram' otherwise.
    max_gram_bytes : int, default 2**31
        The coordinator's budget for Gram matrices (2 GiB): the dense Gram of
        sparse input with ``engine='gram'`` (a ``ValueError`` beyond it), and
        the working set's Gram blocks of the wide engine.
    tol : float, default 1e-7
        Relative tolerance (glmnet's ``thresh`` for CD: ``max_j Q_jj db_j^2 <
        tol * var(y)``; ADMM's ``eps_rel``).  Solutions are then polished to
        rounding accuracy when the support is identified.
    max_iter : int, default 10000
        Maximum CD sweeps or ADMM iterations per alpha.
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

    Attributes
    ----------
    encoding_ : Encoding
        Only for DataFrames with categorical columns or ``impute``: the
        levels, their counts and the imputation values
        (:class:`dreg.core.design.Encoding`).
    feature_names_ : ndarray of shape (n_features,)
        The names of ``coef_``'s features (``column=level`` for dummies).
    coef_ : ndarray of shape (n_features,)
    intercept_ : float
    n_iter_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features,)
        Only when X has string column names.
    kkt_violation_ : float
        Largest violation of the optimality conditions (standardized scale).
    solver_ : str
    engine_ : str
        The engine that ran, 'gram' or 'wide'.
    n_passes_ : int
        Passes over the data (1 for the Gram engine; the wide engine's
        moments, Gram-block and gradient passes).
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
        engine: str = "auto",
        max_gram_bytes: int = 2**31,
        tol: float = 1e-7,
        max_iter: int = 10_000,
        impute=None,
        missing_indicator: bool = False,
        min_level_count: float = 0,
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
        self.engine = engine
        self.max_gram_bytes = max_gram_bytes
        self.tol = tol
        self.max_iter = max_iter
        self.impute = impute
        self.missing_indicator = missing_indicator
        self.min_level_count = min_level_count


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
        engine: str = "auto",
        max_gram_bytes: int = 2**31,
        tol: float = 1e-7,
        max_iter: int = 10_000,
        impute=None,
        missing_indicator: bool = False,
        min_level_count: float = 0,
    ) -> None:
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.penalty_factor = penalty_factor
        self.positive = positive
        self.lower_bounds = lower_bounds
        self.upper_bounds = upper_bounds
        self.solver = solver
        self.engine = engine
        self.max_gram_bytes = max_gram_bytes
        self.tol = tol
        self.max_iter = max_iter
        self.impute = impute
        self.missing_indicator = missing_indicator
        self.min_level_count = min_level_count


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
        engine: str = "auto",
        max_gram_bytes: int = 2**31,
        tol: float = 1e-7,
        max_iter: int = 10_000,
        impute=None,
        missing_indicator: bool = False,
        min_level_count: float = 0,
    ) -> None:
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.penalty_factor = penalty_factor
        self.positive = positive
        self.lower_bounds = lower_bounds
        self.upper_bounds = upper_bounds
        self.solver = solver
        self.engine = engine
        self.max_gram_bytes = max_gram_bytes
        self.tol = tol
        self.max_iter = max_iter
        self.impute = impute
        self.missing_indicator = missing_indicator
        self.min_level_count = min_level_count
