"""The pass design of categorical and imputed columns (dreg.core.design).

Golden comparisons: the statistics that :func:`block_design_stats`,
:func:`merge_design` and :func:`finish_design` compute, block by block and
without a second pass, must equal :func:`dreg.core.stats.block_stats` of the
model's design built densely in numpy (imputed with the weighted observed mean,
indicators, one-hot levels in ``union_levels`` order, rare levels summed into
``<other>``), per fold label, at tight tolerance.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dreg.core.design import (
    ColumnEncoding,
    ColumnSpec,
    DesignSpec,
    DesignStats,
    Encoding,
    block_design_stats,
    coef_in_pass_design,
    design_matrix,
    empty_design,
    finish_design,
    linear_predictor,
    merge_design,
)
from dreg.core.encode import NULL_LEVEL, OTHER_LEVEL, level_name, union_levels
from dreg.core.stats import SufficientStats, block_stats, collapse

EPS = np.finfo(np.float64).eps

FEATURES = ["a", "color", "b", "k", "c"]
CATEGORICAL = ["color", "k"]
COLORS = np.array(["red", "green", "blue", "teal", None], dtype=object)
KS = np.array([3, -1, 7, 10])


def make_spec(**kw) -> DesignSpec:
    """a: mean-imputed (mean 1e6, unit spread), b: imputed with 2.5, c: plain; indicators."""
    args = dict(categorical=CATEGORICAL, impute={"a": "mean", "b": 2.5}, indicator=True)
    args.update(kw)
    return DesignSpec.build(FEATURES, **args)


SPEC = make_spec()


# --------------------------------------------------------------------------- data
def make_data(rng: np.random.Generator, n: int, loc: float = 1e6, colors=COLORS, ks=KS, zero_w: float = 0.1) -> dict:
    a = loc + rng.standard_normal(n)
    a_miss = rng.random(n) < 0.2
    b = 1.0 + 3.0 * rng.standard_normal(n)
    b_miss = rng.random(n) < 0.3
    c = rng.standard_normal(n)
    color = rng.choice(colors, size=n, p=np.linspace(2.0, 1.0, len(colors)) / np.linspace(2.0, 1.0, len(colors)).sum())
    k = rng.choice(ks, size=n)
    y = 0.5 * (a - loc) + 2.0 * np.where(b_miss, 0.0, b) - c + (color == "red") + 0.1 * k + rng.standard_normal(n)
    w = rng.uniform(0.5, 2.0, n)
    w[rng.random(n) < zero_w] = 0.0
    fold = rng.integers(0, 4, n)
    return dict(
        a=np.where(a_miss, np.nan, a),
        a_miss=a_miss,
        b=np.where(b_miss, np.nan, b),
        b_miss=b_miss,
        c=c,
        color=color,
        k=k,
        y=y,
        w=w,
        fold=fold,
    )


def take(data: dict, idx: np.ndarray) -> dict:
    return {key: v[idx] for key, v in data.items()}


def concat(*parts: dict) -> dict:
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def codes_of(values: np.ndarray, rng: np.random.Generator | None, extra=()) -> tuple[np.ndarray, list]:
    """(codes, levels) with the levels in a shuffled order and unused dictionary entries."""
    levels = list({(type(v).__name__, v): v for v in values.tolist()}.values())
    levels += [e for e in extra if e not in levels]
    if rng is not None:
        levels = [levels[i] for i in rng.permutation(len(levels))]
    index = {(type(v).__name__, v): i for i, v in enumerate(levels)}
    codes = np.array([index[(type(v).__name__, v)] for v in values.tolist()], dtype=np.int64)
    return codes, levels


def block_of(
    data: dict, rng: np.random.Generator | None = None, n_unused: int = 0, spec: DesignSpec = SPEC
) -> DesignStats:
    """Pass statistics of one block of rows (with ``n_unused`` invalid rows that ``rows`` skips)."""
    m = data["y"].shape[0]
    if n_unused:
        n = m + n_unused
        rows = np.sort(rng.choice(n, size=m, replace=False))
        unused = np.setdiff1d(np.arange(n), rows)

        def full(col, garbage):
            out = np.full(n, garbage, dtype=np.float64)
            out[rows] = col
            return out

        a = full(data["a"], 1e12)  # an absurd observed value in a skipped row: must not reach the fill
        b = full(data["b"], np.nan)  # missing in skipped rows only (when no used row misses b)
        c = full(data["c"], np.nan)
        a_miss = np.zeros(n, dtype=bool)
        a_miss[rows] = data["a_miss"]
        b_miss = np.ones(n, dtype=bool)
        b_miss[rows] = data["b_miss"]
        assert np.all(np.isnan(b[unused]))
    else:
        rows = None
        a, b, c = data["a"], data["b"], data["c"]
        a_miss = data["a_miss"] if data["a_miss"].any() else None
        b_miss = data["b_miss"] if data["b_miss"].any() else None
    extra = ("zzz_unused",) if rng is not None else ()
    cols = {"a": (a, a_miss), "b": (b, b_miss), "c": (c, None)}
    return block_design_stats(
        [cols[name][0] for name in spec.numeric],
        [cols[name][1] for name in spec.imputed],
        [codes_of(data[name], rng, extra if name == "color" else ()) for name in spec.categorical],
        data["y"],
        data["w"],
        data["fold"],
        rows,
        [spec.numeric.index(name) for name in spec.imputed],
    )


def weighted_observed_mean(x: np.ndarray, miss: np.ndarray, w: np.ndarray) -> float:
    obs = ~miss
    return float(np.sum(w[obs] * x[obs]) / np.sum(w[obs]))


def one_hot(values: np.ndarray, levels) -> np.ndarray:
    out = np.zeros((values.shape[0], len(levels)))
    for j, lv in enumerate(levels):
        if lv is None:
            out[:, j] = [v is None for v in values.tolist()]
        else:
            out[:, j] = [v is not None and type(v) is type(lv) and v == lv for v in values.tolist()]
    return out


def reference_design(data: dict, spec: DesignSpec = SPEC, min_count: float = 0) -> tuple[np.ndarray, list[str], dict]:
    """The model's design built densely from the definition (rare levels lumped by pandas dummies)."""
    w = data["w"]
    cols, names, info = [], [], {}
    for cs in spec.columns:
        x = data[cs.name]
        if cs.categorical:
            dummies = pd.get_dummies(pd.Series(x, dtype=object), dummy_na=True, dtype=float)
            values = [v for v in x.tolist() if v is not None]
            levels = union_levels(values) + ([None] if any(v is None for v in x.tolist()) else [])
            cnt = np.array([np.count_nonzero((one_hot(x, [lv])[:, 0] > 0) & (w > 0)) for lv in levels])
            rare = [lv for lv, n in zip(levels, cnt, strict=True) if n < min_count]
            kept = [lv for lv, n in zip(levels, cnt, strict=True) if n >= min_count]
            block = []
            for lv in kept:
                key = np.nan if lv is None else lv
                block.append(dummies[key].to_numpy())
                names.append(level_name(cs.name, lv))
            if rare:
                keys = [np.nan if lv is None else lv for lv in rare]
                block.append(dummies[keys].to_numpy().sum(axis=1))
                names.append(level_name(cs.name, OTHER_LEVEL))
            cols += block
            info[cs.name] = dict(
                levels=tuple(kept) + ((OTHER_LEVEL,) if rare else ()),
                counts=tuple(int(n) for n in cnt[cnt >= min_count])
                + ((int(cnt[cnt < min_count].sum()),) if rare else ()),
                lumped=tuple(rare),
            )
            continue
        if cs.impute is None:
            cols.append(x)
            names.append(cs.name)
            continue
        miss = data[cs.name + "_miss"]
        if cs.impute == "mean":
            v = weighted_observed_mean(x, miss, w)
        elif cs.impute == "zero":
            v = 0.0
        else:
            v = float(cs.impute)
        info[cs.name] = dict(impute=v)
        cols.append(np.where(miss, v, x))
        names.append(cs.name)
        if cs.indicator and (miss & (w > 0)).any():  # missing rows of positive weight
            cols.append(miss.astype(float))
            names.append(level_name(cs.name, NULL_LEVEL))
    return np.column_stack(cols), names, info


