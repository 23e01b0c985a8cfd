"""The model registry: atomic versions, ``latest``, JSON-only models that predict bit for bit."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import dreg
from dreg.estimators.serialize import estimator_from_dict, estimator_to_dict
from dreg.job.errors import RegistryError
from dreg.job.registry import (
    ModelRef,
    latest_version,
    list_versions,
    load_model,
    parse_ref,
    read_model,
    write_version,
)
from tests.job.lake_helpers import (
    FEATURES,
    assert_no_pickle,
    config_dict,
    parse,
    read_in_memory,
    write_lake,
)

VERSION_RE = re.compile(r"^\d{8}T\d{6}\d{6}Z$")


@pytest.fixture(scope="module")
def estimator() -> dreg.LassoCV:
    rng = np.random.default_rng(5)
    X = pd.DataFrame(rng.standard_normal((400, 6)), columns=[f"f{j}" for j in range(6)])
    y = X["f0"] * 2 - X["f3"] + 0.1 * rng.standard_normal(400) + 7
    return dreg.LassoCV(alphas=25, cv=4, selection="1se", random_state=3).fit(X, y)


def files_of(est, **extra) -> dict[str, str]:
    model = estimator_to_dict(est)
    model.update(extra)
    return {
        "model.json": json.dumps(model),
        "metrics.json": json.dumps({"alpha": model["alpha"]}),
        "report.html": "<html>report</html>",
    }


def hidden_leftovers(base: Path) -> list[str]:
    return sorted(p.name for p in base.iterdir() if p.name.startswith((".tmp-", ".latest-")))


# --------------------------------------------------------------------------- writing


def test_write_version_layout_and_latest(tmp_path: Path, estimator) -> None:
    registry = tmp_path / "registry"
    v = write_version(str(registry), "m", files_of(estimator))
    assert VERSION_RE.match(v)
    vdir = registry / "m" / v
    assert sorted(p.name for p in vdir.iterdir()) == ["metrics.json", "model.json", "report.html"]
    assert (registry / "m" / "latest").read_text() == v + "\n"
    assert sorted(p.name for p in (registry / "m").iterdir()) == sorted([v, "latest"])
    assert hidden_leftovers(registry / "m") == []
    assert list_versions(str(registry), "m") == [v]
    assert latest_version(str(registry), "m") == v
    assert_no_pickle(registry)


def test_versions_are_ordered_and_latest_moves(tmp_path: Path, estimator) -> None:
    registry = str(tmp_path)
    t0 = dt.datetime(2026, 11, 1, 12, 0, 0, tzinfo=dt.UTC)
    from dreg.job.registry import new_version

    v1 = write_version(registry, "m", files_of(estimator, tag=1), version=new_version(t0))
    v2 = write_version(
        registry, "m", files_of(estimator, tag=2), version=new_version(t0 + dt.timedelta(seconds=1))
    )
    v0 = write_version(
        registry,
        "m",
        files_of(estimator, tag=0),
        version=new_version(t0 - dt.timedelta(days=1)),
        update_latest=False,
    )
    assert list_versions(registry, "m") == [v0, v1, v2]
    assert latest_version(registry, "m") == v2
    ref, model, metrics = read_model(f"{registry}/m")
    assert (ref.version, model["tag"]) == (v2, 2) and metrics == {"alpha": model["alpha"]}
    assert read_model(f"{registry}/m/{v1}")[1]["tag"] == 1
    assert read_model(f"{registry}/m/{v0}/model.json")[1]["tag"] == 0
    assert hidden_leftovers(tmp_path / "m") == []
    assert list_versions(registry, "other") == []


def test_an_existing_version_is_never_overwritten(tmp_path: Path, estimator) -> None:
    v = write_version(str(tmp_path), "m", files_of(estimator, tag=1))
    with pytest.raises(RegistryError, match="already exists"):
        write_version(str(tmp_path), "m", files_of(estimator, tag=2), version=v)
    assert read_model(f"{tmp_path}/m")[1]["tag"] == 1
    assert hidden_leftovers(tmp_path / "m") == []


def test_unwritable_registry_is_a_registry_error(tmp_path: Path, estimator) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    with pytest.raises(RegistryError, match="cannot write to registry"):
        write_version(str(not_a_dir), "m", files_of(estimator))


# --------------------------------------------------------------------------- reading


def test_load_model_predicts_exactly_like_the_fitted_estimator(tmp_path: Path, estimator) -> None:
    write_version(str(tmp_path), "m", files_of(estimator))
    loaded = load_model(f"{tmp_path}/m")
    assert type(loaded) is type(estimator)
    assert loaded.get_params() == estimator.get_params()
    X = pd.DataFrame(
        np.random.default_rng(9).standard_normal((50, 6)) * 1e3, columns=[f"f{j}" for j in range(6)]
    )
    np.testing.assert_array_equal(loaded.predict(X), estimator.predict(X))
    np.testing.assert_array_equal(loaded.predict(X.to_numpy()), estimator.predict(X.to_numpy()))
    np.testing.assert_array_equal(loaded.coef_, estimator.coef_)
    assert loaded.intercept_ == estimator.intercept_
    assert (loaded.alpha_, loaded.alpha_1se_, loaded.chosen_alpha_) == (
        estimator.alpha_,
        estimator.alpha_1se_,
        estimator.chosen_alpha_,
    )
    np.testing.assert_array_equal(loaded.mse_path_, estimator.mse_path_)
    np.testing.assert_array_equal(loaded.alphas_, estimator.alphas_)
    assert list(loaded.feature_names_in_) == list(estimator.feature_names_in_)
    # a round trip through JSON is stable
    assert json.dumps(estimator_to_dict(loaded)["coef"]) == json.dumps(
        estimator_to_dict(estimator)["coef"]
    )


def test_elasticnet_with_several_l1_ratios_round_trips(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    X = rng.standard_normal((300, 4))
    y = X @ [1.0, 0.0, -2.0, 0.5] + 0.2 * rng.standard_normal(300)
    est = dreg.ElasticNetCV(l1_ratio=[0.3, 0.9], alphas=15, cv=3).fit(X, y)
    write_version(str(tmp_path), "enet", files_of(est))
    loaded = load_model(f"{tmp_path}/enet")
    assert loaded.get_params() == est.get_params()
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
    np.testing.assert_array_equal(loaded.mse_path_, est.mse_path_)
    assert loaded.l1_ratio_ == est.l1_ratio_


def test_version_without_model_json_is_ignored(tmp_path: Path, estimator) -> None:
    v = write_version(str(tmp_path), "m", files_of(estimator))
    incomplete = tmp_path / "m" / "20991231T235959000000Z"  # newer, but no model.json
    incomplete.mkdir()
    (incomplete / "report.html").write_text("<html>")
    (incomplete / "metrics.json").write_text("{}")
    assert list_versions(str(tmp_path), "m") == [v]
    assert read_model(f"{tmp_path}/m")[0].version == v
    with pytest.raises(RegistryError, match="not found"):
        read_model(f"{tmp_path}/m/{incomplete.name}")


def test_a_killed_writer_leaves_nothing_that_breaks_reads_or_writes(
    tmp_path: Path, estimator
) -> None:
    v1 = write_version(str(tmp_path), "m", files_of(estimator, tag=1))
    base = tmp_path / "m"
    # what a writer killed mid-way leaves: a half-written temporary version, a temporary latest
    tmp = base / ".tmp-20991231T235959000000Z-deadbeef"
    tmp.mkdir()
    (tmp / "report.html").write_text("<html>")
    (tmp / "model.json").write_text('{"format": "dreg-mo')  # truncated
    (base / ".latest-0badf00d").write_text("20991231T")
    assert list_versions(str(tmp_path), "m") == [v1]
    assert read_model(f"{tmp_path}/m")[1]["tag"] == 1
    np.testing.assert_array_equal(load_model(f"{tmp_path}/m").coef_, estimator.coef_)
    v2 = write_version(str(tmp_path), "m", files_of(estimator, tag=2))
    assert list_versions(str(tmp_path), "m") == [v1, v2]
    assert read_model(f"{tmp_path}/m")[1]["tag"] == 2
    assert (base / "latest").read_text() == v2 + "\n"


def test_reading_errors(tmp_path: Path, estimator) -> None:
    with pytest.raises(RegistryError, match="no 'latest'"):
        read_model(f"{tmp_path}/nothing")
    v = write_version(str(tmp_path), "m", files_of(estimator))
    (tmp_path / "m" / v / "model.json").write_text("{not json")
    with pytest.raises(RegistryError, match="not valid JSON"):
        read_model(f"{tmp_path}/m")
    with pytest.raises(RegistryError, match="not found"):
        read_model(f"{tmp_path}/m/20200101T000000000000Z")


def test_estimator_from_dict_refuses_foreign_or_newer_formats(estimator) -> None:
    d = estimator_to_dict(estimator)
    with pytest.raises(ValueError, match="not a dreg model"):
        estimator_from_dict({**d, "format": "sklearn-pickle"})
    with pytest.raises(ValueError, match="newer"):
        estimator_from_dict({**d, "format_version": 99})
    with pytest.raises(ValueError, match="unknown estimator"):
        estimator_from_dict({**d, "estimator": "Pipeline"})


@pytest.mark.parametrize(
    "ref, expected",
    [
        ("reg/m", ModelRef("reg", "m", None)),
        ("reg/m/", ModelRef("reg", "m", None)),
        ("/abs/reg/m", ModelRef("/abs/reg", "m", None)),
        ("/abs/reg/m/20261101T120000123456Z", ModelRef("/abs/reg", "m", "20261101T120000123456Z")),
        ("reg/m/20261101T120000123456Z/", ModelRef("reg", "m", "20261101T120000123456Z")),
        ("reg/m/20261101T120000123456Z/model.json", ModelRef("reg", "m", "20261101T120000123456Z")),
        ("s3://bucket/registry/m", ModelRef("s3://bucket/registry", "m", None)),
        (
            "s3://bucket/registry/m/20261101T120000123456Z",
            ModelRef("s3://bucket/registry", "m", "20261101T120000123456Z"),
        ),
    ],
)
def test_parse_ref(ref: str, expected: ModelRef) -> None:
    assert parse_ref(ref) == expected


@pytest.mark.parametrize("ref", ["m", "m/"])
def test_parse_ref_needs_registry_and_name(ref: str) -> None:
    with pytest.raises(RegistryError, match="REGISTRY/NAME"):
        parse_ref(ref)


# --------------------------------------------------------------------------- what run_fit stores


@pytest.mark.cluster
def test_run_fit_model_json_contents(tmp_path: Path, rng: np.random.Generator, address: str) -> None:
    from dreg.job.config import parse_config
    from dreg.job.lake import open_lake
    from dreg.job.pipeline import run_fit

    lake = write_lake(tmp_path / "lake", rng)
    registry = tmp_path / "registry"
    d = config_dict(
        lake,
        registry,
        name="m",
        data={"filters": ["day >= 2026-11-02"]},
        model={"selection": "1se"},
    )
    cfg = parse(d)
    out = run_fit(cfg, scheduler=address, log=lambda s: None, tty=False)
    out2 = run_fit(cfg, scheduler=address, log=lambda s: None, tty=False)

    base = registry / "m"
    assert list_versions(str(registry), "m") == sorted([out.ref.version, out2.ref.version])
    assert (base / "latest").read_text().strip() == out2.ref.version
    assert hidden_leftovers(base) == []
    assert_no_pickle(registry)
    for v in (out.ref.version, out2.ref.version):
        assert sorted(p.name for p in (base / v).iterdir()) == [
            "metrics.json",
            "model.json",
            "report.html",
            "stats.npz",  # least squares: the fit's statistics (any alpha of the path), plain arrays
        ]

    model = json.loads((base / out.ref.version / "model.json").read_text())
    assert model == json.loads(json.dumps(out.model.to_json()))
    assert model["features"] == FEATURES
    assert len(model["coef"]) == len(FEATURES) and isinstance(model["intercept"], float)
    assert model["alpha"] == out.estimator.chosen_alpha_ == model["alpha_1se"]
    assert model["l1_ratio"] == 1.0 and model["selection"] == "1se"
    assert model["penalty"] == "lasso" and model["estimator"] == "LassoCV"
    path = model["path"]
    n_alphas = len(path["alphas"][0])
    assert n_alphas == 30
    assert len(path["mse_mean"][0]) == len(path["mse_se"][0]) == n_alphas
    assert np.asarray(path["mse_path"]).shape == (1, n_alphas, 4)
    assert model["rows"]["used"] == 2900 and model["rows"]["dropped"] == 0
    kept = open_lake(str(lake), filters=cfg.data.filters).files
    assert model["data"]["files"] == len(kept) == 4 and model["data"]["pruned_files"] == 2
    fingerprint = model["data"]["fingerprint"]
    assert [f["path"] for f in fingerprint] == [f.path for f in kept]
    for f in fingerprint:
        st = os.stat(f["path"])
        assert f["size"] == st.st_size
        assert dt.datetime.fromisoformat(f["mtime"]).timestamp() == pytest.approx(
            st.st_mtime, abs=1e-3
        )
    assert parse_config(model["config"]) == cfg  # the configuration round-trips
    assert {"python", "dreg", "numpy", "dask", "distributed", "pyarrow"} <= set(model["versions"])
    assert model["versions"]["dreg"] == dreg.__version__
    assert model["run"]["cluster"]["kind"] == "existing" and model["run"]["cluster"]["workers"] == 2

    metrics = json.loads((base / out.ref.version / "metrics.json").read_text())
    assert metrics["rows"] == 2900 and metrics["rows_dropped"] == 0 and metrics["files"] == 4
    assert metrics["alpha"] == model["alpha"]
    assert (
        (base / out.ref.version / "report.html")
        .read_text()
        .lstrip()
        .lower()
        .startswith("<!doctype html")
    )

    loaded = load_model(f"{registry}/m/{out.ref.version}")
    assert loaded.get_params() == out.estimator.get_params()
    X, _, _ = read_in_memory(kept)
    np.testing.assert_array_equal(loaded.predict(X), out.estimator.predict(X))
    expected = X @ np.asarray(model["coef"]) + model["intercept"]
    np.testing.assert_allclose(loaded.predict(X), expected, rtol=1e-12)


def test_stale_temporaries_of_killed_writers_are_removed(tmp_path):
    """Leftovers older than an hour go at the next write; fresh ones (a concurrent writer's) stay."""
    import os
    import time

    from dreg.job.registry import write_version

    base = tmp_path / "m"
    base.mkdir()
    old_dir = base / ".tmp-20200101T000000000000Z-dead"
    old_dir.mkdir()
    (old_dir / "report.html").write_text("half")
    old_file = base / ".latest-dead"
    old_file.write_text("x")
    fresh = base / ".tmp-20990101T000000000000Z-live"
    fresh.mkdir()
    past = time.time() - 2 * 3600
    for p in (old_dir, old_file):
        os.utime(p, (past, past))
    write_version(str(tmp_path), "m", {"model.json": "{}", "metrics.json": "{}", "report.html": ""})
    assert not old_dir.exists() and not old_file.exists()
    assert fresh.exists()
    assert (base / "latest").exists()


# --------------------------------------------------------------------------- format version 1

# model.json as dreg wrote it before format version 2 (no chosen_alpha_index), literally
MODEL_V1 = """{"format": "dreg-model", "format_version": 1, "estimator": "LassoCV", "penalty": "lasso",
 "params": {"alphas": 3, "cv": 2, "eps": null, "fit_intercept": true, "lower_bounds": null, "max_iter": 10000,
  "n_jobs": null, "penalty_factor": null, "positive": false, "random_state": 0, "selection": "1se",
  "solver": "auto", "standardize": true, "tol": 1e-07, "upper_bounds": null},
 "features": ["x0", "x1"], "coef": [1.4912663203481362, 0.03152543001006859], "intercept": 0.5023645773034793,
 "n_iter": 4, "alpha": 0.0001276944961802092, "alpha_min": 0.0001276944961802092,
 "alpha_1se": 0.0001276944961802092, "l1_ratio": 1.0, "selection": "1se", "n_folds": 2,
 "path": {"l1_ratios": [1.0], "alphas": [[1.2769449618020918, 0.012769449618020916, 0.0001276944961802092]],
  "mse_mean": [[1.774536257323188, 0.007699272684315762, 0.00744111853358692]],
  "mse_se": [[0.12427577007665747, 0.00021968629002801348, 0.00012925048203205926]],
  "mse_path": [[[1.8988120273998454, 1.6502604872465305], [0.007479586394287749, 0.007918958974343776],
   [0.00757036901561898, 0.007311868051554861]]],
  "train_mse_path": [[[1.4839873017166918, 1.6370953763474454], [0.0065285295992918435, 0.006617337833955262],
   [0.006227197662387596, 0.006355930635165308]]],
  "best_l1_index": 0, "best_alpha_index": 2, "alpha_1se_index": 2, "fold_labels": [0, 1],
  "coef_path": [[0.0, 0.0], [1.4788540268992376, 0.018717834910624283], [1.4912663203481362, 0.03152543001006859]],
  "intercept_path": [0.46304720700121793, 0.500540548551618, 0.5023645773034793]},
 "fold_coef": [[1.4829633369269282, 0.05268391269535445], [1.4996313519552813, 0.014091964740972464]],
 "name": "m", "version": "20260101T000000000000Z", "created": "2026-01-01T00:00:00.5+00:00", "target": "y",
 "weight": null, "rows": {"used": 40, "dropped": 0, "weight_sum": 40.0},
 "data": {"path": "lake", "files": 1, "pruned_files": 0, "window": null,
  "fingerprint": [{"path": "lake/part-0.parquet", "size": 1234, "mtime": null, "etag": null, "rows": 40}]},
 "config": {}, "versions": {"python": "3.12.0"},
 "run": {"started": "2026-01-01T00:00:00+00:00", "finished": "2026-01-01T00:00:00.5+00:00", "seconds": 0.5,
  "data_pass_seconds": 0.25, "cluster": {"kind": "embedded LocalCluster", "workers": 2}},
 "promotion": {"challenger_mse": 0.0075, "tolerance": 0.01, "champion": null, "champion_mse": null,
  "status": "first", "reason": "no previous model"}}"""
METRICS_V1 = """{"alpha": 0.0001276944961802092, "alpha_min": 0.0001276944961802092,
 "alpha_1se": 0.0001276944961802092, "l1_ratio": 1.0, "cv_mse": 0.00744111853358692,
 "cv_mse_se": 0.00012925048203205926, "cv_mse_min": 0.00744111853358692, "train_mse": 0.006291564148776452,
 "cv_r2": 0.995, "n_nonzero": 2, "rows": 40, "rows_dropped": 0, "files": 1, "files_scanned": 1,
 "files_from_cache": 0, "seconds": 0.5, "data_pass_seconds": 0.25,
 "promotion": {"challenger_mse": 0.00744111853358692, "tolerance": 0.01, "champion": null, "champion_mse": null,
  "status": "first", "reason": "no previous model"}}"""


def test_a_format_version_1_model_still_loads_shows_and_predicts(tmp_path: Path, capsys) -> None:
    from dreg.job.cli import main
    from dreg.job.record import MetricsRecord, ModelRecord
    from dreg.job.registry import history, read_record

    version = "20260101T000000000000Z"
    vdir = tmp_path / "m" / version
    vdir.mkdir(parents=True)
    (vdir / "model.json").write_text(MODEL_V1)
    (vdir / "metrics.json").write_text(METRICS_V1)
    (tmp_path / "m" / "latest").write_text(version + "\n")

    est = load_model(f"{tmp_path}/m")
    assert type(est) is dreg.LassoCV and est.chosen_alpha_index_ == 2  # from selection="1se"
    X = np.random.default_rng(0).standard_normal((7, 2))
    raw = json.loads(MODEL_V1)
    np.testing.assert_array_equal(est.predict(X), X @ np.asarray(raw["coef"]) + raw["intercept"])

    _, model, metrics = read_record(f"{tmp_path}/m")
    assert model.to_json() == raw and metrics.to_json() == json.loads(METRICS_V1)  # read back unchanged
    assert model == ModelRecord.from_json(raw) and metrics == MetricsRecord.from_json(json.loads(METRICS_V1))
    assert model.rows.used == 40 and model.data.window_text == "all" and model.promotion.status == "first"
    (row,) = history(str(tmp_path), "m")
    assert (row["status"], row["cv_mse"], row["rows"], row["latest"]) == ("first", metrics.cv_mse, 40, True)

    assert main(["show", f"{tmp_path}/m"]) == 0
    out = capsys.readouterr().out
    assert f"m version {version}" in out and "alpha       0.000127694" in out and "non-zero    2 of 2" in out
    assert main(["show", "--json", f"{tmp_path}/m"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["coef"] == dict(zip(raw["features"], raw["coef"], strict=True)) and facts["alpha"] == raw["alpha"]
    assert main(["history", f"{tmp_path}/m"]) == 0 and "first*" in capsys.readouterr().out


def test_current_format_records_the_chosen_index_and_family(estimator) -> None:
    from dreg.estimators.serialize import FORMAT_VERSION

    d = estimator_to_dict(estimator)
    # format 2 added chosen_alpha_index; format 3 the family (and the GLM estimators)
    assert (d["format_version"], FORMAT_VERSION) == (3, 3)
    assert d["family"] == "gaussian"
    assert d["chosen_alpha_index"] == estimator.chosen_alpha_index_
    assert estimator_from_dict(d).chosen_alpha_index_ == estimator.chosen_alpha_index_
