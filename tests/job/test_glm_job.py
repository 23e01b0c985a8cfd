"""``dreg fit`` / ``dreg predict`` for binomial and Poisson on a real lake and a multi-process cluster.

The lake job must give the model the estimator gives on the same rows, folds
and grid in memory; both ways of reaching the rows again (``data.passes``:
persist, reread) give the same model; predictions, metrics, promotion and the
record carry the family.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import dreg
from dreg.job.errors import DataError
from dreg.job.lake import file_fold_ids, open_lake
from dreg.job.pipeline import run_fit, run_predict
from dreg.job.registry import read_record
from tests.job.lake_helpers import CLUSTER, parse, run_cli, write_config

FEATURES = ["x_a", "x_b", "x_big", "x_noise"]
BETA = np.array([1.0, -0.8, 0.5, 0.0])
MODEL = {"penalty": "lasso", "alphas": 15, "cv": 3, "random_state": 4}
ROWS = 400


def write_day(lake: Path, day: int, rng: np.random.Generator, family: str, labels=(0, 1)) -> None:
    for part in range(2):
        X = rng.standard_normal((ROWS, 4))
        X[:, 2] = 1e5 + X[:, 2]  # a feature mean of 1e5: centering on the workers keeps the passes exact
        eta = 0.3 + (X - [0, 0, 1e5, 0]) @ BETA
        if family == "binomial":
            y01 = rng.random(ROWS) < 1.0 / (1.0 + np.exp(-eta))
            y = np.where(y01, labels[1], labels[0])
        else:
            y = rng.poisson(np.exp(0.5 * eta)).astype(np.int64)
        table = pa.table({**{f: X[:, j] for j, f in enumerate(FEATURES)}, "y": y, "id": np.arange(ROWS)})
        path = lake / f"day=2026-11-{day:02d}" / f"part-{part}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path, row_group_size=150)


def make_lake(root: Path, family: str, rng: np.random.Generator, days=range(1, 4), labels=(0, 1)) -> Path:
    for d in days:
        write_day(root, d, rng, family, labels)
    return root


def in_memory(lake: Path, cv: int = MODEL["cv"], seed: int = MODEL["random_state"]):
    """``(X, y, folds)`` of the lake in file order with the job's per-file folds."""
    Xs, ys, fs = [], [], []
    for f in open_lake(str(lake)).files:
        t = pq.read_table(f.path)
        Xs.append(np.column_stack([t.column(c).to_numpy().astype(np.float64) for c in FEATURES]))
        ys.append(t.column("y").to_numpy())
        fs.append(file_fold_ids(f, 0, t.num_rows, cv, seed))
    return np.concatenate(Xs), np.concatenate(ys), np.concatenate(fs)


def cfg(lake: Path, registry: Path, family: str, passes: str = "auto", **model) -> dict:
    return {
        "data": {"path": str(lake), "target": "y", "features": FEATURES, "passes": passes},
        "model": {"family": family, **MODEL, **model},
        "cluster": dict(CLUSTER),
        "output": {"registry": str(registry), "name": "m"},
    }


def fit(c: dict, address: str, log=None):
    return run_fit(parse(c), scheduler=address, log=log or (lambda s: None), tty=False)


