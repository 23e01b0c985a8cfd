"""``model.max_gram_bytes``: a design too wide for the Gram engine is refused, never an out-of-memory.

The Gram engine keeps ``(cv + 1) x p^2 x 8`` bytes of statistics for ``p`` design
columns (numeric columns, missing indicators, categorical levels).  Numeric columns
are counted before any cluster starts; a categorical column's levels are counted by
the worker reading a file, before its sums grow, and over the whole lake after the
merge.  Real Parquet files on a multi-process ``LocalCluster``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dreg.core.design import DesignAccumulator, DesignSpec, TooManyColumns
from dreg.job.errors import DataError
from dreg.job.pipeline import max_design_columns, run_fit
from tests.job.lake_helpers import CLUSTER, parse, run_cli, write_config

CV = 3
LIMIT = 30  # design columns
MAX_GRAM_BYTES = (CV + 1) * LIMIT**2 * 8  # 28,800: exactly LIMIT columns fit


def write_file(path: Path, levels: list[str], rng: np.random.Generator, n: int = 200) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    city = [levels[i % len(levels)] for i in range(n)]
    table = pa.table({"x1": x1, "x2": x2, "city": city, "y": x1 - 2 * x2 + rng.normal(size=n)})
    pq.write_table(table, path)


def config(lake: Path, registry: Path, **model) -> dict:
    return {
        "data": {"path": str(lake), "target": "y", "features": ["x1", "x2", "city"]},
        "model": {"penalty": "lasso", "alphas": 5, "cv": CV, "max_gram_bytes": MAX_GRAM_BYTES, "engine": "gram", **model},
        "cluster": dict(CLUSTER),
        "output": {"registry": str(registry), "name": "m", "promotion": {"enabled": False}},
    }


def test_the_limit_is_the_largest_design_that_fits() -> None:
    assert max_design_columns(MAX_GRAM_BYTES, CV) == LIMIT
    assert max_design_columns(MAX_GRAM_BYTES - 1, CV) == LIMIT - 1
    # the default, 2 GiB, with 5 folds: 6,688 columns (6 Gram matrices of 358 MB)
    assert max_design_columns(2**31, 5) == 6688
    assert 6 * 6688**2 * 8 <= 2**31 < 6 * 6689**2 * 8


def test_the_accumulator_refuses_to_grow_past_the_limit(rng: np.random.Generator) -> None:
    spec = DesignSpec.build(["x", "c"], ["c"])
    acc = DesignAccumulator(spec, max_columns=10)
    y = rng.normal(size=12)
    acc.add([rng.normal(size=12)], [], [(np.arange(12) % 9, [f"l{i}" for i in range(9)])], y, None, None, None)
    with pytest.raises(TooManyColumns, match=r"11 columns so far \(1 numeric, 0 missing indicators, 10 categorical "
                       r"levels: 'c' 10\), more than the 10"):
        acc.add([rng.normal(size=12)], [], [(np.zeros(12, dtype=np.int64), ["new"])], y, None, None, None)


def test_too_many_numeric_columns_is_a_config_error_before_any_cluster(tmp_path: Path, rng) -> None:
    write_file(tmp_path / "lake" / "a.parquet", ["p", "q"], rng)
    cfg = config(tmp_path / "lake", tmp_path / "reg", max_gram_bytes=(CV + 1) * 2**2 * 8)  # 2 columns
    path = write_config(tmp_path / "c.yaml", cfg)
    out = run_cli("fit", "--config", str(path), "--scheduler", "tcp://127.0.0.1:9")  # dead: never contacted
    assert out.returncode == 2, out.stdout + out.stderr
    assert "3 feature column(s) make a design of at least 3 columns, more than the 2" in out.stderr
    assert "model.max_gram_bytes=128" in out.stderr
    assert not (tmp_path / "reg").exists()


@pytest.mark.cluster
def test_a_file_with_too_many_levels_is_a_data_error_naming_file_and_column(tmp_path: Path, address, rng) -> None:
    lake = tmp_path / "lake"
    write_file(lake / "day=1" / "a.parquet", ["p", "q"], rng)
    write_file(lake / "day=2" / "b.parquet", [f"city-{i}" for i in range(40)], rng)
    with pytest.raises(DataError) as info:
        run_fit(parse(config(lake, tmp_path / "reg")), scheduler=address, log=lambda s: None, tty=False)
    msg = str(info.value)
    assert "day=2/b.parquet" in msg and "'city' 40" in msg and f"more than the {LIMIT}" in msg
    assert "raise model.max_gram_bytes" in msg
    assert not (tmp_path / "reg").exists()


@pytest.mark.cluster
def test_levels_that_fit_per_file_but_not_together_are_refused_after_the_merge(
    tmp_path: Path, address, rng
) -> None:
    lake = tmp_path / "lake"
    write_file(lake / "a.parquet", [f"a{i}" for i in range(20)], rng)  # 22 columns: fits
    write_file(lake / "b.parquet", [f"b{i}" for i in range(20)], rng)  # 22 columns: fits
    with pytest.raises(DataError) as info:
        run_fit(parse(config(lake, tmp_path / "reg")), scheduler=address, log=lambda s: None, tty=False)
    msg = str(info.value)
    assert "42 columns over the lake's 2 file(s) (2 numeric, 0 missing indicators, 40 categorical levels: 'city' 40)" in msg
    assert f"more than the {LIMIT}" in msg
    # the same lake with room for it fits
    out = run_fit(
        parse(config(lake, tmp_path / "reg", max_gram_bytes=(CV + 1) * 42**2 * 8)),
        scheduler=address,
        log=lambda s: None,
        tty=False,
    )
    assert len(out.estimator.coef_) == 42


@pytest.mark.parametrize("value", [0, -1, 1.5])
def test_max_gram_bytes_must_be_a_positive_integer(tmp_path: Path, value) -> None:
    from dreg.job.errors import ConfigError

    with pytest.raises(ConfigError, match="model.max_gram_bytes"):
        parse(config(tmp_path, tmp_path / "reg", max_gram_bytes=value))
