"""dreg: lasso, ridge and elastic-net regression with one-pass cross-validation on Dask.

Estimators are imported lazily, so ``import dreg.core.stats`` (or any of the pure
numpy maths modules) never imports Dask or scikit-learn.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_LAZY = {
    "ElasticNet": "dreg.estimators",
    "ElasticNetCV": "dreg.estimators",
    "Lasso": "dreg.estimators",
    "LassoCV": "dreg.estimators",
    "Ridge": "dreg.estimators",
    "RidgeCV": "dreg.estimators",
    "fold_ids": "dreg.core.folds",
    "load_model": "dreg.job.registry",
}

__all__ = sorted([*_LAZY, "__version__"])

if TYPE_CHECKING:  # pragma: no cover
    from dreg.core.folds import fold_ids  # noqa: F401
    from dreg.estimators import ElasticNet, ElasticNetCV, Lasso, LassoCV, Ridge, RidgeCV  # noqa: F401
    from dreg.job.registry import load_model  # noqa: F401


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'dreg' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
