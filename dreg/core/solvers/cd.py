"""Coordinate descent with covariance updates (Friedman, Hastie & Tibshirani 2010).

The solver never sees rows: with ``c = q - Q b`` (the correlations of the
features with the current residual, divided by ``W``) one coordinate update is::

    z    = c_j + Q_jj b_j
    b_j' = clip( S(z, l1_j) / (Q_jj + l2_j), lower_j, upper_j )
    c   -= (b_j' - b_j) Q[:, j]

which costs ``O(p)`` (glmnet's "covariance updates").  Along a decreasing path
of alphas:

1. **Warm start and predictor**: from the previous alpha's solution,
   extrapolated along log(alpha) by the polynomial through the last
   ``_PREDICT_POINTS`` solutions on the coefficients whose sign held (the path
   is smooth between changes of support; late in a path this starts within
   ~1e-8 of the next solution instead of ~1e-4).
2. **Sequential strong rule**: only features with
   ``|c_j| >= l1_ratio pf_j (2 alpha - alpha_prev)``, or that were ever active,
   or are unpenalized, enter the working set.
3. **Active-set iterations**: one sweep over the working set, then sweeps over
   the non-zero coefficients only until they settle (``max_j Q_jj db_j^2 <
   tol * yy``), then a sweep over the working set again; stop when that sweep
   changes nothing beyond the tolerance.  The non-zero sweeps are
   Anderson-extrapolated every ``_ANDERSON`` sweeps (Bertrand & Massias 2021),
   accepted only when the objective decreases.
4. **KKT check** on the discarded features with the full ``c``; violators join
   the working set and step 3 repeats.
5. **Exactness**: ``tol`` is glmnet's criterion on the step size, which stops
   about 1e-4 relative from the optimum.  While the largest KKT violation
   (recomputed from a fresh ``c = q - Q b``) exceeds the rounding-level target
   ``1e-10 * max(|q|, sqrt(yy))``, step 3 runs again and stops on the KKT
   violation itself, checked after every sweep.  These sweeps cost
   ``O(s p)`` each; when they converge slowly (beyond ``m / 3`` sweeps, about
   the cost of a factorization) the linear system on the final support and
   signs is solved exactly instead (:func:`polish`, below).

6. **Mixed precision**: from 256 features the sweeps read a float32 copy of
   ``Q`` (half the memory traffic of the row updates, which run at memory
   speed), while ``b`` and ``c`` stay float64 and ``c`` is recomputed from the
   float64 ``Q`` after every round.  Between refreshes the copy's rounding
   adds ``~6e-8 |Q_j| |db_j|`` per update, and the steps shrink as the
   iterations converge (mixed-precision iterative refinement); the KKT
   verdict on each alpha, the strong rule and the polish use the float64
   gradient (only a round's own early stop reads the maintained one), so the
   copy can cost sweeps, never accuracy.

The whole path (strong rule, predictor, sweeps, extrapolation, KKT checks,
polish with LAPACK's Cholesky) is one compiled call (numba, ``nogil``;
scikit-learn compiles its Gram CD with Cython and glmnet is Fortran): no
Python between alphas, and fold paths on threads run in parallel.  Without
numba, or with ``DREG_DISABLE_NUMBA=1``, the same code runs interpreted with
numpy vector updates (slower, same iterations).

numpy, compiled by numba (interpreted without it); no scipy.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from dreg.core._util import numba_jit

from ._common import PathSolution

if TYPE_CHECKING:
    from dreg.core.penalty import Penalty

FloatArray = NDArray[np.float64]

__all__ = ["cd_path", "polish"]

# rounds of (solve, polish, tighten) per alpha
_ROUNDS = 4
# the exact-threshold sweeps get at least this many sweeps before the polish
_MIN_EXACT_SWEEPS = 30
# sweeps between Anderson extrapolations (and the number of iterates combined)
_ANDERSON = 5
# before the exact sweeps, polish first when the support is small enough that
# its factorization (s^3/3) costs less than the ~20 sweeps (s p each) it saves
_POLISH_FIRST = 60
# solutions the path predictor extrapolates from (quadratic in log alpha)
_PREDICT_POINTS = 3
# sweeps read a float32 copy of Q from this many features: below it Q fits the
# caches and the copy buys nothing (benchmarks/README.md, "Measured speed-ups");
# DREG_CD_FLOAT64=1 turns the copy off
_FLOAT32_MIN_FEATURES = 256
_FLOAT32 = os.environ.get("DREG_CD_FLOAT64", "") not in ("1", "true", "yes")


def _sweep_copy(Q: FloatArray) -> NDArray[np.float32]:
    """The float32 copy of ``Q`` the sweeps read."""
    return Q.astype(np.float32)


def _exact_budget(m: int) -> int:
    """Sweeps worth spending on exactness before a factorization is cheaper.

    An active-set sweep over ``s`` non-zeros costs about ``s p`` flops and the
    polish's Cholesky ``s^3 / 3``; with ``s <= m`` (the working set), ``m / 3``
    sweeps cost about one factorization when the support fills the features.
    """
    return max(_MIN_EXACT_SWEEPS, m // 3)


def _exact_target(q: FloatArray, yy: float) -> float:
    """KKT violation regarded as exact: rounding level of the gradient's scale."""
    return 1e-10 * max(float(np.max(np.abs(q), initial=0.0)), np.sqrt(max(yy, 0.0)), 1e-300)


