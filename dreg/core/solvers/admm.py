"""ADMM for the elastic net on the Gram matrix (Boyd, Parikh, Chu, Peleato & Eckstein 2011).

Split ``F`` into ``f(x) = 1/2 x^T Q x - q^T x`` and
``g(z) = sum_j l1_j |z_j| + 1/2 l2_j z_j^2 + indicator(lower <= z <= upper)``
with the constraint ``x = z`` (§6.4, lasso, with the ridge part and the box kept
in ``g`` so that its proximal map stays elementwise).  With the scaled dual
``u`` and over-relaxation ``a`` (§3.4.3, ``a = 1.6``)::

    x     = (Q + rho I)^-1 (q + rho (z - u))
    xh    = a x + (1 - a) z
    z_new = clip( S(xh + u, l1 / rho) / (1 + l2 / rho), lower, upper )
    u     = u + xh - z_new

``Q = V diag(lam) V^T`` is eigendecomposed **once** per problem, so the
x-update is two matrix-vector products for any ``rho``, and ``rho`` can adapt
for free by residual balancing (§3.4.1: ``rho *= tau`` if ``||r|| > mu ||s||``,
``rho /= tau`` if ``||s|| > mu ||r||``, ``mu = 10``, ``tau = 2``; ``u`` is
rescaled by ``rho_old / rho_new``).  Stopping follows §3.3::

    ||r|| = ||x - z||          <= sqrt(p) eps_abs + eps_rel max(||x||, ||z||)
    ||s|| = rho ||z - z_old||  <= sqrt(p) eps_abs + eps_rel ||rho u||

Along a path, ``(z, u, rho)`` are warm-started from the previous alpha.  At
the end the support and signs of ``z`` are polished exactly, as in the
coordinate-descent solver.  Pure numpy/scipy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from ._common import PathSolution, kkt_violation
from .cd import _ROUNDS, _exact_target, polish

if TYPE_CHECKING:
    from dreg.core.penalty import Penalty

FloatArray = NDArray[np.float64]

__all__ = ["admm_path"]

_RELAX = 1.6
_MU = 10.0
_TAU = 2.0


def admm_path(
    Q: FloatArray,
    q: FloatArray,
    alphas: FloatArray,
    penalty: Penalty,
    *,
    yy: float,
    tol: float = 1e-7,
    max_iter: int = 10_000,
    coef_init: FloatArray | None = None,
    eig: tuple[FloatArray, FloatArray] | None = None,
) -> PathSolution:
    """Solve the elastic net along ``alphas`` (decreasing) by ADMM.

    Parameters are those of :func:`dreg.core.solvers.cd.cd_path` (the same
    objective, the same ``PathSolution``); ``tol`` sets
    ``eps_rel = tol`` and ``eps_abs = tol * sqrt(yy)`` (coefficients of
    standardized features are in units of y), ``max_iter`` bounds the
    iterations per alpha, and ``eig`` may pass a precomputed ``(lam, V)``.
    """
    lower, upper = penalty.lower, penalty.upper
    p = q.shape[0]
    A = len(alphas)
    coefs = np.zeros((A, p))
    n_iter = np.zeros(A, dtype=np.int64)
    converged = np.zeros(A, dtype=bool)
    kkt = np.zeros(A)
    if p == 0:
        return PathSolution(coefs, n_iter, np.ones(A, dtype=bool), kkt)
    if eig is None:
        lam, V = np.linalg.eigh(Q)
    else:
        lam, V = eig
    lam = np.clip(lam, 0.0, None)
    Vt = np.ascontiguousarray(V.T)
    Vtq = Vt @ q
    eps_rel = tol
    eps_abs = tol * np.sqrt(max(yy, np.finfo(float).tiny))
    sqrt_p = np.sqrt(p)
    target = _exact_target(q, yy)
    # rho near the middle of the spectrum balances the two residuals early on
    pos = lam[lam > 1e-12 * max(lam.max(initial=0.0), 1.0)]
    rho = float(np.sqrt(pos.min() * pos.max())) if pos.size else 1.0
    z = np.zeros(p) if coef_init is None else np.clip(np.asarray(coef_init, dtype=np.float64), lower, upper)
    u = np.zeros(p)
    for a_idx, alpha in enumerate(alphas):
        l1 = penalty.l1(alpha)
        l2 = penalty.l2(alpha)
        it = 0
        ok = False
        eps_r, eps_a = eps_rel, eps_abs
        for _round in range(_ROUNDS):
            while it < max_iter:
                it += 1
                x = V @ ((Vtq + rho * (Vt @ (z - u))) / (lam + rho))
                xh = _RELAX * x + (1.0 - _RELAX) * z
                v = xh + u
                z_old = z
                z = np.sign(v) * np.maximum(np.abs(v) - l1 / rho, 0.0) / (1.0 + l2 / rho)
                np.clip(z, lower, upper, out=z)
                u = v - z
                r_norm = float(np.linalg.norm(x - z))
                s_norm = rho * float(np.linalg.norm(z - z_old))
                eps_pri = sqrt_p * eps_a + eps_r * max(float(np.linalg.norm(x)), float(np.linalg.norm(z)))
                eps_dual = sqrt_p * eps_a + eps_r * rho * float(np.linalg.norm(u))
                if r_norm <= eps_pri and s_norm <= eps_dual:
                    ok = True
                    break
                if r_norm > _MU * s_norm:
                    rho *= _TAU
                    u /= _TAU
                elif s_norm > _MU * r_norm:
                    rho /= _TAU
                    u *= _TAU
            b = z.copy()
            best = float(kkt_violation(Q, q, b, l1, l2, lower, upper).max(initial=0.0))
            cand = polish(Q, q, b, l1, l2, lower, upper) if best > target else None
            if cand is not None:
                v_cand = float(kkt_violation(Q, q, cand, l1, l2, lower, upper).max(initial=0.0))
                if v_cand <= best:
                    b, best = cand, v_cand
            if best <= target or it >= max_iter:
                break
            eps_r *= 1e-3
            eps_a *= 1e-3
        coefs[a_idx] = b
        n_iter[a_idx] = it
        converged[a_idx] = ok
        kkt[a_idx] = best
    return PathSolution(coefs, n_iter, converged, kkt)
