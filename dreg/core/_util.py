"""Small policies every layer shares, written once: CPUs and BLAS threads, the numba
switch, counting NaN/inf values and checking integer fold labels.

Pure numpy (threadpoolctl and numba are optional): no Dask import.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "available_cpus",
    "blas_threads",
    "count_nonfinite",
    "integer_labels",
    "n_threads",
    "nonfinite_rows",
    "numba_jit",
    "single_blas_thread",
]

# up to this many features the coordinator solves with one BLAS thread
_SMALL_P = 512


# --------------------------------------------------------------------------- threads
def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask; ``os.cpu_count()`` where there is none)."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # pragma: no cover - not on Linux
        return max(os.cpu_count() or 1, 1)


def n_threads(n_jobs: int | None) -> int:
    """Threads for ``n_jobs`` (``None`` or ``-1``: :func:`available_cpus`)."""
    if n_jobs is None or n_jobs == -1:
        return available_cpus()
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs < 1:
        raise ValueError(f"n_jobs must be a positive integer, -1 or None, got {n_jobs!r}")
    return int(n_jobs)


def single_blas_thread() -> contextlib.AbstractContextManager:
    """A context limiting BLAS to one thread (a no-op without threadpoolctl).

    Used wherever threads are the parallelism: a multi-threaded BLAS inside
    each thread only oversubscribes the cores.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def blas_threads(n_features: int) -> contextlib.AbstractContextManager:
    """One BLAS thread for small problems, whose many tiny products and
    factorizations only lose time to thread synchronisation (badly so on a
    loaded machine); the library default for large ones."""
    return single_blas_thread() if n_features <= _SMALL_P else contextlib.nullcontext()


# --------------------------------------------------------------------------- numba
def numba_jit() -> Callable[[Any], Any] | None:
    """numba's ``njit(cache=True, nogil=True)``, or None when numba is missing or
    ``DREG_DISABLE_NUMBA`` is ``1``/``true``/``yes`` (the kernels then run interpreted)."""
    if os.environ.get("DREG_DISABLE_NUMBA", "") in ("1", "true", "yes"):
        return None
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a dependency, but keep working without it
        return None
    return numba.njit(cache=True, nogil=True)


# --------------------------------------------------------------------------- data checks
def count_nonfinite(values: NDArray, axis: int | None = None) -> NDArray[np.int64] | int:
    """Number of NaN/inf values (per column with ``axis=0``)."""
    counts = np.count_nonzero(~np.isfinite(values), axis=axis)
    return np.asarray(counts, dtype=np.int64) if axis is not None else int(counts)


def nonfinite_rows(columns: Iterable[tuple[str, NDArray]], n_rows: int) -> tuple[dict[str, int], NDArray[np.bool_]]:
    """NaN/inf values of named columns, as a reader reports them.

    Returns ``(counts, bad)``: the number of NaN/inf values of each float
    column that has some (in the order given) and the mask of the rows with
    any.  Integer columns cannot hold them and are skipped.
    """
    bad = np.zeros(n_rows, dtype=bool)
    counts: dict[str, int] = {}
    for name, values in columns:
        if values.dtype.kind == "f":
            mask = ~np.isfinite(values)
            if mask.any():
                counts[name] = int(mask.sum())
                bad |= mask
    return counts, bad


def integer_labels(labels: NDArray) -> NDArray[np.int64] | None:
    """``labels`` as int64 if they are integers (integer dtype, or finite whole
    floats), else None: the caller names the input in its own error."""
    if labels.dtype.kind in "iu":
        return labels.astype(np.int64, copy=False)
    if labels.dtype.kind == "f" and np.all(np.isfinite(labels)) and np.all(labels == np.round(labels)):
        return labels.astype(np.int64)
    return None
