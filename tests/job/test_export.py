"""``dreg export``: the SQL and ONNX exports reproduce ``dreg predict`` (issue 17, item 4).

Models are fitted with the command's code (:func:`dreg.job.cli.main`) on real
Parquet lakes and a 2-process cluster; ``dreg predict`` scores a second lake
of new rows (nulls, NaN, levels the model does not know, lumped levels,
extreme values) into Parquet.  The exported SQL runs in sqlite (the rows
loaded with pandas ``to_sql``) and in DuckDB when it is installed; the ONNX
graph runs in onnxruntime.  Every prediction must equal ``dreg predict``'s to
1e-9, nulls in the same rows.
"""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dreg.job.cli import main
from dreg.job.export import INT64_NULL, STRING_NULL, onnx_input_types, to_sql
from dreg.job.record import ModelRecord
from dreg.job.registry import read_record
from tests.job.lake_helpers import CLUSTER, write_config

pytestmark = pytest.mark.cluster

onnx = pytest.importorskip("onnx", reason="the ONNX export needs onnx: pip install 'dreg[export]'")
ort = pytest.importorskip("onnxruntime", reason="the ONNX tests need onnxruntime: pip install 'dreg[export]'")

try:  # DuckDB is optional: the SQL also runs there when it is installed
    import duckdb
except ImportError:  # pragma: no cover - depends on the environment
    duckdb = None

REGIONS = ["east", "north", "o'hara", "south"]  # a quote in a level: SQL string escaping
PLANS = ["basic", "plus", "pro"]
TOL = 1e-9


# --------------------------------------------------------------------------- lakes
def categorical_table(rng: np.random.Generator, n: int, start: int, train: bool) -> pa.Table:
    region = rng.choice(REGIONS, n).astype(object)
    region[rng.random(n) < 0.1] = None
    plan = rng.choice(PLANS, n).astype(object)
    seg = rng.integers(0, 4, n).astype(object)
    flag = (rng.random(n) < 0.4).astype(object)
    flag[rng.random(n) < 0.1] = None  # the model gets a flag=<null> level
    x1 = rng.standard_normal(n)
    x2 = 1000.0 + rng.standard_normal(n)
    x3 = 2.0 * rng.standard_normal(n)
    if train:
        plan[:2] = "legacy"  # rare: lumped into plan=<other> (min_level_count 5)
    else:
        # what a scoring lake brings: levels the model does not know, a lumped level, a null
        # where the model has no null level, a null in the column that is not imputed
        region[:6] = ["island", "", "East", "island", None, "o'hara"]
        plan[6:10] = ["legacy", "gold", None, "legacy"]
        seg[10:14] = [7, None, 3, -1]
        x3[14:17] = np.nan  # x3 is not imputed: null predictions
    effect = {"east": 0.5, "north": 1.5, "o'hara": -0.3, "south": -1.0, None: 0.7}
    y = (
        np.array([effect.get(r, 0.0) for r in region])
        + np.array([{"basic": 0.0, "plus": 1.0, "pro": 2.5, "legacy": -2.0}.get(p, 0.0) for p in plan])
        + 0.4 * np.array([s if s is not None else 0 for s in seg], dtype=float)
        - 0.8 * np.array([bool(f) for f in flag], dtype=float)
        + 1.3 * x1
        - 0.9 * (x2 - 1000.0)
        + 0.2 * np.nan_to_num(x3)
        + rng.standard_normal(n)
    )
    x1[rng.random(n) < 0.08] = np.nan  # NaN, imputed with the mean, with an indicator
    x2_null = rng.random(n) < 0.08  # Arrow nulls, imputed with 0.5, with an indicator
    return pa.table(
        {
            "id": pa.array(np.arange(start, start + n), pa.int64()),
            "region": pa.array(region.tolist(), pa.string()),
            "plan": pa.array(plan.tolist(), pa.string()).dictionary_encode(),
            "seg": pa.array(seg.tolist(), pa.int16()),
            "flag": pa.array(flag.tolist(), pa.bool_()),
            "x1": pa.array(x1),
            "x2": pa.array(x2, mask=x2_null),
            "x3": pa.array(x3, from_pandas=True),
            "y": pa.array(y),
        }
    )


