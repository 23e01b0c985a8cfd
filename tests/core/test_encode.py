"""Categorical and missing-value encodings as linear maps of statistics (dreg.core.encode).

Golden comparisons: mapping the statistics of the raw (augmented) design must
give the statistics that :func:`~dreg.core.stats.block_stats` computes on the
transformed design itself, per fold label, at tight tolerance.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dreg.core.encode import (
    NULL_LEVEL,
    OTHER_LEVEL,
    LevelLumping,
    embed_features,
    imputation_map,
    imputation_values,
    level_name,
    lump_levels,
    map_features,
    one_hot_positions,
    union_levels,
)
from dreg.core.stats import SufficientStats, block_stats, collapse, merge, merge_all

EPS = np.finfo(np.float64).eps


# --------------------------------------------------------------------------- helpers
def column_scale(s: SufficientStats) -> np.ndarray:
    """Per label, the natural scale of each column's centered sums: ``sqrt(diag xx)``,
    floored at ``1e-10 sqrt(W) |mean|`` (the rounding left by centering a constant column)."""
    d = np.sqrt(np.clip(np.diagonal(s.xx, axis1=1, axis2=2), 0.0, None))
    return d + 1e-10 * np.sqrt(s.weight_sum)[:, None] * np.abs(s.x_mean)


def map_scale(s: SufficientStats, A: np.ndarray) -> np.ndarray:
    """The documented error scale of :func:`map_features`: ``|A|^T sqrt(diag xx)`` per label."""
    return column_scale(s) @ np.abs(A)


def assert_stats_close(a: SufficientStats, b: SufficientStats, rtol: float = 1e-10, scale=None) -> None:
    """``a`` equals the reference ``b`` per label, every entry judged on its own scale.

    ``xx[j, l]`` to ``rtol s_j s_l``, ``xy[j]`` to ``rtol s_j s_y``, means to
    ``rtol (|mean| + s / sqrt(W))``; ``s`` is the reference's column scale
    (:func:`column_scale`), or ``scale`` (shape (K, p)) where that is larger.
    Labels with zero weight must match exactly.
    """
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.count, b.count)
    assert a.n_features == b.n_features
    s_all = column_scale(b)
    if scale is not None:
        s_all = np.maximum(s_all, scale)
    for k in range(b.n_labels):
        W = b.weight_sum[k]
        assert abs(a.weight_sum[k] - W) <= rtol * abs(W)
        if W == 0.0:
            for name in ("x_mean", "y_mean", "xx", "xy", "yy"):
                np.testing.assert_array_equal(getattr(a, name)[k], getattr(b, name)[k], err_msg=name)
            continue
        s = s_all[k]
        sy = np.sqrt(max(b.yy[k], 0.0)) + 1e-10 * np.sqrt(W) * abs(b.y_mean[k])
        root_w = np.sqrt(W)
        assert np.all(np.abs(a.x_mean[k] - b.x_mean[k]) <= rtol * (np.abs(b.x_mean[k]) + s / root_w)), k
        assert np.all(np.abs(a.xx[k] - b.xx[k]) <= rtol * np.outer(s, s)), (k, np.abs(a.xx[k] - b.xx[k]))
        assert np.all(np.abs(a.xy[k] - b.xy[k]) <= rtol * s * sy), k
        assert abs(a.y_mean[k] - b.y_mean[k]) <= rtol * (abs(b.y_mean[k]) + sy / root_w)
        assert abs(a.yy[k] - b.yy[k]) <= rtol * sy * sy


def one_hot(values, levels) -> np.ndarray:
    """0/1 columns of ``levels`` for a list of level values (``None`` is the null level)."""
    index = {lvl: i for i, lvl in enumerate(levels)}
    out = np.zeros((len(values), len(levels)))
    out[np.arange(len(values)), [index[v] for v in values]] = 1.0
    return out


def block_diag(*blocks: np.ndarray) -> np.ndarray:
    rows = sum(b.shape[0] for b in blocks)
    cols = sum(b.shape[1] for b in blocks)
    out = np.zeros((rows, cols))
    i = j = 0
    for b in blocks:
        out[i : i + b.shape[0], j : j + b.shape[1]] = b
        i += b.shape[0]
        j += b.shape[1]
    return out


# --------------------------------------------------------------------------- map_features
@pytest.mark.parametrize("loc", [0.0, 1e3])
def test_map_features_equals_block_stats_of_mapped_design(rng, loc):
    n, p_in, p_out = 400, 5, 3
    Z = loc + rng.standard_normal((n, p_in)) @ rng.standard_normal((p_in, p_in))
    y = loc + Z[:, 0] + rng.standard_normal(n)
    w = rng.uniform(0.2, 3.0, n)
    fold = rng.integers(-1, 4, n)
    A = rng.standard_normal((p_in, p_out))
    stats = block_stats(Z, y, w, fold)
    mapped = map_features(stats, A)
    assert mapped.n_features == p_out
    assert mapped.labels.tolist() == [-1, 0, 1, 2, 3]
    assert_stats_close(mapped, block_stats(Z @ A, y, w, fold), scale=map_scale(stats, A))
    np.testing.assert_array_equal(mapped.xx, np.swapaxes(mapped.xx, 1, 2))
    # unchanged fields are copied exactly
    for name in ("count", "weight_sum", "y_mean", "yy"):
        np.testing.assert_array_equal(getattr(mapped, name), getattr(stats, name))


def test_map_features_identity_is_exact(rng):
    Z = rng.standard_normal((50, 3))
    stats = block_stats(Z, rng.standard_normal(50), None, rng.integers(0, 3, 50))
    same = map_features(stats, np.eye(3))
    for name in ("x_mean", "xx", "xy"):
        np.testing.assert_array_equal(getattr(same, name), getattr(stats, name))


def test_map_features_counts_nonfinite_values_of_the_columns_used(rng):
    Z = rng.standard_normal((30, 3))
    Z[:4, 0] = np.nan
    Z[5, 2] = np.inf
    stats = merge(block_stats(Z, rng.standard_normal(30)), block_stats(Z[:10], rng.standard_normal(10)))
    assert stats.nonfinite_x.tolist() == [8, 0, 2]
    A = np.array([[1.0, 0.0, 0.0, 2.0], [0.0, 1.0, 0.0, 1.0], [0.0, 0.0, -1.0, 3.0]])
    mapped = map_features(replace_counters(stats), A)
    assert mapped.nonfinite_x.tolist() == [8, 0, 2, 10]
    assert (mapped.nonfinite_y, mapped.nonfinite_w, mapped.negative_w, mapped.n_blocks) == (3, 4, 5, 2)
    assert not mapped.is_finite


def replace_counters(stats: SufficientStats) -> SufficientStats:
    return dataclasses.replace(stats, nonfinite_y=3, nonfinite_w=4, negative_w=5)


def test_map_features_rejects_bad_matrices(rng):
    stats = block_stats(rng.standard_normal((10, 3)), rng.standard_normal(10))
    with pytest.raises(ValueError, match=r"A must have shape \(3, n_out\).*got shape \(2, 2\)"):
        map_features(stats, np.eye(2))
    with pytest.raises(ValueError, match=r"got shape \(3,\)"):
        map_features(stats, np.ones(3))
    with pytest.raises(ValueError, match="A must be finite, got 1 NaN/inf"):
        map_features(stats, np.array([[1.0], [np.nan], [0.0]]))
    with pytest.raises(ValueError, match="A must be a real matrix"):
        map_features(stats, np.array([["a"], ["b"], ["c"]]))


@st.composite
def mapping_problems(draw):
    n = draw(st.integers(min_value=2, max_value=40))
    return {
        "n": n,
        "p_in": draw(st.integers(min_value=1, max_value=4)),
        "p_out": draw(st.integers(min_value=1, max_value=5)),
        "n_labels": draw(st.integers(min_value=1, max_value=4)),
        "weights": draw(st.sampled_from(["none", "positive", "some_zero"])),
        "loc": draw(st.sampled_from([0.0, 10.0, 1e3])),
        "cut": draw(st.integers(min_value=1, max_value=n - 1)),
        "seed": draw(st.integers(min_value=0, max_value=2**32 - 1)),
    }


@settings(max_examples=60, deadline=None)
@given(mapping_problems())
def test_map_features_commutes_with_merge_and_equals_stats_of_mapped_design(case):
    rng = np.random.default_rng(case["seed"])
    n, p_in, p_out = case["n"], case["p_in"], case["p_out"]
    Z = case["loc"] + rng.standard_normal((n, p_in))
    y = rng.standard_normal(n)
    w = None
    if case["weights"] != "none":
        w = rng.uniform(0.1, 2.0, n)
        if case["weights"] == "some_zero":
            w[rng.random(n) < 0.3] = 0.0
    fold = rng.integers(0, case["n_labels"], n)
    A = rng.standard_normal((p_in, p_out))
    A[rng.random(A.shape) < 0.2] = 0.0
    cut = case["cut"]

    def part(rows):
        return block_stats(Z[rows], y[rows], None if w is None else w[rows], fold[rows])

    a, b = part(slice(None, cut)), part(slice(cut, None))
    whole = merge(a, b)
    scale = map_scale(whole, A)
    mapped_then_merged = merge(map_features(a, A), map_features(b, A))
    merged_then_mapped = map_features(whole, A)
    assert_stats_close(mapped_then_merged, merged_then_mapped, scale=scale)
    assert_stats_close(merged_then_mapped, block_stats(Z @ A, y, w, fold), scale=scale)


# --------------------------------------------------------------------------- embed_features
def test_embed_features_equals_map_with_a_selection_matrix(rng):
    stats = block_stats(rng.standard_normal((40, 3)), rng.standard_normal(40), rng.uniform(0.5, 1.0, 40),
                        rng.integers(0, 3, 40))
    positions = [4, 0, 2]
    E = np.zeros((3, 6))
    E[[0, 1, 2], positions] = 1.0
    embedded = embed_features(stats, positions, 6)
    mapped = map_features(stats, E)
    for name in ("labels", "count", "weight_sum", "x_mean", "y_mean", "xx", "xy", "yy", "nonfinite_x"):
        np.testing.assert_array_equal(getattr(embedded, name), getattr(mapped, name), err_msg=name)
    # the new columns are identically zero
    for j in (1, 3, 5):
        assert not np.any(embedded.x_mean[:, j]) and not np.any(embedded.xx[:, j]) and not np.any(embedded.xy[:, j])


def test_embed_features_places_nonfinite_counts(rng):
    Z = rng.standard_normal((10, 2))
    Z[0, 1] = np.nan
    embedded = embed_features(block_stats(Z, rng.standard_normal(10)), [3, 1], 4)
    assert embedded.nonfinite_x.tolist() == [0, 1, 0, 0]
    assert embedded.n_features == 4 and embedded.n_blocks == 1


def test_embed_features_errors(rng):
    stats = block_stats(rng.standard_normal((10, 2)), rng.standard_normal(10))
    with pytest.raises(ValueError, match=r"positions must have shape \(2,\)"):
        embed_features(stats, [0, 1, 2], 3)
    with pytest.raises(ValueError, match=r"positions must be distinct, got repeated \[1\]"):
        embed_features(stats, [1, 1], 3)
    with pytest.raises(ValueError, match=r"positions must lie in \[0, 3\), got \[3\]"):
        embed_features(stats, [0, 3], 3)
    with pytest.raises(ValueError, match=r"got \[-1\]"):
        embed_features(stats, [-1, 0], 3)
    with pytest.raises(ValueError, match="positions must be integers"):
        embed_features(stats, [0.0, 1.0], 3)
    with pytest.raises(ValueError, match="n_out must be a non-negative integer"):
        embed_features(stats, [0, 1], 2.5)


def file_stats(X, cats, y, w, fold, union):
    """A file's statistics with the one-hot columns of the levels it saw, aligned to ``union``."""
    levels = union_levels(cats)
    design = np.column_stack([X, one_hot(cats, levels)])
    p = X.shape[1]
    positions = np.concatenate([np.arange(p), p + one_hot_positions(levels, union)])
    return embed_features(block_stats(design, y, w, fold), positions, p + len(union))