@pytest.mark.cluster
@pytest.mark.parametrize("family", ["binomial", "poisson"])
def test_lake_fit_equals_the_estimator_in_memory_in_both_pass_modes(
    family: str, tmp_path: Path, address: str, rng: np.random.Generator
) -> None:
    lake = make_lake(tmp_path / "lake", family, rng)
    lines: list[str] = []
    persisted = fit(cfg(lake, tmp_path / "r1", family, "persist"), address, lines.append)
    reread = fit(cfg(lake, tmp_path / "r2", family, "reread"), address)
    X, y, folds = in_memory(lake)
    cls = dreg.LogisticRegressionCV if family == "binomial" else dreg.PoissonRegressorCV
    ref = cls(l1_ratio=1.0, alphas=15).fit(X, y, folds=folds)
    for out in (persisted, reread):
        est = out.estimator
        assert type(est) is cls
        np.testing.assert_allclose(est.alphas_, ref.alphas_, rtol=1e-12)
        assert est.chosen_alpha_index_ == ref.chosen_alpha_index_
        np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(est.intercept_, ref.intercept_, rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(est.deviance_path_, ref.deviance_path_, rtol=1e-7)
        m = out.metrics
        assert m.family == family and m.cv_mse is None and m.cv_error == m.cv_deviance
        assert m.cv_deviance == pytest.approx(float(est.deviance_mean_[0, est.chosen_alpha_index_]), rel=1e-15)
        assert 3 <= m.n_passes <= 30
        assert (m.cv_auc is not None) == (family == "binomial")
    assert persisted.metrics.passes_mode == "persist" and reread.metrics.passes_mode == "reread"
    np.testing.assert_allclose(persisted.estimator.coef_, reread.estimator.coef_, rtol=1e-12, atol=1e-14)
    assert any("held in worker memory" in s for s in lines)
    _, model, metrics = read_record(f"{tmp_path / 'r1'}/m")
    assert model.family == family and metrics.family == family
    assert model.coef.shape == (4,)
    # the job's report: deviance curves, and for binomial the AUC curve and calibration plot
    (report,) = (tmp_path / "r1" / "m").glob("*/report.html")
    html = report.read_text()
    assert "is not available" not in html and "Mean held-out mean deviance" in html
    assert ('<h2>Calibration</h2>' in html) == ('<h2>Held-out AUC</h2>' in html) == (family == "binomial")
    if family == "binomial":
        assert model.classes == [0, 1] or model.classes == [0.0, 1.0]
        cal = model.calibration
        assert cal and sum(b["weight"] for b in cal) == pytest.approx(len(y), rel=1e-12)
        assert all(0.0 <= b["predicted"] <= 1.0 and 0.0 <= b["observed"] <= 1.0 for b in cal)
        # observed rates against the held-out predictions: the model is well specified, so they agree
        w = np.array([b["weight"] for b in cal])
        err = np.array([b["observed"] - b["predicted"] for b in cal])
        assert float(np.abs(err) @ w / w.sum()) < 0.08


@pytest.mark.cluster
def test_binomial_labels_other_than_0_1_and_predict(tmp_path: Path, address: str, rng) -> None:
    lake = make_lake(tmp_path / "lake", "binomial", rng, labels=(3, 7))
    out = fit(cfg(lake, tmp_path / "reg", "binomial"), address)
    est = out.estimator
    np.testing.assert_array_equal(est.classes_, [3, 7])
    X, y, folds = in_memory(lake)
    ref = dreg.LogisticRegressionCV(alphas=15).fit(X, y, folds=folds)
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-7, atol=1e-9)
    scores = tmp_path / "scores"
    run_predict(f"{tmp_path / 'reg'}/m", str(lake), str(scores), keep=["id"], log=lambda s: None,
                cluster_cfg=parse(cfg(lake, tmp_path / "reg", "binomial")).cluster)
    got = pq.read_table(sorted(scores.rglob("*.parquet"))[0])
    first = open_lake(str(lake)).files[0]
    t = pq.read_table(first.path)
    Xf = np.column_stack([t.column(c).to_numpy().astype(np.float64) for c in FEATURES])
    np.testing.assert_allclose(got.column("probability").to_numpy(), est.predict_proba(Xf)[:, 1], rtol=1e-12)
    np.testing.assert_array_equal(got.column("prediction").to_numpy(), est.predict(Xf))
    assert got.schema.metadata[b"dreg.model"] == b"m"


