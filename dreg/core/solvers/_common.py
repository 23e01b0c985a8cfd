"""Pieces shared by the solvers: results and the optimality (KKT) measure.

All solvers minimise, on a (reduced, standardized) Gram problem::

    F(b) = 1/2 b^T Q b - q^T b + sum_j l1_j |b_j| + 1/2 sum_j l2_j b_j^2,
    lower <= b <= upper   (lower <= 0 <= upper)

Pure numpy/scipy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

__all__ = ["PathSolution", "kkt_violation", "objective"]


@dataclass(frozen=True)
class PathSolution:
    """Solutions of a Gram problem along a decreasing sequence of alphas.

    Attributes
    ----------
    coef : ndarray of shape (n_alphas, n_features)
        Standardized-scale coefficients.
    n_iter : ndarray of shape (n_alphas,)
        CD sweeps or ADMM iterations spent on each alpha.
    converged : ndarray of bool of shape (n_alphas,)
    kkt : ndarray of shape (n_alphas,)
        Largest violation of the optimality conditions (see :func:`kkt_violation`).
    """

    coef: FloatArray
    n_iter: NDArray[np.int64]
    converged: NDArray[np.bool_]
    kkt: FloatArray


def objective(Q: FloatArray, q: FloatArray, b: FloatArray, l1: FloatArray, l2: FloatArray) -> float:
    return float(0.5 * b @ Q @ b - q @ b + l1 @ np.abs(b) + 0.5 * l2 @ (b * b))


def kkt_violation(
    Q: FloatArray,
    q: FloatArray,
    b: FloatArray,
    l1: FloatArray,
    l2: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    grad: FloatArray | None = None,
) -> FloatArray:
    """Distance of ``0`` to the subdifferential of ``F`` at ``b``, per coordinate.

    With ``g = q - Q b - l2 * b`` (minus the gradient of the smooth part) the
    optimality conditions are ``g_j = l1_j sign(b_j)`` for ``lower_j < b_j < upper_j``,
    ``b_j != 0``; ``g_j`` in ``[-l1_j, l1_j]`` (one side open at a zero bound) for
    ``b_j = 0``; ``g_j >= l1_j`` at ``b_j = upper_j > 0`` and ``g_j <= -l1_j`` at
    ``b_j = lower_j < 0``.
    """
    g = (q - Q @ b if grad is None else grad) - l2 * b
    v = np.empty_like(g)
    zero = b == 0.0
    at_hi = (~zero) & (b >= upper)
    at_lo = (~zero) & (b <= lower)
    free = (~zero) & ~at_hi & ~at_lo
    v[free] = np.abs(g[free] - l1[free] * np.sign(b[free]))
    lo_int = np.where(lower < 0, -l1, -np.inf)
    hi_int = np.where(upper > 0, l1, np.inf)
    v[zero] = np.maximum(np.maximum(lo_int[zero] - g[zero], g[zero] - hi_int[zero]), 0.0)
    v[at_hi] = np.maximum(l1[at_hi] - g[at_hi], 0.0)
    v[at_lo] = np.maximum(g[at_lo] + l1[at_lo], 0.0)
    return v
