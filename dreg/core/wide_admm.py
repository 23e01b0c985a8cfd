"""Consensus ADMM over row blocks for the wide engine (Boyd et al. 2011, §7.1 and §8.2).

The wide engine's coordinate descent (:func:`dreg.core.wide.wide_path`) keeps
the Gram columns of a working set on the coordinator.  Consensus ADMM splits
the *rows* instead: block ``i`` holds its rows ``A_i`` (sparse), ``y_i`` and
``w_i``, and only ``p``-vectors travel between the blocks and the coordinator.
For each model ``m`` (a fold-training model or the all-rows model) and each
``alpha`` it solves the problem of :mod:`dreg.core.wide`::

    1/(2W) sum_i w_i (y_i - b - x_i^T beta)^2
        + alpha sum_j pf_j (l1_ratio |beta_j s_j| + (1 - l1_ratio)/2 (beta_j s_j)^2),
    lower <= beta <= upper

as ``minimise sum_{i in B_m} f_i(x_i) + g(z)  subject to  x_i = z``, ``B_m`` the
blocks model ``m`` trains on (§7.1, global consensus).

**The variable.**  The ADMM works in one change of variables shared by all
models: ``x = (beta * g, b')`` with ``g`` the weighted population standard
deviations of the features on *all* rows (a preconditioner, whatever
``standardize`` says; 1 for a feature constant on all rows, whose column is
dropped) and ``b'`` the intercept of the model written around the all-rows
centre ``c`` (the all-rows weighted feature means) and ``ybar``:
``y - ybar ~ b' + (x - c)^T beta``.  Each block's design is
``A_i = [ (X_i - 1 c^T) G^-1, 1 ]``: centering is a rank-one correction of
the sparse ``X_i G^-1`` (never densified) and the intercept is its own,
unpenalized, consensus coordinate.  Because ``g, c, ybar`` are the same for
every model, so is every block's design: a fold model's own centre and scale
enter only through its penalty (``s_m / g`` per feature) and its intercept.
Without an intercept, ``c = 0``, ``ybar = 0`` and there is no last coordinate.

**The iteration** (scaled dual ``u_i``, over-relaxation ``a = 1.6``, §3.4.3).
Multiplying model ``m``'s objective by ``W_m`` makes every block's loss
``f_i(x) = 1/2 ||A_i x - (y_i - ybar)||^2_{w_i}`` the same for all models and
``rho`` an *absolute* number (``rho_m = W_m rho_m^normalized``)::

    x_i   = (A_i^T W_i A_i + rho I)^-1 (A_i^T W_i y_i + rho (z - u_i))   per block (the seam)
    xh_i  = a x_i + (1 - a) z
    z     = clip( S(v, k1) / (1 + k2), lower g, upper g ),  v = mean_i (xh_i + u_i)
            k1 = W alpha l1_ratio pf r / (N rho),  k2 = W alpha (1 - l1_ratio) pf r^2 / (N rho)
    u_i   = u_i + xh_i - z

with ``r = s_m / g`` and ``N = |B_m|`` (the intercept coordinate is not
thresholded; a feature constant on the model's rows is pinned at 0).  ``rho``
starts at ``0.3 W_m`` (the preconditioned Gram has a unit diagonal) and adapts
per model by residual balancing (§3.4.1, ``mu = 10``, ``tau = 2``, ``u``
rescaled) on the *normalized* residuals ``||r|| / max(||x||, ||z||)`` and
``||s|| / ||rho u||`` (Wohlberg 2017, "ADMM penalty parameter selection by
residual balancing"), decided every 10 iterations: balancing the raw residuals
every iteration drove ``rho`` 50x too low after each warm start here (the first
step's dual residual is large) and cost 10-30x the iterations.  Stopping per
model (§3.3, consensus form §7.1)::

    ||r|| = sqrt(sum_i ||x_i - z||^2)       <= sqrt(N d) eps_abs + eps_rel max(sqrt(sum_i ||x_i||^2), sqrt(N) ||z||)
    ||s|| = rho sqrt(N) ||z - z_old||        <= sqrt(N d) eps_abs' + eps_rel sqrt(sum_i ||rho u_i||^2)

with ``eps_rel = admm_tol``, ``eps_abs = admm_tol sd(y) / sqrt(d)`` and
``eps_abs' = eps_abs W / N`` (the dual residual's units).

**The factorization** of each block is computed once and shared by every
model and every ``rho``: with fewer rows than ``d`` (Woodbury,
``(rho I + A^T W A)^-1 = (I - Ã^T (rho I + Ã Ã^T)^-1 Ã) / rho``,
``Ã = W^1/2 A``) the ``n_i x n_i`` matrix ``Ã Ã^T = U diag(lam) U^T`` is
eigendecomposed; otherwise (only when ``d <= block_rows``) the ``d x d``
``A^T W A``.  Either way a solve for any ``rho`` is two products with the
eigenvectors, and the models that train on a block (all but one fold model,
plus the all-rows model) are solved in one matrix product.  The row blocks
are the fold labels, or sub-blocks of at most ``block_rows`` rows when
``d > block_rows`` (so a factorization is at most ``block_rows`` square).

**Warm starts along the path.**  Each alpha starts from the previous alpha's
*exact* solution ``z`` and the duals that make it a fixed point of the
iteration, ``u_i = -grad f_i(z) / rho`` (one pass over the blocks), with the
previous ``rho``.

**The exact finish.**  ADMM reaches modest accuracy in tens of iterations and
high accuracy slowly, so each (alpha, model) ends as the coordinate-descent
engine's alphas do: the support of the ADMM's ``z`` (and every feature ever
active) joins the working set of :class:`dreg.core.wide.WideProblem` (one
``gram_block`` pass for new features), :func:`dreg.core.solvers.cd_sparse.cd_sparse_path`
solves the working set from the ADMM's point, and one ``gradients`` pass checks
KKT on *all* features; violators are admitted and solved again.  The answer
therefore meets the same exactness target as ``solver='cd'`` (equal to
~1e-8); the ADMM's own distance to it is recorded (:attr:`WideADMMResult.admm_gap`).

**The seam for Dask.**  The algorithm talks to the rows only through
:class:`RowBlocks`' two calls per iteration, each over all blocks at once:
:meth:`RowBlocks.prox` (the x-update of every block, for the models training
on it) and :meth:`RowBlocks.loss_gradients` (once per alpha).  Each takes and
returns one ``(k_i, d)`` array per block.  A Dask implementation keeps one
:class:`LocalBlock` per worker (built there from its rows, factorized there
once) and maps these calls over the blocks: ``p``-vectors go down and up per
iteration, nothing else changes.  The exact finish uses the wide engine's
oracle as ``solver='cd'`` does.

Pure numpy/scipy: no Dask import.
"""

