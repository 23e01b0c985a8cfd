"""The wide engine on a lake (``model.engine: wide``, :mod:`dreg.job.wide_lake`).

Real Parquet files on a multi-process ``LocalCluster``: the rows stay on the
workers as sparse chunks and the coordinator never holds a ``p x p`` Gram.
Shown here:

* the same fit as the Gram engine on a lake both can fit (categorical levels,
  imputed missing values, weights), to 1e-8;
* scikit-learn's ``Lasso`` on the same one-hot design at the chosen alpha;
* a lake with a 20,000-level categorical column: ``engine: auto`` switches to
  the wide engine, the coordinator's traced peak memory stays a small
  fraction of one Gram matrix, and ``dreg predict`` scores with the model;
* bad rows name the file and column and leave the registry as it was;
* promotion on new rows scores the champion's fixed model exactly.
"""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dreg.core.design import Encoding, linear_predictor, sparse_design
from dreg.job.errors import DataError
from dreg.job.lake import categorical_codes, file_fold_ids, open_lake
from dreg.job.pipeline import run_fit, run_predict
from tests.job.lake_helpers import CLUSTER, local_cluster, parse, registry_state

CV = 4


@pytest.fixture(scope="module")
def address():
    with local_cluster() as addr:
        yield addr


def write_file(
    path: Path,
    rng: np.random.Generator,
    n: int,
    levels: int,
    *,
    effects: np.ndarray,
    offset: int = 0,
    start: int | None = None,
) -> None:
    """Rows with two numeric columns (one with missing values), a categorical ``user`` and a weight.

    ``start``: the levels are ``start, start + 1, ...`` (mod ``levels``) in a random order, so
    that files together take every level; otherwise drawn at random."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if start is None:
        lv = offset + rng.integers(0, levels, size=n)
    else:
        lv = offset + rng.permutation((start + np.arange(n)) % levels)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    x2m = np.where(rng.random(n) < 0.1, np.nan, x2)
    y = 1.0 + x1 - 0.5 * x2 + effects[lv % effects.size] + rng.normal(size=n)
    users = pa.array([f"u{v:05d}" if v % 97 else None for v in lv], pa.string())  # some nulls: a level of its own
    table = pa.table({"x1": x1, "x2": x2m, "user": users, "w": rng.uniform(0.5, 2.0, size=n), "y": y})
    pq.write_table(table, path, row_group_size=max(1, n // 2))


def config(lake: Path, registry: Path, **model) -> dict:
    return {
        "data": {
            "path": str(lake),
            "target": "y",
            "weight": "w",
            "features": ["x1", "x2", "user"],
            "categorical": ["user"],
            "impute": {"x2": "mean"},
            "missing_indicator": True,
        },
        "model": {"penalty": "lasso", "alphas": 12, "cv": CV, "random_state": 3, **model},
        "cluster": dict(CLUSTER),
        "output": {"registry": str(registry), "name": "m"},
    }


def fit(cfg: dict, address: str, log: list[str] | None = None):
    lines = [] if log is None else log
    return run_fit(parse(cfg), scheduler=address, log=lines.append)


@pytest.fixture(scope="module")
def small_lake(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("wide-small")
    rng = np.random.default_rng(11)
    effects = np.zeros(60)
    effects[:8] = rng.normal(scale=1.5, size=8)
    for i, n in enumerate([700, 500, 900]):
        write_file(root / "lake" / f"part-{i}.parquet", rng, n, 60, effects=effects)
    return root / "lake"


def test_the_wide_engine_fits_what_the_gram_engine_fits(small_lake: Path, tmp_path: Path, address: str) -> None:
    gram = fit(config(small_lake, tmp_path / "g", engine="gram"), address).estimator
    log: list[str] = []
    wide = fit(config(small_lake, tmp_path / "w", engine="wide"), address, log).estimator
    assert gram.engine_ == "gram" and wide.engine_ == "wide"
    assert list(wide.feature_names_in_) == list(gram.feature_names_in_)
    assert "user=<null>" in wide.feature_names_in_ and "x2=<null>" in wide.feature_names_in_
    # the same levels, counts and indicators; the imputation mean from sums, not Chan's merges (an ulp apart)
    for a, b in zip(wide.encoding_.to_json()["columns"], gram.encoding_.to_json()["columns"], strict=True):
        assert {k: v for k, v in a.items() if k != "impute"} == {k: v for k, v in b.items() if k != "impute"}
        assert (a.get("impute") is None) == (b.get("impute") is None)
        if a.get("impute") is not None:
            assert a["impute"] == pytest.approx(b["impute"], rel=1e-14)
    np.testing.assert_allclose(wide.alphas_, gram.alphas_, rtol=1e-12)
    assert wide.alpha_ == pytest.approx(gram.alpha_, rel=1e-12)
    np.testing.assert_allclose(wide.mse_path_, gram.mse_path_, rtol=1e-9)
    np.testing.assert_allclose(wide.coef_, gram.coef_, atol=1e-8)
    assert wide.intercept_ == pytest.approx(gram.intercept_, abs=1e-8)
    np.testing.assert_allclose(wide.fold_coef_, gram.fold_coef_, atol=1e-8)
    assert any("wide engine:" in line and "passes over the chunks" in line for line in log)
    # the registry version says which engine ran and how many passes it took
    metrics = json.loads(next((tmp_path / "w" / "m").glob("2*/metrics.json")).read_text())
    assert metrics["n_passes"] == 1 + wide.n_passes_ and "wide engine" in metrics["passes_mode"]
    assert not list((tmp_path / "w" / "m").glob("2*/stats.npz"))  # no p x p Gram stored
    model = json.loads(next((tmp_path / "w" / "m").glob("2*/model.json")).read_text())
    assert (model["engine"], model["n_passes"], model["working_set"]) == ("wide", wide.n_passes_, wide.working_set_)
    assert "engine" not in json.loads(next((tmp_path / "g" / "m").glob("2*/model.json")).read_text())


def _design(lake_path: Path, encoding: Encoding, n_folds: int, random_state: int):
    """The model's design of every file, read independently with pyarrow, and the fold labels."""
    import scipy.sparse as sp

    lake = open_lake(str(lake_path))
    Xs, ys, ws, folds = [], [], [], []
    for f in lake.files:
        t = pq.read_table(f.path)
        num = {c: t.column(c).to_numpy(zero_copy_only=False).astype(float) for c in ("x1", "x2")}
        X, unseen = sparse_design(encoding, num, {"user": categorical_codes(t.column("user"))})
        assert not unseen
        Xs.append(X)
        ys.append(t.column("y").to_numpy())
        ws.append(t.column("w").to_numpy())
        folds.append(file_fold_ids(f, 0, t.num_rows, n_folds, random_state))
    return sp.vstack(Xs).tocsc(), np.concatenate(ys), np.concatenate(ws), np.concatenate(folds)