def _axpy(c, d, row):  # pragma: no cover - compiled
    """``c -= d * row`` as a scalar loop (compiled by numba; contiguous row)."""
    for k in range(c.shape[0]):
        c[k] -= d * row[k]


def _axpy_numpy(c, d, row):
    c -= d * row


def _violation(g, bj, l1j, loj, hij):  # pragma: no cover - compiled
    """One coordinate of :func:`dreg.core.solvers._common.kkt_violation` (``g = c - l2 b``)."""
    if bj == 0.0:
        v = 0.0
        if hij > 0.0 and g - l1j > v:
            v = g - l1j
        if loj < 0.0 and -l1j - g > v:
            v = -l1j - g
        return v
    if bj >= hij:
        return max(l1j - g, 0.0)
    if bj <= loj:
        return max(g + l1j, 0.0)
    if bj > 0.0:
        return abs(g - l1j)
    return abs(g + l1j)


def _sweep(Q, c, b, diag, denom, l1, lo, hi, coords, ncoords):  # pragma: no cover - compiled
    """One cyclic sweep over ``coords[:ncoords]``; returns ``max_j Q_jj db_j^2``.

    ``c = q - Q b`` is kept current on all features (glmnet's covariance
    updates: one contiguous row of the symmetric ``Q`` per change).
    """
    dmax = 0.0
    for ii in range(ncoords):
        j = coords[ii]
        bj = b[j]
        z = c[j] + diag[j] * bj
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
            _axpy(c, d, Q[j])
            b[j] = nb
            dd = diag[j] * d * d
            if dd > dmax:
                dmax = dd
    return dmax


def _save(hb, hc, k, b, c, active, na):  # pragma: no cover - compiled
    """Store iterate ``k`` (``b`` on the active coordinates, all of ``c``)."""
    for ii in range(na):
        j = active[ii]
        hb[k, j] = b[j]
    hc[k, :] = c


