"""An independent reference for dreg's objective with every option: weights, standardize,
penalty_factor, bounds, positive, and cross-validation on given folds.

Nothing of dreg is used: the rows are centered and (optionally) standardized
explicitly with numpy, the exact objective

    1/(2 sum(w)) sum_i w_i (y_i - b - x_i^T beta)^2
        + alpha sum_j pf_j (l1_ratio |beta_s_j| + (1 - l1_ratio)/2 beta_s_j^2),
    lower_j <= beta_j <= upper_j,   beta_s = beta * sd   (sd = 1 without standardize)

is minimised by scipy's L-BFGS-B on the smooth split form ``beta_s = u - v``
(``u, v >= 0``, box bounds on ``u`` and ``v``; features without an L1 term directly), and the result is polished to
rounding accuracy by one linear solve on the active set that L-BFGS-B found
(free coefficients with their signs; zeros and bounds fixed).  The polished
point is accepted only if it satisfies the KKT conditions to ``1e-9`` of the
gradient's scale, so a wrong active set fails loudly instead of giving a
wrong reference.

Cross-validation follows dreg's documented scheme (and glmnet's): each
training fold is standardized by its own weighted mean and population SD,
the held-out error is the weighted MSE of the fold's rows, the chosen alpha
minimises the mean over folds, and the final model is refit on all rows.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from threadpoolctl import ThreadpoolController

KKT_RTOL = 1e-9
_THREADPOOLS = ThreadpoolController()


@dataclass(frozen=True)
class Fit:
    coef: np.ndarray
    intercept: float


def _as_vector(v, p: int, default: float) -> np.ndarray:
    return np.full(p, default, dtype=np.float64) if v is None else np.broadcast_to(np.asarray(v, float), (p,)).copy()


def enet_fit(
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None,
    alpha: float,
    l1_ratio: float,
    *,
    standardize: bool,
    penalty_factor=None,
    lower=None,
    upper=None,
    positive: bool = False,
) -> Fit:
    """The exact minimiser of the objective in the module docstring (with an intercept)."""
    # one BLAS thread: on a busy machine OpenBLAS's threads make these 5x5 products 10x slower
    with _THREADPOOLS.limit(limits=1, user_api="blas"):
        return _enet_fit(
            X, y, w, alpha, l1_ratio, standardize=standardize, penalty_factor=penalty_factor,
            lower=lower, upper=upper, positive=positive,
        )  # fmt: skip


def _enet_fit(X, y, w, alpha, l1_ratio, *, standardize, penalty_factor=None, lower=None, upper=None, positive=False):
    n, p = X.shape
    w = np.ones(n) if w is None else np.asarray(w, dtype=np.float64)
    W = w.sum()
    x_mean = w @ X / W
    y_mean = w @ y / W
    Xc, yc = X - x_mean, y - y_mean
    sd = np.sqrt(w @ Xc**2 / W) if standardize else np.ones(p)
    Xs = Xc / sd
    A = Xs.T @ (w[:, None] * Xs) / W  # the Gram of the standardized, centered columns
    b = Xs.T @ (w * yc) / W
    pf = _as_vector(penalty_factor, p, 1.0)
    lo = _as_vector(lower, p, -np.inf)
    hi = _as_vector(upper, p, np.inf)
    if positive:
        lo = np.maximum(lo, 0.0)
    lo_s, hi_s = lo * sd, hi * sd  # bounds act on the original scale
    l1 = alpha * l1_ratio * pf
    l2 = alpha * (1.0 - l1_ratio) * pf

    # features without an L1 term are optimised directly; the others as u - v (u, v >= 0)
    split = np.flatnonzero(l1 > 0)
    direct = np.flatnonzero(l1 == 0)
    m = split.size

    def coef(z: np.ndarray) -> np.ndarray:
        c = np.empty(p)
        c[split] = z[:m] - z[m : 2 * m]
        c[direct] = z[2 * m :]
        return c

    def value_and_grad(z: np.ndarray) -> tuple[float, np.ndarray]:
        c = coef(z)
        g = A @ c - b + l2 * c
        f = 0.5 * c @ A @ c - b @ c + 0.5 * l2 @ (c * c) + l1[split] @ z[: 2 * m].reshape(2, m).sum(axis=0)
        return f, np.concatenate([g[split] + l1[split], -g[split] + l1[split], g[direct]])

    def finite(v: float) -> float | None:
        return None if np.isinf(v) else float(v)

    bounds = [(0.0, finite(max(hi_s[j], 0.0))) for j in split]
    bounds += [(0.0, finite(max(-lo_s[j], 0.0))) for j in split]
    bounds += [(finite(lo_s[j]), finite(hi_s[j])) for j in direct]
    res = minimize(
        value_and_grad,
        np.zeros(2 * m + direct.size),
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": 100_000, "maxfun": 200_000, "ftol": 1e-16, "gtol": 1e-12, "maxcor": 10},
    )
    c = coef(res.x)
    c = _polish(A, b, l1, l2, lo_s, hi_s, c)
    coef = c / sd
    return Fit(coef=coef, intercept=float(y_mean - x_mean @ coef))


# the state of a coefficient in an active set
LO, HI, ZERO, POS, NEG = range(5)


def _solve_pattern(A, b, l1, l2, lo, hi, state: np.ndarray) -> np.ndarray | None:
    """The stationary point with the coefficients in ``state`` (None if it contradicts the state)."""
    out = np.where(state == LO, lo, np.where(state == HI, hi, 0.0))
    free = (state == POS) | (state == NEG)
    if free.any():
        F = np.flatnonzero(free)
        sign = np.where(state[F] == POS, 1.0, -1.0)
        rhs = b[F] - A[np.ix_(F, ~free)] @ out[~free] - l1[F] * sign
        try:
            out[F] = np.linalg.solve(A[np.ix_(F, F)] + np.diag(l2[F]), rhs)
        except np.linalg.LinAlgError:
            return None
        signed = l1[F] > 0  # without an L1 term a free coefficient may take either sign (or 0)
        if np.any(out[F][signed] * sign[signed] <= 0) or np.any(out[F] < lo[F]) or np.any(out[F] > hi[F]):
            return None
    return out


def _polish(A, b, l1, l2, lo, hi, c) -> np.ndarray:
    """A linear solve on the active set of ``c`` (L-BFGS-B's point), accepted only if it meets the KKT
    conditions; when it does not (a coefficient L-BFGS-B left barely off 0 or a bound), the active sets
    one and two changes away are tried, then all of them (a few features only)."""
    scale = max(np.max(np.abs(b)), np.max(np.abs(np.diag(A))), 1e-300)
    tol = 1e-7 * np.max(np.abs(c))
    p = c.size
    smooth = l1 == 0  # free (state POS, any sign) unless at a bound
    state = np.where((c > 0) | smooth, POS, NEG)
    state = np.where((np.abs(c) <= tol) & ~smooth, ZERO, state)
    state = np.where(np.isfinite(lo) & (np.abs(c - lo) <= tol), LO, state)
    state = np.where(np.isfinite(hi) & (np.abs(c - hi) <= tol), HI, state)
    options = [
        [
            s
            for s in ((LO, HI, POS) if smooth[j] else (LO, HI, ZERO, POS, NEG))
            if (s != LO or np.isfinite(lo[j])) and (s != HI or np.isfinite(hi[j]))
        ]
        for j in range(p)
    ]

    def candidates():
        yield state
        for j in range(p):
            for s in options[j]:
                if s != state[j]:
                    t = state.copy()
                    t[j] = s
                    yield t
        for j in range(p):
            for k in range(j + 1, p):
                for s in options[j]:
                    for r in options[k]:
                        t = state.copy()
                        t[j], t[k] = s, r
                        yield t
        yield from (np.array(t) for t in itertools.product(*options))

    for t in candidates():
        out = _solve_pattern(A, b, l1, l2, lo, hi, t)
        if out is not None and kkt_violation(A, b, l1, l2, lo, hi, out) <= KKT_RTOL * scale:
            return out
    raise AssertionError("reference: no active set satisfies the KKT conditions")


def kkt_violation(A, b, l1, l2, lo, hi, c) -> float:
    """Largest distance of 0 from ``subdifferential + normal cone of the box`` at ``c`` (standardized).

    Per coordinate the subdifferential of the smooth part plus ``l1 |c|`` is the interval
    ``[g - l1, g + l1]`` at 0 (a point off 0); at an upper bound the normal cone adds ``[0, inf)``,
    at a lower bound ``(-inf, 0]``.
    """
    g = A @ c - b + l2 * c  # gradient of the smooth part
    low = np.where(c > 0, g + l1, g - l1)
    high = np.where(c < 0, g - l1, g + l1)
    low = np.where(np.isfinite(lo) & (c == lo), -np.inf, low)
    high = np.where(np.isfinite(hi) & (c == hi), np.inf, high)
    viol = np.maximum(np.maximum(low, -high), 0.0)
    return float(viol.max()) if viol.size else 0.0


@dataclass(frozen=True)
class CVReference:
    mse_path: np.ndarray  # (n_alphas, n_folds), folds in sorted label order
    alpha: float  # the alpha of the smallest mean held-out error
    final: Fit  # refit on all rows at that alpha


def enet_cv(
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None,
    folds: np.ndarray,
    alphas: np.ndarray,
    l1_ratio: float,
    **options,
) -> CVReference:
    """Per-fold refits of :func:`enet_fit` on every alpha; label -1 rows always train."""
    w = np.ones(len(y)) if w is None else np.asarray(w, dtype=np.float64)
    labels = np.unique(folds[folds >= 0])
    mse = np.zeros((len(alphas), labels.size))
    with _THREADPOOLS.limit(limits=1, user_api="blas"):
        for k, label in enumerate(labels):
            train, test = folds != label, folds == label
            for i, a in enumerate(alphas):
                fit = _enet_fit(X[train], y[train], w[train], a, l1_ratio, **options)
                r = y[test] - X[test] @ fit.coef - fit.intercept
                mse[i, k] = np.average(r**2, weights=w[test])
        alpha = float(alphas[int(np.argmin(mse.mean(axis=1)))])
        final = _enet_fit(X, y, w, alpha, l1_ratio, **options)
    return CVReference(mse_path=mse, alpha=alpha, final=final)