def test_embedded_files_merge_to_the_full_one_hot_design(rng):
    # file A: levels a, b, null; file B: levels b, c and d, where d is in one row of fold 2 only
    nA, nB = 60, 50
    cats_a = list(rng.choice(np.array(["a", "b", None], dtype=object), nA))
    cats_b = list(rng.choice(np.array(["b", "c"], dtype=object), nB))
    fold_b = rng.integers(0, 3, nB)
    d_row = int(np.flatnonzero(fold_b == 2)[0])
    cats_b[d_row] = "d"
    X = 1e3 + rng.standard_normal((nA + nB, 2))
    y = rng.standard_normal(nA + nB)
    w = rng.uniform(0.5, 2.0, nA + nB)
    fold = np.concatenate([rng.integers(0, 3, nA), fold_b])
    cats = cats_a + cats_b
    union = union_levels(cats_b, cats_a)
    assert union == ["a", "b", "c", "d", None]
    sa = file_stats(X[:nA], cats_a, y[:nA], w[:nA], fold[:nA], union)
    sb = file_stats(X[nA:], cats_b, y[nA:], w[nA:], fold[nA:], union)
    full = block_stats(np.column_stack([X, one_hot(cats, union)]), y, w, fold)
    assert_stats_close(merge(sa, sb), full)
    assert_stats_close(merge(sb, sa), full)
    # level d: nonzero mean only in fold 2
    d = 2 + union.index("d")
    assert merge(sa, sb).x_mean[:, d].tolist()[:2] == [0.0, 0.0] and merge(sa, sb).x_mean[2, d] > 0


