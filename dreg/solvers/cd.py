"""Coordinate descent with covariance updates (Friedman, Hastie & Tibshirani 2010).

The solver never sees rows: with ``c = q - Q b`` (the correlations of the
features with the current residual, divided by ``W``) one coordinate update is::

    z    = c_j + Q_jj b_j
    b_j' = clip( S(z, l1_j) / (Q_jj + l2_j), lower_j, upper_j )
    c   -= (b_j' - b_j) Q[:, j]

which costs ``O(p)`` (glmnet's "covariance updates").  Along a decreasing path
of alphas:

1. **Warm start** from the previous alpha's solution.
2. **Sequential strong rule**: only features with
   ``|c_j| >= l1_ratio pf_j (2 alpha - alpha_prev)``, or that were ever active,
   or are unpenalized, enter the working set.
3. **Active-set iterations**: one sweep over the working set, then sweeps over
   the non-zero coefficients only until they settle (``max_j Q_jj db_j^2 <
   tol * yy``), then a sweep over the working set again; stop when that sweep
   changes nothing beyond the tolerance.
4. **KKT check** on the discarded features with the full ``c``; violators join
   the working set and step 3 repeats.
The inner sweeps are scalar loops that numpy cannot vectorise; they are
compiled with numba (as scikit-learn compiles its Gram CD with Cython and
glmnet is Fortran).  Without numba, or with ``DREG_DISABLE_NUMBA=1``, the same
iterations run in Python with numpy vector updates (slower, same results).

5. **Polish**: the linear system on the final support and signs is solved
   exactly (:func:`dreg.solvers._common.polish`) and kept when it does not
   increase the KKT violation, so the result is exact to rounding.

Pure numpy/scipy.
"""

from __future__ import annotations

import os

import numpy as np
from numpy.typing import NDArray

from ._common import PathSolution, kkt_violation, polish

FloatArray = NDArray[np.float64]

__all__ = ["cd_path"]

# rounds of (solve, polish, tighten) per alpha
_NUMBA_HINT = os.environ.get("DREG_DISABLE_NUMBA", "") not in ("1", "true", "yes")
_ROUNDS = 4
# first round that may polish (earlier rounds only tighten the sweeps); with the
# compiled kernel, tighter sweeps are far cheaper than a Cholesky of the support
_POLISH_FROM = 1 if _NUMBA_HINT else 0


def _exact_target(q: FloatArray, yy: float) -> float:
    """KKT violation regarded as exact: rounding level of the gradient's scale."""
    return 1e-10 * max(float(np.max(np.abs(q), initial=0.0)), np.sqrt(max(yy, 0.0)), 1e-300)


def _sweeps(
    Qw: FloatArray,
    cw: FloatArray,
    bw: FloatArray,
    diag: list[float],
    denom: list[float],
    l1: list[float],
    lo: list[float],
    hi: list[float],
    coords: list[int],
    thresh: float,
    max_sweeps: int,
) -> tuple[int, bool]:
    """Cyclic sweeps over ``coords`` of the working-set problem, in place.

    Returns ``(sweeps done, converged)``.
    """
    for sweep in range(1, max_sweeps + 1):
        dmax = 0.0
        for j in coords:
            bj = bw[j]
            z = cw[j] + diag[j] * bj
            t = l1[j]
            if z > t:
                nb = (z - t) / denom[j]
            elif z < -t:
                nb = (z + t) / denom[j]
            else:
                nb = 0.0
            if nb > hi[j]:
                nb = hi[j]
            elif nb < lo[j]:
                nb = lo[j]
            d = nb - bj
            if d != 0.0:
                cw -= d * Qw[:, j]
                bw[j] = nb
                dd = diag[j] * d * d
                if dd > dmax:
                    dmax = dd
        if dmax < thresh:
            return sweep, True
    return max_sweeps, False


