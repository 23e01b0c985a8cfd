"""From sufficient statistics to the quadratic problem the solvers see, and back.

For one set of rows with statistics ``(W, xbar, ybar, xx, xy, yy)`` the weighted
least-squares loss of a model ``(b, beta)`` is, exactly::

    1/(2W) sum_i w_i (y_i - b - x_i^T beta)^2
        = 1/2 [yy - 2 beta^T xy + beta^T xx beta] / W + 1/2 (ybar - b - xbar^T beta)^2

With an intercept the last term is zero at ``b = ybar - xbar^T beta``, so the
solvers minimise, over the coefficients of the standardized features
``beta_s = beta * scale``::

    F(beta_s) = 1/2 beta_s^T Q beta_s - q^T beta_s
                + sum_j l1_j |beta_s_j| + 1/2 sum_j l2_j beta_s_j^2,
    lower_s <= beta_s <= upper_s

with ``Q = D^-1 (xx / W) D^-1``, ``q = D^-1 (xy / W)``, ``D = diag(scale)``,
``l1 = alpha * l1_ratio * penalty_factor`` and
``l2 = alpha * (1 - l1_ratio) * penalty_factor``.  ``scale`` is the weighted
population standard deviation of each feature when ``standardize=True``
(glmnet's convention) and 1 otherwise.  Without an intercept the statistics
are uncentered first (and the scale is the root mean square, as in glmnet).

Pure numpy: no Dask import.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from dreg.core.stats import SufficientStats

__all__ = ["GramProblem", "make_problem", "mse_from_stats"]

FloatArray = NDArray[np.float64]

# a feature whose spread is below this fraction of its magnitude is constant
# up to float64 rounding of its mean
_CONSTANT_RTOL = 1e-12


@dataclass(frozen=True)
class GramProblem:
    """Quadratic form of a weighted least-squares problem on the standardized scale.

    Attributes
    ----------
    Q : ndarray of shape (n_features, n_features)
        ``D^-1 (xx / W) D^-1``; rows and columns of constant features are zero.
    q : ndarray of shape (n_features,)
    yy : float
        ``yy / W`` (variance of y about its mean, or its mean square without an
        intercept): the loss of the all-zero model is ``yy / 2``.
    scale : ndarray of shape (n_features,)
        Standardized coefficient = original coefficient * scale.
    x_mean : ndarray of shape (n_features,)
        Zero when ``fit_intercept=False``.
    y_mean : float
    weight_sum : float
    n_samples : int
        Rows with positive weight.
    constant : ndarray of bool of shape (n_features,)
        Features with zero variance: their coefficient is fixed at 0.
    fit_intercept : bool
    """

    Q: FloatArray
    q: FloatArray
    yy: float
    scale: FloatArray
    x_mean: FloatArray
    y_mean: float
    weight_sum: float
    n_samples: int
    constant: NDArray[np.bool_]
    fit_intercept: bool

    @property
    def n_features(self) -> int:
        return int(self.q.shape[0])

    def to_original(self, coef_std: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Coefficients and intercepts on the original scale.

        ``coef_std`` has shape (..., n_features); returns ``(coef, intercept)``
        with shapes (..., n_features) and (...).
        """
        coef = np.asarray(coef_std, dtype=np.float64) / self.scale
        if self.fit_intercept:
            intercept = self.y_mean - coef @ self.x_mean
        else:
            intercept = np.zeros(coef.shape[:-1])
        return coef, intercept

    def to_standardized(self, coef: FloatArray) -> FloatArray:
        return np.asarray(coef, dtype=np.float64) * self.scale


def make_problem(stats: SufficientStats, fit_intercept: bool = True, standardize: bool = True) -> GramProblem:
    """Build the solver's quadratic problem from single-label statistics."""
    if stats.n_labels != 1:
        raise ValueError(f"expected statistics of one row set, got {stats.n_labels} labels")
    W = float(stats.weight_sum[0])
    if not W > 0:
        raise ValueError("the rows have zero total weight")
    xbar = np.array(stats.x_mean[0])
    ybar = float(stats.y_mean[0])
    xx = np.array(stats.xx[0])
    xy = np.array(stats.xy[0])
    yy = float(stats.yy[0])
    if fit_intercept:
        var = np.clip(np.diag(xx) / W, 0.0, None)
        constant = np.sqrt(var) <= _CONSTANT_RTOL * np.abs(xbar)
        constant |= var <= 0.0
    else:
        # uncentered moments: sum w x x^T = xx + W xbar xbar^T
        xx = xx + W * np.outer(xbar, xbar)
        xy = xy + W * xbar * ybar
        yy = yy + W * ybar * ybar
        var = np.clip(np.diag(xx) / W, 0.0, None)
        constant = var <= 0.0
        xbar = np.zeros_like(xbar)
        ybar = 0.0
    scale = np.sqrt(var) if standardize else np.ones_like(var)
    scale = np.where(constant | (scale <= 0), 1.0, scale)
    Q = xx / W
    q = xy / W
    Q = Q / scale[:, None] / scale[None, :]
    q = q / scale
    Q[constant, :] = 0.0
    Q[:, constant] = 0.0
    q[constant] = 0.0
    return GramProblem(
        Q=Q,
        q=q,
        yy=yy / W,
        scale=scale,
        x_mean=xbar,
        y_mean=ybar,
        weight_sum=W,
        n_samples=int(stats.count[0]),
        constant=constant,
        fit_intercept=fit_intercept,
    )


def mse_from_stats(stats: SufficientStats, coef: FloatArray, intercept: FloatArray) -> FloatArray:
    """Weighted mean squared error of models on the rows summarised by ``stats``.

    Parameters
    ----------
    stats : SufficientStats
        Single-label statistics.
    coef : ndarray of shape (n_models, n_features)
        Coefficients on the original scale.
    intercept : ndarray of shape (n_models,)

    Returns
    -------
    ndarray of shape (n_models,)
        ``sum_i w_i (y_i - b - x_i^T beta)^2 / W``, computed from the statistics
        alone as ``[yy - 2 beta^T xy + beta^T xx beta] / W + (ybar - b - xbar^T beta)^2``.
    """
    W = float(stats.weight_sum[0])
    coef = np.atleast_2d(np.asarray(coef, dtype=np.float64))
    intercept = np.atleast_1d(np.asarray(intercept, dtype=np.float64))
    if not W > 0:
        return np.full(coef.shape[0], np.nan)
    xx, xy, yy = stats.xx[0], stats.xy[0], float(stats.yy[0])
    quad = np.einsum("ij,ij->i", coef @ xx, coef)
    centered = (yy - 2.0 * (coef @ xy) + quad) / W
    offset = stats.y_mean[0] - intercept - coef @ stats.x_mean[0]
    return np.clip(centered, 0.0, None) + offset * offset
