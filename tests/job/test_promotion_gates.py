"""Promotion gates: a model trained on a corrupted day is rejected, an identical rerun is promoted.

The gate arithmetic is checked against numpy on hand-made records; the baseline
(weighted means and SDs) against numpy on the rows; the whole decision end to
end with ``run_fit`` and the ``dreg`` CLI on a real hive-partitioned lake and a
multi-process ``LocalCluster``.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from dreg.core.stats import block_stats
from dreg.job.config import ConfigError
from dreg.job.errors import PromotionRejected
from dreg.job.gates import GATE_NAMES, evaluate_gates
from dreg.job.pipeline import run_fit
from dreg.job.record import Baseline, MetricsRecord, ModelRecord, RowsInfo
from dreg.job.registry import history, latest_version, list_versions, read_record
from tests.job.lake_helpers import (
    CLUSTER,
    FEATURES,
    config_dict,
    make_table,
    parse,
    run_cli,
    write_config,
    write_table,
)

ALL_GATES = {name: 0.5 for name in GATE_NAMES}


def baseline(rows=1000, y=(2.0, 3.0), feats=None) -> Baseline:
    feats = feats or {"a": (0.0, 1.0), "b": (10.0, 2.0)}
    return Baseline(
        rows=rows,
        weight_sum=float(rows),
        target_mean=y[0],
        target_sd=y[1],
        feature_mean={k: v[0] for k, v in feats.items()},
        feature_sd={k: v[1] for k, v in feats.items()},
    )


def champion(base: Baseline | None = None, rows: int | None = 1000) -> ModelRecord:
    return ModelRecord(
        fit={"features": ["a", "b"], "coef": [1.0, 2.0], "intercept": 0.5},
        version="20261101T000000000000Z",
        rows=None if rows is None else RowsInfo(used=rows, dropped=0, weight_sum=float(rows)),
        baseline=base,
    )


def metrics(cv_mse: float | None) -> MetricsRecord:
    return MetricsRecord.from_json({"cv_mse": cv_mse})


def by_name(gates) -> dict:
    return {g.name: g for g in gates}


# --------------------------------------------------------------------------- the arithmetic


def test_each_gate_value_against_its_formula() -> None:
    old = baseline(rows=1000, y=(2.0, 3.0), feats={"a": (0.0, 1.0), "b": (10.0, 2.0)})
    new = baseline(rows=1500, y=(3.0, 4.0), feats={"a": (0.3, 1.0), "b": (11.0, 2.0), "c": (5.0, 1.0)})
    g = by_name(evaluate_gates({k: 10.0 for k in GATE_NAMES}, champion(old), metrics(8.0), 10.0, new))
    assert list(g) == list(GATE_NAMES)
    assert g["cv_error"].value == pytest.approx(10.0 / 8.0 - 1.0, rel=1e-15)
    assert g["rows"].value == pytest.approx(0.5, rel=1e-15)
    assert g["target_mean"].value == pytest.approx(1.0 / math.sqrt((9 + 16) / 2), rel=1e-15)
    assert g["target_sd"].value == pytest.approx(4.0 / 3.0 - 1.0, rel=1e-15)
    # worst of a (0.3 / 1) and b (1 / 2); c is new, not compared
    assert g["feature_mean"].value == pytest.approx(0.5, rel=1e-15)
    assert "'b'" in g["feature_mean"].detail and "2 features" in g["feature_mean"].detail
    assert all(x.passed for x in g.values())


def test_shrinking_is_measured_like_growing() -> None:
    """rows and target SD are ratios in both directions: halving counts like doubling."""
    old = baseline(rows=1000, y=(0.0, 4.0))
    g = by_name(evaluate_gates(ALL_GATES, champion(old), metrics(1.0), 1.0, baseline(rows=500, y=(0.0, 2.0))))
    assert g["rows"].value == pytest.approx(1.0) and g["target_sd"].value == pytest.approx(1.0)
    assert g["rows"].passed is False and g["target_sd"].passed is False


@pytest.mark.parametrize("challenger, passed", [(12.0, True), (np.nextafter(12.0, 13.0), False), (1.0, True)])
def test_the_limit_is_inclusive(challenger: float, passed: bool) -> None:
    g = by_name(evaluate_gates({"cv_error": 0.5}, champion(baseline()), metrics(8.0), challenger, baseline()))
    assert list(g) == ["cv_error"] and g["cv_error"].passed is passed


def test_disabled_and_unevaluable_gates() -> None:
    """``None`` turns a gate off; a champion without baseline or CV error skips (passed None), never fails."""
    only = evaluate_gates({"rows": 1.0, "cv_error": None}, champion(baseline()), metrics(1.0), 50.0, baseline())
    assert [x.name for x in only] == ["rows"]
    old_record = by_name(evaluate_gates(ALL_GATES, champion(None, rows=None), metrics(None), 50.0, baseline()))
    assert all(x.passed is None and x.value is None for x in old_record.values())
    assert "no CV error" in old_record["cv_error"].detail and "no baseline" in old_record["target_mean"].detail
    # rows falls back to the baseline's row count
    rows = by_name(evaluate_gates({"rows": 1.0}, champion(baseline(rows=10), rows=None), None, 1.0, baseline()))
    assert rows["rows"].value == pytest.approx(99.0) and rows["rows"].passed is False


def test_constant_columns() -> None:
    """Two constants: equal means are no shift, different ones an infinite one; a zero CV error is kept."""
    old = baseline(y=(1.0, 0.0), feats={"a": (3.0, 0.0), "b": (1.0, 1.0)})
    same = by_name(evaluate_gates(ALL_GATES, champion(old), metrics(0.0), 0.0, old))
    assert same["target_mean"].value == 0 and same["target_sd"].value == 0 and same["feature_mean"].value == 0
    assert same["cv_error"].value == 0
    moved = baseline(y=(2.0, 0.0), feats={"a": (4.0, 0.0), "b": (1.0, 1.0)})
    g = by_name(evaluate_gates(ALL_GATES, champion(old), metrics(0.0), 1e-3, moved))
    assert math.isinf(g["target_mean"].value) and math.isinf(g["feature_mean"].value)
    assert math.isinf(g["cv_error"].value)
    assert [n for n, x in g.items() if not x.passed] == ["cv_error", "target_mean", "feature_mean"]


def test_baseline_is_the_weighted_mean_and_sd_of_the_rows(rng: np.random.Generator) -> None:
    n = 3000
    X = rng.standard_normal((n, 3)) * [1.0, 5.0, 0.01] + [0.0, 1e6, -3.0]
    y = X @ [1.0, 1e-3, 10.0] + rng.standard_normal(n)
    w = rng.uniform(0.1, 3.0, n)
    folds = rng.integers(0, 5, n)
    b = Baseline.from_stats(block_stats(X, y, w, folds), ["p", "q", "r"])
    mean = np.average(X, axis=0, weights=w)
    sd = np.sqrt(np.average((X - mean) ** 2, axis=0, weights=w))
    ym = np.average(y, weights=w)
    assert b.rows == n and b.weight_sum == pytest.approx(w.sum(), rel=1e-13)
    np.testing.assert_allclose([b.feature_mean[k] for k in "pqr"], mean, rtol=1e-13)
    np.testing.assert_allclose([b.feature_sd[k] for k in "pqr"], sd, rtol=1e-10)
    assert b.target_mean == pytest.approx(ym, rel=1e-13)
    assert b.target_sd == pytest.approx(np.sqrt(np.average((y - ym) ** 2, weights=w)), rel=1e-10)
    assert Baseline.from_json(json.loads(json.dumps(b.to_json()))) == b


def test_gate_limits_are_validated() -> None:
    base = config_dict("lake", "reg")
    with pytest.raises(ConfigError, match="gates.cv_error"):
        parse({**base, "output": {**base["output"], "promotion": {"gates": {"cv_error": -1}}}})
    with pytest.raises(ConfigError, match="unknown key 'output.promotion.gates.cv_eror'"):
        parse({**base, "output": {**base["output"], "promotion": {"gates": {"cv_eror": 1}}}})
    cfg = parse({**base, "output": {**base["output"], "promotion": {"gates": {"rows": None}}}})
    assert cfg.output.promotion.gates.rows is None and cfg.output.promotion.gates.cv_error == 0.5


# --------------------------------------------------------------------------- end to end

DAYS = [f"2026-11-{d:02d}" for d in range(1, 9)]
ROWS = 150
MODEL = {"penalty": "lasso", "alphas": 20, "cv": 4, "random_state": 3}


def write_day(lake: Path, day: str, rng: np.random.Generator, corrupt: bool = False) -> None:
    for k in range(2):
        table = make_table(rng, ROWS, tag=f"{day}-{k}")
        if corrupt:  # an upstream bug: the target is pure noise
            i = table.schema.get_field_index("y")
            table = table.set_column(i, "y", pa.array(rng.standard_normal(ROWS) * 300.0))
        write_table(lake / f"day={day}" / f"part-{k}.parquet", table, row_group_size=64)


@pytest.fixture
def lake(tmp_path: Path, rng: np.random.Generator) -> Path:
    root = tmp_path / "lake"
    for day in DAYS:
        write_day(root, day, rng)
    return root


def cfg_dict(lake: Path, registry: Path, **output) -> dict:
    return config_dict(lake, registry, model=dict(MODEL), cluster=dict(CLUSTER), output=output)


@pytest.mark.cluster
def test_a_corrupted_day_is_rejected_by_its_gates_and_an_identical_rerun_is_promoted(
    lake: Path, tmp_path: Path, address: str, rng: np.random.Generator
) -> None:
    registry = tmp_path / "registry"
    config = write_config(tmp_path / "fit.yaml", cfg_dict(lake, registry))
    first = run_cli("fit", "--config", str(config), "--scheduler", address)
    assert first.returncode == 0, first.stderr
    v1 = latest_version(str(registry), "m")
    _, model1, metrics1 = read_record(f"{registry}/m")
    assert model1.baseline is not None and set(model1.baseline.feature_mean) == set(FEATURES)
    assert metrics1.promotion.status == "first" and metrics1.promotion.gates == ()

    write_day(lake, "2026-11-09", rng, corrupt=True)
    bad = run_cli("fit", "--config", str(config), "--scheduler", address)
    assert bad.returncode == 5, bad.stdout + bad.stderr
    assert "dreg: not promoted:" in bad.stderr and "gate cv_error failed" in bad.stderr
    assert "gate target_sd failed" in bad.stderr
    assert latest_version(str(registry), "m") == v1  # 'latest' kept
    versions = list_versions(str(registry), "m")
    assert len(versions) == 2
    _, rejected, rmetrics = read_record(f"{registry}/m/{versions[-1]}")
    gates = {g.name: g for g in rmetrics.promotion.gates}
    assert rmetrics.promotion.status == "rejected" and gates["cv_error"].passed is False
    assert gates["cv_error"].value == pytest.approx(rmetrics.cv_mse / metrics1.cv_mse - 1.0, rel=1e-12)
    assert rmetrics.cv_mse > 10 * metrics1.cv_mse
    assert rejected.promotion == rmetrics.promotion  # recorded in both files
    report = (registry / "m" / versions[-1] / "report.html").read_text()
    assert 'id="promotion"' in report and "FAILED" in report and "cv_error" in report
    rows = history(str(registry), "m")
    assert rows[-1]["status"] == "rejected" and "cv_error" in rows[-1]["gates"].split(",")
    shown = run_cli("history", f"{registry}/m")
    assert shown.returncode == 0 and "cv_error" in shown.stdout

    # the upstream bug is fixed: the day is removed and the same job reruns: promoted, gates ok
    shutil.rmtree(lake / "day=2026-11-09")
    rerun = run_cli("fit", "--config", str(config), "--scheduler", address)
    assert rerun.returncode == 0, rerun.stderr
    _, _, m3 = read_record(f"{registry}/m")
    assert m3.promotion.status == "promoted" and "unchanged" in m3.promotion.reason
    assert [g.passed for g in m3.promotion.gates] == [True] * len(GATE_NAMES)
    assert [g.value for g in m3.promotion.gates] == [0.0] * len(GATE_NAMES)


@pytest.mark.cluster
def test_a_healthy_new_day_passes_the_gates(lake: Path, tmp_path: Path, address: str, rng) -> None:
    registry = tmp_path / "registry"
    cfg = parse(cfg_dict(lake, registry))
    run_fit(cfg, scheduler=address, log=lambda s: None, tty=False)
    write_day(lake, "2026-11-09", rng)
    lines: list[str] = []
    out = run_fit(cfg, scheduler=address, log=lines.append, tty=False)
    promo = out.metrics.promotion
    assert promo.status == "promoted" and promo.rule == "new_rows"
    assert all(g.passed for g in promo.gates) and "gates passed: cv_error, rows" in promo.reason
    rows_gate = {g.name: g for g in promo.gates}["rows"]
    assert rows_gate.value == pytest.approx(len(DAYS + ["x"]) / len(DAYS) - 1.0, rel=1e-12)
    # the baseline recorded in model.json is the one the gates used next time
    _, stored, _ = read_record(f"{registry}/m")
    assert stored.baseline == out.model.baseline and stored.baseline.rows == out.metrics.rows


@pytest.mark.cluster
def test_gates_can_be_turned_off(lake: Path, tmp_path: Path, address: str, rng) -> None:
    registry = tmp_path / "registry"
    off = {name: None for name in GATE_NAMES}
    cfg = parse(cfg_dict(lake, registry, promotion={"gates": off, "tolerance": 0.5}))
    run_fit(cfg, scheduler=address, log=lambda s: None, tty=False)
    write_day(lake, "2026-11-09", rng, corrupt=True)
    out = run_fit(cfg, scheduler=address, log=lambda s: None, tty=False)  # like for like alone lets it through
    assert out.metrics.promotion.status == "promoted" and out.metrics.promotion.gates == ()
    strict = parse(cfg_dict(lake, tmp_path / "reg2", promotion={"gates": {**off, "cv_error": 0.5}}))
    shutil.rmtree(lake / "day=2026-11-09")
    run_fit(strict, scheduler=address, log=lambda s: None, tty=False)
    write_day(lake, "2026-11-09", rng, corrupt=True)
    with pytest.raises(PromotionRejected, match="gate cv_error failed") as info:
        run_fit(strict, scheduler=address, log=lambda s: None, tty=False)
    assert [g.name for g in info.value.outcome.metrics.promotion.gates] == ["cv_error"]