def _anderson(c, b, hb, hc, tb, tc, active, na, l1, l2, lo, hi):  # pragma: no cover - compiled
    """Anderson extrapolation of the last sweeps (Bertrand & Massias 2021), in place.

    With the residuals ``U_i = b^(i+1) - b^(i)`` of the stored iterates, the
    weights ``w = argmin ||sum_i w_i U_i||`` subject to ``sum_i w_i = 1``
    combine the iterates into ``b' = sum_i w_i b^(i+1)``; ``c`` is affine in
    ``b`` so ``c' = sum_i w_i c^(i+1)`` exactly.  ``b'`` replaces ``b`` only if
    it stays in the box and lowers the objective, measured by the difference
    ``F(b') - F(b) = sum_j -1/2 d_j (c_j + c'_j) + l1_j (|b'_j| - |b_j|)
    + 1/2 l2_j (b'_j^2 - b_j^2)`` with ``d = b' - b``, which keeps its digits
    where the two objectives agree to rounding.  Returns whether it did.
    """
    K = hb.shape[0] - 1
    G = np.zeros((K, K + 1))
    for i in range(K):
        for k in range(i, K):
            s = 0.0
            for ii in range(na):
                j = active[ii]
                s += (hb[i + 1, j] - hb[i, j]) * (hb[k + 1, j] - hb[k, j])
            G[i, k] = s
            G[k, i] = s
    scale = 0.0
    for i in range(K):
        if G[i, i] > scale:
            scale = G[i, i]
    if not scale > 0.0:
        return False
    for i in range(K):
        G[i, i] += 1e-12 * scale
        G[i, K] = 1.0
    # Gaussian elimination with partial pivoting on [G | 1]
    for col in range(K):
        piv = col
        for r in range(col + 1, K):
            if abs(G[r, col]) > abs(G[piv, col]):
                piv = r
        if not abs(G[piv, col]) > 1e-300:
            return False
        if piv != col:
            for t in range(K + 1):
                tmp = G[col, t]
                G[col, t] = G[piv, t]
                G[piv, t] = tmp
        for r in range(col + 1, K):
            f = G[r, col] / G[col, col]
            for t in range(col, K + 1):
                G[r, t] -= f * G[col, t]
    z = np.zeros(K)
    for i in range(K - 1, -1, -1):
        s = G[i, K]
        for t in range(i + 1, K):
            s -= G[i, t] * z[t]
        z[i] = s / G[i, i]
    zs = 0.0
    for i in range(K):
        zs += z[i]
    if not (abs(zs) > 0.0 and np.isfinite(zs)):
        return False
    for ii in range(na):
        j = active[ii]
        v = 0.0
        for i in range(K):
            v += z[i] * hb[i + 1, j]
        v /= zs
        if not (lo[j] <= v <= hi[j]):
            return False
        tb[j] = v
    p = c.shape[0]
    for t in range(p):
        v = 0.0
        for i in range(K):
            v += z[i] * hc[i + 1, t]
        tc[t] = v / zs
    dF = 0.0
    for ii in range(na):
        j = active[ii]
        d = tb[j] - b[j]
        dF += -0.5 * d * (c[j] + tc[j]) + l1[j] * (abs(tb[j]) - abs(b[j])) + 0.5 * l2[j] * (tb[j] * tb[j] - b[j] * b[j])
    if not dF < 0.0:
        return False
    for ii in range(na):
        j = active[ii]
        b[j] = tb[j]
    c[:] = tc
    return True


def _gradient(Q, q, b, c):  # pragma: no cover - compiled
    """``c = q - Q b`` from the rows of the non-zero coefficients (O(s p), no copies)."""
    c[:] = q
    for j in range(b.shape[0]):
        if b[j] != 0.0:
            _axpy(c, b[j], Q[j])


def _max_violation(c, b, l1, l2, lo, hi, coords, ncoords):  # pragma: no cover - compiled
    """Largest KKT violation over ``coords[:ncoords]`` with the maintained ``c``."""
    vmax = 0.0
    for ii in range(ncoords):
        j = coords[ii]
        v = _violation(c[j] - l2[j] * b[j], b[j], l1[j], lo[j], hi[j])
        if v > vmax:
            vmax = v
    return vmax


def _kkt_all(c, b, l1, l2, lo, hi, v):  # pragma: no cover - compiled
    """:func:`dreg.core.solvers._common.kkt_violation` into ``v`` (given ``c = q - Q b``); returns its max."""
    vmax = 0.0
    for j in range(b.shape[0]):
        v[j] = _violation(c[j] - l2[j] * b[j], b[j], l1[j], lo[j], hi[j])
        if v[j] > vmax:
            vmax = v[j]
    return vmax