from __future__ import annotations

import time
import weakref
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from dreg.core._util import n_threads, single_blas_thread
from dreg.core.penalty import Penalty
from dreg.core.solvers import kkt_violation
from dreg.core.wide import WidePathResult, WideProblem

__all__ = [
    "DEFAULT_BLOCK_ROWS",
    "ConsensusBlock",
    "LocalBlock",
    "RowBlocks",
    "WideADMMResult",
    "row_blocks",
    "wide_admm_path",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: the largest factorization of a block (rows per sub-block when ``d`` exceeds it)
DEFAULT_BLOCK_ROWS = 1024
_RELAX = 1.6
_MU = 10.0
_TAU = 2.0
# rho / W at the start: the standardized Gram has a unit diagonal; measured best near 0.1-1
# (benchmarks/RESULTS.md, bench_wide_admm); balancing corrects it from there
_RHO0 = 0.3
# iterations between two residual-balancing decisions (each decision restarts the transient)
_BALANCE_EVERY = 10
# as dreg.core.wide: a feature whose spread is below this fraction of its mean is constant
_CONSTANT_RTOL = 1e-12
# KKT rounds of the exact finish per alpha (as dreg.core.wide._MAX_ROUNDS)
_MAX_ROUNDS = 100


# --------------------------------------------------------------------------- one block
class ConsensusBlock(Protocol):
    """What the consensus ADMM needs from one block of rows (in memory or on a worker).

    The block's loss is ``f(x) = 1/2 ||A x - y||^2_w`` with ``A`` the block's
    design in the shared change of variables (module docstring), ``x`` of
    length ``dim``.
    """

    @property
    def n_rows(self) -> int: ...

    @property
    def n_factorizations(self) -> int:
        """Eigendecompositions computed so far (one for the block's lifetime)."""
        ...

    def prox(self, v: FloatArray, rho: FloatArray) -> FloatArray:
        """``argmin_x f(x) + rho_k/2 ||x - v_k||^2`` for each row ``k`` of ``v`` (shape (k, dim))."""
        ...

    def loss_gradient(self, x: FloatArray) -> FloatArray:
        """``A^T W (A x_k - y)`` for each row ``k`` of ``x`` (shape (k, dim))."""
        ...


class LocalBlock:
    """An in-memory :class:`ConsensusBlock`: rows, weights and one cached eigendecomposition.

    Parameters
    ----------
    X : scipy.sparse matrix of shape (n_rows, n_features)
        The block's rows, already multiplied by ``G^-1`` (zero columns for
        features constant on all rows).
    y : ndarray of shape (n_rows,)
        Responses minus the all-rows ``ybar`` (0 without an intercept).
    sample_weight : ndarray of shape (n_rows,)
        Rows with weight 0 are dropped.
    center : ndarray of shape (n_features,) or None
        ``G^-1 c``, the all-rows centre in the scaled units; ``None``: no
        intercept (no centering, no intercept coordinate).
    """

    def __init__(self, X: sp.spmatrix, y: FloatArray, sample_weight: FloatArray, center: FloatArray | None) -> None:
        keep = np.asarray(sample_weight) > 0
        sw = np.sqrt(np.asarray(sample_weight, dtype=np.float64)[keep])
        self._Xs = sp.csr_matrix(sp.diags(sw) @ sp.csr_matrix(X)[keep])  # W^1/2 X G^-1
        self._sw = sw
        self._c = None if center is None else np.asarray(center, dtype=np.float64)
        self.n_features = int(X.shape[1])
        self.dim = self.n_features + (0 if center is None else 1)
        self.method = "woodbury" if self.n_rows < self.dim else "gram"
        self._atb = self._at(sw * np.asarray(y, dtype=np.float64)[keep], vector=True)
        self._lam: FloatArray | None = None
        self._vec: FloatArray | None = None
        self._n_factorizations = 0

    @property
    def n_rows(self) -> int:
        return int(self._sw.size)

    @property
    def n_factorizations(self) -> int:
        return self._n_factorizations

    # -- the design Ã = W^1/2 [ (X - 1 c^T) G^-1, 1 ], implicitly -------------------------
    def _a(self, V: FloatArray) -> FloatArray:
        """``Ã V^T``, shape (n_rows, k), for ``V`` of shape (k, dim)."""
        p = self.n_features
        out = np.asarray(self._Xs @ V[:, :p].T)
        if self._c is not None:
            out += self._sw[:, None] * (V[:, p] - V[:, :p] @ self._c)[None, :]
        return out

    def _at(self, T: FloatArray, vector: bool = False) -> FloatArray:
        """``(Ã^T T)^T``, shape (k, dim), for ``T`` of shape (n_rows, k) (or a vector)."""
        T2 = T[:, None] if vector else T
        F = np.asarray(self._Xs.T @ T2).T
        if self._c is not None:
            s = self._sw @ T2
            F = np.concatenate([F - s[:, None] * self._c[None, :], s[:, None]], axis=1)
        return F[0] if vector else F

    # -- the factorization, once ------------------------------------------------------------
    def factorize(self) -> None:
        """Eigendecompose ``Ã Ã^T`` (Woodbury) or ``Ã^T Ã`` (fewer columns than rows), once."""
        if self._lam is not None:
            return
        Xs, sw, c = self._Xs, self._sw, self._c
        if self.method == "woodbury":
            K = (Xs @ Xs.T).toarray()
            if c is not None:
                h = np.asarray(Xs @ c).ravel()
                K -= np.outer(h, sw) + np.outer(sw, h)
                K += (float(c @ c) + 1.0) * np.outer(sw, sw)
        else:
            K = (Xs.T @ Xs).toarray()
            if c is not None:
                s = np.asarray(Xs.T @ sw).ravel()
                ww = float(sw @ sw)
                K -= np.outer(s, c) + np.outer(c, s)
                K += ww * np.outer(c, c)
                edge = s - ww * c
                K = np.block([[K, edge[:, None]], [edge[None, :], np.array([[ww]])]])
        lam, vec = np.linalg.eigh(0.5 * (K + K.T))
        self._lam = np.clip(lam, 0.0, None)
        self._vec = vec
        self._n_factorizations += 1

    # -- the two calls of the iteration --------------------------------------------------------
    def prox(self, v: FloatArray, rho: FloatArray) -> FloatArray:
        self.factorize()
        lam, vec = self._lam, self._vec
        rhs = self._atb[None, :] + rho[:, None] * v
        if self.n_rows == 0:
            return rhs / rho[:, None]
        if self.method == "woodbury":
            t = self._a(rhs)
            t = vec @ ((vec.T @ t) / (lam[:, None] + rho[None, :]))
            return (rhs - self._at(t)) / rho[:, None]
        return (vec @ ((vec.T @ rhs.T) / (lam[:, None] + rho[None, :]))).T

    def loss_gradient(self, x: FloatArray) -> FloatArray:
        return self._at(self._a(x)) - self._atb[None, :]


# --------------------------------------------------------------------------- all blocks
def _map(executor: Executor | None, fn, *args) -> list:
    return list(map(fn, *args)) if executor is None else list(executor.map(fn, *args))


@dataclass
class RowBlocks:
    """The row blocks of a data set, which models train on each, and the shared change of variables.

    The two methods are the seam of the algorithm (module docstring): each
    is one call over all blocks; this in-memory implementation loops.

    Attributes
    ----------
    blocks : list of ConsensusBlock
    labels : ndarray of shape (n_blocks,)
        The row label (fold) of each block's rows.
    include : ndarray of bool of shape (n_blocks, n_models)
        Whether model ``m`` trains on block ``i``.
    inv_scale : ndarray of shape (n_features,)
        ``1/g`` (0 for a feature constant on all rows).
    center : ndarray of shape (n_features,)
        The all-rows weighted means ``c`` (0 without an intercept).
    y_center : float
        The all-rows weighted mean of y (0 without an intercept).
    fit_intercept : bool
    """

    blocks: list[ConsensusBlock]
    labels: IntArray
    include: NDArray[np.bool_]
    inv_scale: FloatArray
    center: FloatArray
    y_center: float
    fit_intercept: bool

    @property
    def n_features(self) -> int:
        return int(self.inv_scale.size)

    @property
    def dim(self) -> int:
        """Length of the ADMM variable: the features, then the intercept (with one)."""
        return self.n_features + int(self.fit_intercept)

    @property
    def n_factorizations(self) -> int:
        return int(sum(b.n_factorizations for b in self.blocks))

    def factorize(self, executor: Executor | None = None) -> None:
        """Factorize every block (once for its lifetime)."""
        _map(executor, lambda b: b.factorize(), self.blocks)

    def prox(self, v: list[FloatArray], rho: list[FloatArray], executor: Executor | None = None) -> list[FloatArray]:
        """Every block's x-update: ``blocks[i].prox(v[i], rho[i])`` (empty ``v[i]``: skipped).

        ``executor``: threads over the blocks in memory (a Dask implementation
        maps over its workers instead).
        """
        return _map(executor, lambda b, vi, ri: b.prox(vi, ri) if vi.shape[0] else vi, self.blocks, v, rho)

    def loss_gradients(self, x: list[FloatArray], executor: Executor | None = None) -> list[FloatArray]:
        """Every block's ``A^T W (A x - y)`` for its rows of ``x``."""
        return _map(executor, lambda b, xi: b.loss_gradient(xi) if xi.shape[0] else xi, self.blocks, x)

    # -- between the ADMM variable and a model's coefficients ----------------------------------
    def to_admm(self, coef: FloatArray, intercept: FloatArray) -> FloatArray:
        """``x = (beta * g, b')`` of every model from original-scale ``coef`` (M, p) and ``intercept`` (M,)."""
        g = np.where(self.inv_scale > 0, 1.0 / np.where(self.inv_scale > 0, self.inv_scale, 1.0), 1.0)
        x = coef * g
        if not self.fit_intercept:
            return x
        b = intercept - self.y_center + coef @ self.center
        return np.concatenate([x, b[:, None]], axis=1)


def row_blocks(oracle: object, *, block_rows: int | None = None) -> RowBlocks:
    """The :class:`RowBlocks` of an oracle that can give its rows by label.

    One block per fold label (``-1`` included), split into sub-blocks of at
    most ``block_rows`` rows when the ADMM variable is longer than
    ``block_rows`` (default :data:`DEFAULT_BLOCK_ROWS`), so that every
    factorization is at most ``block_rows`` square.

    Parameters
    ----------
    oracle : SparseOracle
        Any oracle with ``label_rows()`` (see
        :meth:`dreg.core.wide.SparseOracle.label_rows`) and ``moments()``.
    block_rows : int, optional

    Raises
    ------
    ValueError
        For an oracle that cannot give its rows in blocks.
    """
    if not callable(getattr(oracle, "label_rows", None)):
        raise ValueError(
            f"solver='admm' needs an oracle that can give its rows in blocks (label_rows(), as "
            f"dreg.core.wide.SparseOracle has); {type(oracle).__name__} cannot: use solver='cd'"
        )
    block_rows = DEFAULT_BLOCK_ROWS if block_rows is None else int(block_rows)
    if block_rows < 1:
        raise ValueError(f"block_rows must be a positive integer, got {block_rows}")
    mom = oracle.moments()
    fit_intercept = bool(oracle.fit_intercept)
    W = float(mom.weight_sum[-1])
    var = np.clip(mom.xx_diag[-1] / W, 0.0, None)
    sd = np.sqrt(var)
    constant = (var <= 0.0) | ((sd <= _CONSTANT_RTOL * np.abs(mom.x_mean[-1])) if fit_intercept else False)
    inv_scale = np.where(constant, 0.0, 1.0 / np.where(constant, 1.0, sd))
    center = mom.x_mean[-1].copy() if fit_intercept else np.zeros_like(var)
    y_center = float(mom.y_mean[-1]) if fit_intercept else 0.0
    labels, include, rows = oracle.label_rows()
    dim = var.size + int(fit_intercept)
    G = sp.diags(inv_scale)
    scaled_center = inv_scale * center if fit_intercept else None
    blocks, block_labels, block_include = [], [], []
    for li, (X, y, w) in enumerate(rows):
        n = X.shape[0]
        parts = 1 if dim <= block_rows else max(1, -(-n // block_rows))
        Xg = sp.csr_matrix(X) @ G
        for idx in np.array_split(np.arange(n), parts):
            blocks.append(LocalBlock(Xg[idx], np.asarray(y)[idx] - y_center, np.asarray(w)[idx], scaled_center))
            block_labels.append(labels[li])
            block_include.append(include[:, li] > 0)
    return RowBlocks(
        blocks=blocks,
        labels=np.asarray(block_labels, dtype=np.int64),
        include=np.asarray(block_include, dtype=bool).reshape(len(blocks), include.shape[0]),
        inv_scale=inv_scale,
        center=center,
        y_center=y_center,
        fit_intercept=fit_intercept,
    )


# one RowBlocks per problem (and block size), so that a CV's l1_ratios share the factorizations
_BLOCKS: weakref.WeakKeyDictionary[WideProblem, dict[int | None, RowBlocks]] = weakref.WeakKeyDictionary()


def blocks_of(problem: WideProblem, block_rows: int | None = None) -> RowBlocks:
    """The :class:`RowBlocks` of ``problem``'s oracle, built once per problem and block size."""
    cache = _BLOCKS.setdefault(problem, {})
    if block_rows not in cache:
        cache[block_rows] = row_blocks(problem.oracle, block_rows=block_rows)
    return cache[block_rows]


# --------------------------------------------------------------------------- the path
@dataclass(frozen=True)
class WideADMMResult:
    """A path by consensus ADMM with its diagnostics.

    Attributes
    ----------
    path : WidePathResult
        As :func:`dreg.core.wide.wide_path` returns it; ``n_iter`` counts ADMM
        iterations of each (alpha, model); ``passes`` per alpha counts the
        ADMM iterations (each touches every block's rows once), the pass of
        the dual warm start and the exact finish's oracle passes.
    admm_iter : ndarray of shape (n_alphas, n_models)
        ADMM iterations of each model (at least 1: the stopping rule is
        judged after an iteration).
    admm_converged : ndarray of bool of shape (n_alphas, n_models)
        Whether the §3.3 rule stopped the ADMM (else ``admm_max_iter``).
    finish_sweeps : ndarray of shape (n_alphas, n_models)
        Coordinate-descent sweeps of the exact finish.
    admm_gap : ndarray of shape (n_alphas, n_models)
        ``max_j |b_admm_j - b_j|`` on the standardized scale: how far the
        ADMM's own answer was from the exact one.
    rho : ndarray of shape (n_alphas, n_models)
        The absolute ``rho`` at the end of each alpha.
    admm_seconds, finish_seconds : float
        Wall time of the ADMM (the blocks' factorizations included when this
        call computed them) and of the exact finish.
    n_blocks : int
    factorizations : int
        Eigendecompositions computed during this call (0 when the blocks
        were already factorized, e.g. by an earlier l1_ratio).
    """

    path: WidePathResult
    admm_iter: IntArray
    admm_converged: NDArray[np.bool_]
    finish_sweeps: IntArray
    admm_gap: FloatArray
    rho: FloatArray
    admm_seconds: float
    finish_seconds: float
    n_blocks: int
    factorizations: int


def _prox_g(v: FloatArray, k1: FloatArray, k2: FloatArray, lo: FloatArray, hi: FloatArray, p: int) -> FloatArray:
    """The z-update: elastic-net prox and box on the features, identity on the intercept coordinate."""
    z = v.copy()
    f = v[:, :p]
    z[:, :p] = np.clip(np.sign(f) * np.maximum(np.abs(f) - k1, 0.0) / (1.0 + k2), lo, hi)
    return z


def wide_admm_path(
    problem: WideProblem,
    alphas: FloatArray,
    penalty: Penalty,
    *,
    tol: float = 1e-7,
    max_iter: int = 10_000,
    n_jobs: int | None = None,
    blocks: RowBlocks | None = None,
    block_rows: int | None = None,
    admm_tol: float = 1e-3,
    admm_max_iter: int = 1_000,
    relax: float = _RELAX,
    exact: bool = True,
) -> WideADMMResult:
    """Solve the elastic net of every model of ``problem`` along a grid by consensus ADMM.

    The objective, arguments and result of :func:`dreg.core.wide.wide_path`
    (``solver='admm'`` calls this and returns ``.path``); the iterations are
    the module docstring's: ADMM over the row blocks for all models at once,
    then an exact finish on the support with a KKT check on every feature.

    Parameters
    ----------
    problem : WideProblem
        Its oracle must give its rows in blocks (:meth:`dreg.core.wide.SparseOracle.label_rows`).
    alphas : ndarray of shape (n_alphas,)
        Decreasing, >= 0.
    penalty : Penalty
        ``l1_ratio``, ``penalty_factor`` and bounds (original scale), shape (n_features,).
    tol, max_iter
        Of the exact finish's coordinate descent (as :func:`dreg.core.wide.wide_path`).
    n_jobs : int or None
        Threads for the exact finish's per-model solves (``None``: every CPU).
    blocks : RowBlocks, optional
        Prebuilt blocks (default: :func:`row_blocks` of the problem's oracle,
        cached per problem so that several calls share the factorizations).
    block_rows : int, optional
        Largest block factorization (default :data:`DEFAULT_BLOCK_ROWS`).
    admm_tol : float, default 1e-3
        ``eps_rel`` of the stopping rule (``eps_abs`` from it, module docstring).
    admm_max_iter : int, default 1000
        ADMM iterations per alpha; the exact finish follows either way.
    relax : float, default 1.6
        Over-relaxation, in (0, 2).
    exact : bool, default True
        Finish each alpha exactly (module docstring).  ``False`` returns the
        ADMM's own iterates (``converged``: the §3.3 rule was met; ``kkt``
        still from one gradient pass on all features): for supports whose
        Gram blocks would exceed the problem's ``max_gram_bytes``.

    Returns
    -------
    WideADMMResult
    """
    alphas = np.asarray(alphas, dtype=np.float64)
    if alphas.ndim != 1 or alphas.size == 0:
        raise ValueError("alphas must be a non-empty 1-d array")
    if np.any(np.diff(alphas) > 0):
        raise ValueError("alphas must be in decreasing order")
    if penalty.n_features != problem.n_features:
        raise ValueError(f"the penalty has {penalty.n_features} features, the problem {problem.n_features}")
    if not 0.0 < relax < 2.0:
        raise ValueError(f"relax must be in (0, 2), got {relax}")
    if blocks is None:
        blocks = blocks_of(problem, block_rows)
    if blocks.n_features != problem.n_features or blocks.include.shape[1] != problem.n_models:
        raise ValueError("the blocks do not belong to this problem (features or models differ)")
    M, p, A = problem.n_models, problem.n_features, alphas.size
    d = blocks.dim
    nB = len(blocks.blocks)
    inc = blocks.include
    members = [np.flatnonzero(inc[i]) for i in range(nB)]
    N = inc.sum(axis=0).astype(np.float64)
    if np.any(N == 0):
        raise ValueError("a model trains on no block with positive weight")
    factorizations_before = blocks.n_factorizations

    l1r = penalty.l1_ratio
    pf = penalty.penalty_factor
    lo, hi = problem.bounds(penalty)  # standardized, constants pinned
    g = np.where(blocks.inv_scale > 0, 1.0 / np.where(blocks.inv_scale > 0, blocks.inv_scale, 1.0), 1.0)
    r = problem.scale / g[None, :]  # b_std = x r
    lo_x, hi_x = lo / r, hi / r
    W = problem.moments.weight_sum
    sd_y = np.sqrt(np.maximum(problem.yy, np.finfo(float).tiny))
    eps_abs = admm_tol * sd_y / np.sqrt(d)
    eps_abs_dual = eps_abs * W / N
    sqrt_nd = np.sqrt(N * d)

    b, _, _ = problem.start(penalty)
    b = b.copy()
    ever = (pf == 0) & ~np.all(problem.constant, axis=0)
    z = blocks.to_admm(*problem.to_original(b))
    rho = _RHO0 * W.copy()  # absolute units: the same factorization serves every model
    U = [np.zeros((mi.size, d)) for mi in members]  # scaled duals of each block's models

    coef = np.zeros((A, M, p))
    intercept = np.zeros((A, M))
    n_iter = np.zeros((A, M), dtype=np.int64)
    converged = np.zeros((A, M), dtype=bool)
    kkt = np.zeros((A, M))
    train_loss = np.zeros((A, M))
    held_loss = np.zeros((A, M))
    passes = np.zeros(A, dtype=np.int64)
    working = np.zeros(A, dtype=np.int64)
    admm_iter = np.zeros((A, M), dtype=np.int64)
    admm_ok = np.zeros((A, M), dtype=bool)
    sweeps_out = np.zeros((A, M), dtype=np.int64)
    gap = np.zeros((A, M))
    rho_out = np.zeros((A, M))
    t_admm = t_finish = 0.0
    target = problem.target
    ok = np.zeros(M, dtype=bool)
    sweeps = np.zeros(M, dtype=np.int64)

    def finish_solve(m: int, alpha: float) -> None:
        n, ok[m] = problem.solve_working_set(m, alpha, b, penalty, lo, hi, tol=tol, max_iter=max_iter)
        sweeps[m] += n

    threads = n_threads(n_jobs)
    pool = ThreadPoolExecutor(threads, thread_name_prefix="dreg-wide-admm") if threads > 1 else None
    try:
        with single_blas_thread():
            start = time.perf_counter()
            blocks.factorize(pool)
            t_admm += time.perf_counter() - start
            for i, alpha in enumerate(alphas):
                before = problem.n_passes
                start = time.perf_counter()
                # 1. the duals that make the previous exact solution a fixed point (one pass)
                grads = blocks.loss_gradients([z[mi] for mi in members], pool)
                for bi, mi in enumerate(members):
                    U[bi] = -grads[bi] / rho[mi, None]
                k_l1 = W[:, None] * alpha * l1r * pf[None, :] * r  # divided by N rho below
                k_l2 = W[:, None] * alpha * (1.0 - l1r) * pf[None, :] * r * r
                active = np.ones(M, dtype=bool)
                its = np.zeros(M, dtype=np.int64)
                for it in range(admm_max_iter):
                    act = np.flatnonzero(active)
                    sel = [active[mi] for mi in members]
                    rows = [mi[s_] for mi, s_ in zip(members, sel, strict=True)]
                    # 2. x-updates of every block for its active models (the seam)
                    xs = blocks.prox(
                        [z[mi] - Ub[s_] for mi, Ub, s_ in zip(rows, U, sel, strict=True)],
                        [rho[mi] for mi in rows],
                        pool,
                    )
                    acc = np.zeros((M, d))
                    for bi, mi in enumerate(rows):
                        acc[mi] += relax * xs[bi] + (1.0 - relax) * z[mi] + U[bi][sel[bi]]
                    # 3. z-update: the prox of the penalty at the average
                    z_old = z.copy()
                    scale = 1.0 / (N[act] * rho[act])[:, None]
                    z[act] = _prox_g(
                        acc[act] / N[act, None], k_l1[act] * scale, k_l2[act] * scale, lo_x[act], hi_x[act], p
                    )
                    # 4. dual updates and the residuals of every active model
                    r2 = np.zeros(M)
                    x2 = np.zeros(M)
                    u2 = np.zeros(M)
                    for bi, mi in enumerate(rows):
                        x = xs[bi]
                        u = U[bi][sel[bi]] + relax * x + (1.0 - relax) * z_old[mi] - z[mi]
                        U[bi][sel[bi]] = u
                        diff = x - z[mi]
                        r2[mi] += np.einsum("kd,kd->k", diff, diff)
                        x2[mi] += np.einsum("kd,kd->k", x, x)
                        u2[mi] += np.einsum("kd,kd->k", u, u)
                    its[act] += 1
                    r_norm = np.sqrt(r2[act])
                    s_norm = rho[act] * np.sqrt(N[act]) * np.linalg.norm(z[act] - z_old[act], axis=1)
                    x_scale = np.maximum(np.sqrt(x2[act]), np.sqrt(N[act]) * np.linalg.norm(z[act], axis=1))
                    u_scale = rho[act] * np.sqrt(u2[act])
                    eps_pri = sqrt_nd[act] * eps_abs[act] + admm_tol * x_scale
                    eps_dual = sqrt_nd[act] * eps_abs_dual[act] + admm_tol * u_scale
                    done = (r_norm <= eps_pri) & (s_norm <= eps_dual)
                    admm_ok[i, act[done]] = True
                    active[act[done]] = False
                    # 5. residual balancing on the normalized residuals (Wohlberg 2017), every few iterations
                    if (it + 1) % _BALANCE_EVERY == 0:
                        r_rel = r_norm / np.maximum(x_scale, np.finfo(float).tiny)
                        s_rel = s_norm / np.maximum(u_scale, np.finfo(float).tiny)
                        for pick, factor in (
                            (~done & (r_rel > _MU * s_rel), _TAU),
                            (~done & (s_rel > _MU * r_rel), 1.0 / _TAU),
                        ):
                            for m in act[pick]:
                                rho[m] *= factor  # u = y / rho: rescaled by rho_old / rho_new
                                for bi, mi in enumerate(members):
                                    U[bi][mi == m] /= factor
                    if not active.any():
                        break
                admm_iter[i] = its
                b_admm = z[:, :p] * r
                t_admm += time.perf_counter() - start
                start = time.perf_counter()
                # 6. the exact finish: the support joins the working set, CD there, KKT everywhere
                sweeps[:] = 0
                if exact:
                    problem.admit(np.any(b_admm != 0.0, axis=0) | ever)
                    b = np.zeros((M, p))
                    b[:, problem.work] = b_admm[:, problem.work]
                else:
                    b = b_admm.copy()
                    ok[:] = admm_ok[i]
                todo = list(range(M)) if exact else []
                for _round in range(_MAX_ROUNDS):
                    if pool is not None and len(todo) > 1:
                        list(pool.map(finish_solve, todo, [alpha] * len(todo)))
                    else:
                        for m in todo:
                            finish_solve(m, alpha)
                    c, answer = problem.gradient(b)
                    l1 = np.broadcast_to(penalty.l1(alpha), (M, p))
                    l2 = np.broadcast_to(penalty.l2(alpha), (M, p))
                    v = kkt_violation(None, None, b, l1, l2, lo, hi, grad=c)
                    outside = (v > target[:, None]) & ~problem.in_work[None, :] & exact
                    if not outside.any():
                        break
                    todo = np.flatnonzero(outside.any(axis=1)).tolist()
                    problem.admit(outside.any(axis=0))
                vmax = v.max(axis=1, initial=0.0)
                coef[i], intercept[i] = problem.to_original(b)
                n_iter[i] = np.maximum(its, 1)
                converged[i] = (ok & ~outside.any(axis=1)) | (vmax <= target) if exact else ok
                kkt[i] = vmax
                train_loss[i] = answer.train_loss
                held_loss[i] = answer.held_out_loss
                passes[i] = int(its.max(initial=0)) + 1 + problem.n_passes - before
                working[i] = problem.work.size
                sweeps_out[i] = sweeps
                gap[i] = np.max(np.abs(b_admm - b), axis=1, initial=0.0)
                rho_out[i] = rho
                ever |= np.any(b != 0.0, axis=0)
                if exact:  # the next alpha starts from the exact solution
                    z = blocks.to_admm(coef[i], intercept[i])
                t_finish += time.perf_counter() - start
    finally:
        if pool is not None:
            pool.shutdown()
    path = WidePathResult(
        alphas=alphas,
        l1_ratio=l1r,
        coef=coef,
        intercept=intercept,
        n_iter=n_iter,
        converged=converged,
        kkt=kkt,
        train_loss=train_loss,
        held_out_loss=held_loss,
        passes=passes,
        working_set=working,
    )
    return WideADMMResult(
        path=path,
        admm_iter=admm_iter,
        admm_converged=admm_ok,
        finish_sweeps=sweeps_out,
        admm_gap=gap,
        rho=rho_out,
        admm_seconds=t_admm,
        finish_seconds=t_finish,
        n_blocks=nB,
        factorizations=blocks.n_factorizations - factorizations_before,
    )
