"""DesignAccumulator (a file's row groups added in place) against the dense reference and
against merging each block's own statistics (dreg.core.design.block_design_stats)."""

from __future__ import annotations

import numpy as np
import pytest

from dreg.core.design import DesignAccumulator, DesignSpec, block_design_stats, finish_design, merge_design
from dreg.core.encode import union_levels
from dreg.core.stats import block_stats

SPEC = DesignSpec.build(["x1", "cA", "x2", "cB"], categorical=["cA", "cB"], impute="mean", indicator=True)


def codes(values) -> tuple[np.ndarray, list]:
    levels = list(dict.fromkeys(values.tolist()))
    index = {lv: i for i, lv in enumerate(levels)}
    return np.array([index[v] for v in values.tolist()], dtype=np.int64), levels


def make(seed: int, n: int = 700, big: float = 1e6):
    rng = np.random.default_rng(seed)
    x1 = rng.normal(big, 1.0, n)
    x1[rng.random(n) < 0.2] = np.nan
    x1[:60] = np.nan  # the first blocks miss x1 entirely: a new run once it is observed
    x2 = rng.normal(size=n)
    cA = rng.choice(["a", "b", "c", None], n).astype(object)
    cA[400:] = rng.choice(["d", "a"], n - 400)  # a level that appears late
    cB = rng.integers(0, 5, n)
    y = rng.normal(size=n) + np.nan_to_num(x1 - big)
    w = rng.random(n) + 0.1
    w[rng.random(n) < 0.05] = 0.0
    fold = rng.integers(0, 3, n)
    return x1, x2, cA, cB, y, w, fold


def blocks(data, cuts):
    x1, x2, cA, cB, y, w, fold = data
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        sl = slice(a, b)
        miss = np.isnan(x1[sl])
        yield ([x1[sl], x2[sl]], [miss if miss.any() else None, None], [codes(cA[sl]), codes(cB[sl])],
               y[sl], w[sl], fold[sl], None)  # fmt: skip


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("cuts", [[0, 50, 130, 300, 301, 560, 700], [0, 700], [0, 60, 700]])
def test_accumulator_equals_merged_blocks_and_the_dense_design(seed: int, cuts: list[int]) -> None:
    data = make(seed)
    acc = DesignAccumulator(SPEC)
    merged = None
    for args in blocks(data, cuts):
        acc.add(*args)
        one = block_design_stats(*args, [0, 1])
        merged = one if merged is None else merge_design(merged, one)
    got = finish_design(acc.finish(), SPEC)
    ref_blocks = finish_design(merged, SPEC)
    assert got.encoding.feature_names == ref_blocks.encoding.feature_names
    assert [c.levels for c in got.encoding.columns] == [c.levels for c in ref_blocks.encoding.columns]
    assert [c.counts for c in got.encoding.columns] == [c.counts for c in ref_blocks.encoding.columns]
    # the dense design, imputed with the weighted observed mean
    x1, x2, cA, cB, y, w, fold = data
    obs = ~np.isnan(x1)
    v = np.sum(w[obs] * x1[obs]) / np.sum(w[obs])
    assert got.encoding.columns[0].impute == pytest.approx(v, rel=1e-14)
    cols = [np.where(obs, x1, v), (~obs).astype(float)]
    cols += [np.array([t == lv for t in cA.tolist()], float) for lv in union_levels(cA.tolist())]
    cols.append(x2)
    cols += [(cB == lv).astype(float) for lv in union_levels(cB.tolist())]
    ref = block_stats(np.column_stack(cols), y, w, fold)
    for name in ("x_mean", "xx", "xy", "yy", "weight_sum", "y_mean"):
        a, b = getattr(got.stats, name), getattr(ref, name)
        scale = max(1.0, float(np.max(np.abs(b))))
        assert float(np.max(np.abs(a - b))) <= 1e-9 * scale, name


def test_accumulator_refuses_mixed_level_types_naming_the_column() -> None:
    acc = DesignAccumulator(DesignSpec.build(["c", "x"], categorical=["c"]))
    x = np.zeros(3)
    acc.add([x], [], [(np.array([0, 1, 0]), ["a", "b"])], np.ones(3), None, None, None)
    with pytest.raises(ValueError, match="categorical column 'c'.*share one type"):
        acc.add([x], [], [(np.array([0, 0, 0]), [7])], np.ones(3), None, None, None)
