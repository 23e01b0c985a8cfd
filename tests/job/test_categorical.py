"""Categorical features and missing values through ``dreg fit`` and ``dreg predict`` (issue 13).

The reference is built independently of dreg's encoding code: pandas reads
the same files, ``pandas.get_dummies`` one-hot encodes every level (null a
level of its own, rare levels summed into one "other" column), numeric nulls
are replaced by the weighted mean of the observed values (numpy), missing
indicators are appended; then scikit-learn's ``ElasticNet`` and the exact
elastic-net reference of ``tests/estimators/enet_reference.py`` fit it.  The
fits run through the command's code (:func:`dreg.job.cli.main`) on a real
2-process cluster and real Parquet files.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import dreg
from dreg.job.cli import main
from tests.estimators.enet_reference import enet_cv, enet_fit
from tests.job.lake_helpers import CLUSTER, write_config

pytestmark = pytest.mark.cluster

REGIONS = ["east", "north", "south", "west"]
PLANS = ["basic", "plus", "pro"]
# columns in file order; region: string with nulls, plan: dictionary, seg: int16 (declared),
# flag: bool, x1: NaN, x2: Arrow nulls around 1e3, x3: complete
FEATURES = ["region", "x1", "plan", "seg", "flag", "x2", "x3"]
MIN_COUNT = 5
L1 = 0.5


def make_table(rng: np.random.Generator, n: int, extra_region: str | None = None, legacy: int = 0) -> pa.Table:
    region = rng.choice(REGIONS, n).astype(object)
    region[rng.random(n) < 0.07] = None
    if extra_region is not None:
        region[: n // 10] = extra_region
    plan = rng.choice(PLANS, n).astype(object)
    plan[:legacy] = "legacy"  # a rare level: lumped into <other>
    seg = rng.integers(0, 4, n).astype(np.int16)
    flag = rng.random(n) < 0.4
    x1 = rng.standard_normal(n)
    x2 = 1000.0 + rng.standard_normal(n)
    x3 = rng.standard_normal(n) * 2.0
    effect = {"east": 0.5, "north": 1.5, "south": -1.0, "west": 0.0, None: 0.7, "island": 3.0}
    y = (
        np.array([effect.get(r, 0.0) for r in region])
        + np.array([{"basic": 0.0, "plus": 1.0, "pro": 2.5, "legacy": -2.0}[p] for p in plan])
        + 0.4 * seg
        - 0.8 * flag
        + 1.3 * x1
        - 0.9 * (x2 - 1000.0)
        + 0.2 * x3
        + rng.standard_normal(n)
    )
    x1[rng.random(n) < 0.06] = np.nan
    x2_null = rng.random(n) < 0.08
    w = rng.uniform(0.5, 2.0, n)
    fold = rng.integers(0, 4, n)
    return pa.table(
        {
            "region": pa.array(region.tolist(), pa.string()),
            "x1": pa.array(x1),  # NaN, not null
            "plan": pa.array(plan.tolist(), pa.string()).dictionary_encode(),
            "seg": pa.array(seg, pa.int16()),
            "flag": pa.array(flag),
            "x2": pa.array(x2, mask=x2_null),
            "x3": pa.array(x3),
            "w": pa.array(w),
            "fold": pa.array(fold, pa.int64()),
            "y": pa.array(y),
        }
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("categorical")


def write_lake(root: Path, tables: list[pa.Table], row_group_size: int = 128) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i, t in enumerate(tables):
        pq.write_table(t, root / f"part-{i:02d}.parquet", row_group_size=row_group_size)
    return root


@pytest.fixture(scope="module")
def tables() -> list[pa.Table]:
    rng = np.random.default_rng(1313)
    out = [make_table(rng, 400, legacy=2), make_table(rng, 350), make_table(rng, 500, legacy=1)]
    # a level seen in one file only, and in one fold only (seg 9: 6 rows of fold 2)
    t = make_table(rng, 300)
    seg = t.column("seg").to_numpy().copy()
    fold = t.column("fold").to_numpy().copy()
    seg[:6], fold[:6] = 9, 2
    t = t.set_column(t.schema.get_field_index("seg"), "seg", pa.array(seg, pa.int16()))
    t = t.set_column(t.schema.get_field_index("fold"), "fold", pa.array(fold, pa.int64()))
    out.append(t)
    return out


@pytest.fixture(scope="module")
def lake(workdir: Path, tables: list[pa.Table]) -> Path:
    return write_lake(workdir / "lake", tables)


def config(lake: Path, registry: Path, name: str, **data) -> dict:
    return {
        "data": {
            "path": str(lake),
            "target": "y",
            "features": FEATURES,
            "weight": "w",
            "fold_column": "fold",
            "categorical": ["seg"],
            "impute": "mean",
            "missing_indicator": True,
            "min_level_count": MIN_COUNT,
            **data,
        },
        "model": {"penalty": "elasticnet", "l1_ratio": L1, "alphas": 6, "standardize": False},
        "cluster": dict(CLUSTER),
        "output": {"registry": str(registry), "name": name},
        "cache": {"enabled": False},
    }


def fit(workdir: Path, address: str, cfg: dict, name: str) -> int:
    path = write_config(workdir / f"{name}.yaml", cfg)
    return main(["fit", "--config", str(path), "--scheduler", address])


def frame(tables: list[pa.Table]) -> pd.DataFrame:
    return pd.concat([t.to_pandas() for t in tables], ignore_index=True)


def reference_design(df: pd.DataFrame, fit_df: pd.DataFrame | None = None) -> tuple[np.ndarray, list[str]]:
    """get_dummies with every level (null last, rare levels summed into <other> last), numeric
    nulls -> the weighted observed mean of ``fit_df``, indicators of the columns with nulls in
    ``fit_df``.  Levels and means come from ``fit_df`` (default: ``df``)."""
    fit_df = df if fit_df is None else fit_df
    w = fit_df["w"].to_numpy()
    cols, names = [], []
    for c in FEATURES:
        if c in ("region", "plan", "seg", "flag"):
            ref = fit_df[c].astype(object).where(fit_df[c].notna(), None)
            counts = ref.value_counts(dropna=False)
            data_levels = sorted(v for v in counts.index if v is not None)
            levels = data_levels + ([None] if None in counts.index else [])
            rare = [lv for lv in levels if counts[lv] < MIN_COUNT]
            kept = [lv for lv in levels if lv not in rare]
            values = df[c].astype(object).where(df[c].notna(), None)
            # get_dummies of the values with null as its own level, in the reference order
            filled = values.map(lambda v: "\0null" if v is None else v)
            dummies = pd.get_dummies(filled, dtype=float)
            for lv in kept:
                key = "\0null" if lv is None else lv
                cols.append(dummies[key].to_numpy() if key in dummies else np.zeros(len(df)))
                names.append(f"{c}=<null>" if lv is None else f"{c}={lv}")
            if rare:
                keys = ["\0null" if lv is None else lv for lv in rare]
                cols.append(sum(dummies[k].to_numpy() for k in keys if k in dummies) + np.zeros(len(df)))
                names.append(f"{c}=<other>")
        else:
            x_fit = fit_df[c].to_numpy(dtype=float, na_value=np.nan)
            obs = ~np.isnan(x_fit)
            mean = np.sum(w[obs] * x_fit[obs]) / np.sum(w[obs])
            x = df[c].to_numpy(dtype=float, na_value=np.nan)
            cols.append(np.where(np.isnan(x), mean, x))
            names.append(c)
            if not obs.all():
                cols.append(np.isnan(x).astype(float))
                names.append(f"{c}=<null>")
    return np.column_stack(cols), names


@pytest.fixture(scope="module")
def fitted(workdir: Path, lake: Path, address: str) -> Path:
    registry = workdir / "registry"
    assert fit(workdir, address, config(lake, registry, "m"), "m") == 0
    return registry


def test_fit_equals_get_dummies_imputation_and_sklearn(fitted: Path, tables: list[pa.Table]) -> None:
    from sklearn.linear_model import ElasticNet

    est = dreg.load_model(f"{fitted}/m")
    df = frame(tables)
    X, names = reference_design(df)
    y, w, folds = df["y"].to_numpy(), df["w"].to_numpy(), df["fold"].to_numpy()
    assert est.feature_names_in_.tolist() == names
    assert "plan=<other>" in names and "plan=legacy" not in names  # 3 rows < MIN_COUNT
    assert "x3=<null>" not in names  # no missing value in x3: no indicator
    ref = enet_cv(X, y, w, folds, est.alphas_, L1, standardize=False)
    np.testing.assert_allclose(est.mse_path_, ref.mse_path, rtol=1e-8)
    assert est.alpha_ == ref.alpha
    scale = np.abs(ref.final.coef).max()
    np.testing.assert_allclose(est.coef_, ref.final.coef, rtol=1e-8, atol=1e-8 * scale)
    assert est.intercept_ == pytest.approx(ref.final.intercept, rel=1e-8)
    sk = ElasticNet(alpha=est.alpha_, l1_ratio=L1, tol=1e-14, max_iter=1_000_000).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(est.coef_, sk.coef_, rtol=1e-6, atol=1e-7 * scale)
    assert est.intercept_ == pytest.approx(sk.intercept_, rel=1e-6)


def test_model_json_records_levels_counts_and_imputation(fitted: Path, tables: list[pa.Table]) -> None:
    version = (fitted / "m" / "latest").read_text().strip()
    model = json.loads((fitted / "m" / version / "model.json").read_text())
    df = frame(tables)
    cols = {c["name"]: c for c in model["encoding"]["columns"]}
    assert list(cols) == FEATURES
    region = cols["region"]
    assert region["kind"] == "categorical" and region["levels"] == [*REGIONS, None]
    assert region["counts"] == [int((df["region"] == r).sum()) for r in REGIONS] + [int(df["region"].isna().sum())]
    assert cols["plan"]["levels"] == PLANS and cols["plan"]["other"] is True and cols["plan"]["lumped"] == ["legacy"]
    assert cols["plan"]["counts"][-1] == 3
    assert cols["seg"]["levels"] == [0, 1, 2, 3, 9] and cols["flag"]["levels"] == [False, True]
    w = df["w"].to_numpy()
    for c in ("x1", "x2", "x3"):
        x = df[c].to_numpy(dtype=float, na_value=np.nan)
        obs = ~np.isnan(x)
        assert cols[c]["impute"] == pytest.approx(np.sum(w[obs] * x[obs]) / np.sum(w[obs]), rel=1e-12)
        assert cols[c]["indicator"] is (not obs.all())
    assert model["features"][:5] == ["region=east", "region=north", "region=south", "region=west", "region=<null>"]


def test_fit_does_not_depend_on_file_order_or_split(
    workdir: Path, fitted: Path, tables: list[pa.Table], address: str
) -> None:
    """The same rows in 7 files of another order (and other row groups): the same model."""
    whole = pa.concat_tables([t.cast(tables[0].schema) for t in tables])
    order = np.random.default_rng(5).permutation(whole.num_rows)
    shuffled = whole.take(pa.array(order))
    bounds = np.linspace(0, whole.num_rows, 8).astype(int)
    parts = [shuffled.slice(a, b - a) for a, b in zip(bounds[:-1], bounds[1:], strict=True)][::-1]
    other = write_lake(workdir / "lake-split", parts, row_group_size=61)
    registry = workdir / "registry"
    assert fit(workdir, address, config(other, registry, "split"), "split") == 0
    a, b = dreg.load_model(f"{registry}/m"), dreg.load_model(f"{registry}/split")
    assert a.feature_names_in_.tolist() == b.feature_names_in_.tolist()
    np.testing.assert_allclose(b.mse_path_, a.mse_path_, rtol=1e-10)
    scale = np.abs(a.coef_).max()
    np.testing.assert_allclose(b.coef_, a.coef_, rtol=1e-9, atol=1e-10 * scale)


def test_predict_encodes_with_the_stored_levels(workdir: Path, fitted: Path, tables: list[pa.Table], address: str) -> None:
    rng = np.random.default_rng(77)
    new = make_table(rng, 200, extra_region="mars", legacy=4)  # an unseen level; the lumped one
    data = write_lake(workdir / "score-in", [new])
    out = workdir / "score-out"
    code = main(
        ["predict", "--model", f"{fitted}/m", "--data", str(data), "--output", str(out), "--scheduler", address]
    )
    assert code == 0
    est = dreg.load_model(f"{fitted}/m")
    X, _ = reference_design(new.to_pandas(), frame(tables))  # "mars": no column, all-zero region dummies
    got = pq.read_table(out / "part-00.parquet").column("prediction").to_numpy()
    np.testing.assert_allclose(got, X @ est.coef_ + est.intercept_, rtol=1e-11, atol=1e-11)
    summary = json.loads((out / "_dreg_predict_summary.json").read_text())
    assert summary["unseen"] == {"region": {"mars": 20}} and summary["rows"] == 200
    # the registry model predicts raw DataFrames with the same encoding (model.json's)
    np.testing.assert_allclose(est.predict(new.to_pandas()[FEATURES]), got, rtol=1e-12, atol=1e-12)
    assert est.unseen_levels_ == {"region": {"mars": 20}}


def test_predict_on_unseen_error_names_file_column_and_level(
    workdir: Path, fitted: Path, address: str, capsys: pytest.CaptureFixture
) -> None:
    new = make_table(np.random.default_rng(78), 50, extra_region="mars")
    data = write_lake(workdir / "score-err-in", [new])
    out = workdir / "score-err-out"
    argv = ["predict", "--model", f"{fitted}/m", "--data", str(data), "--output", str(out)]
    assert main([*argv, "--scheduler", address, "--on-unseen", "error"]) == 3
    err = capsys.readouterr().err
    assert "part-00.parquet" in err and "column 'region'" in err and "mars (5 row(s))" in err
    assert not (out / "part-00.parquet").exists()


def test_without_impute_a_null_is_still_an_invalid_row(
    workdir: Path, lake: Path, address: str, capsys: pytest.CaptureFixture
) -> None:
    cfg = config(lake, workdir / "registry-noimpute", "n")
    del cfg["data"]["impute"], cfg["data"]["missing_indicator"]
    assert fit(workdir, address, cfg, "noimpute") == 3
    err = capsys.readouterr().err
    assert "part-00.parquet" in err and "column 'x1'" in err and "set data.on_invalid_rows: drop" in err
    assert not (workdir / "registry-noimpute" / "n").exists()


def test_retrain_with_a_new_level_compares_champion_on_the_new_rows(
    workdir: Path, tables: list[pa.Table], address: str
) -> None:
    """A new file brings a level the champion never saw (and nulls): the cache scans only that
    file, the challenger equals a fit without cache, and the champion's out-of-sample MSE on the
    new rows is its own predictions' error (its levels, its imputation values)."""
    root = write_lake(workdir / "lake-grow", tables)
    registry = workdir / "registry-grow"
    cfg = config(root, registry, "g")
    cfg["cache"] = {"enabled": True}
    assert fit(workdir, address, cfg, "grow-1") == 0
    champion = dreg.load_model(f"{registry}/g")
    new = make_table(np.random.default_rng(91), 300, extra_region="island")
    pq.write_table(new, root / "part-99.parquet", row_group_size=128)
    assert fit(workdir, address, cfg, "grow-2") == 0
    version = (registry / "g" / "latest").read_text().strip()
    model = json.loads((registry / "g" / version / "model.json").read_text())
    metrics = json.loads((registry / "g" / version / "metrics.json").read_text())
    assert metrics["files_scanned"] == 1 and metrics["files_from_cache"] == 4
    assert "region=island" in model["features"]
    promo = model["promotion"]
    assert promo["rule"] == "new_rows" and promo["rows"] == 300
    # the champion's error on the new rows, from its own encoding of the raw rows
    X_old, _ = reference_design(new.to_pandas(), frame(tables))
    w = new.column("w").to_numpy()
    r = new.column("y").to_numpy() - X_old @ champion.coef_ - champion.intercept_
    assert promo["champion_mse"] == pytest.approx(np.average(r**2, weights=w), rel=1e-9)
    # the cached fit equals a fit without the cache
    cfg_nc = config(root, workdir / "registry-grow-nc", "g")
    assert fit(workdir, address, cfg_nc, "grow-nc") == 0
    a, b = dreg.load_model(f"{registry}/g"), dreg.load_model(f"{workdir / 'registry-grow-nc'}/g")
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-10, atol=1e-12)