@pytest.mark.cluster
def test_poisson_predict_writes_the_mean_with_lineage(tmp_path: Path, address: str, rng) -> None:
    """``dreg predict`` (the CLI, its own embedded cluster) of a Poisson model: ``prediction`` is the
    mean exp(b + x beta) of every row of every file, no ``probability`` column; the family and the
    model are in the file's metadata."""
    lake = make_lake(tmp_path / "lake", "poisson", rng, days=[1, 2])
    out = fit(cfg(lake, tmp_path / "reg", "poisson"), address)
    est = out.estimator
    assert type(est) is dreg.PoissonRegressorCV
    scores = tmp_path / "scores"
    proc = run_cli("predict", "--model", f"{tmp_path / 'reg'}/m", "--data", str(lake), "--output", str(scores),
                   "--keep", "id", "--scheduler", address)
    assert proc.returncode == 0, proc.stderr
    files = open_lake(str(lake)).files
    written = sorted(scores.rglob("*.parquet"))
    assert len(written) == len(files)
    for f, w in zip(files, written, strict=True):
        got = pq.read_table(w)
        t = pq.read_table(f.path)
        Xf = np.column_stack([t.column(c).to_numpy().astype(np.float64) for c in FEATURES])
        assert sorted(got.column_names) == ["id", "prediction"]
        np.testing.assert_array_equal(got.column("id").to_numpy(), t.column("id").to_numpy())
        np.testing.assert_allclose(got.column("prediction").to_numpy(), est.predict(Xf), rtol=1e-12)
        np.testing.assert_allclose(
            got.column("prediction").to_numpy(), np.exp(Xf @ est.coef_ + est.intercept_), rtol=1e-12
        )
        assert got.schema.metadata[b"dreg.family"] == b"poisson" and got.schema.metadata[b"dreg.model"] == b"m"


@pytest.mark.cluster
def test_targets_that_do_not_fit_the_family_exit_3(tmp_path: Path, address: str, rng) -> None:
    lake = make_lake(tmp_path / "lake", "poisson", rng, days=[1])  # counts 0, 1, 2, ...: not binary
    with pytest.raises(DataError, match=r"family binomial needs exactly 2 distinct values of 'y', found 3 or more"):
        fit(cfg(lake, tmp_path / "reg", "binomial"), address)
    t = pq.read_table(lake / "day=2026-11-01" / "part-0.parquet")
    y = t.column("y").to_numpy().copy()
    y[5] = -2
    pq.write_table(t.set_column(t.schema.get_field_index("y"), "y", pa.array(y)), lake / "day=2026-11-01" / "part-0.parquet")
    with pytest.raises(DataError, match=r"family poisson needs 'y' >= 0, found -2"):
        fit(cfg(lake, tmp_path / "reg", "poisson"), address)
    path = write_config(tmp_path / "c.yaml", cfg(lake, tmp_path / "reg", "poisson"))
    proc = run_cli("fit", "--config", str(path), "--scheduler", address)
    assert proc.returncode == 3 and "found -2" in proc.stderr


@pytest.mark.cluster
def test_promotion_compares_deviances_on_new_rows(tmp_path: Path, address: str, rng) -> None:
    lake = make_lake(tmp_path / "lake", "binomial", rng)
    c = cfg(lake, tmp_path / "reg", "binomial")
    first = fit(c, address)
    write_day(lake, 4, rng, "binomial")
    second = fit(c, address)
    promo = second.metrics.promotion
    assert promo.status == "promoted" and promo.rule == "new_rows" and promo.rows == 2 * ROWS
    # the champion's fixed model on the new day's rows, against numpy
    new = [f for f in open_lake(str(lake)).files if "day=2026-11-04" in f.path]
    X = np.vstack([np.column_stack([pq.read_table(f.path).column(k).to_numpy() for k in FEATURES]) for f in new])
    y = np.concatenate([pq.read_table(f.path).column("y").to_numpy() for f in new]).astype(float)
    eta = X @ first.estimator.coef_.ravel() + first.estimator.intercept_[0]
    dev = 2 * np.mean(np.logaddexp(0, eta) - y * eta)
    assert promo.champion_mse == pytest.approx(dev, rel=1e-9)
    assert "deviance" in promo.reason and all(g.passed for g in promo.gates)
    # an identical rerun: unchanged
    third = fit(c, address)
    assert third.metrics.promotion.status == "promoted" and "unchanged" in third.metrics.promotion.reason
    stored = json.loads((tmp_path / "reg" / "m" / third.model.version / "metrics.json").read_text())
    assert stored["family"] == "binomial" and stored["cv_deviance"] == third.metrics.cv_deviance