def test_the_wide_lake_fit_is_scikit_learns_lasso(small_lake: Path, tmp_path: Path, address: str) -> None:
    from sklearn.linear_model import Lasso

    est = fit(config(small_lake, tmp_path / "r", engine="wide", standardize=False, tol=1e-10), address).estimator
    X, y, w, _ = _design(small_lake, est.encoding_, CV, 3)
    ref = Lasso(alpha=est.alpha_, tol=1e-12, max_iter=100_000).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(est.coef_, ref.coef_, atol=1e-6)
    assert est.intercept_ == pytest.approx(ref.intercept_, abs=1e-6)


def test_a_20000_level_column_fits_with_bounded_coordinator_memory(tmp_path: Path, address: str) -> None:
    """engine: auto switches to the wide engine when a file's levels outgrow max_gram_bytes; the
    coordinator's traced peak stays far below one Gram matrix; dreg predict scores with the model."""
    rng = np.random.default_rng(5)
    levels = 20_000
    effects = np.zeros(levels)
    effects[:40] = rng.normal(scale=2.0, size=40)
    lake = tmp_path / "lake"
    for i in range(4):
        write_file(lake / f"part-{i}.parquet", rng, 15_000, levels, effects=effects, start=15_000 * i)
    cfg = config(lake, tmp_path / "reg", alphas=8, eps=0.05)
    log: list[str] = []
    tracemalloc.start()
    try:
        out = fit(cfg, address, log)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    est = out.estimator
    p = len(est.feature_names_in_)
    # 20,000 levels (every 97th written as null: 19,793 named ones and the null level), x1, x2, x2's indicator
    assert p == 20_000 - 207 + 1 + 3
    assert est.engine_ == "wide"
    assert any("switching to the wide engine" in line for line in log), log
    one_gram = p * p * 8  # 3 GB; the Gram engine would keep CV + 1 of them
    assert peak < 400 * 2**20, f"coordinator peak {peak / 2**20:.0f} MiB"
    assert peak < one_gram / 8
    # the numeric effects (1 and -0.5) are found; three rows per level leave the levels' effects to the penalty
    coef = dict(zip(est.feature_names_in_, est.coef_, strict=True))
    assert coef["x1"] == pytest.approx(1.0, abs=0.15) and coef["x2"] == pytest.approx(-0.5, abs=0.15)
    # predict: the registry's model scores a file as the encoding says
    pred_dir = tmp_path / "pred"
    run_predict(
        str(tmp_path / "reg" / "m"), str(lake), str(pred_dir), cluster_cfg=None, scheduler=address, log=lambda s: None
    )
    t = pq.read_table(lake / "part-2.parquet")
    eta = linear_predictor(
        est.encoding_,
        {c: t.column(c).to_numpy(zero_copy_only=False).astype(float) for c in ("x1", "x2")},
        {"user": categorical_codes(t.column("user"))},
        est.coef_,
        est.intercept_,
    ).eta
    got = pq.read_table(next(pred_dir.glob("**/part-2*.parquet"))).column("prediction").to_numpy()
    np.testing.assert_allclose(got, eta, rtol=1e-12, atol=1e-12)


