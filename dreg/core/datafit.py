"""The loss (datafit) seam: from sufficient statistics to the solvers' quadratic problem, and back.

A datafit answers two questions, both from statistics alone:

* :meth:`SquaredError.problem`: the quadratic problem ``(Q, q)`` the solvers
  minimise (with the penalty of :mod:`dreg.core.penalty`) for a set of rows;
* :meth:`SquaredError.held_out_loss`: the loss of fitted models on another set
  of rows (the held-out fold of a cross-validation).

For squared error both are exact in one pass (:func:`dreg.core.problem.make_problem`,
:func:`dreg.core.problem.mse_from_stats`).

The GLM families :class:`Binomial` (logit link) and :class:`Poisson` (log
link) cannot be summarised by one pass: their loss is not quadratic.  They
answer the row-level questions instead (:meth:`Binomial.pointwise`: the
negative log-likelihood, its first and second derivatives in the linear
predictor), which the pass kernel of :mod:`dreg.core.glm` evaluates on each
block of rows, and the pass-0 questions from the statistics alone (the
intercept-only model, its loss, gradient and exact Hessian).  The
coordinator of :mod:`dreg.core.glm` turns those into the same Gram problems
``(Q, q)`` (a quadratic model of the loss around each iterate), so the
solvers, the path and the penalty do not change.

Pure numpy: no Dask import.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from dreg.core.problem import GramProblem, make_problem, mse_from_stats
from dreg.core.stats import SufficientStats

__all__ = ["Binomial", "Poisson", "SquaredError", "family"]

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


# probabilities are clamped this far from 0 and 1 wherever a log of them is taken
PROBABILITY_CLAMP = 1e-15
# the linear predictor of a Poisson model is clipped here before exp (e^700 ~ 1e304 is finite)
_ETA_MAX = 700.0


@dataclass(frozen=True)
class Binomial:
    """Logistic loss ``nll(y, eta) = log(1 + e^eta) - y eta`` for ``y`` in {0, 1}.

    Its mean ``mu = 1 / (1 + e^-eta)``, variance ``mu (1 - mu) <= 1/4`` (so
    ``1/4 X^T W X`` bounds the Hessian: Böhning's bound) and deviance
    ``2 sum w nll`` (the saturated model has zero loss).
    """

    name = "binomial"

    def check_target(self, y: FloatArray) -> None:
        """``ValueError`` unless every target is 0 or 1."""
        bad = ~((y == 0.0) | (y == 1.0))
        if np.any(bad):
            raise ValueError(f"binomial targets must be 0 or 1, got {int(bad.sum())} other value(s)")

    def null_eta(self, y_mean: float) -> float:
        """Linear predictor of the intercept-only model: ``logit(ybar)``, clamped."""
        m = min(max(y_mean, PROBABILITY_CLAMP), 1.0 - PROBABILITY_CLAMP)
        return float(np.log(m) - np.log1p(-m))

    def null_loss(self, y_mean: float) -> float:
        """Mean ``nll`` of the intercept-only model: the entropy of ``ybar``."""
        m = min(max(y_mean, PROBABILITY_CLAMP), 1.0 - PROBABILITY_CLAMP)
        return float(-(y_mean * np.log(m) + (1.0 - y_mean) * np.log1p(-m)))

    def variance(self, mu: FloatArray) -> FloatArray:
        return mu * (1.0 - mu)

    def mean(self, eta: FloatArray) -> FloatArray:
        """``mu = expit(eta)`` clamped to ``[1e-15, 1 - 1e-15]``."""
        e = np.exp(-np.abs(eta))
        mu = np.where(eta >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        return np.clip(mu, PROBABILITY_CLAMP, 1.0 - PROBABILITY_CLAMP)

    def pointwise(self, eta: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``(nll, d nll/d eta = mu - y, d2 nll/d eta2 = mu (1 - mu))`` elementwise.

        ``nll = max(eta, 0) + log1p(e^-|eta|) - y eta`` never overflows; ``mu``
        is exact (not clamped) so that the gradient is the loss's own.
        """
        e = np.exp(-np.abs(eta))
        nll = np.maximum(eta, 0.0) + np.log1p(e) - y * eta
        inv = 1.0 / (1.0 + e)
        mu = np.where(eta >= 0, inv, e * inv)
        return nll, mu - y, mu * (1.0 - mu)

    def saturated(self, y: FloatArray) -> FloatArray:
        """``nll`` of the saturated model (``mu = y``): zero."""
        return np.zeros_like(y, dtype=np.float64)


@dataclass(frozen=True)
class Poisson:
    """Poisson loss ``nll(y, eta) = e^eta - y eta`` for ``y >= 0`` (log link).

    Mean and variance ``mu = e^eta``; deviance ``2 sum w (nll - nll_sat)`` with
    ``nll_sat = y - y log y``.
    """

    name = "poisson"

    def check_target(self, y: FloatArray) -> None:
        """``ValueError`` on negative targets."""
        bad = y < 0
        if np.any(bad):
            raise ValueError(f"Poisson targets must be >= 0, got {int(bad.sum())} negative value(s)")

    def null_eta(self, y_mean: float) -> float:
        return float(np.log(max(y_mean, PROBABILITY_CLAMP)))

    def null_loss(self, y_mean: float) -> float:
        return float(y_mean - y_mean * np.log(max(y_mean, PROBABILITY_CLAMP)))

    def variance(self, mu: FloatArray) -> FloatArray:
        return mu

    def mean(self, eta: FloatArray) -> FloatArray:
        return np.exp(np.minimum(eta, _ETA_MAX))

    def pointwise(self, eta: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``(nll, mu - y, mu)`` elementwise, ``eta`` clipped at 700 before exp."""
        mu = np.exp(np.minimum(eta, _ETA_MAX))
        return mu - y * eta, mu - y, mu

    def saturated(self, y: FloatArray) -> FloatArray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(y > 0, y - y * np.log(np.where(y > 0, y, 1.0)), 0.0)


_FAMILIES = {"binomial": Binomial(), "poisson": Poisson()}


def family(name: str) -> Binomial | Poisson:
    """The GLM datafit called ``name`` (``'binomial'`` or ``'poisson'``)."""
    if name not in _FAMILIES:
        raise ValueError(f"family must be one of {tuple(_FAMILIES)}, got {name!r}")
    return _FAMILIES[name]
