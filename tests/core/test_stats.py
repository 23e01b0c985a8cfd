"""Mergeable per-fold sufficient statistics (dreg.core.stats) against direct numpy."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dreg.core.stats import (
    SufficientStats,
    block_stats,
    collapse,
    column_block_stats,
    empty_stats,
    leave_one_out,
    merge,
    merge_all,
)

FIELDS = ("weight_sum", "x_mean", "y_mean", "xx", "xy", "yy")


def direct_stats(X, y, w=None):
    """Weighted centered moments straight from the definition (float64, two-pass)."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    w = np.ones(X.shape[0]) if w is None else np.asarray(w, dtype=np.float64)
    W = w.sum()
    xbar = w @ X / W
    ybar = w @ y / W
    Xc = X - xbar
    yc = y - ybar
    return {
        "count": int(np.count_nonzero(w > 0)),
        "weight_sum": W,
        "x_mean": xbar,
        "y_mean": ybar,
        "xx": Xc.T @ (w[:, None] * Xc),
        "xy": Xc.T @ (w * yc),
        "yy": float(yc @ (w * yc)),
    }


def rel_err(a, b) -> float:
    """Largest absolute difference relative to the largest magnitude of ``b``."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    scale = max(float(np.max(np.abs(b), initial=0.0)), 1e-300)
    return float(np.max(np.abs(a - b), initial=0.0)) / scale


def assert_stats_equal(a: SufficientStats, b: SufficientStats, rtol: float = 1e-10) -> None:
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.count, b.count)
    for k in range(a.n_labels):
        # per label, relative to that label's own scale (a mean of 0 is judged by the spread)
        spread = np.sqrt(np.max(np.diag(b.xx[k]), initial=0.0) / max(b.weight_sum[k], 1e-300))
        assert abs(a.weight_sum[k] - b.weight_sum[k]) <= rtol * abs(b.weight_sum[k])
        assert np.max(np.abs(a.x_mean[k] - b.x_mean[k])) <= rtol * max(
            np.max(np.abs(b.x_mean[k])), spread
        )
        ysd = np.sqrt(b.yy[k] / max(b.weight_sum[k], 1e-300))
        assert abs(a.y_mean[k] - b.y_mean[k]) <= rtol * max(abs(b.y_mean[k]), ysd)
        assert rel_err(a.xx[k], b.xx[k]) <= rtol
        xy_scale = np.sqrt(np.max(np.diag(b.xx[k]), initial=0.0) * b.yy[k])
        assert np.max(np.abs(a.xy[k] - b.xy[k])) <= rtol * max(xy_scale, 1e-300)
        assert abs(a.yy[k] - b.yy[k]) <= rtol * max(b.yy[k], 1e-300)


def make_data(rng, n, p, loc=0.0):
    X = loc + rng.standard_normal((n, p)) @ rng.standard_normal((p, p))
    y = loc + X[:, 0] - 0.5 * X[:, -1] + rng.standard_normal(n)
    return X, y


# --------------------------------------------------------------------------- block_stats
@pytest.mark.parametrize("weighted", [False, True])
def test_block_stats_matches_direct_numpy(rng, weighted):
    X, y = make_data(rng, 300, 5, loc=3.0)
    w = rng.uniform(0.1, 3.0, 300) if weighted else None
    s = block_stats(X, y, w)
    ref = direct_stats(X, y, w)
    assert s.labels.tolist() == [0]
    assert s.count[0] == 300
    assert s.xx.dtype == np.float64
    assert rel_err(s.weight_sum[0], ref["weight_sum"]) < 1e-14
    assert rel_err(s.x_mean[0], ref["x_mean"]) < 1e-13
    assert rel_err(s.y_mean[0], ref["y_mean"]) < 1e-13
    assert rel_err(s.xx[0], ref["xx"]) < 1e-12
    assert rel_err(s.xy[0], ref["xy"]) < 1e-12
    assert rel_err(s.yy[0], ref["yy"]) < 1e-12
    np.testing.assert_array_equal(s.xx[0], s.xx[0].T)
    assert s.is_finite and s.n_blocks == 1


def test_block_stats_per_fold_label(rng):
    X, y = make_data(rng, 200, 3)
    w = rng.uniform(0.5, 2.0, 200)
    fold = rng.integers(-1, 4, 200)
    s = block_stats(X, y, w, fold)
    assert s.labels.tolist() == [-1, 0, 1, 2, 3]
    for k, lab in enumerate(s.labels):
        m = fold == lab
        ref = direct_stats(X[m], y[m], w[m])
        assert s.count[k] == m.sum()
        assert rel_err(s.weight_sum[k], ref["weight_sum"]) < 1e-14
        assert rel_err(s.x_mean[k], ref["x_mean"]) < 1e-13
        assert rel_err(s.xx[k], ref["xx"]) < 1e-12
        assert rel_err(s.xy[k], ref["xy"]) < 1e-12
        assert rel_err(s.yy[k], ref["yy"]) < 1e-12
        assert_stats_equal(s.select(int(lab)), block_stats(X[m], y[m], w[m], fold[m]), rtol=1e-12)


def test_zero_weight_rows_do_not_count(rng):
    X, y = make_data(rng, 100, 3)
    w = rng.uniform(0.5, 2.0, 100)
    w[::4] = 0.0
    s = block_stats(X, y, w)
    kept = block_stats(X[w > 0], y[w > 0], w[w > 0])
    assert s.count[0] == np.count_nonzero(w) == kept.count[0]
    assert_stats_equal(s, kept, rtol=1e-12)


def test_integer_weights_equal_repeated_rows(rng):
    X, y = make_data(rng, 60, 3)
    reps = rng.integers(1, 4, 60)
    weighted = block_stats(X, y, reps.astype(float))
    repeated = block_stats(np.repeat(X, reps, axis=0), np.repeat(y, reps))
    for name in FIELDS:
        assert rel_err(getattr(weighted, name), getattr(repeated, name)) < 1e-12, name


def test_float32_input_accumulates_in_float64(rng):
    # mean 1e3 and many rows: float32 accumulation would lose ~4 digits here
    X32 = (1e3 + rng.standard_normal((20_000, 3))).astype(np.float32)
    y32 = (X32[:, 0] + rng.standard_normal(20_000)).astype(np.float32)
    s = block_stats(X32, y32)
    ref = block_stats(X32.astype(np.float64), y32.astype(np.float64))
    for name in FIELDS:
        assert getattr(s, name).dtype == np.float64
    assert_stats_equal(s, ref, rtol=1e-12)
    exact = direct_stats(X32, y32)
    assert rel_err(s.xx[0], exact["xx"]) < 1e-11


def test_integer_and_bool_input(rng):
    Xi = rng.integers(-5, 6, (50, 3))
    y = rng.standard_normal(50)
    assert_stats_equal(block_stats(Xi, y), block_stats(Xi.astype(float), y), rtol=1e-14)
    Xb = rng.random((50, 2)) > 0.5
    assert_stats_equal(block_stats(Xb, y), block_stats(Xb.astype(float), y), rtol=1e-14)


def test_shape_and_dtype_errors(rng):
    X, y = make_data(rng, 10, 2)
    with pytest.raises(ValueError, match="y must have shape"):
        block_stats(X, y[:-1])
    with pytest.raises(ValueError, match="sample_weight must have shape"):
        block_stats(X, y, np.ones(9))
    with pytest.raises(ValueError, match="fold must have shape"):
        block_stats(X, y, None, np.zeros(9, dtype=int))
    with pytest.raises(ValueError, match="fold labels must be integers"):
        block_stats(X, y, None, np.full(10, 0.5))
    with pytest.raises(ValueError, match="X must be numeric"):
        block_stats(X.astype(str), y)
    with pytest.raises(ValueError, match="2-dimensional"):
        block_stats(X[None], y)


# --------------------------------------------------------------------------- accuracy
def _exact_centered_gram(X, w=None):
    """Centered weighted Gram in extended precision (80-bit long double on x86)."""
    Xl = np.asarray(X, dtype=np.longdouble)
    wl = (
        np.ones(X.shape[0], dtype=np.longdouble)
        if w is None
        else np.asarray(w, dtype=np.longdouble)
    )
    mean = (wl[:, None] * Xl).sum(axis=0) / wl.sum()
    C = Xl - mean
    return np.einsum("i,ij,ik->jk", wl, C, C)


@pytest.mark.skipif(
    np.finfo(np.longdouble).eps >= np.finfo(np.float64).eps, reason="needs extended precision"
)
@pytest.mark.parametrize("weighted", [False, True])
def test_large_means_keep_full_accuracy(rng, weighted):
    n, p = 4000, 3
    X = 1e6 + rng.standard_normal((n, p))
    X[:, 2] = -1e6 + 0.5 * X[:, 0] + rng.standard_normal(n)  # correlated, large negative mean
    y = 1e6 + X[:, 0] - X[:, 1] + rng.standard_normal(n)
    w = rng.uniform(0.5, 2.0, n) if weighted else None
    exact_xx = _exact_centered_gram(X, w)
    exact_xy = _exact_centered_gram(np.column_stack([X, y]), w)[:p, p]

    whole = block_stats(X, y, w)
    # many small blocks whose means differ: exercises the pairwise centered merge
    cuts = np.sort(rng.choice(np.arange(1, n), 40, replace=False))
    parts = [
        block_stats(Xb, yb, None if w is None else wb)
        for Xb, yb, wb in zip(
            np.split(X, cuts),
            np.split(y, cuts),
            np.split(np.ones(n) if w is None else w, cuts),
            strict=True,
        )
    ]
    merged = merge_all(parts)
    for s in (whole, merged):
        assert rel_err(s.xx[0], exact_xx.astype(np.float64)) < 1e-9
        assert rel_err(s.xy[0], exact_xy.astype(np.float64)) < 1e-9

    # the test has teeth: raw uncentered sums lose many digits on these data
    wv = np.ones(n) if w is None else w
    raw = (X * wv[:, None]).T @ X - wv.sum() * np.outer(whole.x_mean[0], whole.x_mean[0])
    assert rel_err(raw, exact_xx.astype(np.float64)) > 1e-9


# --------------------------------------------------------------------------- column_block_stats
FOLD_KINDS = ("none", "random", "sorted", "labels")


def _folds(rng, kind: str, n: int):
    if kind == "none":
        return None
    if kind == "random":
        return rng.integers(0, 5, n)
    if kind == "sorted":  # already in fold order
        return np.sort(rng.integers(0, 5, n))
    # sparse labels over a wide range, and -1 (never held out): the np.unique path
    return rng.choice(np.array([-1, 3, 70_000, 2**40]), n)


@pytest.mark.parametrize("kind", FOLD_KINDS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("loc", [0.0, 1e6])
def test_column_block_stats_equals_block_stats(rng, kind, weighted, loc):
    X, y = make_data(rng, 3000, 6, loc=loc)
    w = rng.uniform(0.0, 2.0, 3000) if weighted else None
    fold = _folds(rng, kind, 3000)
    got = column_block_stats([X[:, j].copy() for j in range(6)], y, w, fold)
    assert_stats_equal(got, block_stats(X, y, w, fold), rtol=1e-12)
    assert got.n_blocks == 1 and got.is_finite


@pytest.mark.parametrize("kind", FOLD_KINDS)
@pytest.mark.parametrize("weighted", [False, True])
def test_column_block_stats_uses_only_the_given_rows(rng, kind, weighted):
    """``rows`` selects the rows of the columns; y, weights and folds are already restricted."""
    X, y = make_data(rng, 2000, 4, loc=50.0)
    X[rng.random(2000) < 0.1, 2] = np.nan  # rows a reader drops: never read by the statistics
    keep = np.isfinite(X).all(axis=1)
    rows = np.flatnonzero(keep)
    w = rng.uniform(0.5, 2.0, keep.sum()) if weighted else None
    fold = _folds(rng, kind, keep.sum())
    got = column_block_stats([X[:, j] for j in range(4)], y[keep], w, fold, rows=rows)
    assert_stats_equal(got, block_stats(X[keep], y[keep], w, fold), rtol=1e-12)


def test_column_block_stats_dtypes_scratch_and_zero_weight_folds(rng):
    n = 500
    cols = [
        rng.integers(-50, 50, n).astype(np.int32) + 100_000,
        rng.random(n) < 0.3,
        (1e4 + rng.standard_normal(n)).astype(np.float32),
        rng.standard_normal(n),
    ]
    X = np.column_stack([c.astype(np.float64) for c in cols])
    y = X[:, 3] + rng.standard_normal(n)
    fold = rng.integers(0, 3, n)
    w = rng.uniform(0.5, 2.0, n)
    w[fold == 1] = 0.0  # a fold with only zero weights: counted, no moments (as block_stats)
    ref = block_stats(X, y, w, fold)
    assert_stats_equal(column_block_stats(cols, y, w, fold), ref, rtol=1e-12)
    assert ref.count[1] == 0 and ref.weight_sum[1] == 0.0
    # a larger Fortran work array is used in place; anything else is ignored
    for scratch in (np.full((n + 7, 9), np.nan, order="F"), np.zeros((n, 5)), np.zeros((10, 5), order="F")):
        assert_stats_equal(column_block_stats(cols, y, w, fold, scratch=scratch), ref, rtol=1e-12)
    empty = column_block_stats(cols, y[:0], None, fold[:0], rows=np.zeros(0, dtype=np.int64))
    assert empty.n_labels == 0 and empty.n_features == 4


def test_column_block_stats_large_means_keep_full_accuracy(rng):
    """Shifted by the column mean and corrected exactly: no digits lost on means of 1e8."""
    n = 4000
    X = 1e8 + rng.standard_normal((n, 2))
    y = -1e8 + X[:, 0] + rng.standard_normal(n)
    fold = rng.integers(0, 4, n)
    got = column_block_stats([X[:, 0], X[:, 1]], y, None, fold)
    for k in range(4):
        m = fold == k
        ref = direct_stats(X[m] - 1e8, y[m] + 1e8)  # the same moments from small numbers
        assert rel_err(got.xx[k], ref["xx"]) < 1e-9
        assert rel_err(got.xy[k], ref["xy"]) < 1e-9
        assert rel_err(got.yy[k], ref["yy"]) < 1e-9


def test_column_block_stats_nonfinite_values_make_nonfinite_moments(rng):
    X, y = make_data(rng, 100, 3)
    X[7, 1] = np.nan
    X[8, 2] = np.inf
    with np.errstate(invalid="ignore", over="ignore"):
        got = column_block_stats([X[:, j] for j in range(3)], y, None, rng.integers(0, 2, 100))
    assert not (np.all(np.isfinite(got.x_mean)) and np.all(np.isfinite(got.xx)))


_KERNEL_SCRIPT = r"""
import json, sys
import numpy as np
from dreg.core import stats
rng = np.random.default_rng(3)
n = 5000
X = 1e3 + rng.standard_normal((n, 4))
y = X[:, 0] + rng.standard_normal(n)
w = rng.uniform(0.0, 2.0, n)
fold = rng.integers(0, 5, n)
rows = np.flatnonzero(rng.random(n) < 0.9)
out = {"numba": stats._NUMBA}
for name, kw in {"plain": {}, "weighted": {"sample_weight": w[rows]}}.items():
    s = stats.column_block_stats([X[:, j] for j in range(4)], y[rows], fold=fold[rows], rows=rows, **kw)
    out[name] = {k: v.tolist() for k, v in s.to_arrays().items()}
