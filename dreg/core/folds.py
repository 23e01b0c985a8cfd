"""Deterministic, chunk-independent assignment of rows to cross-validation folds.

The fold of a row depends only on ``(random_state, stream, global row position,
n_folds)``, never on how the rows are split into chunks, files or workers, so a
Dask array gives the same folds whatever its chunking and a task can compute
its rows' folds from its own row offset alone.

Rows are taken in consecutive blocks of ``n_folds``; inside each block the folds
are a random permutation of ``0 .. n_folds - 1`` drawn from a counter-based hash
(SplitMix64).  Folds therefore differ in size by at most one row, are random,
and a row keeps its fold when rows are appended after it.

This module is pure numpy.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["FoldSpec", "fold_ids", "resolve_seed", "stream_key"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _splitmix64(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """SplitMix64 finaliser, applied elementwise (wrapping uint64 arithmetic)."""
    with np.errstate(over="ignore"):
        z = np.asarray(x, dtype=np.uint64) + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
        return z ^ (z >> np.uint64(31))


def resolve_seed(random_state: object) -> int:
    """Turn scikit-learn style ``random_state`` into a non-negative integer seed.

    ``None`` draws fresh entropy (non-reproducible, as in scikit-learn); an int
    is used as is; a ``numpy.random.Generator`` or ``RandomState`` is sampled.
    """
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1, dtype=np.uint64)[0])
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be a non-negative integer, got {random_state}")
        return int(random_state)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**63 - 1))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    raise ValueError(
        f"random_state must be None, a non-negative int, a numpy Generator or RandomState; got {random_state!r}"
    )


def stream_key(identity: str) -> int:
    """A 64-bit stream number from a string (e.g. a file's path), stable across runs.

    Python's ``hash`` is salted per process, so it cannot be used here.
    """
    data = np.frombuffer(identity.encode("utf-8"), dtype=np.uint8)
    h = np.uint64(len(data))
    # Fold the bytes 8 at a time through SplitMix64; short and deterministic.
    padded = np.zeros(-(-len(data) // 8) * 8, dtype=np.uint8)
    padded[: len(data)] = data
    for word in padded.view("<u8"):
        h = _splitmix64(np.uint64(h) ^ np.uint64(word))
    return int(h)


def fold_ids(
    start: int,
    stop: int,
    n_folds: int,
    random_state: int = 0,
    stream: int = 0,
) -> NDArray[np.int64]:
    """Fold labels of the rows at global positions ``start .. stop - 1``.

    Parameters
    ----------
    start, stop : int
        Half-open range of global row positions.
    n_folds : int
        Number of folds, at least 2.
    random_state : int
        Seed (see :func:`resolve_seed`).
    stream : int, default 0
        Independent stream number, e.g. :func:`stream_key` of a file's path, so
        that each file of a lake has its own fold sequence.

    Returns
    -------
    ndarray of shape (stop - start,)
        Integers in ``[0, n_folds)``.
    """
    if n_folds < 2:
        raise ValueError(f"n_folds must be at least 2, got {n_folds}")
    if stop < start or start < 0:
        raise ValueError(f"invalid row range [{start}, {stop})")
    if stop == start:
        return np.zeros(0, dtype=np.int64)
    key = _splitmix64(np.uint64(random_state) ^ _splitmix64(np.uint64(stream)))
    key = _splitmix64(key ^ np.uint64(n_folds))
    b0 = start // n_folds
    b1 = (stop - 1) // n_folds + 1
    pos = np.arange(b0 * n_folds, b1 * n_folds, dtype=np.uint64)
    h = _splitmix64(pos ^ key).reshape(-1, n_folds)
    # rank of each row's hash inside its block = a uniform random permutation
    ranks = np.argsort(np.argsort(h, axis=1, kind="stable"), axis=1, kind="stable")
    offset = start - b0 * n_folds
    return ranks.reshape(-1)[offset : offset + (stop - start)].astype(np.int64)


@dataclass(frozen=True)
class FoldSpec:
    """How rows are labelled: ``n_folds`` hashed folds, caller-given labels, or none."""

    n_folds: int | None = None
    random_state: int = 0
    folds: object | None = None

    def labels_for(self, start: int, stop: int) -> NDArray[np.int64] | None:
        if self.n_folds is None:
            return None
        return fold_ids(start, stop, self.n_folds, self.random_state)
