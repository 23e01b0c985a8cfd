"""``dreg warmup``: compile every numba kernel once and leave it in numba's cache.

The kernels of :mod:`dreg.core.solvers.cd` and :mod:`dreg.core.stats` are
compiled on first use (``cache=True``) and the compiled code is kept in
numba's cache: ``NUMBA_CACHE_DIR`` if set, else ``__pycache__`` folders next
to dreg's sources.  A fresh install or a fresh container pays that
compilation in its first fit; this command pays it up front by running tiny
problems through each code path that compiles its own specialization:

- the coordinate-descent path with float64 sweeps (fewer than 256 features)
  and with float32 sweeps (from 256, unless ``DREG_CD_FLOAT64=1``), which
  also compiles the polish and the path predictor;
- the stand-alone :func:`dreg.core.solvers.cd.polish`;
- the columnar block statistics of the lake reader (fold layout and the
  shifted scatter), unweighted and weighted.

The Docker image runs it at build time as its runtime user; a SLURM job runs
it once into a shared ``NUMBA_CACHE_DIR`` before ``srun`` (deploy/README.md).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["WarmupReport", "cache_dir", "warm_up"]


@dataclass(frozen=True)
class WarmupReport:
    """What :func:`warm_up` compiled.

    Attributes
    ----------
    enabled : bool
        False when numba is missing or ``DREG_DISABLE_NUMBA`` is set (nothing compiled).
    kernels : dict of str to (int, int)
        Specializations of each kernel (``module.function``) compiled now and
        loaded from the cache.
    cache : str
        Where numba keeps the compiled code.
    cache_files : int
        Number of ``.nbi``/``.nbc`` files under the cache (for dreg's kernels).
    seconds : float
    """

    enabled: bool
    kernels: dict[str, tuple[int, int]]
    cache: str
    cache_files: int
    seconds: float


def cache_dir() -> Path:
    """numba's cache folder for dreg's kernels: ``NUMBA_CACHE_DIR`` if set, else
    the ``__pycache__`` of :mod:`dreg.core` (numba's default: next to the sources)."""
    env = os.environ.get("NUMBA_CACHE_DIR", "")
    if env:
        return Path(env)
    import dreg.core

    return Path(dreg.core.__file__).parent


def _cache_files(root: Path) -> int:
    if not root.is_dir():
        return 0
    return sum(1 for p in root.rglob("*") if p.suffix in (".nbi", ".nbc") and ("stats." in p.name or "cd." in p.name))


def _gram(rng: np.random.Generator, n: int, p: int) -> tuple[np.ndarray, np.ndarray, float]:
    X = rng.standard_normal((n, p)) + 0.5 * rng.standard_normal((n, 1))
    y = X[:, 0] - 0.5 * X[:, 1] + rng.standard_normal(n)
    Xc = X - X.mean(0)
    yc = y - y.mean()
    return Xc.T @ Xc / n, Xc.T @ yc / n, float(yc @ yc / n)


def _run_kernels() -> None:
    from dreg.core.penalty import Penalty
    from dreg.core.solvers import cd
    from dreg.core.stats import column_block_stats

    rng = np.random.default_rng(0)
    alphas = np.geomspace(1.0, 1e-3, 8)
    sizes = [8]
    if cd._FLOAT32:  # the float32 sweeps are a specialization of their own
        sizes.append(cd._FLOAT32_MIN_FEATURES)
    for p in sizes:
        Q, q, yy = _gram(rng, 4 * p, p)
        upper = np.full(p, np.inf)
        upper[1] = 0.1  # a box constraint and an unpenalized feature: every branch typed the same anyway
        pf = np.ones(p)
        pf[0] = 0.0
        cd.cd_path(Q, q, alphas, Penalty.broadcast(0.5, pf, -np.inf, upper), yy=yy, coef_init=np.zeros(p))
    Q, q, _ = _gram(rng, 32, 8)
    b = np.linalg.solve(Q, q)
    cd.polish(Q, q, b, np.zeros(8), np.zeros(8), np.full(8, -np.inf), np.full(8, np.inf))

    n = 64
    columns = [rng.standard_normal(n), rng.integers(0, 9, n)]
    for col in columns:
        col.flags.writeable = False  # as Arrow's buffers
    y = rng.standard_normal(n)
    fold = rng.integers(0, 3, n)
    scratch = np.empty((2 * n, 3), order="F")
    column_block_stats(columns, y, None, fold, scratch=scratch)
    column_block_stats(columns, y[::2], rng.uniform(0.5, 1.0, n // 2), fold[::2], rows=np.arange(0, n, 2))


def _kernels() -> dict[str, tuple[int, int]]:
    """``{module.function: (compiled, loaded)}``: specializations compiled in
    this process and loaded from the cache (a kernel's callees are compiled
    with it and load as part of it)."""
    from dreg.core import stats
    from dreg.core.solvers import cd

    out = {}
    for mod in (cd, stats):
        short = mod.__name__.rsplit(".", 1)[-1]
        for name, obj in sorted(vars(mod).items()):
            if hasattr(obj, "signatures") and hasattr(obj, "py_func"):
                compiled = sum(obj.stats.cache_misses.values())
                loaded = sum(obj.stats.cache_hits.values())
                if compiled or loaded:
                    out[f"{short}.{name}"] = (compiled, loaded)
    return out


def warm_up(log: Callable[[str], None] = print) -> WarmupReport:
    """Compile (or load from numba's cache) every kernel; report what and where.

    Returns a :class:`WarmupReport`.  Idempotent: a second call on a warm
    cache only loads the compiled code.
    """
    from dreg.core.solvers import cd

    root = cache_dir()
    if not cd._NUMBA:
        log(
            "dreg warmup: numba is disabled (DREG_DISABLE_NUMBA) or missing: the kernels run interpreted, nothing to compile"
        )
        return WarmupReport(False, {}, str(root), _cache_files(root), 0.0)
    t0 = time.perf_counter()
    _run_kernels()
    seconds = time.perf_counter() - t0
    kernels = _kernels()
    compiled = sum(c for c, _ in kernels.values())
    loaded = sum(h for _, h in kernels.values())
    files = _cache_files(root)
    log(f"dreg warmup: {compiled} specialization(s) compiled, {loaded} loaded from the cache, in {seconds:.1f}s")
    for name, (c, h) in kernels.items():
        log(f"  {name:<22} compiled {c}  loaded {h}")
    log(f"numba cache: {root} ({files} files)")
    return WarmupReport(True, kernels, str(root), files, seconds)