json.dump(out, sys.stdout)
"""


def _kernel_run(disable: bool) -> dict:
    import json
    import os
    import subprocess
    import sys

    env = dict(os.environ)
    env.pop("DREG_DISABLE_NUMBA", None)
    if disable:
        env["DREG_DISABLE_NUMBA"] = "1"
    done = subprocess.run(
        [sys.executable, "-c", _KERNEL_SCRIPT], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_column_block_stats_compiled_equals_interpreted():
    """``DREG_DISABLE_NUMBA=1`` (read at import, hence subprocesses) runs the numpy fallback."""
    compiled, interpreted = _kernel_run(False), _kernel_run(True)
    assert compiled["numba"] is True and interpreted["numba"] is False
    for name in ("plain", "weighted"):
        a = SufficientStats.from_arrays({k: np.asarray(v) for k, v in compiled[name].items()})
        b = SufficientStats.from_arrays({k: np.asarray(v) for k, v in interpreted[name].items()})
        assert_stats_equal(a, b, rtol=1e-13)


# --------------------------------------------------------------------------- merge
@st.composite
def split_problems(draw):
    n = draw(st.integers(min_value=1, max_value=120))
    p = draw(st.integers(min_value=1, max_value=4))
    n_cuts = draw(st.integers(min_value=0, max_value=min(8, n - 1)))
    cuts = (
        sorted(draw(st.sets(st.integers(1, max(1, n - 1)), min_size=n_cuts, max_size=n_cuts)))
        if n > 1
        else []
    )
    seed = draw(st.integers(min_value=0, max_value=2**32 - 1))
    weighted = draw(st.booleans())
    n_labels = draw(st.integers(min_value=1, max_value=4))
    loc = draw(st.sampled_from([0.0, 10.0, 1e5]))
    order_seed = draw(st.integers(min_value=0, max_value=2**32 - 1))
    return n, p, cuts, seed, weighted, n_labels, loc, order_seed


def _blocks(n, p, cuts, seed, weighted, n_labels, loc):
    rng = np.random.default_rng(seed)
    X = loc + rng.standard_normal((n, p)) * rng.uniform(0.1, 10.0, p)
    y = loc + X @ rng.standard_normal(p) + rng.standard_normal(n)
    w = rng.uniform(0.1, 5.0, n) if weighted else None
    fold = rng.integers(0, n_labels, n)
    whole = block_stats(X, y, w, fold)
    ws = np.split(np.ones(n), cuts) if w is None else np.split(w, cuts)
    parts = [
        block_stats(Xb, yb, wb if weighted else None, fb)
        for Xb, yb, wb, fb in zip(
            np.split(X, cuts), np.split(y, cuts), ws, np.split(fold, cuts), strict=True
        )
    ]
    return whole, parts


@settings(max_examples=40, deadline=None)
@given(split_problems())
def test_merge_is_order_free_and_chunking_invariant(case):
    n, p, cuts, seed, weighted, n_labels, loc, order_seed = case
    whole, parts = _blocks(n, p, cuts, seed, weighted, n_labels, loc)
    order = np.random.default_rng(order_seed).permutation(len(parts))

    tree = merge_all(parts)
    shuffled_tree = merge_all([parts[i] for i in order])
    left_fold = parts[order[0]]
    for i in order[1:]:
        left_fold = merge(left_fold, parts[i])
    right_fold = parts[order[-1]]
    for i in order[-2::-1]:
        right_fold = merge(parts[i], right_fold)

    for merged in (tree, shuffled_tree, left_fold, right_fold):
        assert_stats_equal(merged, whole, rtol=1e-10)
        assert merged.n_blocks == len(parts)


@settings(max_examples=40, deadline=None)
@given(split_problems())
def test_merge_is_associative_and_commutative(case):
    n, p, cuts, seed, weighted, n_labels, loc, _ = case
    _, parts = _blocks(n, p, cuts, seed, weighted, n_labels, loc)
    if len(parts) < 3:
        parts = parts + [empty_stats(p)] * (3 - len(parts))
    a = parts[0]
    b = merge_all(parts[1:-1])
    c = parts[-1]
    assert_stats_equal(merge(merge(a, b), c), merge(a, merge(b, c)), rtol=1e-10)
    assert_stats_equal(merge(a, b), merge(b, a), rtol=1e-10)


def test_empty_stats_is_the_identity(rng):
    X, y = make_data(rng, 40, 3)
    s = block_stats(X, y, None, rng.integers(0, 3, 40))
    e = empty_stats(3)
    for merged in (merge(e, s), merge(s, e)):
        assert_stats_equal(merged, s, rtol=0.0)


def test_merge_rejects_different_feature_counts(rng):
    a = block_stats(rng.standard_normal((5, 2)), rng.standard_normal(5))
    b = block_stats(rng.standard_normal((5, 3)), rng.standard_normal(5))
    with pytest.raises(ValueError, match="2 and 3 features"):
        merge(a, b)


def test_merge_all_of_nothing_raises():
    with pytest.raises(ValueError, match="nothing to merge"):
        merge_all([])


# --------------------------------------------------------------------------- invalid values
def test_nonfinite_x_counted_per_column(rng):
    X, y = make_data(rng, 50, 4)
    X[[1, 7, 9], 1] = np.nan
    X[3, 3] = np.inf
    X[4, 3] = -np.inf  # +inf and -inf in one column: its sum is NaN, both counted
    s = block_stats(X, y)
    assert s.nonfinite_x.tolist() == [0, 3, 0, 2]
    assert not s.is_finite
    assert np.all(np.isnan(s.xx))

    # counts add up over blocks
    parts = [block_stats(X[:5], y[:5]), block_stats(X[5:], y[5:])]
    m = merge_all(parts)
    assert m.nonfinite_x.tolist() == [0, 3, 0, 2]
    assert not m.is_finite


def test_nonfinite_y_and_weights_and_negative_weights_counted(rng):
    X, y = make_data(rng, 30, 2)
    y[[2, 5]] = [np.nan, np.inf]
    w = np.ones(30)
    w[[0, 1, 2]] = -0.5
    w[10] = np.nan
    s = block_stats(X, y, w)
    assert s.nonfinite_y == 2
    assert s.nonfinite_w == 1
    assert s.negative_w == 3
    assert s.nonfinite_x.tolist() == [0, 0]
    assert not s.is_finite

    # negative weights alone (finite sum) are still counted
    w2 = np.ones(30)
    w2[4] = -1.0
    s2 = block_stats(X, np.nan_to_num(y), w2)
    assert s2.negative_w == 1 and s2.nonfinite_w == 0 and s2.nonfinite_y == 0
    assert s2.is_finite  # is_finite is about NaN/inf; negative weights are reported separately

    m = merge(s, s2)
    assert (m.nonfinite_y, m.nonfinite_w, m.negative_w) == (2, 1, 4)


# --------------------------------------------------------------------------- folds
def test_collapse_equals_stats_of_all_rows(rng):
    X, y = make_data(rng, 150, 3)
    w = rng.uniform(0.2, 2.0, 150)
    fold = rng.integers(-1, 5, 150)
    s = block_stats(X, y, w, fold)
    all_rows = block_stats(X, y, w)
    assert_stats_equal(collapse(s), all_rows, rtol=1e-11)
    sub = collapse(s, [1, 3], new_label=7)
    assert sub.labels.tolist() == [7]
    m = np.isin(fold, [1, 3])
    assert_stats_equal(sub, block_stats(X[m], y[m], w[m], np.full(m.sum(), 7)), rtol=1e-11)


def test_leave_one_out_equals_collapse_of_the_other_labels(rng):
    X, y = make_data(rng, 240, 4)
    w = rng.uniform(0.2, 2.0, 240)
    fold = rng.integers(-1, 5, 240)  # label -1: never held out
    s = block_stats(X, y, w, fold)
    folds = [0, 1, 2, 3, 4]
    train = leave_one_out(s, folds)
    assert len(train) == 5
    for k, tr in zip(folds, train, strict=True):
        others = [lab for lab in s.labels.tolist() if lab != k]
        assert -1 in others
        assert_stats_equal(tr, collapse(s, others), rtol=1e-11)
        m = fold != k
        direct = block_stats(X[m], y[m], w[m])
        assert_stats_equal(tr, direct, rtol=1e-10)
        # the -1 rows are always in the training set
        assert tr.count[0] == np.count_nonzero(fold != k)


def test_leave_one_out_without_never_held_out_rows(rng):
    X, y = make_data(rng, 90, 2)
    fold = np.arange(90) % 3
    s = block_stats(X, y, None, fold)
    for k, tr in enumerate(leave_one_out(s, [0, 1, 2])):
        m = fold != k
        assert_stats_equal(tr, block_stats(X[m], y[m]), rtol=1e-10)


def test_select_missing_label_raises(rng):
    s = block_stats(rng.standard_normal((6, 2)), rng.standard_normal(6), None, [0, 0, 1, 1, 3, 3])
    assert s.select(3).count.tolist() == [2]
    with pytest.raises(KeyError, match="fold label 2"):
        s.select(2)


# --------------------------------------------------------------------------- serialisation
def test_to_arrays_from_arrays_round_trip(rng, tmp_path):
    X, y = make_data(rng, 80, 3)
    X[0, 2] = np.nan
    w = rng.uniform(0.5, 1.5, 80)
    w[3] = -1.0
    s = merge(
        block_stats(X[:40], y[:40], w[:40], rng.integers(-1, 3, 40)),
        block_stats(X[40:], y[40:], w[40:], rng.integers(-1, 3, 40)),
    )
    path = tmp_path / "stats.npz"
    np.savez(path, **s.to_arrays())
    with np.load(path, allow_pickle=False) as data:
        back = SufficientStats.from_arrays(dict(data))
    for f in dataclasses.fields(SufficientStats):
        a, b = getattr(s, f.name), getattr(back, f.name)
        np.testing.assert_array_equal(a, b, err_msg=f.name)
    assert back.n_blocks == 2 and back.negative_w == 1 and back.nonfinite_x.tolist() == [0, 0, 1]


def test_stats_are_immutable(rng):
    s = block_stats(rng.standard_normal((5, 2)), rng.standard_normal(5))
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.count = np.zeros(1)  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        s.xx[0, 0, 0] = 1.0