@st.composite
def file_splits(draw):
    n = draw(st.integers(min_value=2, max_value=60))
    return {
        "n": n,
        "n_levels": draw(st.integers(min_value=1, max_value=5)),
        "with_null": draw(st.booleans()),
        "p": draw(st.integers(min_value=0, max_value=2)),
        "n_files": draw(st.integers(min_value=1, max_value=4)),
        "n_labels": draw(st.integers(min_value=1, max_value=3)),
        "weighted": draw(st.booleans()),
        "seed": draw(st.integers(min_value=0, max_value=2**32 - 1)),
    }


@settings(max_examples=50, deadline=None)
@given(file_splits())
def test_embedding_and_merge_are_invariant_to_file_order_and_split(case):
    rng = np.random.default_rng(case["seed"])
    n, p = case["n"], case["p"]
    pool = ["lvl" + str(i) for i in range(case["n_levels"])] + ([None] if case["with_null"] else [])
    # skewed level frequencies: some levels end up in one file, or one fold, only
    probs = rng.dirichlet(np.full(len(pool), 0.5))
    cats = [pool[i] for i in rng.choice(len(pool), n, p=probs)]
    X = rng.standard_normal((n, p))
    y = rng.standard_normal(n)
    w = rng.uniform(0.1, 2.0, n) if case["weighted"] else None
    fold = rng.integers(0, case["n_labels"], n)
    file_of = rng.integers(0, case["n_files"], n)
    files = [np.flatnonzero(file_of == f) for f in range(case["n_files"])]
    files = [rows for rows in files if rows.shape[0]]
    union = union_levels(*([cats[i] for i in rows] for rows in files))
    assert union == union_levels(*([cats[i] for i in rows] for rows in reversed(files)))
    parts = [
        file_stats(X[rows], [cats[i] for i in rows], y[rows], None if w is None else w[rows], fold[rows], union)
        for rows in files
    ]
    full = block_stats(np.column_stack([X, one_hot(cats, union)]), y, w, fold)
    forward = merge_all(parts)
    backward = merge_all([parts[i] for i in rng.permutation(len(parts))])
    assert_stats_close(forward, full)
    assert_stats_close(backward, full)
    assert_stats_close(backward, forward)


