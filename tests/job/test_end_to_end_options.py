"""``data.weight``, ``data.fold_column``, ``penalty_factor``, bounds and ``positive`` end to end through
``dreg fit --config`` (the command's ``main``, against a shared multi-process cluster), with ``standardize`` true
and false, against the independent reference of :mod:`tests.estimators.enet_reference` on the same
rows read into memory with pyarrow: every fold's held-out error at every alpha of the grid (per-fold
refits on the training rows of the lake's fold column), the chosen alpha and the final model.

Also: negative weights in a lake (exit 3, the message names the file, the column and the count),
windows over an ``hour`` partition (``hour=9`` < ``hour=10``: numeric, not lexicographic, order), and a
fold column given by ``fold=K`` partitions.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import dreg
from dreg.job.config import Window
from dreg.job.lake import open_lake
from tests.estimators.enet_reference import enet_cv
from tests.job.lake_helpers import (
    CLUSTER,
    parse,
    registry_state,
    write_config,
)

FEATURES = ["x1", "x2", "x3", "x4"]
HOURS = [8, 9, 10, 11]  # as text "10" < "11" < "8" < "9"
FILES_PER_HOUR = 2
ROWS = 90
INF = np.inf

# (config name, model section, reference options): weights and the fold column in every one
CASES = {
    "enet-standardized-pf-bounds": (
        {
            "penalty": "elasticnet",
            "l1_ratio": 0.6,
            "standardize": True,
            "penalty_factor": {"x1": 0.0, "x3": 2.5},
            "lower_bounds": {"x2": -0.25},
            "upper_bounds": {"x1": 0.9, "x4": 0.0},
        },
        {
            "l1_ratio": 0.6,
            "standardize": True,
            "penalty_factor": [0.0, 1.0, 2.5, 1.0],
            "lower": [-INF, -0.25, -INF, -INF],
            "upper": [0.9, INF, INF, 0.0],
        },
    ),
    "lasso-unstandardized-positive-pf": (
        {"penalty": "lasso", "standardize": False, "positive": True, "penalty_factor": {"x4": 0.5, "x3": 0.0}},
        {"l1_ratio": 1.0, "standardize": False, "positive": True, "penalty_factor": [1.0, 1.0, 0.0, 0.5]},
    ),
    "ridge-standardized-bounds": (
        {"penalty": "ridge", "standardize": True, "lower_bounds": -0.3, "upper_bounds": {"x1": 0.8}},
        {"l1_ratio": 0.0, "standardize": True, "lower": -0.3, "upper": [0.8, INF, INF, INF]},
    ),
}


def rel(hour: int, part: int) -> str:
    return f"hour={hour}/part-{part}.parquet"


def make_table(rng: np.random.Generator, n: int) -> pa.Table:
    """Four features on different scales (x3 correlated with x1), heteroscedastic noise that the weights
    undo, and fold labels 0..3 with a few -1 (always in training)."""
    X = rng.standard_normal((n, 4)) * [1.0, 3.0, 0.5, 2.0] + [0.0, 5.0, -1.0, 10.0]
    X[:, 2] += 0.3 * X[:, 0]
    w = rng.uniform(0.2, 3.0, n)
    y = X @ np.array([1.2, -0.5, 0.8, -0.3]) + 4.0 + rng.standard_normal(n) / np.sqrt(w)
    fold = rng.integers(0, 4, n)
    fold[rng.random(n) < 0.05] = -1
    cols = {name: pa.array(X[:, j]) for j, name in enumerate(FEATURES)}
    return pa.table({**cols, "w": pa.array(w), "fold": pa.array(fold, pa.int64()), "y": pa.array(y)})


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("options")


@pytest.fixture(scope="module")
def lake(workdir: Path) -> Path:
    rng = np.random.default_rng(1601)
    root = workdir / "lake"
    for hour in HOURS:
        for part in range(FILES_PER_HOUR):
            path = root / rel(hour, part)
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(make_table(rng, ROWS), path, row_group_size=40)
    return root


def config(lake: Path, registry: Path, name: str, model: dict, **data) -> dict:
    return {
        "data": {"path": str(lake), "target": "y", "features": FEATURES, "weight": "w", "fold_column": "fold", **data},
        "model": {"alphas": 8, **model},
        "cluster": dict(CLUSTER),
        "output": {"registry": str(registry), "name": name},
    }


def read_rows(files) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(X, y, w, folds)`` of lake files, read with pyarrow, in lake order."""
    tables = [pq.read_table(f.path) for f in files]
    X = np.concatenate([np.column_stack([t.column(c).to_numpy() for c in FEATURES]) for t in tables])
    y, w, folds = (np.concatenate([t.column(c).to_numpy() for t in tables]) for c in ("y", "w", "fold"))
    return X, y, w, folds