def numeric_table(rng: np.random.Generator, n: int, start: int, nulls: bool = False) -> pa.Table:
    a = rng.standard_normal(n)
    i = rng.integers(-50, 50, n).astype(np.int32)
    f = rng.standard_normal(n).astype(np.float32)
    noise = rng.standard_normal(n)
    y = 3.0 + 2.0 * a - 0.05 * i + 0.7 * f.astype(float) + 0.5 * rng.standard_normal(n)
    mask = np.zeros(n, dtype=bool)
    if nulls:
        mask[:3] = True  # not imputed: null predictions
    return pa.table(
        {
            "id": pa.array(np.arange(start, start + n), pa.int64()),
            "x_a": pa.array(a, mask=mask),
            "x_int": pa.array(i, pa.int32()),
            "x_f32": pa.array(f, pa.float32()),
            "x_noise": pa.array(noise),
            "y": pa.array(y),
        }
    )


def binomial_table(rng: np.random.Generator, n: int, start: int, train: bool) -> pa.Table:
    a = rng.standard_normal(n)
    b = rng.standard_normal(n)
    tier = rng.choice(["gold", "silver", "bronze"], n).astype(object)
    eta = 0.3 + 1.2 * a - 0.8 * b + np.array([{"gold": 1.0, "silver": 0.0, "bronze": -1.0}[t] for t in tier])
    y = np.where(rng.random(n) < 1.0 / (1.0 + np.exp(-eta)), 7, 3)  # the target must be numeric
    mask = np.zeros(n, dtype=bool)
    if not train:
        a[:2] = [400.0, -400.0]  # |eta| in the hundreds: clamped probabilities
        tier[2:5] = ["platinum", None, "gold"]  # unseen level, null (no null level)
        mask[5] = True  # a null in a column that is not imputed
    return pa.table(
        {
            "id": pa.array(np.arange(start, start + n), pa.int64()),
            "x_a": pa.array(a, mask=mask),
            "x_b": pa.array(b),
            "tier": pa.array(tier.tolist(), pa.string()),
            "y": pa.array(y, pa.int64()),
        }
    )