# --------------------------------------------------------------------------- levels
def test_union_levels_sorts_with_null_last_independently_of_file_order():
    assert union_levels(["b", None, "a"], ["c", "a"]) == ["a", "b", "c", None]
    assert union_levels(["c", "a"], ["b", None, "a"]) == ["a", "b", "c", None]
    assert union_levels([10, 9], [None, 100]) == [9, 10, 100, None]  # numeric, not text order
    assert union_levels([True, False, None]) == [False, True, None]
    assert union_levels(["B", "a", "Z"]) == ["B", "Z", "a"]  # by code point
    assert union_levels([]) == [] and union_levels([None]) == [None]


def test_union_levels_returns_plain_python_values():
    out = union_levels(np.array([3, 1], dtype=np.int64), [np.int32(2)])
    assert out == [1, 2, 3] and all(type(v) is int for v in out)
    assert [type(v) for v in union_levels(np.array([True]))] == [bool]
    assert [type(v) for v in union_levels(np.array(["x"]))] == [str]
    assert json.dumps(union_levels(["x", None])) == '["x", null]'


def test_union_levels_errors():
    with pytest.raises(ValueError, match="got int and str"):
        union_levels(["a"], [1])
    with pytest.raises(ValueError, match="got bool and int"):
        union_levels([True, 2])
    with pytest.raises(ValueError, match="unsupported categorical level 1.5 of type float"):
        union_levels([1.5])
    with pytest.raises(ValueError, match="OTHER_LEVEL"):
        union_levels(["a", OTHER_LEVEL])