def reference_stats(data: dict, spec: DesignSpec = SPEC, min_count: float = 0):
    X, names, info = reference_design(data, spec, min_count)
    return block_stats(X, data["y"], data["w"], data["fold"]), names, info


# --------------------------------------------------------------------------- comparisons
def _atol(ref: SufficientStats, k: int, spread: float) -> float:
    """About 1000 ulps of one row's contribution: the floor for entries whose reference is 0."""
    return 1e3 * EPS * ref.weight_sum[k] * spread**2


def assert_stats_match(a: SufficientStats, ref: SufficientStats, rtol: float, n_blocks: int | None = None) -> None:
    """Every field of ``a`` equals the reference; moments to ``rtol`` times each array's max
    scale per label (x_mean per column), plus a floor of rounding for all-zero references."""
    np.testing.assert_array_equal(a.labels, ref.labels)
    np.testing.assert_array_equal(a.count, ref.count)
    assert a.n_features == ref.n_features
    np.testing.assert_array_equal(a.nonfinite_x, np.zeros(ref.n_features, dtype=np.int64))
    assert (a.nonfinite_y, a.nonfinite_w, a.negative_w) == (0, 0, 0)
    if n_blocks is not None:
        assert a.n_blocks == n_blocks
    tot = collapse(ref)
    spread = 1.0 + float(np.sqrt(max(np.max(np.diagonal(tot.xx, axis1=1, axis2=2)), tot.yy[0]) / tot.weight_sum[0]))
    for k in range(ref.n_labels):
        W = ref.weight_sum[k]
        np.testing.assert_allclose(a.weight_sum[k], W, rtol=1e-13, atol=0)
        if W == 0.0:
            for name in ("x_mean", "y_mean", "xx", "xy", "yy"):
                np.testing.assert_array_equal(getattr(a, name)[k], getattr(ref, name)[k], err_msg=name)
            continue
        atol = _atol(ref, k, spread)
        xm_tol = rtol * np.abs(ref.x_mean[k]) + 1e3 * EPS * spread
        assert np.all(np.abs(a.x_mean[k] - ref.x_mean[k]) <= xm_tol), (k, a.x_mean[k] - ref.x_mean[k])
        assert abs(a.y_mean[k] - ref.y_mean[k]) <= rtol * abs(ref.y_mean[k]) + 1e3 * EPS * spread
        for name in ("xx", "xy", "yy"):
            r = np.asarray(getattr(ref, name)[k])
            d = np.abs(np.asarray(getattr(a, name)[k]) - r)
            tol = rtol * np.max(np.abs(r)) + atol
            assert np.all(d <= tol), (name, k, float(np.max(d)), tol)


