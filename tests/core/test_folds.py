"""Chunk-independent, deterministic fold assignment (dreg.core.folds)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dreg.core.folds import fold_ids, resolve_seed, stream_key


@settings(max_examples=50, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=500),
    n_folds=st.integers(min_value=2, max_value=12),
    seed=st.integers(min_value=0, max_value=2**63 - 1),
    stream=st.integers(min_value=0, max_value=2**64 - 1),
    data=st.data(),
)
def test_fold_ids_independent_of_how_rows_are_split(n, n_folds, seed, stream, data):
    whole = fold_ids(0, n, n_folds, seed, stream)
    cuts = sorted(data.draw(st.sets(st.integers(0, n), max_size=10)))
    bounds = [0, *cuts, n]
    pieces = [
        fold_ids(a, b, n_folds, seed, stream) for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    ]
    np.testing.assert_array_equal(np.concatenate(pieces), whole)
    assert whole.dtype == np.int64
    assert whole.min() >= 0 and whole.max() < n_folds


@settings(max_examples=50, deadline=None)
@given(
    n=st.integers(min_value=2, max_value=2000),
    n_folds=st.integers(min_value=2, max_value=20),
    seed=st.integers(min_value=0, max_value=2**63 - 1),
)
def test_folds_are_balanced(n, n_folds, seed):
    sizes = np.bincount(fold_ids(0, n, n_folds, seed), minlength=n_folds)
    assert sizes.sum() == n
    assert sizes.max() - sizes.min() <= 1


def test_every_block_of_n_folds_rows_is_a_permutation():
    f = fold_ids(0, 70, 7, random_state=3).reshape(10, 7)
    for row in f:
        assert sorted(row.tolist()) == list(range(7))


def test_deterministic_per_seed_and_different_across_seeds():
    a = fold_ids(0, 1000, 5, random_state=11)
    np.testing.assert_array_equal(a, fold_ids(0, 1000, 5, random_state=11))
    b = fold_ids(0, 1000, 5, random_state=12)
    assert np.mean(a != b) > 0.5
    # streams are independent sequences too
    c = fold_ids(0, 1000, 5, random_state=11, stream=stream_key("part-0001.parquet"))
    assert np.mean(a != c) > 0.5


def test_same_folds_in_a_fresh_process():
    """No per-process salt (such as Python's ``hash``) leaks into the assignment."""
    code = (
        "from dreg.core.folds import fold_ids, stream_key;"
        "print(fold_ids(5, 25, 4, 99, stream_key('lake/a.parquet')).tolist())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(fold_ids(5, 25, 4, 99, stream_key("lake/a.parquet")).tolist())


def test_folds_look_random_not_cyclic():
    f = fold_ids(0, 10_000, 5, random_state=0).reshape(-1, 5)
    # a fixed cyclic pattern would repeat the same permutation in every block
    n_distinct = len({tuple(r) for r in f.tolist()})
    assert n_distinct > 100  # 5! = 120 permutations possible
    # each position of a block takes each fold about equally often
    for j in range(5):
        counts = np.bincount(f[:, j], minlength=5)
        assert counts.min() > 300


@pytest.mark.parametrize("n", [1, 7, 100, 1001])
def test_rows_keep_their_fold_when_rows_are_appended(n):
    before = fold_ids(0, n, 5, random_state=42)
    after = fold_ids(0, n + 37, 5, random_state=42)
    np.testing.assert_array_equal(after[:n], before)


def test_empty_range_and_invalid_arguments():
    assert fold_ids(10, 10, 3).shape == (0,)
    with pytest.raises(ValueError, match="at least 2"):
        fold_ids(0, 10, 1)
    with pytest.raises(ValueError, match="invalid row range"):
        fold_ids(5, 4, 3)
    with pytest.raises(ValueError, match="invalid row range"):
        fold_ids(-1, 4, 3)


def test_stream_key_is_stable_and_distinguishes_strings():
    k = stream_key("s3://bucket/lake/part-0000.parquet")
    assert k == stream_key("s3://bucket/lake/part-0000.parquet")
    assert isinstance(k, int) and 0 <= k < 2**64
    keys = {
        stream_key(s)
        for s in ["", "a", "b", "ab", "ba", "a" * 8, "a" * 9, "part-0000", "part-0001"]
    }
    assert len(keys) == 9
    # pinned values: changing the hash would silently reshuffle every user's folds
    assert stream_key("dreg") == 3260301386196168231
    assert fold_ids(0, 12, 4, 0).tolist() == [3, 0, 2, 1, 0, 3, 2, 1, 3, 0, 2, 1]
    assert fold_ids(0, 10, 5, 123, stream_key("dreg")).tolist() == [3, 4, 0, 2, 1, 3, 0, 2, 1, 4]
    code = (
        "from dreg.core.folds import stream_key; print(stream_key('s3://bucket/lake/part-0000.parquet'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(out.stdout) == k


def test_resolve_seed():
    assert resolve_seed(7) == 7
    assert resolve_seed(np.int64(7)) == 7
    a = resolve_seed(np.random.default_rng(1))
    assert a == resolve_seed(np.random.default_rng(1))
    assert resolve_seed(np.random.RandomState(1)) == resolve_seed(np.random.RandomState(1))
    # None draws fresh entropy: an int in [0, 2**64), a different one each time
    fresh = {resolve_seed(None) for _ in range(4)}
    assert len(fresh) == 4 and all(type(k) is int and 0 <= k < 2**64 for k in fresh)
    with pytest.raises(ValueError, match="non-negative"):
        resolve_seed(-1)
    with pytest.raises(ValueError, match="random_state must be"):
        resolve_seed("seed")
    with pytest.raises(ValueError, match="random_state must be"):
        resolve_seed(True)