def test_level_name():
    assert level_name("colour", "red") == "colour=red"
    assert level_name("colour", NULL_LEVEL) == "colour=<null>"
    assert level_name("colour", OTHER_LEVEL) == "colour=<other>"
    assert level_name("flag", True) == "flag=True" and level_name("flag", np.bool_(False)) == "flag=False"
    assert level_name("n", np.int64(-12)) == "n=-12"
    with pytest.raises(ValueError, match="unsupported categorical level"):
        level_name("x", 2.0)


def test_one_hot_positions(rng):
    union = ["a", "b", "c", None]
    assert one_hot_positions(["c", None, "a"], union).tolist() == [2, 3, 0]
    assert one_hot_positions([], union).dtype == np.int64
    # True and 1 are equal in Python but are different levels
    assert one_hot_positions([True], [1, True]).tolist() == [1]
    with pytest.raises(ValueError, match="level 'z' is not in the union"):
        one_hot_positions(["z"], union)
    with pytest.raises(ValueError, match="levels of a file must be distinct"):
        one_hot_positions(["a", "a"], union)


def test_other_level_is_a_singleton_across_copy_and_pickle():
    assert pickle.loads(pickle.dumps(OTHER_LEVEL)) is OTHER_LEVEL
    assert copy.deepcopy(OTHER_LEVEL) is OTHER_LEVEL and copy.copy(OTHER_LEVEL) is OTHER_LEVEL
    assert type(OTHER_LEVEL)() is OTHER_LEVEL
    assert repr(OTHER_LEVEL) == "OTHER_LEVEL"
    assert OTHER_LEVEL != "<other>" and NULL_LEVEL is None


# --------------------------------------------------------------------------- lump_levels
def test_lump_levels_bookkeeping():
    lump = lump_levels(["a", "b", "c", None], [10, 2, 7, 1], min_count=5)
    assert isinstance(lump, LevelLumping)
    assert lump.levels == ("a", "c", OTHER_LEVEL)  # OTHER last; the rare null is lumped too
    assert lump.lumped == ("b", None)
    assert dict(lump.level_map) == {"a": "a", "b": OTHER_LEVEL, "c": "c", None: OTHER_LEVEL}
    np.testing.assert_array_equal(lump.matrix, [[1, 0, 0], [0, 0, 1], [0, 1, 0], [0, 0, 1]])
    with pytest.raises(ValueError):
        lump.matrix[0, 0] = 2.0
    with pytest.raises(TypeError):
        lump.level_map["a"] = "b"  # read-only
    # a frequent null level is kept, before OTHER
    assert lump_levels(["a", "b", None], [1, 9, 9], 5).levels == ("b", None, OTHER_LEVEL)
    # nothing rare: no OTHER level, identity matrix
    none = lump_levels(["a", "b"], [5, 6], 5)
    assert none.levels == ("a", "b") and none.lumped == ()
    np.testing.assert_array_equal(none.matrix, np.eye(2))
    # one rare level still becomes OTHER; all rare: OTHER alone
    assert lump_levels(["a", "b"], [1, 6], 5).levels == ("b", OTHER_LEVEL)
    everything = lump_levels([1, 2, 3], [0.5, 1.5, 2.5], 3)
    assert everything.levels == (OTHER_LEVEL,)
    np.testing.assert_array_equal(everything.matrix, np.ones((3, 1)))
    # weighted counts compare as numbers; min_count 0 lumps nothing
    assert lump_levels(["x", "y"], [0.0, 0.0], 0).lumped == ()
    assert [level_name("c", v) for v in lump.levels] == ["c=a", "c=c", "c=<other>"]


