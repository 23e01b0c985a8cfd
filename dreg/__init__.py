"""dreg: lasso, ridge and elastic-net regression with one-pass cross-validation on Dask,
and penalized logistic and Poisson regression with cross-validated paths in a few passes.

Estimators are imported lazily, so ``import dreg.core.stats`` (or any of the pure
numpy maths modules) never imports Dask or scikit-learn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dreg._lazy import lazy_attributes

__version__ = "0.1.0"

_LAZY = {
    "ElasticNet": "dreg.estimators",
    "ElasticNetCV": "dreg.estimators",
    "Lasso": "dreg.estimators",
    "LassoCV": "dreg.estimators",
    "LogisticRegression": "dreg.estimators",
    "LogisticRegressionCV": "dreg.estimators",
    "PoissonRegressor": "dreg.estimators",
    "PoissonRegressorCV": "dreg.estimators",
    "Ridge": "dreg.estimators",
    "RidgeCV": "dreg.estimators",
    "fold_ids": "dreg.core.folds",
    "load_model": "dreg.job.registry",
}

__all__ = sorted([*_LAZY, "__version__"])

if TYPE_CHECKING:  # pragma: no cover
    from dreg.core.folds import fold_ids  # noqa: F401
    from dreg.estimators import (  # noqa: F401
        ElasticNet,
        ElasticNetCV,
        Lasso,
        LassoCV,
        LogisticRegression,
        LogisticRegressionCV,
        PoissonRegressor,
        PoissonRegressorCV,
        Ridge,
        RidgeCV,
    )
    from dreg.job.registry import load_model  # noqa: F401


__getattr__, __dir__ = lazy_attributes(globals(), _LAZY, __all__)