def test_bad_rows_name_the_file_and_column_and_write_nothing(small_lake: Path, tmp_path: Path, address: str) -> None:
    lake = tmp_path / "lake"
    lake.mkdir()
    for f in small_lake.glob("*.parquet"):
        (lake / f.name).write_bytes(f.read_bytes())
    reg = tmp_path / "reg"
    fit(config(lake, reg, engine="wide"), address)
    before = registry_state(reg, "m")
    t = pq.read_table(lake / "part-1.parquet")
    y = t.column("y").to_numpy().copy()
    y[[3, 8, 9]] = np.nan
    pq.write_table(t.set_column(t.schema.get_field_index("y"), "y", pa.array(y)), lake / "part-1.parquet")
    with pytest.raises(DataError, match=r"part-1\.parquet.*3 row\(s\).*'y': 3"):
        fit(config(lake, reg, engine="wide"), address)
    assert registry_state(reg, "m") == before


def test_promotion_scores_the_champion_on_new_rows(small_lake: Path, tmp_path: Path, address: str) -> None:
    """A new file (with levels the champion never saw): the champion's fixed model and the
    challenger's fold models are scored on its held-out rows; the champion's error equals its
    own predictions' weighted MSE there."""
    lake = tmp_path / "lake"
    lake.mkdir()
    for f in small_lake.glob("*.parquet"):
        (lake / f.name).write_bytes(f.read_bytes())
    reg = tmp_path / "reg"

    def cfg() -> dict:
        c = config(lake, reg, engine="wide")
        c["output"]["promotion"] = {"tolerance": 0.5}  # the comparison is the point, not its outcome
        return c

    first = fit(cfg(), address)
    rng = np.random.default_rng(99)
    effects = np.zeros(60)
    write_file(lake / "part-9.parquet", rng, 800, 60, effects=effects, offset=30)  # levels 30..89: 30 new ones
    second = fit(cfg(), address)
    promo = second.model.promotion
    assert promo.rule == "new_rows", promo
    # the champion's error, computed here from its own encoding and coefficients
    champ = first.estimator
    t = pq.read_table(lake / "part-9.parquet")
    eta = linear_predictor(
        champ.encoding_,
        {c: t.column(c).to_numpy(zero_copy_only=False).astype(float) for c in ("x1", "x2")},
        {"user": categorical_codes(t.column("user"))},
        champ.coef_,
        champ.intercept_,
    ).eta
    y, w = t.column("y").to_numpy(), t.column("w").to_numpy()
    assert promo.rows == t.num_rows
    assert promo.champion_mse == pytest.approx(float(w @ (y - eta) ** 2 / w.sum()), rel=1e-10)
    assert 0.5 < promo.challenger_mse / promo.champion_mse < 2.0
    # an identical rerun: no new rows, the same configuration: unchanged, promoted
    third = fit(cfg(), address)
    assert third.model.promotion.promoted and "unchanged" in third.model.promotion.reason


def test_solver_admm_on_a_lake_runs_coordinate_descent_and_says_so(
    small_lake: Path, tmp_path: Path, address: str
) -> None:
    log: list[str] = []
    cd = fit(config(small_lake, tmp_path / "cd", engine="wide"), address).estimator
    admm = fit(config(small_lake, tmp_path / "admm", engine="wide", solver="admm"), address, log).estimator
    assert any("solver admm runs as coordinate descent" in line for line in log)
    np.testing.assert_array_equal(admm.coef_, cd.coef_)


def test_the_wide_engine_is_for_least_squares() -> None:
    with pytest.raises(Exception, match="engine: wide is for family: gaussian"):
        parse(config(Path("/nonexistent"), Path("/r"), engine="wide", family="binomial", penalty="ridge"))