def test_lump_levels_errors():
    with pytest.raises(ValueError, match="levels must be distinct"):
        lump_levels(["a", "a"], [1, 2], 1)
    with pytest.raises(ValueError, match=r"counts must have shape \(2,\) for 2 levels"):
        lump_levels(["a", "b"], [1, 2, 3], 1)
    with pytest.raises(ValueError, match="counts must be finite and non-negative"):
        lump_levels(["a", "b"], [1, -2], 1)
    with pytest.raises(ValueError, match="counts must be finite and non-negative"):
        lump_levels(["a", "b"], [1, np.nan], 1)
    with pytest.raises(ValueError, match="min_count must be a finite non-negative number"):
        lump_levels(["a"], [1], -1)
    with pytest.raises(ValueError, match="min_count must be a finite non-negative number"):
        lump_levels(["a"], [1], True)
    with pytest.raises(ValueError, match="got int and str"):
        lump_levels(["a", 1], [1, 2], 1)
    with pytest.raises(ValueError, match="OTHER_LEVEL"):
        lump_levels(["a", OTHER_LEVEL], [1, 2], 1)


@pytest.mark.parametrize("weighted", [False, True])
def test_lumped_statistics_equal_the_one_hot_of_merged_levels(rng, weighted):
    n = 500
    levels = ["a", "b", "c", "d", "e", None]
    cats = list(rng.choice(np.array(levels, dtype=object), n, p=[0.4, 0.3, 0.02, 0.2, 0.04, 0.04]))
    X = 50.0 + rng.standard_normal((n, 2))
    y = X[:, 0] + rng.standard_normal(n)
    w = rng.uniform(0.5, 2.0, n) if weighted else None
    fold = rng.integers(-1, 3, n)
    union = union_levels(cats)
    counts = [sum(c == lvl for c in cats) for lvl in union]
    lump = lump_levels(union, counts, min_count=30)
    assert OTHER_LEVEL in lump.levels and len(lump.lumped) >= 2
    stats = block_stats(np.column_stack([X, one_hot(cats, union)]), y, w, fold)
    A = block_diag(np.eye(2), lump.matrix)
    lumped = map_features(stats, A)
    merged_cats = [lump.level_map[c] for c in cats]
    reference = block_stats(np.column_stack([X, one_hot(merged_cats, lump.levels)]), y, w, fold)
    assert_stats_close(lumped, reference, scale=map_scale(stats, A))


# --------------------------------------------------------------------------- missing values
def missing_problem(rng, n=600):
    """Four features: 0 has mean 1e6 and missing values, 1 has missing values and is
    entirely missing in fold 2, 2 is imputed but never missing, 3 is not imputed."""
    X = np.column_stack([
        1e6 + rng.standard_normal(n),
        3.0 + 2.0 * rng.standard_normal(n),
        -1e6 + rng.standard_normal(n),
        rng.standard_normal(n),
    ])
    X[:, 3] += 0.5 * X[:, 1]
    y = (X[:, 0] - 1e6) - X[:, 1] + rng.standard_normal(n)
    w = rng.uniform(0.2, 3.0, n)
    fold = rng.integers(-1, 4, n)
    missing = np.zeros((n, 4), dtype=bool)
    missing[:, 0] = rng.random(n) < 0.2
    missing[:, 1] = (rng.random(n) < 0.3) | (fold == 2)
    X[missing] = np.nan
    return X, y, w, fold, missing