def _round_kernel(Q, c, b, work_mask, diag, denom, l1, l2, lo, hi, thresh, kkt_tol, max_sweeps):  # pragma: no cover
    """glmnet's iterations for one alpha, in place.

    On the working set (``work_mask``): a full sweep; if it moved nothing
    beyond ``thresh``, done; otherwise sweep the non-zero coefficients until
    they settle (Anderson-extrapolated every ``_ANDERSON`` sweeps), and
    repeat.  With ``kkt_tol > 0`` the iterations also stop as soon as the
    largest KKT violation on the working set is at most ``kkt_tol`` (checked
    after each sweep, O(m)): a direct test of optimality instead of the step
    size, which under-solves when CD converges slowly and over-solves when it
    converges fast.  Then the KKT check on every feature outside the working
    set: violators join it and the iterations resume.  Returns ``(sweeps,
    converged)``; ``c`` stays equal to ``q - Q b`` up to rounding.
    """
    p = b.shape[0]
    work = np.empty(p, dtype=np.int64)
    active = np.empty(p, dtype=np.int64)
    hb = np.empty((_ANDERSON + 1, p))
    hc = np.empty((_ANDERSON + 1, p))
    tb = np.empty(p)
    tc = np.empty(p)
    check = kkt_tol > 0.0
    # counters start from a typed zero: a literal 0 would have numba also compile
    # every callee for the constant ``Literal[int](0)`` (twice the compile time)
    zero = np.int64(0)
    total = zero
    ok = False
    while True:
        m = zero
        for j in range(p):
            if work_mask[j]:
                work[m] = j
                m += 1
        ok = m == 0
        while m > 0 and total < max_sweeps:
            dmax = _sweep(Q, c, b, diag, denom, l1, lo, hi, work, m)
            total += 1
            if dmax < thresh or (check and _max_violation(c, b, l1, l2, lo, hi, work, m) <= kkt_tol):
                ok = True
                break
            na = zero
            for ii in range(m):
                j = work[ii]
                if b[j] != 0.0:
                    active[na] = j
                    na += 1
            _save(hb, hc, zero, b, c, active, na)
            k = zero
            while total < max_sweeps:
                dmax = _sweep(Q, c, b, diag, denom, l1, lo, hi, active, na)
                total += 1
                if dmax < thresh:
                    break
                if check and _max_violation(c, b, l1, l2, lo, hi, work, m) <= kkt_tol:
                    ok = True
                    break
                k += 1
                _save(hb, hc, k, b, c, active, na)
                if k == hb.shape[0] - 1:
                    _anderson(c, b, hb, hc, tb, tc, active, na, l1, l2, lo, hi)
                    _save(hb, hc, zero, b, c, active, na)
                    k = zero
            if ok:
                break
        added = False
        for j in range(p):
            if not work_mask[j] and _violation(c[j] - l2[j] * b[j], b[j], l1[j], lo[j], hi[j]) > 0.0:
                work_mask[j] = True
                added = True
        if not added or total >= max_sweeps:
            return total, ok




def _polish_kernel(Q, q, b, l1, l2, lower, upper):  # pragma: no cover - compiled
    """The compiled body of :func:`polish` (below): ``(x, ok)``.

    The exact solution on the support and signs of ``b``: Cholesky of
    ``Q_SS + diag(l2_S)`` on the free set ``S`` (non-zero, inside the box),
    with the coefficients at a bound ``B`` moved to the right-hand side.
    ``ok`` is False (and ``x`` is ``b``) when the system is not positive
    definite or its solution leaves the sign pattern or the box.
    """
    p = b.shape[0]
    free = np.empty(p, dtype=np.int64)
    bound = np.empty(p, dtype=np.int64)
    s = 0
    nb = 0
    for j in range(p):
        if b[j] != 0.0:
            if b[j] >= upper[j] or b[j] <= lower[j]:
                bound[nb] = j
                nb += 1
            else:
                free[s] = j
                s += 1
    if s == 0:
        return b, False
    A = np.empty((s, s))
    rhs = np.empty(s)
    for i in range(s):
        j = free[i]
        row = Q[j]
        for k in range(s):
            A[i, k] = row[free[k]]
        A[i, i] += l2[j]
        r = q[j] - (l1[j] if b[j] > 0.0 else -l1[j])
        for k in range(nb):
            r -= row[bound[k]] * b[bound[k]]
        rhs[i] = r
    # A = L L^T by LAPACK (numba's np.linalg), then the two triangular solves
    # column-oriented: contiguous rows of L^T (forward) and of L (backward)
    try:
        L = np.linalg.cholesky(A)
    except Exception:  # not positive definite
        return b, False
    U = np.ascontiguousarray(L.T)
    for k in range(s):
        xk = rhs[k] / L[k, k]
        rhs[k] = xk
        row = U[k]
        for i in range(k + 1, s):
            rhs[i] -= xk * row[i]
    for k in range(s - 1, -1, -1):
        xk = rhs[k] / L[k, k]
        rhs[k] = xk
        row = L[k]
        for i in range(k):
            rhs[i] -= xk * row[i]
    for i in range(s):
        j = free[i]
        x = rhs[i]
        if not np.isfinite(x) or (x > 0.0) != (b[j] > 0.0) or x == 0.0 or x > upper[j] or x < lower[j]:
            return b, False
    out = b.copy()
    for i in range(s):
        out[free[i]] = rhs[i]
    return out, True