def write_lake(root: Path, tables: list[pa.Table]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for k, t in enumerate(tables):
        pq.write_table(t, root / f"part-{k}.parquet", row_group_size=100)
    return root


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("export")


def fit(workdir: Path, address: str, name: str, data: dict, model: dict) -> str:
    cfg = {
        "data": {"target": "y", **data},
        "model": model,
        "cluster": dict(CLUSTER),
        "output": {"registry": str(workdir / "registry"), "name": name},
        "cache": {"enabled": False},
    }
    assert main(["fit", "--config", str(write_config(workdir / f"{name}.yaml", cfg)), "--scheduler", address]) == 0
    return str(workdir / "registry" / name)


def predict(workdir: Path, address: str, model: str, lake: Path, tag: str, *extra: str) -> pd.DataFrame:
    """``dreg predict --keep id`` into Parquet, read back sorted by id."""
    out = workdir / f"pred-{tag}"
    argv = ["predict", "--model", model, "--data", str(lake), "--output", str(out), "--keep", "id"]
    assert main([*argv, "--scheduler", address, *extra]) == 0
    frames = [pq.read_table(p).to_pandas() for p in sorted(out.glob("*.parquet"))]
    return pd.concat(frames, ignore_index=True).sort_values("id", ignore_index=True)


def rows(lake: Path) -> pd.DataFrame:
    """The lake's rows as pandas (dictionary columns decoded; nullable integers and booleans kept)."""
    t = pa.concat_tables(pq.read_table(p) for p in sorted(lake.glob("*.parquet")))
    t = pa.table(
        {
            c: (col.cast(pa.string()) if pa.types.is_dictionary(col.type) else col)
            for c, col in zip(t.column_names, t.columns, strict=True)
        }
    )
    return t.to_pandas(types_mapper={pa.int16(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}.get).sort_values(
        "id", ignore_index=True
    )


@pytest.fixture(scope="module")
def categorical(workdir: Path, address: str) -> dict:
    rng = np.random.default_rng(1717)
    train = write_lake(
        workdir / "cat-train", [categorical_table(rng, 300, 0, True), categorical_table(rng, 300, 300, True)]
    )
    new = write_lake(workdir / "cat-new", [categorical_table(rng, 120, 10_000, False)])
    model = fit(
        workdir,
        address,
        "cat",
        {
            "path": str(train),
            "features": ["region", "plan", "seg", "flag", "x1", "x2", "x3"],
            "categorical": ["seg"],
            "impute": {"x1": "mean", "x2": 0.5},
            "missing_indicator": True,
            "min_level_count": 5,
        },
        {"penalty": "ridge", "alphas": 5, "cv": 3, "standardize": False},
    )
    return {"model": model, "new": new, "pred": predict(workdir, address, model, new, "cat")}


@pytest.fixture(scope="module")
def numeric(workdir: Path, address: str) -> dict:
    rng = np.random.default_rng(1718)
    train = write_lake(workdir / "num-train", [numeric_table(rng, 400, 0), numeric_table(rng, 400, 400)])
    new = write_lake(workdir / "num-new", [numeric_table(rng, 150, 10_000, nulls=True)])
    model = fit(
        workdir,
        address,
        "num",
        {"path": str(train), "features": ["x_a", "x_int", "x_f32", "x_noise"]},
        {"penalty": "lasso", "alphas": 12, "cv": 3},
    )
    _, rec, _ = read_record(model)
    grid = rec.fit["path"]["alphas"][0]
    alpha = grid[4]  # a grid point away from the chosen alpha
    assert not math.isclose(alpha, rec.alpha)
    return {
        "model": model,
        "new": new,
        "alpha": alpha,
        "pred": predict(workdir, address, model, new, "num"),
        "pred_alpha": predict(workdir, address, model, new, "num-alpha", "--alpha", repr(alpha)),
        # between grid points: the exact refit from the version's stats.npz
        "off_grid": math.sqrt(grid[4] * grid[5]),
        "pred_off_grid": predict(
            workdir, address, model, new, "num-off", "--alpha", repr(math.sqrt(grid[4] * grid[5]))
        ),
    }


@pytest.fixture(scope="module")
def binomial(workdir: Path, address: str) -> dict:
    rng = np.random.default_rng(1719)
    train = write_lake(workdir / "bin-train", [binomial_table(rng, 400, 0, True), binomial_table(rng, 400, 400, True)])
    new = write_lake(workdir / "bin-new", [binomial_table(rng, 100, 10_000, False)])
    model = fit(
        workdir,
        address,
        "bin",
        {"path": str(train), "features": ["x_a", "x_b", "tier"]},
        {"family": "binomial", "penalty": "lasso", "alphas": 8, "cv": 3},
    )
    return {"model": model, "new": new, "pred": predict(workdir, address, model, new, "bin")}


# --------------------------------------------------------------------------- running the exports
def export(workdir: Path, model: str, fmt: str, name: str, *extra: str) -> Path:
    out = workdir / "exports" / name
    assert main(["export", model, "--format", fmt, "--output", str(out), *extra]) == 0
    return out


def run_sqlite(sql: str, df: pd.DataFrame, table: str = "new rows") -> pd.DataFrame:
    with sqlite3.connect(":memory:") as conn:
        try:
            conn.execute("SELECT EXP(0.0e0)")
        except sqlite3.OperationalError:  # pragma: no cover - a sqlite built without its math functions
            conn.create_function("EXP", 1, math.exp, deterministic=True)
        df.to_sql(table, conn, index=False)
        out = pd.read_sql_query(sql, conn)
    return out.sort_values("id", ignore_index=True)


def run_duckdb(sql: str, df: pd.DataFrame, table: str = "new rows") -> pd.DataFrame:
    conn = duckdb.connect()
    try:
        conn.register("frame", df)
        conn.execute(f'CREATE TABLE "{table}" AS SELECT * FROM frame')  # pandas NaN/NA -> NULL
        out = conn.execute(sql).fetchdf()
    finally:
        conn.close()
    return out.sort_values("id", ignore_index=True)


def run_onnx(path: Path, rec: ModelRecord, df: pd.DataFrame) -> dict[str, np.ndarray]:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {}
    for name, kind in onnx_input_types(rec).items():
        col = df[name]
        if kind == "double":
            feeds[name] = col.to_numpy(dtype=np.float64, na_value=np.nan)
        elif kind == "string":
            feeds[name] = np.array([STRING_NULL if pd.isna(v) else str(v) for v in col], dtype=object)
        else:
            feeds[name] = np.array([INT64_NULL if pd.isna(v) else int(v) for v in col], dtype=np.int64)
    assert [i.name for i in sess.get_inputs()] == list(feeds)
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, feeds), strict=True))


def assert_numbers_equal(got, want: pd.Series) -> None:
    got = pd.Series(got, dtype="float64").to_numpy(na_value=np.nan)
    want = want.to_numpy(dtype=np.float64, na_value=np.nan)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL)


def engines() -> list:
    return [run_sqlite] + ([run_duckdb] if duckdb is not None else [])


def test_duckdb_is_tested_when_installed() -> None:
    if duckdb is None:  # pragma: no cover - depends on the environment
        pytest.skip("duckdb is not installed: the SQL export is tested in sqlite only (pip install duckdb)")


