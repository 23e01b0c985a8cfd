"""scikit-learn estimators: Lasso, Ridge, ElasticNet, LogisticRegression, PoissonRegressor and their CV versions.

They check their parameters (:mod:`._validation`) and inputs (:mod:`._input`),
compute per-fold statistics in one pass (in-process for numpy and pandas, on
Dask for Dask collections), and solve every path from them with
:mod:`dreg.core`.  :mod:`._base` holds the shared fit/predict/score and the
objective, :mod:`._single` the single-alpha estimators, :mod:`._cv` the CV ones,
:mod:`._glm` the binomial and Poisson estimators (a few passes, :mod:`dreg.core.glm`).

The classes are imported on first use, and they do not import scikit-learn
(a 1-2 s import on a small machine): they derive from :mod:`._sklearn_base`,
whose classes become scikit-learn's ``BaseEstimator`` and mixins once
``sklearn.base`` is imported.  The batch job's path (fit from statistics,
:mod:`.serialize`, predict) and the gaussian estimators on 2-d numpy arrays
run without it; other in-memory inputs (DataFrames, lists, logistic labels)
import it to be checked by scikit-learn's ``check_array`` and ``type_of_target``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dreg._lazy import lazy_attributes

_LAZY = {
    "ElasticNet": "dreg.estimators._single",
    "ElasticNetCV": "dreg.estimators._cv",
    "Lasso": "dreg.estimators._single",
    "LassoCV": "dreg.estimators._cv",
    "LogisticRegression": "dreg.estimators._glm",
    "LogisticRegressionCV": "dreg.estimators._glm",
    "PoissonRegressor": "dreg.estimators._glm",
    "PoissonRegressorCV": "dreg.estimators._glm",
    "Ridge": "dreg.estimators._single",
    "RidgeCV": "dreg.estimators._cv",
}

__all__ = [
    "ElasticNet",
    "ElasticNetCV",
    "Lasso",
    "LassoCV",
    "LogisticRegression",
    "LogisticRegressionCV",
    "PoissonRegressor",
    "PoissonRegressorCV",
    "Ridge",
    "RidgeCV",
]

if TYPE_CHECKING:  # pragma: no cover
    from dreg.estimators._cv import ElasticNetCV, LassoCV, RidgeCV  # noqa: F401
    from dreg.estimators._glm import (  # noqa: F401
        LogisticRegression,
        LogisticRegressionCV,
        PoissonRegressor,
        PoissonRegressorCV,
    )
    from dreg.estimators._single import ElasticNet, Lasso, Ridge  # noqa: F401


__getattr__, __dir__ = lazy_attributes(globals(), _LAZY, __all__)