def _try_polish(Q, q, b, c, v, best, l1, l2, lower, upper):  # pragma: no cover - compiled
    """:func:`_polish_kernel` ``b``; kept (with its ``c``, ``v``) when it does not increase the KKT violation."""
    cand, ok = _polish_kernel(Q, q, b, l1, l2, lower, upper)
    if ok:
        c_cand = np.empty_like(c)
        _gradient(Q, q, cand, c_cand)  # O(s p) from the non-zero rows
        v_cand = np.empty_like(v)
        best_cand = _kkt_all(c_cand, cand, l1, l2, lower, upper, v_cand)
        if best_cand <= best:
            return cand, c_cand, v_cand, best_cand
    return b, c, v, best


def _predict(coefs, first, a_idx, log_alphas, b):  # pragma: no cover - compiled
    """Extrapolate the path to ``alphas[a_idx]`` (in log alpha) from its last solutions.

    The points are ``coefs[first:a_idx - 1]`` and ``b`` (the solution at
    ``a_idx - 1``).  On a fixed support and sign pattern the path is smooth
    in log alpha, so the Lagrange polynomial through the last points
    (quadratic where the sign held over three alphas, linear over two)
    starts the solver much closer to the next solution than ``b`` alone.
    Coordinates that changed sign or left the support stay at ``b``; a
    prediction never crosses zero.
    """
    npts = a_idx - first  # 2 or 3 points: coefs[first:a_idx-1] and b
    target = log_alphas[a_idx]
    out = b.copy()
    sgn = np.sign(b)
    left = sgn != 0.0
    for mi in range(2 if npts > 2 else 1):
        m = npts if mi == 0 else 2
        same = left.copy()
        for k in range(npts - m, npts - 1):
            same &= np.sign(coefs[first + k]) == sgn
        if not same.any():
            continue
        acc = np.zeros(b.shape[0])
        for i in range(m):
            w = 1.0
            ti = log_alphas[first + npts - m + i]
            for k in range(m):
                if k != i:
                    tk = log_alphas[first + npts - m + k]
                    w *= (target - tk) / (ti - tk)
            if i == m - 1:
                acc += w * b
            else:
                acc += w * coefs[first + npts - m + i]
        for j in range(b.shape[0]):
            if same[j]:
                out[j] = acc[j]
        left &= ~same
    for j in range(b.shape[0]):
        if np.sign(out[j]) != sgn[j]:
            out[j] = 0.0
    return out