def test_config_errors_name_the_keys(workdir: Path, lake: Path, address: str, capsys: pytest.CaptureFixture) -> None:
    cfg = config(lake, workdir / "registry-bad", "b")
    cfg["data"]["impute"] = {"region": "mean"}
    assert fit(workdir, address, cfg, "bad-1") == 2
    assert "impute names categorical column(s) ['region']" in capsys.readouterr().err
    cfg = config(lake, workdir / "registry-bad", "b")
    cfg["data"]["categorical"] = ["x3", "nope"]
    assert fit(workdir, address, cfg, "bad-2") == 2
    assert "categorical names column(s) ['nope'] that are not in features" in capsys.readouterr().err
    cfg = config(lake, workdir / "registry-bad", "b")
    cfg["data"]["categorical"] = ["x3"]  # float: levels must be str, int or bool
    assert fit(workdir, address, cfg, "bad-3") == 3
    assert "categorical column 'x3' has type double" in capsys.readouterr().err


def test_inferred_features_include_string_and_bool_columns(
    workdir: Path, lake: Path, address: str, capsys: pytest.CaptureFixture
) -> None:
    cfg = config(lake, workdir / "registry-infer", "i")
    del cfg["data"]["features"]
    cfg["data"]["exclude"] = ["x3"]
    assert fit(workdir, address, cfg, "infer") == 0
    out = capsys.readouterr().out
    assert "categorical feature(s) (4, one 0/1 column per level): region, plan, seg, flag" in out
    est = dreg.load_model(f"{workdir / 'registry-infer'}/i")
    assert "flag=True" in est.feature_names_in_.tolist() and "x3" not in est.feature_names_in_.tolist()


