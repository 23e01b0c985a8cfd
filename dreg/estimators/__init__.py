"""scikit-learn estimators: Lasso, Ridge, ElasticNet and their CV versions.

They check their inputs (:mod:`._input`), compute per-fold statistics in one
pass (in-process for numpy and pandas, on Dask for Dask collections), and
solve every path from them with :mod:`dreg.core`.
"""

from dreg.estimators._estimators import ElasticNet, ElasticNetCV, Lasso, LassoCV, Ridge, RidgeCV

__all__ = ["ElasticNet", "ElasticNetCV", "Lasso", "LassoCV", "Ridge", "RidgeCV"]