def assert_matches_reference(est, X, y, w, folds, options: dict) -> None:
    """Held-out errors per fold and alpha, the chosen alpha and the final model of the reference's
    per-fold refits on dreg's grid."""
    options = dict(options)
    ref = enet_cv(X, y, w, folds, est.alphas_, options.pop("l1_ratio"), **options)
    assert est.n_folds_ == 4 and est.mse_path_.shape == (8, 4)
    np.testing.assert_allclose(est.mse_path_, ref.mse_path, rtol=1e-8)
    assert est.alpha_ == ref.alpha == est.chosen_alpha_
    scale = max(np.abs(ref.final.coef).max(), 1e-12)
    np.testing.assert_allclose(est.coef_, ref.final.coef, rtol=1e-8, atol=1e-8 * scale)
    assert est.intercept_ == pytest.approx(ref.final.intercept, rel=1e-8)


@pytest.fixture(scope="module")
def cli_fits(lake: Path, workdir: Path, address: str) -> dict:
    """Every case of CASES through ``dreg fit --config`` (:func:`dreg.job.cli.main`, the command's code
    path without an interpreter start per case; ``test_cli.py`` runs the command in subprocesses):
    name -> exit code."""
    from dreg.job.cli import main

    registry = workdir / "registry"
    out = {}
    for name, (model, _) in CASES.items():
        cfg = write_config(workdir / f"{name}.yaml", config(lake, registry, name, model))
        out[name] = main(["fit", "--config", str(cfg), "--scheduler", address])
    return out


@pytest.mark.cluster
@pytest.mark.parametrize("name", list(CASES))
def test_dreg_fit_with_weights_fold_column_and_options_matches_the_reference(
    cli_fits: dict, lake: Path, workdir: Path, name: str
) -> None:
    assert cli_fits[name] == 0
    registry = workdir / "registry"
    est = dreg.load_model(f"{registry}/{name}")
    files = open_lake(str(lake)).files
    X, y, w, folds = read_rows(files)
    assert_matches_reference(est, X, y, w, folds, CASES[name][1])

    version = (registry / name / "latest").read_text().strip()
    model = json.loads((registry / name / version / "model.json").read_text())
    assert model["features"] == FEATURES
    assert (model["weight"], model["config"]["data"]["fold_column"]) == ("w", "fold")
    assert model["rows"]["weight_sum"] == pytest.approx(w.sum(), rel=1e-12)
    metrics = json.loads((registry / name / version / "metrics.json").read_text())
    assert metrics["rows"] == len(y) == len(HOURS) * FILES_PER_HOUR * ROWS


@pytest.mark.cluster
def test_the_options_bind_in_the_fitted_models(cli_fits: dict, workdir: Path) -> None:
    """The options are not silently ignored: bounds and positivity are active, an unpenalized feature
    stays in the model at the largest alpha of the grid."""
    registry = workdir / "registry"
    assert cli_fits == dict.fromkeys(CASES, 0)
    enet = dreg.load_model(f"{registry}/enet-standardized-pf-bounds")
    assert enet.coef_[0] == 0.9 and enet.coef_[1] == -0.25  # x1 at its upper bound, x2 at its lower one
    np.testing.assert_array_equal(enet.coef_path_[0], [0.9, 0.0, 0.0, 0.0])  # x1 unpenalized (and bounded)
    lasso = dreg.load_model(f"{registry}/lasso-unstandardized-positive-pf")
    assert np.all(lasso.coef_ >= 0) and lasso.coef_[1] == 0 and lasso.coef_[3] == 0  # x2, x4 < 0 without it
    assert lasso.coef_path_[0, 2] > 0 and np.all(lasso.coef_path_[0, [0, 1, 3]] == 0)  # x3 unpenalized
    ridge = dreg.load_model(f"{registry}/ridge-standardized-bounds")
    assert ridge.coef_[0] == 0.8 and ridge.coef_[1] == -0.3


# --------------------------------------------------------------------------- negative weights


def write_bad_lake(lake: Path, root: Path, column: str, rows: list[int], values: list[float]) -> Path:
    """A copy of ``lake`` (row groups of 40 rows) whose ``hour=10/part-1`` file has ``values`` in
    ``column`` at ``rows``; returns that file's path."""
    bad_file = root / rel(10, 1)
    for f in open_lake(str(lake)).files:
        target = root / f.relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        table = pq.read_table(f.path)
        if target == bad_file:
            v = table.column(column).to_numpy().copy()
            v[rows] = values
            table = table.set_column(table.schema.get_field_index(column), column, pa.array(v))
        pq.write_table(table, target, row_group_size=40)
    return bad_file


def fit_exit(lake: Path, registry: Path, cfg_path: Path, address: str, capsys) -> tuple[int, str]:
    """``dreg fit`` (:func:`dreg.job.cli.main`) of the first case on ``lake``: (exit code, last stderr line)."""
    from dreg.job.cli import main

    name, (model, _) = next(iter(CASES.items()))
    cfg = write_config(cfg_path, config(lake, registry, name, model))
    capsys.readouterr()
    code = main(["fit", "--config", str(cfg), "--scheduler", address])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert registry_state(registry, name) == ([], None)  # nothing written
    return code, err.strip().splitlines()[-1]