def _path_kernel(
    Q, Qs, q, alphas, l1_ratio, pf, lower, upper, b, thresh, target, exact_thresh, kkt_tol, max_iter,
    coefs, n_iter, converged, kkt,
):  # pragma: no cover - compiled
    """The whole path, in place into ``coefs``, ``n_iter``, ``converged``, ``kkt`` (see :func:`cd_path`).

    One compiled call per path: no Python (nor the GIL: numba ``nogil``)
    between alphas, so fold paths on threads run in parallel at any size.
    """
    p = q.shape[0]
    c = np.empty(p)
    v = np.empty(p)
    _gradient(Q, q, b, c)
    diag = np.empty(p)
    for j in range(p):
        diag[j] = Q[j, j]
    log_alphas = np.log(np.maximum(alphas, 1e-300))
    ever = (b != 0.0) | (pf == 0.0)
    alpha_prev = -1.0
    for a_idx in range(alphas.shape[0]):
        alpha = alphas[a_idx]
        l1 = alpha * l1_ratio * pf
        l2 = alpha * (1.0 - l1_ratio) * pf
        denom = diag + l2
        if a_idx == 0:
            # first alpha: the basic strong rule against the maximal correlation
            work_mask = (np.abs(c) >= l1_ratio * pf * alpha) | ever
        else:
            work_mask = (np.abs(c) >= l1_ratio * pf * (2.0 * alpha - alpha_prev)) | ever
        if a_idx >= 2 and alphas[a_idx - 2] > alpha_prev and alpha_prev > alpha and alpha > 0.0:
            first = max(a_idx - _PREDICT_POINTS, 0)
            pred = _predict(coefs, first, a_idx, log_alphas, b)
            pred = np.minimum(np.maximum(pred, lower), upper)
            if np.any(pred != b):
                b = pred
                _gradient(Q, q, b, c)
        sweeps = 0
        ok = False
        thr = thresh
        exact = False  # the sweeps stop on the KKT target
        polished = False
        best = np.inf
        # Solve to ``tol``, then, while the result is not exact to ``target``,
        # sweep on with the KKT stop.  The exact polish is the fallback when
        # those sweeps converge slowly (a budget of about one factorization).
        for _round in range(_ROUNDS):
            budget = max_iter - sweeps
            capped = exact and not polished
            if capped:
                budget = min(budget, _exact_budget(int(np.count_nonzero(work_mask))))
            n, ok = _round_kernel(
                Qs, c, b, work_mask, diag, denom, l1, l2, lower, upper, thr, kkt_tol if exact else 0.0, max(budget, 1)
            )
            sweeps += n
            _gradient(Q, q, b, c)  # float64, and drops the updates' rounding
            best = _kkt_all(c, b, l1, l2, lower, upper, v)
            s = np.count_nonzero(b)
            cheap = s * s <= max(0.5 * sweeps, _POLISH_FIRST) * p
            if best <= target or sweeps >= max_iter:
                if exact and cheap:
                    # optimal to the target; the exact solve on a small
                    # support costs less than a few sweeps and removes the
                    # last digits (ill-conditioned supports need them)
                    b, c, v, best = _try_polish(Q, q, b, c, v, best, l1, l2, lower, upper)
                break
            if not polished and ((not exact and cheap) or (capped and not ok) or _round >= 2):
                b, c, v, best = _try_polish(Q, q, b, c, v, best, l1, l2, lower, upper)
                polished = True
                if best <= target:
                    break
            if exact:
                thr *= 1e-3
            else:
                thr = min(thr, exact_thresh)
                exact = True
            work_mask |= v > target
        coefs[a_idx] = b
        n_iter[a_idx] = max(sweeps, 1)  # the KKT check alone is one pass over the features
        converged[a_idx] = ok or best <= target  # the polish may finish what the sweeps left
        kkt[a_idx] = best
        ever |= b != 0.0
        alpha_prev = alpha


_jit = numba_jit()
_NUMBA = _jit is not None
if _NUMBA:
    _axpy = _jit(_axpy)
    _violation = _jit(_violation)
    _sweep = _jit(_sweep)
    _save = _jit(_save)
    _anderson = _jit(_anderson)
    _max_violation = _jit(_max_violation)
    _kkt_all = _jit(_kkt_all)
    _gradient = _jit(_gradient)
    _round_kernel = _jit(_round_kernel)
    _exact_budget = _jit(_exact_budget)
    _polish_kernel = _jit(_polish_kernel)
    _try_polish = _jit(_try_polish)
    _predict = _jit(_predict)
    _path_kernel = _jit(_path_kernel)
if not _NUMBA:
    # interpreted: a numpy vector update instead of the scalar loop
    _axpy = _axpy_numpy