# --------------------------------------------------------------------------- the tests
def test_sql_reproduces_predict_with_levels_nulls_and_imputation(workdir: Path, categorical: dict) -> None:
    pred = categorical["pred"]
    assert pred["prediction"].isna().sum() == 3  # x3 null, not imputed
    sql_path = export(workdir, categorical["model"], "sql", "cat.sql", "--table", "new rows", "--keep", "id")
    sql = sql_path.read_text()
    assert "'o''hara'" in sql and "COALESCE" in sql and "IS NULL" in sql
    df = rows(categorical["new"])
    for run in engines():
        out = run(sql, df)
        assert list(out.columns) == ["id", "prediction"]
        np.testing.assert_array_equal(out["id"].to_numpy(), pred["id"].to_numpy())
        assert_numbers_equal(out["prediction"], pred["prediction"])


def test_onnx_reproduces_predict_with_levels_nulls_and_imputation(workdir: Path, categorical: dict) -> None:
    path = export(workdir, categorical["model"], "onnx", "cat.onnx")
    _, rec, _ = read_record(categorical["model"])
    assert onnx_input_types(rec) == {
        "region": "string",
        "plan": "string",
        "seg": "int64",
        "flag": "int64",
        "x1": "double",
        "x2": "double",
        "x3": "double",
    }
    out = run_onnx(path, rec, rows(categorical["new"]))
    assert_numbers_equal(out["prediction"], categorical["pred"]["prediction"])
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert meta["dreg.model"] == "cat" and meta["dreg.model_version"] == rec.version


def test_numeric_lasso_sql_and_onnx_at_grid_and_off_grid_alphas(workdir: Path, numeric: dict, capsys) -> None:
    df = rows(numeric["new"])
    _, rec, _ = read_record(numeric["model"])
    # the model's own alpha: SQL to standard output (the table's default name is the model's)
    capsys.readouterr()
    assert main(["export", numeric["model"], "--format", "sql", "--keep", "id"]) == 0
    sql = capsys.readouterr().out
    assert 'FROM "num"' in sql
    for run in engines():
        assert_numbers_equal(run(sql, df, table="num")["prediction"], numeric["pred"]["prediction"])
    assert_numbers_equal(
        run_onnx(export(workdir, numeric["model"], "onnx", "num.onnx"), rec, df)["prediction"],
        numeric["pred"]["prediction"],
    )
    # --alpha at a grid point: dreg predict --alpha's model
    a = repr(numeric["alpha"])
    sql = export(
        workdir, numeric["model"], "sql", "num-alpha.sql", "--alpha", a, "--keep", "id", "--table", "t"
    ).read_text()
    want = numeric["pred_alpha"]["prediction"]
    assert want.isna().sum() == 3
    assert not np.allclose(want.dropna(), numeric["pred"]["prediction"].dropna())
    for run in engines():
        assert_numbers_equal(run(sql, df, table="t")["prediction"], want)
    out = run_onnx(export(workdir, numeric["model"], "onnx", "num-alpha.onnx", "--alpha", a), rec, df)
    assert_numbers_equal(out["prediction"], want)
    # between grid points: the refit dreg predict --alpha makes
    a = repr(numeric["off_grid"])
    want = numeric["pred_off_grid"]["prediction"]
    assert not np.allclose(want.dropna(), numeric["pred_alpha"]["prediction"].dropna())
    sql = export(workdir, numeric["model"], "sql", "num-off.sql", "--alpha", a, "--keep", "id", "--table", "t")
    assert_numbers_equal(run_sqlite(sql.read_text(), df, table="t")["prediction"], want)
    out = run_onnx(export(workdir, numeric["model"], "onnx", "num-off.onnx", "--alpha", a), rec, df)
    assert_numbers_equal(out["prediction"], want)


def test_binomial_probability_and_labels(workdir: Path, binomial: dict) -> None:
    pred = binomial["pred"]
    _, rec, _ = read_record(binomial["model"])
    assert rec.classes == [3, 7]
    assert pred["probability"].max() == 1 - 1e-15 and pred["probability"].min() == 1e-15  # clamped rows
    null = pred["probability"].isna().to_numpy()
    assert null.sum() == 1
    df = rows(binomial["new"])
    sql = export(workdir, binomial["model"], "sql", "bin.sql", "--keep", "id", "--table", "t").read_text()
    for run in engines():
        out = run(sql, df, table="t")
        assert list(out.columns) == ["id", "probability", "prediction"]
        assert_numbers_equal(out["probability"], pred["probability"])
        assert [None if pd.isna(v) else int(v) for v in out["prediction"]] == [
            None if pd.isna(v) else int(v) for v in pred["prediction"]
        ]
    out = run_onnx(export(workdir, binomial["model"], "onnx", "bin.onnx"), rec, df)
    assert_numbers_equal(out["probability"], pred["probability"])
    labels = out["prediction"]
    assert labels.dtype == pred["prediction"].dtype  # typed like the labels, as dreg predict does
    np.testing.assert_array_equal(labels[~null], pred["prediction"].to_numpy()[~null])
    assert labels[null].tolist() == [3]  # ONNX has no null label: classes[0], probability NaN


