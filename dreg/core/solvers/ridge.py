"""Ridge along any number of alphas from one eigendecomposition.

Minimise ``1/2 b^T Q b - q^T b + alpha/2 sum_j pf_j b_j^2``; the optimum solves
``(Q + alpha diag(pf)) b = q``.  Unpenalized features (``pf_j = 0``, set U) are
eliminated with the Schur complement; the penalized ones (P) are rescaled by
``1/sqrt(pf)`` so that the penalty becomes ``alpha I``::

    M = Q_PP - Q_PU Q_UU^+ Q_UP,   m = q_P - Q_PU Q_UU^+ q_U
    D = diag(pf_P)^(-1/2),  D M D = V diag(lam) V^T
    b_P(alpha) = D V diag(1 / (lam + alpha)) V^T D m
    b_U(alpha) = Q_UU^+ (q_U - Q_UP b_P(alpha))

Each alpha then costs two matrix-vector products.  Eigenvalues ``lam + alpha``
that vanish (``alpha = 0`` on collinear features) are pseudo-inverted, giving
the minimum-norm solution.  Pure numpy/scipy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from ._common import PathSolution, kkt_violation

if TYPE_CHECKING:
    from dreg.core.penalty import Penalty

FloatArray = NDArray[np.float64]

__all__ = ["ridge_path"]


def ridge_path(
    Q: FloatArray,
    q: FloatArray,
    alphas: FloatArray,
    penalty: Penalty,
) -> PathSolution:
    """Exact ridge solutions for every alpha.

    Parameters
    ----------
    Q : ndarray of shape (n_features, n_features)
    q : ndarray of shape (n_features,)
    alphas : ndarray of shape (n_alphas,)
        Any order; ``alpha = 0`` gives the minimum-norm least-squares fit.
    penalty : Penalty
        A pure ridge penalty (``l1_ratio = 0``) without bounds.

    Returns
    -------
    PathSolution
        ``coef`` of shape (n_alphas, n_features); one "iteration" per alpha.
    """
    if penalty.l1_ratio != 0.0 or penalty.bounded:
        raise ValueError("ridge_path solves l1_ratio = 0 without bounds; use cd_path or admm_path")
    penalty_factor = penalty.penalty_factor
    p = q.shape[0]
    A = len(alphas)
    alphas = np.asarray(alphas, dtype=np.float64)
    coefs = np.zeros((A, p))
    if p == 0:
        return PathSolution(coefs, np.zeros(A, dtype=np.int64), np.ones(A, dtype=bool), np.zeros(A))
    U = np.flatnonzero(penalty_factor == 0)
    P = np.flatnonzero(penalty_factor > 0)
    if U.size:
        Quu_pinv = np.linalg.pinv(Q[np.ix_(U, U)], hermitian=True)
        Qpu = Q[np.ix_(P, U)]
        M = Q[np.ix_(P, P)] - Qpu @ Quu_pinv @ Qpu.T
        m = q[P] - Qpu @ (Quu_pinv @ q[U])
    else:
        M = Q[np.ix_(P, P)]
        m = q[P]
    d = 1.0 / np.sqrt(penalty_factor[P])
    if P.size:
        lam, V = np.linalg.eigh(d[:, None] * M * d[None, :])
        lam = np.clip(lam, 0.0, None)
        proj = V.T @ (d * m)
        tiny = np.finfo(float).eps * max(float(lam.max(initial=0.0)), 1.0) * max(P.size, 1)
        denom = lam[None, :] + alphas[:, None]
        inv = np.where(denom > tiny, 1.0 / np.where(denom > tiny, denom, 1.0), 0.0)
        bp = (inv * proj[None, :]) @ V.T * d[None, :]
        coefs[:, P] = bp
    if U.size:
        bu = (q[U][None, :] - coefs[:, P] @ Q[np.ix_(U, P)].T) @ Quu_pinv.T
        coefs[:, U] = bu
    zeros = np.zeros(p)
    inf = np.full(p, np.inf)
    kkt = np.array(
        [
            kkt_violation(Q, q, coefs[i], zeros, a * penalty_factor, -inf, inf).max(initial=0.0)
            for i, a in enumerate(alphas)
        ]
    )
    return PathSolution(coefs, np.ones(A, dtype=np.int64), np.ones(A, dtype=bool), kkt)