def augmented(X, imputed, fill):
    """``Z = [X_f, M]``: the design the data pass computes statistics of."""
    M = np.isnan(X[:, imputed])
    Xf = X.copy()
    for i, j in enumerate(imputed):
        Xf[M[:, i], j] = fill[i]
    return np.column_stack([Xf, M.astype(np.float64)])


def observed_mean(x, w):
    ok = ~np.isnan(x)
    return float(w[ok] @ x[ok] / w[ok].sum())


@pytest.mark.parametrize("indicators", [False, True])
def test_imputed_statistics_equal_stats_of_the_imputed_data(rng, indicators):
    X, y, w, fold, missing = missing_problem(rng)
    imputed = [0, 1, 2]
    how = ["mean", "mean", 7.5]
    # a fill near the mean of the large feature (e.g. a footer min/max midpoint): no cancellation
    fill = [1e6 + 0.3, 0.0, 0.0]
    Z = augmented(X, imputed, fill)
    half = Z.shape[0] // 2
    stats = merge(block_stats(Z[:half], y[:half], w[:half], fold[:half]),
                  block_stats(Z[half:], y[half:], w[half:], fold[half:]))
    values = imputation_values(collapse(stats), imputed, how, fill)
    A = imputation_map(4, imputed, values, indicators, fill)
    assert A.shape == (7, 7 if indicators else 4)
    mapped = map_features(stats, A)

    # impute first, then compute: the reference never sees Z
    direct = [observed_mean(X[:, 0], w), observed_mean(X[:, 1], w), 7.5]
    np.testing.assert_allclose(values, direct, rtol=1e-13)
    X_imp = X.copy()
    for i, j in enumerate(imputed):
        X_imp[np.isnan(X[:, j]), j] = direct[i]
    design = np.column_stack([X_imp, missing[:, imputed]]) if indicators else X_imp
    reference = block_stats(design, y, w, fold)
    scale = map_scale(stats, A)
    # the tolerance is not loosened by the map: its scale is that of the reference
    ref_scale = column_scale(reference)
    live = ref_scale > 1e-3 * np.sqrt(reference.weight_sum)[:, None]
    assert np.all(scale[live] <= 3.0 * ref_scale[live])
    assert_stats_close(mapped, reference, scale=scale)
    # fold 2: feature 1 is the constant imputation value there
    k2 = int(np.searchsorted(mapped.labels, 2))
    assert mapped.x_mean[k2, 1] == pytest.approx(direct[1], rel=1e-13)
    assert abs(mapped.xx[k2, 1, 1]) <= 1e-20 * mapped.weight_sum[k2] * direct[1] ** 2
    # feature 2 was never missing: untouched by the imputation value
    np.testing.assert_array_equal(mapped.x_mean[:, 2], stats.x_mean[:, 2])


def test_fill_zero_with_large_means_stays_within_the_documented_error(rng):
    """With fill 0 a mean of 1e6 cancels in ``A^T xx A``: the error is bounded by
    ``eps s_j s_l`` (``s = |A|^T sqrt(diag xx)``), not by the reference's scale."""
    X, y, w, fold, _ = missing_problem(rng)
    imputed = [0, 1]
    fill = [0.0, 0.0]
    stats = block_stats(augmented(X, imputed, fill), y, w, fold)
    values = imputation_values(collapse(stats), imputed, ["mean", "mean"], fill)
    A = imputation_map(4, imputed, values, False, fill)
    mapped = map_features(stats, A)
    X_imp = np.where(np.isnan(X), np.array([values[0], values[1], 0.0, 0.0]), X)
    reference = block_stats(X_imp, y, w, fold)
    s = map_scale(stats, A)
    for k in range(reference.n_labels):
        assert np.all(np.abs(mapped.xx[k] - reference.xx[k]) <= 1e3 * EPS * np.outer(s[k], s[k]))
    # the bound is far above the reference's own scale for the 1e6-mean feature (12 digits)
    assert np.all(s[:, 0] > 1e5 * column_scale(reference)[:, 0])