def test_poisson_and_label_types_from_records(tmp_path: Path) -> None:
    """Poisson and binomial models with bool / int / float / string labels, from records alone (no fit),
    against dreg.core.datafit in sqlite and onnxruntime."""
    from dreg.core.datafit import Binomial, Poisson
    from dreg.job.export import to_onnx

    X = np.array([[0.5, 1.0], [-2.0, 3.0], [800.0, 0.0], [-900.0, 1.0], [np.nan, 1.0]])
    coef, intercept = np.array([1.25, -0.5]), 0.125
    eta = X @ coef + intercept
    ok = np.isfinite(eta)
    df = pd.DataFrame({"id": np.arange(5), "a": X[:, 0], "b": X[:, 1]})
    base = {"features": ["a", "b"], "coef": coef.tolist(), "intercept": intercept, "alpha": 0.1, "estimator": "X"}

    def onnx_run(rec: ModelRecord) -> dict[str, np.ndarray]:
        path = tmp_path / "m.onnx"
        path.write_bytes(to_onnx(rec))
        return run_onnx(path, rec, df)

    rec = ModelRecord(fit={**base, "family": "poisson"})
    want = pd.Series(np.where(ok, Poisson().mean(np.nan_to_num(eta)), np.nan))
    assert_numbers_equal(run_sqlite(to_sql(rec, "t", ["id"]), df, "t")["prediction"], want)
    assert_numbers_equal(onnx_run(rec)["prediction"], want)
    for classes in ([False, True], [0, 1], [-1.5, 2.5], ["no", "yes"]):
        rec = ModelRecord(fit={**base, "family": "binomial", "classes": classes})
        want = pd.Series(np.where(ok, Binomial().mean(np.nan_to_num(eta)), np.nan))
        labels = [classes[1] if e > 0 else classes[0] for e in eta[:4]]
        out = run_sqlite(to_sql(rec, "t", ["id"]), df, "t")
        assert_numbers_equal(out["probability"], want)
        assert out["prediction"].tolist()[:4] == labels and pd.isna(out["prediction"].iloc[4])
        out = onnx_run(rec)
        assert_numbers_equal(out["probability"], want)
        assert out["prediction"].tolist() == [*labels, classes[0]]


def test_cli_errors_and_exit_codes(workdir: Path, numeric: dict, binomial: dict, capsys) -> None:
    with pytest.raises(SystemExit) as exc:  # argparse: unknown format
        main(["export", numeric["model"], "--format", "pmml"])
    assert exc.value.code == 2
    capsys.readouterr()
    assert main(["export", str(workdir / "registry" / "nope"), "--format", "sql"]) == 1  # RegistryError
    assert "no model 'nope'" in capsys.readouterr().err
    assert main(["export", numeric["model"], "--format", "onnx"]) == 2  # binary needs --output
    assert "--output" in capsys.readouterr().err
    # a binomial model has no statistics to refit from between grid points
    assert main(["export", binomial["model"], "--format", "sql", "--alpha", "12345.678"]) == 2
    assert "alpha" in capsys.readouterr().err
    assert main(["export", numeric["model"], "--format", "sql", "--keep", "prediction"]) == 2
    assert main(["export", numeric["model"], "--format", "sql", "--storage-options", "[1]"]) == 2
    assert not (workdir / "exports" / "never").exists()


def test_onnx_refuses_a_string_level_that_is_its_null_token() -> None:
    from dreg.core.design import ColumnEncoding, Encoding
    from dreg.job.errors import ConfigError
    from dreg.job.export import to_onnx

    enc = Encoding((ColumnEncoding("c", kind="categorical", levels=("<null>", "a"), counts=(5, 5)),))
    rec = ModelRecord(
        fit={
            "features": ["c=<null>", "c=a"],
            "coef": [1.0, 2.0],
            "intercept": 0.0,
            "alpha": 0.1,
            "estimator": "X",
            "encoding": enc.to_json(),
        }
    )
    with pytest.raises(ConfigError, match="missing value"):
        to_onnx(rec)
    assert json.loads(json.dumps(onnx_input_types(rec))) == {"c": "string"}