def _sweep_kernel(Qw, cw, bw, diag, denom, l1, lo, hi, coords, ncoords):  # pragma: no cover - compiled
    """One cyclic sweep over ``coords[:ncoords]`` (scalar loops, compiled by numba)."""
    m = cw.shape[0]
    dmax = 0.0
    for ii in range(ncoords):
        j = coords[ii]
        bj = bw[j]
        z = cw[j] + diag[j] * bj
        t = l1[j]
        if z > t:
            nb = (z - t) / denom[j]
        elif z < -t:
            nb = (z + t) / denom[j]
        else:
            nb = 0.0
        if nb > hi[j]:
            nb = hi[j]
        elif nb < lo[j]:
            nb = lo[j]
        d = nb - bj
        if d != 0.0:
            for k in range(m):  # Qw is symmetric: row j is column j, and contiguous
                cw[k] -= d * Qw[j, k]
            bw[j] = nb
            dd = diag[j] * d * d
            if dd > dmax:
                dmax = dd
    return dmax


def _cd_kernel(Qw, cw, bw, diag, denom, l1, lo, hi, thresh, max_sweeps):  # pragma: no cover - compiled
    """glmnet's active-set iterations on the working-set problem, in place.

    A full sweep; if it moved nothing beyond ``thresh``, done; otherwise sweep
    the non-zero coefficients until they settle, and repeat.
    """
    m = bw.shape[0]
    coords = np.arange(m)
    active = np.empty(m, dtype=np.int64)
    total = 0
    while total < max_sweeps:
        dmax = _sweep_kernel(Qw, cw, bw, diag, denom, l1, lo, hi, coords, m)
        total += 1
        if dmax < thresh:
            return total, True
        na = 0
        for j in range(m):
            if bw[j] != 0.0:
                active[na] = j
                na += 1
        while total < max_sweeps:
            dmax = _sweep_kernel(Qw, cw, bw, diag, denom, l1, lo, hi, active, na)
            total += 1
            if dmax < thresh:
                break
    return total, False


_NUMBA = False
if os.environ.get("DREG_DISABLE_NUMBA", "") not in ("1", "true", "yes"):
    try:
        import numba

        _sweep_kernel = numba.njit(cache=True, nogil=True)(_sweep_kernel)
        _cd_kernel = numba.njit(cache=True, nogil=True)(_cd_kernel)
        _NUMBA = True
    except ImportError:  # pragma: no cover - numba is a dependency, but keep working without it
        pass


def _python_kernel(Qw, cw, bw, diag, denom, l1, lo, hi, thresh, max_sweeps):
    """The same iterations with numpy vector updates (used when numba is unavailable)."""
    diag_l, denom_l = diag.tolist(), denom.tolist()
    l1_l, lo_l, hi_l = l1.tolist(), lo.tolist(), hi.tolist()
    all_coords = list(range(bw.shape[0]))
    total = 0
    while total < max_sweeps:
        n, quiet = _sweeps(Qw, cw, bw, diag_l, denom_l, l1_l, lo_l, hi_l, all_coords, thresh, 1)
        total += n
        if quiet:
            return total, True
        active = [j for j in all_coords if bw[j] != 0.0]
        if active and total < max_sweeps:
            n, _ = _sweeps(Qw, cw, bw, diag_l, denom_l, l1_l, lo_l, hi_l, active, thresh, max_sweeps - total)
            total += n
    return total, False


def _solve_working_set(
    Q: FloatArray,
    b: FloatArray,
    c: FloatArray,
    work: NDArray[np.int64],
    l1: FloatArray,
    l2: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    thresh: float,
    max_sweeps: int,
) -> tuple[int, bool]:
    """glmnet's active-set iterations restricted to ``work``; updates ``b`` and ``c``."""
    Qw = np.ascontiguousarray(Q[np.ix_(work, work)])
    cw = c[work].copy()
    bw = b[work].copy()
    diag = np.ascontiguousarray(np.diag(Qw))
    denom = diag + l2[work]
    kernel = _cd_kernel if _NUMBA else _python_kernel
    total, converged = kernel(
        Qw,
        cw,
        bw,
        diag,
        denom,
        np.ascontiguousarray(l1[work]),
        np.ascontiguousarray(lower[work]),
        np.ascontiguousarray(upper[work]),
        float(thresh),
        int(max_sweeps),
    )
    delta = bw - b[work]
    nzd = np.flatnonzero(delta)
    if nzd.size:
        c -= Q[:, work[nzd]] @ delta[nzd]
    b[work] = bw
    return int(total), bool(converged)