def test_enet_reference_is_exact_on_this_design(tables: list[pa.Table]) -> None:
    """The reference itself: enet_fit meets scikit-learn's ElasticNet on the dummies (so the
    comparison above is not two wrongs agreeing)."""
    from sklearn.linear_model import ElasticNet

    df = frame(tables)
    X, _ = reference_design(df)
    y, w = df["y"].to_numpy(), df["w"].to_numpy()
    ref = enet_fit(X, y, w, 0.01, L1, standardize=False)
    sk = ElasticNet(alpha=0.01, l1_ratio=L1, tol=1e-14, max_iter=1_000_000).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(ref.coef, sk.coef_, rtol=1e-6, atol=1e-8)


def test_binomial_fit_reads_encoded_rows_in_its_passes(workdir: Path, tables: list[pa.Table], address: str) -> None:
    """Logistic regression: the passes after the statistics pass read rows encoded with the fitted
    levels and imputation values; the model equals the in-memory estimator and scikit-learn's
    LogisticRegression on the get_dummies design."""
    from sklearn.linear_model import LogisticRegression

    binary = []
    for t in tables:
        y = t.column("y").to_numpy()
        binary.append(t.set_column(t.schema.get_field_index("y"), "y", pa.array((y > 1.0).astype(np.int64))))
    lake = write_lake(workdir / "lake-binomial", binary)
    registry = workdir / "registry-binomial"
    cfg = config(lake, registry, "b")
    cfg["model"] = {"family": "binomial", "penalty": "ridge", "alphas": 5, "standardize": False}
    assert fit(workdir, address, cfg, "binomial") == 0
    est = dreg.load_model(f"{registry}/b")
    df = frame(binary)
    X, names = reference_design(df)
    y, w, folds = df["y"].to_numpy(), df["w"].to_numpy(), df["fold"].to_numpy()
    assert est.feature_names_in_.tolist() == names
    ref = dreg.LogisticRegressionCV(l1_ratio=0.0, alphas=est.alphas_, standardize=False).fit(
        X, y, sample_weight=w, folds=folds
    )
    assert est.alpha_ == ref.alpha_
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(est.deviance_path_, ref.deviance_path_, rtol=1e-7)
    # Newton's method: lbfgs stalls on the collinear dummies (all levels plus the intercept)
    sk = LogisticRegression(C=1.0 / (est.alpha_ * w.sum()), solver="newton-cholesky", tol=1e-12, max_iter=1000)
    sk.fit(X, y, sample_weight=w)
    np.testing.assert_allclose(est.coef_, sk.coef_, rtol=1e-6, atol=1e-7)
    assert est.intercept_ == pytest.approx(sk.intercept_, rel=1e-6)