def test_imputation_values_zero_number_and_no_missing(rng):
    X, y, w, fold, _ = missing_problem(rng)
    stats = collapse(block_stats(augmented(X, [0, 1, 2], [0.0] * 3), y, w, fold))
    values = imputation_values(stats, [0, 1, 2], ["zero", np.float32(-2.5), "mean"])
    assert values[0] == 0.0 and values[1] == -2.5
    np.testing.assert_allclose(values[2], np.average(X[:, 2], weights=w), rtol=1e-14)
    assert imputation_values(stats, [], []).shape == (0,)


def test_imputation_values_errors(rng):
    n = 40
    X = rng.standard_normal((n, 2))
    fold = rng.integers(0, 2, n)
    X[:, 1] = np.nan
    Z = augmented(X, [0, 1], [0.0, 0.0])
    stats = block_stats(Z, rng.standard_normal(n), None, fold)
    total = collapse(stats)
    with pytest.raises(ValueError, match="feature 1 is missing in every row"):
        imputation_values(total, [0, 1], ["mean", "mean"])
    assert imputation_values(total, [0, 1], ["mean", "zero"])[1] == 0.0  # zero needs no observed value
    with pytest.raises(ValueError, match="one label.*got 2 labels"):
        imputation_values(stats, [0, 1], ["mean", "zero"])
    with pytest.raises(ValueError, match=r"how\[1\] for feature 1 must be 'mean', 'zero' or a finite number, got 'med"):
        imputation_values(total, [0, 1], ["mean", "median"])
    with pytest.raises(ValueError, match="got nan"):
        imputation_values(total, [0, 1], ["mean", float("nan")])
    with pytest.raises(ValueError, match="got True"):
        imputation_values(total, [0, 1], ["mean", True])
    with pytest.raises(ValueError, match="how must have one entry per imputed feature"):
        imputation_values(total, [0, 1], ["mean"])
    with pytest.raises(ValueError, match=r"imputed feature indices must lie in \[0, 2\)"):
        imputation_values(total, [0, 2], ["mean", "zero"])
    with pytest.raises(ValueError, match="imputed feature indices must be distinct"):
        imputation_values(total, [0, 0], ["mean", "zero"])
    with pytest.raises(ValueError, match=r"fill must be a number or have shape \(2,\)"):
        imputation_values(total, [0, 1], ["mean", "zero"], fill=[0.0])


def test_imputation_map_entries_and_errors():
    A = imputation_map(3, [2, 0], [5.0, -1.0], True, fill=[1.0, 0.0])
    expected = np.array([
        [1, 0, 0, 0, 0],
        [0, 1, 0, 0, 0],
        [0, 0, 1, 0, 0],
        [0, 0, 4, 1, 0],  # M of feature 2: value 5 - fill 1
        [-1, 0, 0, 0, 1],  # M of feature 0
    ], dtype=float)
    np.testing.assert_array_equal(A, expected)
    np.testing.assert_array_equal(imputation_map(3, [2, 0], [5.0, -1.0], False, fill=[1.0, 0.0]), expected[:, :3])
    np.testing.assert_array_equal(imputation_map(2, [], [], True), np.eye(2))
    with pytest.raises(ValueError, match=r"values must have shape \(2,\)"):
        imputation_map(3, [2, 0], [5.0], True)
    with pytest.raises(ValueError, match="imputation values must be finite"):
        imputation_map(3, [2, 0], [5.0, np.inf], True)
    with pytest.raises(ValueError, match="fill must be finite"):
        imputation_map(3, [2], [5.0], True, fill=np.nan)
    with pytest.raises(ValueError, match=r"imputed feature indices must lie in \[0, 3\), got \[3\]"):
        imputation_map(3, [3], [5.0], True)
    with pytest.raises(ValueError, match="n_features must be a non-negative integer"):
        imputation_map(-1, [], [], True)


# --------------------------------------------------------------------------- purity
def test_encode_imports_no_dask_pandas_or_pyarrow():
    script = (
        "import json, sys, dreg.core.encode\n"
        "print(json.dumps(sorted({k.split('.')[0] for k in sys.modules})))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert "numpy" in loaded
    assert [m for m in ("dask", "distributed", "pandas", "pyarrow", "sklearn") if m in loaded] == []
