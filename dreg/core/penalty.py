"""The elastic-net penalty as a value object (in the style of skglm's ``L1_plus_L2``).

For a regularization strength ``alpha`` the penalty of coefficients ``b`` is::

    P(b) = sum_j l1_j |b_j| + 1/2 sum_j l2_j b_j^2,   lower <= b <= upper,
    l1 = alpha * l1_ratio * penalty_factor,
    l2 = alpha * (1 - l1_ratio) * penalty_factor

with ``lower <= 0 <= upper`` (zero is feasible, as in glmnet).  A
:class:`Penalty` holds ``l1_ratio`` and the per-feature ``penalty_factor``,
``lower`` and ``upper``; each method (``value``, ``alpha_max``,
``kkt_violation``, ``subset``, ``standardized``) is unit-testable on its own.
The solvers, the path and the cross-validation take one; the compiled kernels
take its plain arrays.

Pure numpy: no Dask import.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dreg.core.problem import GramProblem
from dreg.core.solvers import cd_path, kkt_violation, ridge_path

__all__ = ["Penalty", "unpenalized_fit"]

FloatArray = NDArray[np.float64]

# glmnet floors l1_ratio at this value when computing alpha_max for near-ridge fits
_L1_FLOOR = 1e-3
# relative slack of alpha_max over its exact value (see Penalty.alpha_max)
_ALPHA_MAX_SLACK = 1e-12


def _frozen(a: ArrayLike) -> FloatArray:
    out = np.array(a, dtype=np.float64)
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class Penalty:
    """Elastic-net penalty with per-feature factors and box constraints.

    Attributes
    ----------
    l1_ratio : float in [0, 1]
        Mix of L1 (1) and L2 (0).
    penalty_factor : ndarray of shape (n_features,)
        Finite, >= 0; 0 leaves a feature unpenalized.
    lower, upper : ndarray of shape (n_features,)
        Bounds on the coefficients, ``lower <= 0 <= upper`` (``-inf``/``inf``:
        none).  Whether they apply to the original or the standardized scale
        is the caller's: :meth:`standardized` converts.

    The arrays are read-only.  Build one with :meth:`make` (scalars broadcast)
    or directly from three arrays of the same shape; both validate.
    """

    l1_ratio: float
    penalty_factor: FloatArray
    lower: FloatArray
    upper: FloatArray

    def __post_init__(self) -> None:
        r = self.l1_ratio
        if isinstance(r, bool) or not isinstance(r, (int, float, np.floating, np.integer)) or not 0.0 <= r <= 1.0:
            raise ValueError(f"l1_ratio must be in [0, 1], got {r!r}")
        object.__setattr__(self, "l1_ratio", float(r))
        pf, lower, upper = (_frozen(a) for a in (self.penalty_factor, self.lower, self.upper))
        if pf.ndim != 1 or lower.shape != pf.shape or upper.shape != pf.shape:
            raise ValueError(
                "penalty_factor, lower and upper must be 1-d arrays of one shape, got "
                f"{pf.shape}, {lower.shape} and {upper.shape}"
            )
        if not np.all(np.isfinite(pf)) or np.any(pf < 0):
            raise ValueError("penalty_factor must be finite and >= 0")
        if np.any(np.isnan(lower)) or np.any(np.isnan(upper)):
            raise ValueError("bounds must not be NaN")
        if np.any(lower > 0) or np.any(upper < 0):
            raise ValueError("lower_bounds must be <= 0 and upper_bounds >= 0 (zero must be feasible, as in glmnet)")
        object.__setattr__(self, "penalty_factor", pf)
        object.__setattr__(self, "lower", lower)
        object.__setattr__(self, "upper", upper)

    @classmethod
    def make(
        cls,
        n_features: int,
        l1_ratio: float = 1.0,
        *,
        penalty_factor: ArrayLike = 1.0,
        lower: ArrayLike = -np.inf,
        upper: ArrayLike = np.inf,
    ) -> Penalty:
        """A penalty on ``n_features`` features; scalars apply to every feature."""
        return cls.broadcast(l1_ratio, np.broadcast_to(np.asarray(penalty_factor, dtype=np.float64), (int(n_features),)), lower, upper)

    @classmethod
    def broadcast(
        cls, l1_ratio: float, penalty_factor: ArrayLike, lower: ArrayLike = -np.inf, upper: ArrayLike = np.inf
    ) -> Penalty:
        """A penalty from arrays and scalars broadcast against each other (at least one 1-d array)."""
        arrays = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (penalty_factor, lower, upper)))
        return cls(l1_ratio, *arrays)

    # -- shape and variants -------------------------------------------------
    @property
    def n_features(self) -> int:
        return int(self.penalty_factor.shape[0])

    @property
    def bounded(self) -> bool:
        """Whether any coefficient has a finite bound."""
        return not (bool(np.all(np.isinf(self.lower))) and bool(np.all(np.isinf(self.upper))))

    def with_l1_ratio(self, l1_ratio: float) -> Penalty:
        """The same factors and bounds with another mix."""
        return replace(self, l1_ratio=l1_ratio)

    def subset(self, keep: ArrayLike) -> Penalty:
        """The penalty of the features ``keep`` (indices or a boolean mask)."""
        return replace(self, penalty_factor=self.penalty_factor[keep], lower=self.lower[keep], upper=self.upper[keep])

    def standardized(self, scale: FloatArray) -> Penalty:
        """Bounds on the standardized scale ``b_s = b * scale`` (``scale > 0``; infinite bounds stay infinite)."""
        with np.errstate(invalid="ignore"):
            lower = np.where(np.isfinite(self.lower), self.lower * scale, -np.inf)
            upper = np.where(np.isfinite(self.upper), self.upper * scale, np.inf)
        return replace(self, lower=lower, upper=upper)

    # -- the penalty at a given alpha ----------------------------------------
    def l1(self, alpha: float) -> FloatArray:
        """``alpha * l1_ratio * penalty_factor``, shape (n_features,)."""
        return alpha * self.l1_ratio * self.penalty_factor

    def l2(self, alpha: float) -> FloatArray:
        """``alpha * (1 - l1_ratio) * penalty_factor``, shape (n_features,)."""
        return alpha * (1.0 - self.l1_ratio) * self.penalty_factor

    def value(self, coef: FloatArray, alpha: float) -> float:
        """``P(coef)`` at ``alpha`` (``inf`` outside the box)."""
        coef = np.asarray(coef, dtype=np.float64)
        if np.any(coef < self.lower) or np.any(coef > self.upper):
            return float(np.inf)
        return float(self.l1(alpha) @ np.abs(coef) + 0.5 * self.l2(alpha) @ (coef * coef))

    def kkt_violation(
        self, Q: FloatArray, q: FloatArray, coef: FloatArray, alpha: float, grad: FloatArray | None = None
    ) -> FloatArray:
        """Per-feature distance of 0 to the subdifferential of ``1/2 b^T Q b - q^T b + P(b)`` at ``coef``.

        See :func:`dreg.core.solvers.kkt_violation`; ``grad`` may pass ``q - Q coef``.
        Returns an ndarray of shape (n_features,).
        """
        return kkt_violation(Q, q, coef, self.l1(alpha), self.l2(alpha), self.lower, self.upper, grad)

    def alpha_max(self, problem: GramProblem) -> float:
        """Smallest alpha at which every penalized coefficient is zero.

        With ``b_U`` the fit of the unpenalized features alone and
        ``c = q - Q b_U``: ``alpha_max = max_j t_j / (max(l1_ratio, 1e-3) pf_j)``
        over penalized ``j``, where ``t_j = |c_j|`` (free sign), ``max(c_j, 0)``
        (``lower_j = 0``) or ``max(-c_j, 0)`` (``upper_j = 0``).  For
        ``l1_ratio = 0`` no finite alpha zeroes a ridge fit; the 1e-3 floor is
        glmnet's convention.  The bounds are on the original scale of ``problem``.
        """
        keep, Q, q, pen = reduce_problem(problem, self)
        pf, lo, hi = pen.penalty_factor, pen.lower, pen.upper
        P = pf > 0
        if not np.any(P):
            return 0.0
        b = unpenalized_fit(Q, q, pen, problem.yy)
        c = q - Q @ b
        t = np.where(lo < 0, np.where(hi > 0, np.abs(c), np.maximum(-c, 0.0)), np.maximum(c, 0.0))
        t = np.where((lo >= 0) & (hi <= 0), 0.0, t)
        denom = max(self.l1_ratio, _L1_FLOOR) * pf[P]
        # a relative 1e-12 above the exact value, so that rounding in the solver's own
        # residual and in ``alpha * l1_ratio * pf`` cannot leave a 1e-17 coefficient at the top
        return float(np.max(t[P] / denom)) * (1.0 + _ALPHA_MAX_SLACK)


def reduce_problem(problem: GramProblem, penalty: Penalty) -> tuple[NDArray[np.int64], FloatArray, FloatArray, Penalty]:
    """``(keep, Q, q, penalty)`` of the non-constant features, the penalty on the standardized scale."""
    keep = np.flatnonzero(~problem.constant)
    Q = problem.Q[np.ix_(keep, keep)]
    q = problem.q[keep]
    return keep, Q, q, penalty.subset(keep).standardized(problem.scale[keep])


def unpenalized_fit(Q: FloatArray, q: FloatArray, penalty: Penalty, yy: float) -> FloatArray:
    """Least squares on the unpenalized features only (the model at alpha_max).

    ``Q, q`` and ``penalty`` are on the standardized scale; returns the
    coefficients, shape (n_features,), zero on the penalized features.
    """
    b = np.zeros(q.shape[0])
    U = np.flatnonzero(penalty.penalty_factor == 0)
    if U.size == 0:
        return b
    Qu, qu = Q[np.ix_(U, U)], q[U]
    sub = penalty.subset(U)
    if not sub.bounded:
        b[U] = ridge_path(Qu, qu, np.zeros(1), Penalty.make(U.size, 0.0)).coef[0]
    else:
        b[U] = cd_path(Qu, qu, np.zeros(1), sub.with_l1_ratio(1.0), yy=yy, tol=1e-12).coef[0]
    return b
