"""Coordinate descent with covariance updates on a sparse-plus-rank-one Gram matrix.

The wide engine (:mod:`dreg.core.wide`) keeps the Gram block of its working
set as the standardized weighted products of sparse columns, centered
implicitly: ``Q = A - v v^T`` with ``A = D^-1 X^T diag(w) X D^-1 / W`` sparse
and ``v = D^-1 xbar`` (``v = 0`` without an intercept).  With ``c_A = q - A b``
and ``t = v^T b`` the gradient is ``c = q - Q b = c_A + v t``, and one
coordinate update (glmnet's covariance update, as in :mod:`dreg.core.solvers.cd`)::

    z    = c_A[j] + v_j t + Q_jj b_j
    b_j' = clip( S(z, l1_j) / (Q_jj + l2_j), lower_j, upper_j )
    c_A -= (b_j' - b_j) A[:, j];   t += (b_j' - b_j) v_j

costs the stored entries of column ``j`` of ``A`` (scikit-learn's sparse
coordinate descent centers its columns the same way).  The iterations are
glmnet's: a sweep over all coordinates, then sweeps over the non-zero ones
until they settle (``max_j Q_jj db_j^2 < tol * yy``), until a full sweep
changes nothing beyond the threshold; then, as in :func:`dreg.core.solvers.cd_path`,
the threshold tightens until the largest KKT violation, on a freshly
computed gradient, is below the exactness target ``1e-10 max(|q|, sqrt(yy))``.

numpy, compiled by numba (interpreted without it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from dreg.core._util import numba_jit

from ._common import PathSolution
from .cd import _exact_target, _violation

if TYPE_CHECKING:
    import scipy.sparse as sp

    from dreg.core.penalty import Penalty

__all__ = ["cd_sparse_path"]

FloatArray = NDArray[np.float64]


def _fresh_gradient(indptr, indices, data, v, q, b, c):  # pragma: no cover - compiled
    """``c_A = q - A b`` from the columns of the non-zero coefficients; returns ``t = v^T b``."""
    c[:] = q
    t = 0.0
    for j in range(b.shape[0]):
        bj = b[j]
        if bj != 0.0:
            t += v[j] * bj
            for k in range(indptr[j], indptr[j + 1]):
                c[indices[k]] -= data[k] * bj
    return t


def _sweep(indptr, indices, data, v, diag, denom, l1, lo, hi, b, c, t, coords, ncoords):  # pragma: no cover
    """One cyclic sweep over ``coords[:ncoords]``; returns ``(max_j Q_jj db_j^2, t)``."""
    dmax = 0.0
    for ii in range(ncoords):
        j = coords[ii]
        bj = b[j]
        z = c[j] + v[j] * t + diag[j] * bj
        thr = l1[j]
        if z > thr:
            nb = (z - thr) / denom[j]
        elif z < -thr:
            nb = (z + thr) / denom[j]
        else:
            nb = 0.0
        if nb > hi[j]:
            nb = hi[j]
        elif nb < lo[j]:
            nb = lo[j]
        d = nb - bj
        if d != 0.0:
            for k in range(indptr[j], indptr[j + 1]):
                c[indices[k]] -= d * data[k]
            t += d * v[j]
            b[j] = nb
            dd = diag[j] * d * d
            if dd > dmax:
                dmax = dd
    return dmax, t


def _max_violation(v, b, c, t, l1, l2, lo, hi):  # pragma: no cover - compiled
    vmax = 0.0
    for j in range(b.shape[0]):
        g = c[j] + v[j] * t - l2[j] * b[j]
        x = _violation(g, b[j], l1[j], lo[j], hi[j])
        if x > vmax:
            vmax = x
    return vmax


def _kernel(
    indptr, indices, data, v, diag, q, b, l1, l2, lo, hi, thresh, exact_thresh, kkt_tol, max_sweeps
):  # pragma: no cover
    """One alpha, in place on ``b``: returns ``(sweeps, converged, kkt)``.

    Sweeps (all coordinates, then the non-zero ones until they settle) stop
    on glmnet's step threshold; then, in the exact phase, on the KKT
    violation itself, checked on the maintained gradient after every sweep
    and confirmed on a fresh one.
    """
    w = b.shape[0]
    c = np.empty(w)
    denom = diag + l2
    every = np.arange(w)
    active = np.empty(w, dtype=np.int64)
    t = _fresh_gradient(indptr, indices, data, v, q, b, c)
    sweeps = 0
    thr = thresh
    exact = False
    converged = False
    kkt = np.inf
    while sweeps < max_sweeps and not converged:
        dmax, t = _sweep(indptr, indices, data, v, diag, denom, l1, lo, hi, b, c, t, every, w)
        sweeps += 1
        settled = dmax < thr
        if settled or (exact and _max_violation(v, b, c, t, l1, l2, lo, hi) <= kkt_tol):
            # judge optimality on a fresh gradient
            t = _fresh_gradient(indptr, indices, data, v, q, b, c)
            kkt = _max_violation(v, b, c, t, l1, l2, lo, hi)
            if kkt <= kkt_tol:
                converged = True
                break
            if settled:
                if not exact:
                    exact = True
                    thr = exact_thresh
                elif thr > 1e-300:
                    thr *= 1e-2
                continue
        na = 0
        for j in range(w):
            if b[j] != 0.0:
                active[na] = j
                na += 1
        while sweeps < max_sweeps:
            dmax, t = _sweep(indptr, indices, data, v, diag, denom, l1, lo, hi, b, c, t, active, na)
            sweeps += 1
            if dmax < thr or (exact and _max_violation(v, b, c, t, l1, l2, lo, hi) <= kkt_tol):
                break
    if not converged:
        t = _fresh_gradient(indptr, indices, data, v, q, b, c)
        kkt = _max_violation(v, b, c, t, l1, l2, lo, hi)
        converged = kkt <= kkt_tol
    return sweeps, converged, kkt


_jit = numba_jit()
if _jit is not None:
    _fresh_gradient = _jit(_fresh_gradient)
    _sweep = _jit(_sweep)
    _max_violation = _jit(_max_violation)
    _kernel = _jit(_kernel)


def cd_sparse_path(
    A: sp.csc_matrix,
    v: FloatArray,
    diag: FloatArray,
    q: FloatArray,
    alphas: FloatArray,
    penalty: Penalty,
    *,
    yy: float,
    tol: float = 1e-7,
    max_iter: int = 10_000,
    coef_init: FloatArray | None = None,
    target: float | None = None,
) -> PathSolution:
    """Solve the elastic net along ``alphas`` on ``Q = A - v v^T`` by coordinate descent.

    Minimises, for each ``alpha``, ``1/2 b^T Q b - q^T b + P_alpha(b)`` with
    ``P_alpha`` the penalty (and box) of ``penalty`` (see :mod:`dreg.core.penalty`).

    Parameters
    ----------
    A : scipy.sparse.csc_matrix of shape (n_features, n_features)
        Symmetric, with sorted indices; its diagonal must be ``diag + v**2``.
    v : ndarray of shape (n_features,)
        The rank-one centering term.
    diag : ndarray of shape (n_features,)
        ``Q_jj``, > 0 (a feature pinned at 0 by its bounds may have any positive value).
    q : ndarray of shape (n_features,)
    alphas : ndarray of shape (n_alphas,)
        Decreasing regularization strengths.
    penalty : Penalty
        On the standardized scale.
    yy : float
        Loss scale that makes ``tol`` relative, as in :func:`dreg.core.solvers.cd_path`.
    tol : float
        glmnet's step threshold ``max_j Q_jj (db_j)^2 < tol * yy``, before the
        iterations go on to the exactness target.
    max_iter : int
        Sweeps per alpha.
    coef_init : ndarray of shape (n_features,), optional
    target : float, optional
        KKT violation regarded as exact; default ``1e-10 max(|q|, sqrt(yy))``.

    Returns
    -------
    PathSolution
        ``coef`` of shape (n_alphas, n_features); ``kkt`` on this problem.
    """
    p = q.shape[0]
    alphas = np.asarray(alphas, dtype=np.float64)
    nA = alphas.size
    coefs = np.zeros((nA, p))
    n_iter = np.zeros(nA, dtype=np.int64)
    converged = np.ones(nA, dtype=bool)
    kkt = np.zeros(nA)
    if p == 0:
        return PathSolution(coefs, n_iter, converged, kkt)
    f64 = np.float64
    indptr = np.ascontiguousarray(A.indptr, dtype=np.int64)
    indices = np.ascontiguousarray(A.indices, dtype=np.int64)
    data = np.ascontiguousarray(A.data, dtype=f64)
    v = np.ascontiguousarray(v, dtype=f64)
    diag = np.ascontiguousarray(diag, dtype=f64)
    q = np.ascontiguousarray(q, dtype=f64)
    lower = np.array(penalty.lower, dtype=f64)
    upper = np.array(penalty.upper, dtype=f64)
    pf = np.array(penalty.penalty_factor, dtype=f64)
    b = np.zeros(p) if coef_init is None else np.clip(np.asarray(coef_init, dtype=f64), lower, upper)
    if target is None:
        target = _exact_target(q, yy)
    thresh = tol * max(yy, np.finfo(float).tiny)
    exact_thresh = (0.3 * target) ** 2 / max(float(diag.max(initial=1.0)), np.finfo(float).tiny)
    for i, alpha in enumerate(alphas):
        l1 = alpha * penalty.l1_ratio * pf
        l2 = alpha * (1.0 - penalty.l1_ratio) * pf
        sweeps, ok, viol = _kernel(
            indptr, indices, data, v, diag, q, b, l1, l2, lower, upper,
            float(thresh), float(exact_thresh), 0.5 * float(target), int(max_iter),
        )  # fmt: skip
        coefs[i] = b
        n_iter[i] = max(int(sweeps), 1)
        converged[i] = bool(ok)
        kkt[i] = float(viol)
    return PathSolution(coefs, n_iter, converged, kkt)