def merge_left(parts):
    out = parts[0]
    for p in parts[1:]:
        out = merge_design(out, p)
    return out


def merge_right(parts):
    out = parts[-1]
    for p in reversed(parts[:-1]):
        out = merge_design(p, out)
    return out


def merge_tree(parts):
    level = list(parts)
    while len(level) > 1:
        nxt = [merge_design(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def merge_random(parts, rng):
    level = [parts[i] for i in rng.permutation(len(parts))]
    while len(level) > 1:
        i = int(rng.integers(len(level) - 1))
        level[i : i + 2] = [merge_design(level[i], level[i + 1])]
    return level[0]


# --------------------------------------------------------------------------- 1. golden
def golden_blocks(rng, data):
    """Row sets with different level subsets: all of b missing, nothing missing, no "teal",
    one row, no rows, invalid rows skipped through ``rows``, the rest."""
    n = data["y"].shape[0]
    left = np.arange(n)
    sets = []
    for cond, size in (
        (data["b_miss"], 50),  # every b missing (a observed or not)
        (~data["a_miss"] & ~data["b_miss"], 100),  # nothing missing
        (data["color"] != "teal", 100),  # a level missing entirely
        (~data["a_miss"], 1),  # one row (a observed; a block missing all of a: test_block_missing_all_of_a_large_mean_column_merged_first)
    ):
        pick = left[cond[left]][:size]
        sets.append(pick)
        left = np.setdiff1d(left, pick)
    half = left.shape[0] // 2
    sets += [left[:half], left[half:]]
    assert np.all(data["b_miss"][sets[0]]) and not np.any(data["a_miss"][sets[1]] | data["b_miss"][sets[1]])
    assert "teal" not in data["color"][sets[2]].tolist()
    assert sorted(np.concatenate(sets).tolist()) == list(range(n))
    blocks = [block_of(take(data, s), rng) for s in sets[:-1]]
    blocks.append(block_of(take(data, sets[-1]), rng, n_unused=17))  # skipped invalid rows
    blocks.append(block_of(take(data, np.zeros(0, dtype=np.int64)), rng, n_unused=5))  # no used row
    order = np.concatenate(sets)
    return blocks, take(data, order)


def test_golden_blocks_merge_and_finish_equal_dense_reference(rng):
    data = make_data(rng, 600)
    blocks, ordered = golden_blocks(rng, data)
    assert blocks[-1].stats.n_labels == 0 and blocks[-1].levels == ((), ())
    assert "teal" not in blocks[2].levels[0] and (blocks[1].missing_rows == 0).all()
    ref, names, info = reference_stats(ordered)
    results = [
        merge_left(blocks),
        merge_right(blocks),
        merge_tree(blocks),
        merge_tree(blocks[::-1]),
        merge_random(blocks, np.random.default_rng(1)),
        merge_random(blocks, np.random.default_rng(2)),
        merge_design(empty_design(SPEC), merge_tree(blocks)),
    ]
    finished = [finish_design(d, SPEC) for d in results]
    for d, fin in zip(results, finished, strict=True):
        assert d.levels == (("blue", "green", "red", "teal", None), (-1, 3, 7, 10))  # no "zzz_unused": no row
        assert fin.encoding.feature_names == names
        assert names[:2] == ["a", "a=<null>"] and "b=<null>" in names and names[-1] == "c"
        assert_stats_match(fin.stats, ref, rtol=1e-10, n_blocks=len(blocks) - 1)
        a_enc, b_enc = fin.encoding.columns[0], fin.encoding.columns[2]
        np.testing.assert_allclose(a_enc.impute, info["a"]["impute"], rtol=1e-14)
        assert (a_enc.impute_rule, a_enc.indicator) == ("mean", True)
        assert (b_enc.impute, b_enc.impute_rule, b_enc.indicator) == (2.5, 2.5, True)
        for ce in fin.encoding.columns[1], fin.encoding.columns[3]:
            assert ce.levels == info[ce.name]["levels"] and ce.counts == info[ce.name]["counts"]
            assert ce.lumped == ()
        assert sum(d.counts[0]) == np.count_nonzero(ordered["w"] > 0)
    # different merge orders: the same result to 1e-12 of each entry's scale; a mean near 1e6
    # is itself only known to one ulp (1.2e-10), which bounds the centered sums' agreement
    base = finished[0].stats
    for fin in finished[1:]:
        assert_orders_agree(fin.stats, base, rtol=1e-12)


def assert_orders_agree(s: SufficientStats, base: SufficientStats, rtol: float) -> None:
    np.testing.assert_array_equal(s.labels, base.labels)
    np.testing.assert_array_equal(s.count, base.count)
    np.testing.assert_allclose(s.weight_sum, base.weight_sum, rtol=rtol, atol=0)
    for k in range(base.n_labels):
        W = base.weight_sum[k]
        ulp_mean = np.sqrt(W) * np.spacing(np.abs(base.x_mean[k]))  # rounding of the mean, as a centered sum
        sx = np.sqrt(np.diagonal(base.xx[k])) + ulp_mean
        sy = np.sqrt(base.yy[k]) + np.sqrt(W) * np.spacing(abs(base.y_mean[k]))
        root_w = np.sqrt(W)
        assert np.all(np.abs(s.x_mean[k] - base.x_mean[k]) <= rtol * np.abs(base.x_mean[k]) + 4 * ulp_mean / root_w)
        assert abs(s.y_mean[k] - base.y_mean[k]) <= rtol * abs(base.y_mean[k]) + 4 * sy / root_w * EPS
        tol_xx = rtol * np.outer(sx, sx) + 2 * (np.outer(ulp_mean, sx) + np.outer(sx, ulp_mean))
        assert np.all(np.abs(s.xx[k] - base.xx[k]) <= tol_xx), (k, np.max(np.abs(s.xx[k] - base.xx[k]) / tol_xx))
        assert np.all(np.abs(s.xy[k] - base.xy[k]) <= rtol * sx * sy + 2 * ulp_mean * sy), k
        assert abs(s.yy[k] - base.yy[k]) <= rtol * sy * sy, k


def test_block_missing_all_of_a_large_mean_column_merged_first(rng):
    data = make_data(rng, 600)
    all_a_missing = np.flatnonzero(data["a_miss"])[:40]
    rest = np.setdiff1d(np.arange(600), all_a_missing)
    sets = [all_a_missing, rest[:280], rest[280:]]
    blocks = [block_of(take(data, s)) for s in sets]
    assert blocks[0].fills[0] == 0.0 and blocks[0].fill_rows[0] == 0 and abs(blocks[1].fills[0] - 1e6) < 1.0
    ref, _, _ = reference_stats(take(data, np.concatenate(sets)))
    # merged last (as the right operand) the block is harmless ...
    assert_stats_match(
        finish_design(merge_design(merge_design(blocks[1], blocks[2]), blocks[0]), SPEC).stats, ref, 1e-10
    )
    # ... and merged first too: the fill taken from observed rows wins
    first = merge_design(blocks[0], merge_design(blocks[1], blocks[2]))
    assert_stats_match(finish_design(first, SPEC).stats, ref, 1e-10)


def test_zero_weight_outlier_does_not_move_the_fill(rng):
    data = make_data(rng, 300)
    i = np.flatnonzero(~data["a_miss"])[0]
    data["a"][i] = 1e10  # observed, but its row has weight 0: no part of the fit
    data["w"][i] = 0.0
    ref, _, _ = reference_stats(data)
    d = block_of(data)
    assert_stats_match(finish_design(d, SPEC).stats, ref, rtol=1e-10)


# --------------------------------------------------------------------------- 2. property
@st.composite
def split_cases(draw):
    n = draw(st.integers(1, 40))
    cuts = sorted(draw(st.sets(st.integers(1, max(n - 1, 1)), max_size=5))) if n > 1 else []
    return dict(
        n=n,
        cuts=[c for c in cuts if c < n],
        seed=draw(st.integers(0, 2**32 - 1)),
        shape=draw(st.sampled_from(["left", "right", "tree", "random"])),
        unused=draw(st.booleans()),
    )


@settings(max_examples=40, deadline=None)
@given(split_cases())
def test_random_block_splits_and_orders_equal_reference(case):
    rng = np.random.default_rng(case["seed"])
    data = make_data(rng, case["n"], loc=10.0)  # (a block missing all of a: fill 0, harmless near 10)
    data["a_miss"][0] = False  # an observed a and a positive weight: the mean is defined
    data["a"][0] = 10.0
    data["w"][0] = 1.0
    perm = rng.permutation(case["n"])
    sets = np.split(perm, case["cuts"])
    blocks = [block_of(take(data, s), rng, n_unused=3 if case["unused"] and i == 0 else 0) for i, s in enumerate(sets)]
    merge = dict(left=merge_left, right=merge_right, tree=merge_tree)
    d = merge[case["shape"]](blocks) if case["shape"] != "random" else merge_random(blocks, rng)
    fin = finish_design(d, SPEC)
    ref, names, info = reference_stats(take(data, np.concatenate(sets)))
    assert fin.encoding.feature_names == names
    assert_stats_match(fin.stats, ref, rtol=1e-9, n_blocks=len(sets))
    np.testing.assert_allclose(fin.encoding.columns[0].impute, info["a"]["impute"], rtol=1e-13)


# --------------------------------------------------------------------------- 3. lumping
def lumping_data(rng, n=500):
    data = make_data(rng, n, loc=1e6)
    # level frequencies far apart: three common levels, "rare1"/"rare2"/null a few rows, "edge" 10 counted rows
    color = rng.choice(["common", "usual", "frequent"], size=n)
    color[:3] = "rare1"
    color[3:7] = "rare2"
    color[7:9] = None
    color[9:21] = "edge"  # 12 rows, 2 of weight 0: 10 counted
    data["w"][9:11] = 0.0
    data["w"][11:21] = 1.0
    data["w"][:9] = 1.0
    data["w"][21:25] = 1.0
    data["color"] = color.astype(object)
    data["color"][7:9] = None
    k = rng.choice([1, 2, 3], size=n)
    k[21:25] = 40  # 4 rows
    k[25:27] = 50  # only zero weights: count 0
    data["w"][25:27] = 0.0
    data["k"] = k
    return data


def test_min_level_count_lumps_rare_levels_into_other(rng):
    data = lumping_data(rng)
    spec = make_spec(min_level_count=10)
    sets = np.array_split(rng.permutation(500), 4)
    d = merge_tree([block_of(take(data, s), rng) for s in sets])
    fin = finish_design(d, spec)
    ref, names, info = reference_stats(take(data, np.concatenate(sets)), spec, min_count=10)
    assert fin.encoding.feature_names == names
    assert_stats_match(fin.stats, ref, rtol=1e-10, n_blocks=4)
    color, k = fin.encoding.columns[1], fin.encoding.columns[3]
    assert color.levels == ("common", "edge", "frequent", "usual", OTHER_LEVEL)
    assert color.lumped == ("rare1", "rare2", None)  # null is a level like any other: lumped when rare
    assert k.levels == (1, 2, 3, OTHER_LEVEL) and k.lumped == (40, 50)
    for ce in color, k:
        assert ce.counts == info[ce.name]["counts"] and ce.lumped == info[ce.name]["lumped"]
    assert color.counts[1] == 10 and color.counts[-1] == 3 + 4 + 2
    assert k.counts[-1] == 4  # the zero-weight rows of 50 are not counted
    assert names[-5:] == ["k=1", "k=2", "k=3", "k=<other>", "c"]
    assert "color=<other>" in names and "color=<null>" not in names and "k=<other>" in names
    # the lumped design's statistics equal the unlumped ones mapped by summing the rare dummies
    plain = finish_design(d, make_spec())
    assert plain.stats.n_features == fin.stats.n_features + 2 + 1
    assert plain.encoding.columns[1].lumped == () and plain.encoding.columns[3].counts[-1] == 0  # 50: count 0
    # model.json round trip
    enc = fin.encoding
    back = Encoding.from_json(json.loads(json.dumps(enc.to_json())))
    assert back == enc
    assert back.feature_names == enc.feature_names
    assert back.columns[1].level_index() == enc.columns[1].level_index()
    assert back.columns[1].levels[-1] is OTHER_LEVEL
    assert back.columns[0].impute == enc.columns[0].impute and back.columns[2].impute_rule == 2.5


# --------------------------------------------------------------------------- 4. encoding rows
def raw_columns(data: dict, rng=None):
    numeric = {"a": data["a"], "b": data["b"], "c": data["c"]}
    categorical = {"color": codes_of(data["color"], rng, ("never",)), "k": codes_of(data["k"], rng)}
    return numeric, categorical


def test_design_matrix_and_linear_predictor_equal_dense_reference(rng):
    data = lumping_data(rng)
    spec = make_spec(min_level_count=10)
    fin = finish_design(merge_tree([block_of(take(data, s), rng) for s in np.array_split(np.arange(500), 3)]), spec)
    enc = fin.encoding
    # new rows: known, lumped (rare1, null, 40) and unseen (purple, 99) levels; missing a and b
    new = make_data(
        rng, 60, colors=np.array(["common", "edge", "rare1", "purple", None], dtype=object), ks=np.array([1, 3, 40, 99])
    )
    numeric, categorical = raw_columns(new, rng)
    X = design_matrix(enc, numeric, categorical).X
    v_a = enc.columns[0].impute
    color_cols = {"common": 0, "edge": 1, "frequent": 2, "usual": 3, "rare1": 4, "rare2": 4, None: 4}
    k_cols = {1: 0, 2: 1, 3: 2, 40: 3, 50: 3}
    ref = np.zeros((60, len(enc.feature_names)))
    ref[:, 0] = np.where(new["a_miss"], v_a, new["a"])
    ref[:, 1] = new["a_miss"]
    for i, v in enumerate(new["color"].tolist()):
        if v in color_cols:
            ref[i, 2 + color_cols[v]] = 1.0
    ref[:, 7] = np.where(new["b_miss"], 2.5, new["b"])
    ref[:, 8] = new["b_miss"]
    for i, v in enumerate(new["k"].tolist()):
        if v in k_cols:
            ref[i, 9 + k_cols[v]] = 1.0
    ref[:, 13] = new["c"]
    assert enc.feature_names[7:9] == ["b", "b=<null>"] and enc.feature_names[13] == "c"
    np.testing.assert_array_equal(X, ref)
    n_purple = int(np.count_nonzero(new["color"] == "purple"))
    n_99 = int(np.count_nonzero(new["k"] == 99))
    assert n_purple and n_99 and np.count_nonzero(new["k"] == 40) and np.count_nonzero(new["color"] == None)  # noqa: E711
    expected_unseen = {"color": {"purple": n_purple}, "k": {99: n_99}}
    coef = rng.standard_normal(X.shape[1])
    res = linear_predictor(enc, numeric, categorical, coef, -3.25)
    assert res.X is None and design_matrix(enc, numeric, categorical).unseen == expected_unseen
    assert res.unseen == expected_unseen
    eta = ref @ coef - 3.25
    np.testing.assert_allclose(res.eta, eta, rtol=0, atol=1e-12 * np.max(np.abs(ref) @ np.abs(coef) + 3.25))
    # unseen rows: all-zero dummies of the column
    purple = np.flatnonzero(new["color"] == "purple")
    assert not X[purple, 2:7].any()
    # a column that is not imputed keeps its NaN (design) and gives NaN (predictor)
    spec_b = make_spec(impute={"b": 2.5})
    plain = finish_design(block_of(take(data, np.flatnonzero(~data["a_miss"])), spec=spec_b), spec_b)
    assert plain.encoding.columns[0].impute is None
    Xp = design_matrix(plain.encoding, numeric, categorical).X
    etap = linear_predictor(plain.encoding, numeric, categorical, np.ones(Xp.shape[1]), 0.0).eta
    np.testing.assert_array_equal(np.isnan(Xp[:, 0]), new["a_miss"])
    np.testing.assert_array_equal(np.isnan(etap), new["a_miss"])


# --------------------------------------------------------------------------- 5. a fixed model in the pass design
def pass_design_dense(data: dict, d: DesignStats) -> np.ndarray:
    """Z = [X_f, M, D_1, D_2] of SPEC from the definition: the merged fills, indicators, one-hot of d.levels."""
    fa, fb = d.fills
    cols = [np.where(data["a_miss"], fa, data["a"]), np.where(data["b_miss"], fb, data["b"]), data["c"]]
    cols += [data["a_miss"].astype(float), data["b_miss"].astype(float)]
    Z = np.column_stack(cols)
    return np.hstack([Z, one_hot(data["color"], d.levels[0]), one_hot(data["k"], d.levels[1])])


def model_encoding(rng, features, **kw):
    """A model fitted on other rows: other imputation values, fewer levels, lumping."""
    data = lumping_data(rng)
    spec = DesignSpec.build(features, categorical=[c for c in CATEGORICAL if c in features], **kw)
    d = merge_tree([block_of(take(data, s), rng, spec=spec) for s in np.array_split(np.arange(500), 2)])
    return finish_design(d, spec).encoding


def test_coef_in_pass_design_scores_rows_of_another_pass_exactly(rng):
    enc = model_encoding(
        rng, ["c", "k", "a", "color", "b"], impute={"a": 999990.0, "b": "mean"}, indicator=True, min_level_count=10
    )
    assert [c.name for c in enc.columns] == ["c", "k", "a", "color", "b"]
    assert enc.columns[3].lumped == ("rare1", "rare2", None) and enc.columns[1].lumped == (40, 50)
    data = make_data(
        rng, 300, colors=np.array(["common", "rare1", "red", "edge", None], dtype=object), ks=np.array([1, 40, 7, 3])
    )
    sets = np.array_split(rng.permutation(300), 3)
    d = merge_right([block_of(take(data, s), rng) for s in sets])
    rows = take(data, np.concatenate(sets))
    Z = pass_design_dense(rows, d)
    # the dense Z is the pass design whose statistics d holds
    assert_stats_match(d.stats, block_stats(Z, rows["y"], rows["w"], rows["fold"]), rtol=1e-10, n_blocks=3)
    coef = rng.standard_normal(len(enc.feature_names))
    z = coef_in_pass_design(enc, coef, d, SPEC)
    assert not isinstance(z, str)
    numeric, categorical = raw_columns(rows, rng)
    eta = linear_predictor(enc, numeric, categorical, coef, 0.75)
    assert eta.unseen == {
        "color": {"red": int(np.count_nonzero(rows["color"] == "red"))},
        "k": {7: int(np.count_nonzero(rows["k"] == 7))},
    }
    scale = np.abs(Z) @ np.abs(z) + 0.75
    np.testing.assert_allclose(Z @ z + 0.75, eta.eta, rtol=0, atol=1e-12 * np.max(scale))
    # and the model's own design of those rows
    X = design_matrix(enc, numeric, categorical).X
    np.testing.assert_allclose(X @ coef + 0.75, eta.eta, rtol=0, atol=1e-12 * np.max(scale))


def test_coef_in_pass_design_reasons(rng):
    data = make_data(rng, 200)
    d = block_of(data)
    assert not np.isnan(d.fills).any()
    no_b = model_encoding(rng, ["a", "color", "k", "c"], impute={"a": "mean"})
    reason = coef_in_pass_design(no_b, np.ones(len(no_b.feature_names)), d, SPEC)
    assert isinstance(reason, str) and "'b'" in reason
    b_not_imputed = model_encoding(rng, FEATURES, impute={"a": "mean"})
    assert b_not_imputed.columns[2].impute is None
    reason = coef_in_pass_design(b_not_imputed, np.ones(len(b_not_imputed.feature_names)), d, SPEC)
    assert isinstance(reason, str) and "'b'" in reason and "impute" in reason
    k_numeric = Encoding.from_json(
        {
            "columns": [
                {"name": "a", "impute": 1.0},
                {"name": "color", "kind": "categorical", "levels": ["red"]},
                {"name": "b", "impute": 0.0},
                {"name": "k"},
                {"name": "c"},
            ]
        }
    )
    reason = coef_in_pass_design(k_numeric, np.ones(5), d, SPEC)
    assert isinstance(reason, str) and "'k'" in reason
    # without missing values in the pass, a model that does not impute is fine
    clean = block_of(take(data, np.flatnonzero(~data["b_miss"])))
    assert clean.missing_rows[1] == 0
    assert not isinstance(
        coef_in_pass_design(b_not_imputed, np.ones(len(b_not_imputed.feature_names)), clean, SPEC), str
    )


def test_coef_in_pass_design_model_with_a_column_absent_from_the_pass(rng):
    fitted = model_encoding(rng, FEATURES, impute={"a": "mean", "b": 2.5}, indicator=True)
    enc = Encoding((*fitted.columns, ColumnEncoding("z")))  # as fitted with a numeric feature z
    assert enc.source_columns[-1] == "z" and enc.feature_names[-1] == "z"
    d = block_of(make_data(rng, 100))
    z = coef_in_pass_design(enc, np.r_[np.zeros(len(fitted.feature_names)), 1.0], d, SPEC)
    assert isinstance(z, str) and "'z'" in z  # z scores: scoring without it would be wrong
    # a column the model does not use (coefficient 0) is no obstacle
    coef = np.r_[np.ones(len(fitted.feature_names)), 0.0]
    assert not isinstance(coef_in_pass_design(enc, coef, d, SPEC), str)


# --------------------------------------------------------------------------- 6. errors
def test_spec_errors():
    with pytest.raises(ValueError, match=r"\['nope'\] are not features"):
        DesignSpec.build(["a", "b"], categorical=["nope"])
    with pytest.raises(ValueError, match=r"categorical column\(s\) \['k'\]"):
        DesignSpec.build(["a", "k"], categorical=["k"], impute={"k": "mean"})
    with pytest.raises(ValueError, match="'k' is categorical"):
        ColumnSpec("k", categorical=True, impute="mean")
    with pytest.raises(ValueError, match="needs an imputation rule"):
        DesignSpec.build(["a", "b"], indicator=True)
    with pytest.raises(ValueError, match="needs an imputation rule"):
        ColumnSpec("a", indicator=True)
    with pytest.raises(ValueError, match="not features"):
        DesignSpec.build(["a"], impute={"x": "mean"})
    with pytest.raises(ValueError, match="'mean', 'zero' or a finite number"):
        ColumnSpec("a", impute=np.inf)
    with pytest.raises(ValueError, match="repeated"):
        DesignSpec((ColumnSpec("a"), ColumnSpec("a")))
    # one rule for every numeric column leaves the categorical ones alone
    spec = DesignSpec.build(["a", "k"], categorical=["k"], impute="zero", indicator=True)
    assert spec.imputed == ["a"] and spec.categorical == ["k"] and not spec.plain


def test_finish_raises_naming_a_mean_column_missing_in_every_row(rng):
    data = make_data(rng, 80)
    data["a_miss"][:] = True
    data["a"][:] = np.nan
    d = merge_design(block_of(take(data, np.arange(30))), block_of(take(data, np.arange(30, 80))))
    with pytest.raises(ValueError, match="column 'a' is missing in every row"):
        finish_design(d, SPEC)
    # the same rows with a imputed by a number are fine
    fin = finish_design(d, make_spec(impute={"a": 7.0, "b": 2.5}))
    assert fin.encoding.columns[0].impute == 7.0


def test_merge_of_different_pass_designs_raises(rng):
    data = make_data(rng, 50)
    d = block_of(data)
    spec_b = make_spec(impute={"b": 2.5})
    with pytest.raises(ValueError, match="different pass designs"):
        merge_design(d, block_of(take(data, np.flatnonzero(~data["a_miss"])), spec=spec_b))
    with pytest.raises(ValueError, match="different pass designs"):
        merge_design(d, empty_design(DesignSpec.build(["a", "b", "c", "k"], categorical=["k"], impute="mean")))
    with pytest.raises(ValueError, match="different pass designs"):
        merge_design(empty_design(DesignSpec.build(["x"])), d)


# --------------------------------------------------------------------------- 7. npz round trip
def test_design_stats_to_arrays_from_arrays_round_trip(rng, tmp_path):
    n = 120
    data = make_data(rng, n)
    spec = DesignSpec.build(["a", "s", "i", "t"], categorical=["s", "i", "t"], impute={"a": "mean"}, indicator=True)
    cats = [
        rng.choice(np.array(["x", "y", "1", "", None], dtype=object), n),
        rng.choice(np.array([-5, 0, 1, 2**40], dtype=object), n),
        rng.choice(np.array([True, False, None], dtype=object), n),
    ]
    d = block_design_stats(
        [data["a"]],
        [data["a_miss"]],
        [codes_of(c, rng) for c in cats],
        data["y"],
        data["w"],
        data["fold"],
        None,
        [0],
    )
    assert d.levels == (("", "1", "x", "y", None), (-5, 0, 1, 2**40), (False, True, None))
    np.savez(tmp_path / "d.npz", **d.to_arrays())
    with np.load(tmp_path / "d.npz", allow_pickle=False) as f:
        back = DesignStats.from_arrays({k: f[k] for k in f.files})
    assert back.levels == d.levels
    assert [[type(v) for v in lv] for lv in back.levels] == [[type(v) for v in lv] for lv in d.levels]
    assert (back.n_numeric, back.imputed) == (d.n_numeric, d.imputed)
    np.testing.assert_array_equal(back.fills, d.fills)
    for c0, c1 in zip(d.counts, back.counts, strict=True):
        np.testing.assert_array_equal(c0, c1)
        assert c1.dtype == np.int64
    for k, v in d.stats.to_arrays().items():
        np.testing.assert_array_equal(back.stats.to_arrays()[k], v, err_msg=k)
    f0, f1 = finish_design(d, spec), finish_design(back, spec)
    assert f0.encoding == f1.encoding
    np.testing.assert_array_equal(f0.stats.xx, f1.stats.xx)
    # the empty design (no level, NaN fills) too
    e = empty_design(spec)
    np.savez(tmp_path / "e.npz", **e.to_arrays())
    with np.load(tmp_path / "e.npz", allow_pickle=False) as f:
        eb = DesignStats.from_arrays({k: f[k] for k in f.files})
    assert eb.levels == ((), (), ()) and (eb.missing_rows == 0).all() and eb.stats.n_features == 2
    assert merge_design(eb, d).levels == d.levels


# --------------------------------------------------------------------------- 8. zero weights, one-level folds
def test_zero_weight_rows_and_a_fold_with_one_level(rng):
    n = 240
    data = make_data(rng, n, zero_w=0.2)
    data["fold"][:] = rng.integers(0, 3, n)
    data["fold"][:30] = 3  # fold 3: only "red" and k = 7, some weights 0
    data["color"][:30] = "red"
    data["k"][:30] = 7
    data["fold"][30:40] = 4  # fold 4: only zero weights
    data["w"][30:40] = 0.0
    data["color"][40:43] = "ghost"  # a level only in zero-weight rows
    data["w"][40:43] = 0.0
    assert np.any(data["w"][:30] == 0)
    sets = [np.arange(0, 35), np.arange(35, 120), np.arange(120, n)]
    d = merge_left([block_of(take(data, s), rng) for s in sets])
    ref, names, info = reference_stats(data)
    fin = finish_design(d, SPEC)
    assert "color=ghost" in names and fin.encoding.feature_names == names
    assert_stats_match(fin.stats, ref, rtol=1e-10, n_blocks=3)
    color = fin.encoding.columns[1]
    assert color.counts[color.levels.index("ghost")] == 0
    assert fin.stats.count[4] == 0 and fin.stats.weight_sum[4] == 0.0 and not fin.stats.xx[4].any()
    # fold 3: the one-hot columns of red and 7 are constant 1 there (zero centered sums)
    s = fin.stats.select(3)
    j = names.index("color=red")
    assert s.x_mean[0, j] == 1.0 and abs(s.xx[0, j, j]) <= 1e-12 * s.weight_sum[0]
    # lumping by rows of positive weight: ghost (0 rows) goes to <other>
    lumped = finish_design(d, make_spec(min_level_count=1))
    assert lumped.encoding.columns[1].lumped == ("ghost",)
    ref1, names1, _ = reference_stats(data, make_spec(min_level_count=1), min_count=1)
    assert lumped.encoding.feature_names == names1
    assert_stats_match(lumped.stats, ref1, rtol=1e-10)
