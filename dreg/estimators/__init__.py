"""scikit-learn estimators: Lasso, Ridge, ElasticNet and their CV versions.

They check their parameters (:mod:`._validation`) and inputs (:mod:`._input`),
compute per-fold statistics in one pass (in-process for numpy and pandas, on
Dask for Dask collections), and solve every path from them with
:mod:`dreg.core`.  :mod:`._base` holds the shared fit/predict/score and the
objective, :mod:`._single` the single-alpha estimators, :mod:`._cv` the CV ones.
"""

from dreg.estimators._cv import ElasticNetCV, LassoCV, RidgeCV
from dreg.estimators._single import ElasticNet, Lasso, Ridge

__all__ = ["ElasticNet", "ElasticNetCV", "Lasso", "LassoCV", "Ridge", "RidgeCV"]