def test_fit_writes_a_report_grouped_by_column(fitted: Path) -> None:
    """The report.html of the fit (issue 13, item 6): coefficients grouped by column, against model.json."""
    from tests.job.test_report import check_document, coef_text, groups_of, level_text

    version = (fitted / "m" / "latest").read_text().strip()
    folder = fitted / "m" / version
    model = json.loads((folder / "model.json").read_text())
    document = (folder / "report.html").read_text()
    check_document(document, n_svg=4)
    groups = groups_of(document)
    columns = model["encoding"]["columns"]
    coef = np.asarray(model["coef"])
    assert list(groups) == ["Numeric"] + [c["name"] for c in columns if c["kind"] == "categorical"]
    start = 0
    numeric = {}
    for c in columns:
        if c["kind"] == "numeric":
            numeric[c["name"]] = (c, coef[start : start + 1 + c["indicator"]])
            start += 1 + c["indicator"]
            continue
        levels = [level_text(lv) for lv in c["levels"]] + (["<other>"] if c["other"] else [])
        beta = coef[start : start + len(levels)]
        start += len(levels)
        _, *rows = groups[c["name"]]["rows"]
        assert [[r[0], r[1], r[3]] for r in rows] == [
            [lv, f"{k:,}", coef_text(b)] for lv, k, b in zip(levels, c["counts"], beta, strict=True)
        ]
    assert start == coef.size
    header, *rows = groups["Numeric"]["rows"]
    shown = {r[0]: dict(zip(header, r, strict=True)) for r in rows}
    assert set(shown) == set(numeric)
    for name, (c, beta) in numeric.items():
        assert shown[name]["coefficient"] == coef_text(beta[0])
        assert shown[name]["missing values imputed with"] == f"{c['impute']:.8g} (mean)"
        if c["indicator"]:
            assert shown[name]["coefficient of the missing indicator"] == coef_text(beta[1])
    # the lumped plan level is named; the facts count the columns
    assert "lumped into one: legacy" in " ".join(groups["plan"]["notes"])
    assert "4 categorical with 16 level(s) in all" in document


def test_files_that_disagree_on_a_level_type_are_a_data_error(
    workdir: Path, address: str, capsys: pytest.CaptureFixture
) -> None:
    """Integer levels in one file and strings in another: exit 3 naming the column and the files,
    no traceback and nothing written."""
    rng = np.random.default_rng(5)
    root = workdir / "lake-mixed"
    root.mkdir()
    for i, col in enumerate([pa.array(["1", "2", "3"] * 20), pa.array([1, 2, 3] * 20)]):
        t = pa.table({"c": col, "x": rng.standard_normal(60), "w": np.ones(60), "fold": np.arange(60) % 4,
                      "y": rng.standard_normal(60)})  # fmt: skip
        pq.write_table(t, root / f"part-{i}.parquet")
    cfg = config(root, workdir / "registry-mixed", "x", features=["c", "x"], categorical=["c"])
    assert fit(workdir, address, cfg, "mixed") == 3
    err = capsys.readouterr().err
    assert "categorical column 'c'" in err and "share one type, got int and str" in err
    assert "part-0.parquet" in err and "part-1.parquet" in err and "Traceback" not in err
    assert not (workdir / "registry-mixed" / "x").exists()