def cd_path(
    Q: FloatArray,
    q: FloatArray,
    alphas: FloatArray,
    l1_ratio: float,
    penalty_factor: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    *,
    yy: float,
    tol: float = 1e-7,
    max_iter: int = 10_000,
    coef_init: FloatArray | None = None,
) -> PathSolution:
    """Solve the elastic net along ``alphas`` (decreasing) by coordinate descent.

    Parameters
    ----------
    Q, q : Gram problem (see :mod:`dreg.problem`), no constant features.
    alphas : ndarray of shape (n_alphas,)
        Decreasing regularization strengths.
    l1_ratio : float in [0, 1]
    penalty_factor, lower, upper : ndarray of shape (n_features,)
        On the standardized scale.
    yy : float
        Loss scale (``yy / W``) that makes ``tol`` relative, as glmnet's ``thresh``.
    tol : float
        Sweeps stop when ``max_j Q_jj (db_j)^2 < tol * yy``.
    max_iter : int
        Maximum number of sweeps per alpha.
    coef_init : ndarray of shape (n_features,), optional
        Warm start for the first alpha.

    Returns
    -------
    PathSolution
    """
    p = q.shape[0]
    A = len(alphas)
    coefs = np.zeros((A, p))
    n_iter = np.zeros(A, dtype=np.int64)
    converged = np.zeros(A, dtype=bool)
    kkt = np.zeros(A)
    if p == 0:
        return PathSolution(coefs, n_iter, np.ones(A, dtype=bool), kkt)
    b = np.zeros(p) if coef_init is None else np.clip(np.asarray(coef_init, dtype=np.float64), lower, upper)
    c = q - Q @ b
    thresh = tol * max(yy, np.finfo(float).tiny)
    target = _exact_target(q, yy)
    unpenalized = penalty_factor == 0
    ever = (b != 0) | unpenalized
    alpha_prev = None
    for a_idx, alpha in enumerate(alphas):
        l1 = alpha * l1_ratio * penalty_factor
        l2 = alpha * (1.0 - l1_ratio) * penalty_factor
        if alpha_prev is None:
            # first alpha: the basic strong rule against the maximal correlation
            strong = np.abs(c) >= l1_ratio * penalty_factor * alpha
        else:
            strong = np.abs(c) >= l1_ratio * penalty_factor * (2.0 * alpha - alpha_prev)
        work_mask = strong | ever
        sweeps = 0
        ok = False
        thr = thresh
        # solve to ``tol``; while the result is not yet exact to ``target``,
        # tighten the (compiled, cheap) sweeps and go again; the exact polish,
        # a factorization of the support's Gram, only from the second round on
        for _round in range(_ROUNDS):
            while True:
                work = np.flatnonzero(work_mask)
                if work.size:
                    n, ok = _solve_working_set(Q, b, c, work, l1, l2, lower, upper, thr, max(max_iter - sweeps, 1))
                    sweeps += n
                else:
                    ok = True
                nz = b != 0
                c = q - Q[:, nz] @ b[nz] if np.any(nz) else q.copy()
                out = ~work_mask
                if not np.any(out):
                    break
                # KKT check on every feature outside the working set
                v = kkt_violation(Q, q, b, l1, l2, lower, upper, grad=c)
                viol = out & (v > 0)
                if not np.any(viol) or sweeps >= max_iter:
                    break
                work_mask |= viol
            v = kkt_violation(Q, q, b, l1, l2, lower, upper, grad=c)
            best = float(v.max(initial=0.0))
            cand = polish(Q, q, b, l1, l2, lower, upper) if best > target and _round >= _POLISH_FROM else None
            if cand is not None:
                c_cand = q - Q @ cand
                v_cand = kkt_violation(Q, q, cand, l1, l2, lower, upper, grad=c_cand)
                if v_cand.max(initial=0.0) <= best:
                    b, c, v, best = cand, c_cand, v_cand, float(v_cand.max(initial=0.0))
            if best <= target or sweeps >= max_iter:
                break
            thr *= 1e-3
            work_mask |= v > target
        coefs[a_idx] = b
        n_iter[a_idx] = max(sweeps, 1)  # the KKT check alone is one pass over the features
        converged[a_idx] = ok
        kkt[a_idx] = best
        ever |= b != 0
        alpha_prev = alpha
    return PathSolution(coefs, n_iter, converged, kkt)