@pytest.mark.cluster
def test_negative_weights_in_a_lake_exit_3_naming_file_and_column(
    lake: Path, address: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad_file = write_bad_lake(lake, tmp_path / "lake", "w", [3, 17, 21], [-1.0, -0.5, -2.0])  # one row group
    code, last = fit_exit(tmp_path / "lake", tmp_path / "registry", tmp_path / "neg.yaml", address, capsys)
    assert code == 3, last
    assert last == f"dreg: data error: {bad_file}: column 'w' has 3 negative weight(s)", last


@pytest.mark.cluster
def test_negative_weights_in_several_row_groups_are_counted_per_file(
    lake: Path, address: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad_file = write_bad_lake(lake, tmp_path / "lake", "w", [3, 50, 77], [-1.0, -0.5, -2.0])  # row groups 0, 1, 1
    code, last = fit_exit(tmp_path / "lake", tmp_path / "registry", tmp_path / "neg.yaml", address, capsys)
    assert code == 3, last
    assert last == f"dreg: data error: {bad_file}: column 'w' has 3 negative weight(s)", last


@pytest.mark.cluster
def test_nan_weights_in_several_row_groups_are_counted_per_file(
    lake: Path, address: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad_file = write_bad_lake(lake, tmp_path / "lake", "w", [3, 50, 77], [np.nan, np.nan, np.inf])
    code, last = fit_exit(tmp_path / "lake", tmp_path / "registry", tmp_path / "nan.yaml", address, capsys)
    assert code == 3, last
    assert last.startswith(f"dreg: data error: {bad_file}: 3 row(s) with null, NaN or infinite values"), last
    assert "column 'w': 3" in last


# --------------------------------------------------------------------------- hour partitions


def test_window_and_filters_order_hour_partitions_numerically(lake: Path) -> None:
    """``hour=9`` precedes ``hour=10``: the last two hours are 10 and 11 (as text they would be 8 and 9),
    and ``hour >= 9`` keeps 9, 10 and 11 (as text only 9)."""
    win = open_lake(str(lake), window=Window(column="hour", last=2))
    assert win.window_values == ("10", "11")
    assert sorted({dict(f.partitions)["hour"] for f in win.files}, key=int) == ["10", "11"]
    assert len(win.files) == 2 * FILES_PER_HOUR and win.pruned == 2 * FILES_PER_HOUR
    three = open_lake(str(lake), window=Window(column="hour", last=3))
    assert three.window_values == ("9", "10", "11")
    flt = parse(config(lake, Path("/r"), "m", {}, filters=["hour >= 9"])).data.filters
    kept = open_lake(str(lake), filters=flt)
    assert sorted({dict(f.partitions)["hour"] for f in kept.files}, key=int) == ["9", "10", "11"]


@pytest.mark.cluster
def test_a_window_over_hours_fits_the_last_hours_only(lake: Path, address: str, tmp_path: Path) -> None:
    from dreg.job.pipeline import run_fit

    model, options = CASES["enet-standardized-pf-bounds"]
    cfg = parse(config(lake, tmp_path / "registry", "win", model, window={"column": "hour", "last": 2}))
    out = run_fit(cfg, scheduler=address, log=lambda s: None, tty=False)
    assert out.model.data.window == {"column": "hour", "values": ["10", "11"]}
    files = [f for f in open_lake(str(lake)).files if dict(f.partitions)["hour"] in ("10", "11")]
    assert [fp["path"] for fp in out.model.data.fingerprint] == [f.path for f in files]
    assert out.metrics.rows == 2 * FILES_PER_HOUR * ROWS
    assert_matches_reference(out.estimator, *read_rows(files), options)


@pytest.mark.cluster
def test_a_fold_column_given_by_hive_partitions(address: str, tmp_path: Path) -> None:
    """``data.fold_column`` naming a partition column (``fold=K/...``, no such column in the files):
    each file's rows are in fold K."""
    from dreg.job.pipeline import run_fit

    rng = np.random.default_rng(1606)
    root = tmp_path / "lake"
    for k in range(4):
        path = root / f"fold={k}" / "part-0.parquet"
        path.parent.mkdir(parents=True)
        pq.write_table(make_table(rng, 70 + 10 * k).drop_columns(["fold"]), path, row_group_size=40)
    model, options = CASES["lasso-unstandardized-positive-pf"]
    out = run_fit(parse(config(root, tmp_path / "registry", "pfold", model)), scheduler=address, log=lambda s: None)
    files = open_lake(str(root)).files
    tables = [pq.read_table(f.path) for f in files]
    X = np.concatenate([np.column_stack([t.column(c).to_numpy() for c in FEATURES]) for t in tables])
    y, w = (np.concatenate([t.column(c).to_numpy() for t in tables]) for c in ("y", "w"))
    folds = np.concatenate(
        [np.full(t.num_rows, int(dict(f.partitions)["fold"])) for f, t in zip(files, tables, strict=True)]
    )
    assert_matches_reference(out.estimator, X, y, w, folds, options)
    assert out.metrics.rows == 70 + 80 + 90 + 100
