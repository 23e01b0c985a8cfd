"""The loss (datafit) seam: from sufficient statistics to the solvers' quadratic problem, and back.

A datafit answers two questions, both from statistics alone:

* :meth:`SquaredError.problem`: the quadratic problem ``(Q, q)`` the solvers
  minimise (with the penalty of :mod:`dreg.core.penalty`) for a set of rows;
* :meth:`SquaredError.held_out_loss`: the loss of fitted models on another set
  of rows (the held-out fold of a cross-validation).

For squared error both are exact in one pass (:func:`dreg.core.problem.make_problem`,
:func:`dreg.core.problem.mse_from_stats`).  A binomial or Poisson datafit
(IRLS, a later issue) provides the same two methods, with different
statistics: at each IRLS pass it builds a *weighted* Gram problem from
statistics computed with the working weights ``w_i mu'(eta_i)^2 / V(mu_i)`` and
working responses of the current model (one pass over the data per IRLS
step), and its held-out loss is the mean deviance of the fold.  The solvers,
the path and the penalty do not change: they only see ``(Q, q)``.

Pure numpy: no Dask import.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from dreg.core.problem import GramProblem, make_problem, mse_from_stats
from dreg.core.stats import SufficientStats

__all__ = ["SquaredError"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class SquaredError:
    """Weighted squared error ``1/(2W) sum_i w_i (y_i - b - x_i^T beta)^2``."""

    def problem(self, stats: SufficientStats, fit_intercept: bool = True, standardize: bool = True) -> GramProblem:
        """The standardized quadratic problem of single-label ``stats``: :func:`~dreg.core.problem.make_problem`."""
        return make_problem(stats, fit_intercept, standardize)

    def held_out_loss(self, stats: SufficientStats, coef: FloatArray, intercept: FloatArray) -> FloatArray:
        """Weighted mean squared error of each model on the rows of ``stats``.

        ``coef`` has shape (n_models, n_features) and ``intercept`` (n_models,);
        returns shape (n_models,).  See :func:`~dreg.core.problem.mse_from_stats`.
        """
        return mse_from_stats(stats, coef, intercept)