def polish(
    Q: FloatArray,
    q: FloatArray,
    b: FloatArray,
    l1: FloatArray,
    l2: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
) -> FloatArray | None:
    """Exact solution on the support and sign pattern of ``b``, if consistent.

    Once an iterative solver has found which coefficients are zero, which sit at
    a bound and the signs of the others, the optimum solves the linear system
    ``(Q_SS + diag(l2_S)) b_S = q_S - Q_SB b_B - l1_S sign(b_S)`` on the free
    set ``S`` (``B``: coefficients at a bound).  Solving it removes the last
    digits of iterative error.  Returns ``None`` when the system is not
    positive definite or the solution leaves the sign pattern or the box (then
    the iterate stands).  The compiled :func:`_polish_kernel`, shared with
    :func:`cd_path`.
    """
    f64 = np.float64
    x, ok = _polish_kernel(
        np.ascontiguousarray(Q, dtype=f64),
        np.ascontiguousarray(q, dtype=f64),
        np.ascontiguousarray(b, dtype=f64),
        np.ascontiguousarray(l1, dtype=f64),
        np.ascontiguousarray(l2, dtype=f64),
        # copies: a broadcast view is read-only, a specialization of its own
        np.array(np.broadcast_to(lower, np.shape(b)), dtype=f64),
        np.array(np.broadcast_to(upper, np.shape(b)), dtype=f64),
    )
    return x if ok else None


def cd_path(
    Q: FloatArray,
    q: FloatArray,
    alphas: FloatArray,
    penalty: Penalty,
    *,
    yy: float,
    tol: float = 1e-7,
    max_iter: int = 10_000,
    coef_init: FloatArray | None = None,
) -> PathSolution:
    """Solve the elastic net along ``alphas`` (decreasing) by coordinate descent.

    Minimises, for each ``alpha``, ``1/2 b^T Q b - q^T b + P_alpha(b)`` with
    ``P_alpha`` the penalty (and box) of ``penalty`` (see :mod:`dreg.core.penalty`).

    Parameters
    ----------
    Q : ndarray of shape (n_features, n_features)
    q : ndarray of shape (n_features,)
        Gram problem (see :mod:`dreg.core.problem`), no constant features.
    alphas : ndarray of shape (n_alphas,)
        Decreasing regularization strengths.
    penalty : Penalty
        On the standardized scale (``n_features`` features).
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
        ``coef`` of shape (n_alphas, n_features).
    """
    p = q.shape[0]
    A = len(alphas)
    coefs = np.zeros((A, p))
    n_iter = np.zeros(A, dtype=np.int64)
    converged = np.zeros(A, dtype=bool)
    kkt = np.zeros(A)
    if p == 0:
        return PathSolution(coefs, n_iter, np.ones(A, dtype=bool), kkt)
    Q = np.ascontiguousarray(Q, dtype=np.float64)
    q = np.ascontiguousarray(q, dtype=np.float64)
    # writable copies: the kernels are compiled for writable arrays (a Penalty's are read-only)
    lower = np.array(penalty.lower, dtype=np.float64)
    upper = np.array(penalty.upper, dtype=np.float64)
    penalty_factor = np.array(penalty.penalty_factor, dtype=np.float64)
    b = np.zeros(p) if coef_init is None else np.clip(np.asarray(coef_init, dtype=np.float64), lower, upper)
    diag = np.diag(Q)
    thresh = tol * max(yy, np.finfo(float).tiny)
    target = _exact_target(q, yy)
    # a settled sweep moves each coordinate by less than sqrt(thr / Q_jj); this
    # threshold keeps the gradient change of such a sweep a decade below target
    exact_thresh = (0.3 * target) ** 2 / max(float(diag.max(initial=1.0)), np.finfo(float).tiny)
    # ... but the exact sweeps stop on the KKT violation itself, with a margin
    # for the rounding of the maintained gradient
    kkt_tol = 0.5 * target
    # mixed precision (step 6 of the module docstring): the sweeps read a
    # float32 copy of Q, which costs 4 p^2 bytes per path being solved
    Qs = _sweep_copy(Q) if p >= _FLOAT32_MIN_FEATURES and _FLOAT32 else Q
    _path_kernel(
        Q, Qs, q, np.ascontiguousarray(alphas, dtype=np.float64), penalty.l1_ratio,
        penalty_factor, lower, upper, b, float(thresh), float(target),
        float(exact_thresh), float(kkt_tol), int(max_iter), coefs, n_iter, converged, kkt,
    )
    return PathSolution(coefs, n_iter, converged, kkt)
