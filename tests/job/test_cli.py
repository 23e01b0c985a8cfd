"""The ``dreg`` command line end to end: fit, show, predict, demo, exit codes.

The module's fit and its bad-data fit run as real ``python -m dreg.job.cli``
processes (the console script's flush and exit code, the embedded cluster of a
fresh interpreter); the rest calls the CLI's ``main`` in this process
(:func:`tests.job.lake_helpers.run_cli`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

import dreg
from dreg.job.lake import open_lake
from dreg.job.registry import list_versions, load_model, read_model
from tests.job.lake_helpers import (
    FEATURES,
    LAYOUT,
    assert_no_pickle,
    assert_same_fit,
    config_dict,
    fit_in_memory,
    make_table,
    read_in_memory,
    registry_state,
    run_cli,
    to_float64,
    write_config,
    write_lake,
    write_table,
)

SUBCOMMANDS = ["fit", "predict", "demo", "show"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def lake(workdir: Path) -> Path:
    return write_lake(workdir / "lake", np.random.default_rng(23))


@pytest.fixture(scope="module")
def fitted(workdir: Path, lake: Path):
    """``dreg fit --config ... --performance-report ...`` once: ``(process, registry, report)``."""
    registry = workdir / "registry"
    cfg = write_config(workdir / "fit.yaml", config_dict(lake, registry, name="m"))
    perf = workdir / "perf" / "dask-report.html"
    perf.parent.mkdir()
    proc = run_cli("fit", "--config", str(cfg), "--performance-report", str(perf), process=True)
    return proc, registry, perf


# --------------------------------------------------------------------------- help


def test_console_script_help_lists_commands_and_exit_codes() -> None:
    script = Path(sys.executable).with_name("dreg")
    assert script.exists(), script
    import subprocess

    proc = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    for cmd in SUBCOMMANDS:
        assert cmd in proc.stdout
    assert "exit codes" in proc.stdout and "4 Dask cluster" in proc.stdout


@pytest.mark.parametrize("cmd", SUBCOMMANDS)
def test_subcommand_help(cmd: str) -> None:
    proc = run_cli(cmd, "--help", timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"usage: dreg {cmd}")
    assert "exit codes" in proc.stdout


def test_version() -> None:
    import dreg

    proc = run_cli("--version", timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == f"dreg {dreg.__version__}"


# --------------------------------------------------------------------------- usage errors (exit 2)


def test_missing_config_option_exits_2() -> None:
    proc = run_cli("fit", timeout=60)
    assert proc.returncode == 2
    assert "--config" in proc.stderr


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["frobnicate"],
        ["fit", "--config", "x.yaml", "--scheduler", "tcp://a:1", "--scheduler-file", "s.json"],
        ["predict", "--model", "r/m", "--data", "lake"],
    ],
    ids=["no-command", "unknown-command", "exclusive-scheduler", "predict-without-output"],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    assert run_cli(*args, timeout=60).returncode == 2


def test_unknown_key_exits_2_and_names_it(tmp_path: Path, lake: Path) -> None:
    registry = tmp_path / "registry"
    d = config_dict(lake, registry)
    d["model"]["alpah"] = 0.1
    proc = run_cli("fit", "--config", str(write_config(tmp_path / "bad.yaml", d)), timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "configuration error" in proc.stderr and "model.alpah" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not registry.exists()


def test_config_file_that_does_not_exist_exits_2(tmp_path: Path) -> None:
    proc = run_cli("fit", "--config", str(tmp_path / "nope.yaml"), timeout=60)
    assert proc.returncode == 2
    assert "nope.yaml" in proc.stderr and "Traceback" not in proc.stderr


def test_missing_relative_lake_names_the_absolute_path(tmp_path: Path) -> None:
    folder = tmp_path / "jobs"
    folder.mkdir()
    cfg = write_config(folder / "job.yaml", config_dict("no-such-lake", "models"))
    proc = run_cli("fit", "--config", "jobs/job.yaml", cwd=tmp_path, timeout=60)
    assert proc.returncode == 3, proc.stderr
    assert str(folder / "no-such-lake") in proc.stderr and "Traceback" not in proc.stderr
    assert cfg.exists() and not (folder / "models").exists()


@pytest.mark.cluster
@pytest.mark.slow
def test_relative_paths_resolve_against_the_config_folder_from_any_cwd(tmp_path: Path) -> None:
    """What a cron job does: ``dreg fit --config /abs/dir/job.yaml`` from another folder."""
    folder = tmp_path / "jobs"
    write_lake(folder / "lake", np.random.default_rng(31), layout=LAYOUT[:3], extras=False)
    cfg = write_config(
        folder / "job.yaml", config_dict("lake", "models", name="rel", cache={"path": "stats-cache"})
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = run_cli("fit", "--config", str(cfg), cwd=elsewhere)
    assert proc.returncode == 0, proc.stderr
    versions = list_versions(str(folder / "models"), "rel")
    assert len(versions) == 1
    assert (folder / "stats-cache").is_dir()
    assert list(elsewhere.iterdir()) == []  # nothing written relative to the working directory


@pytest.mark.cluster
@pytest.mark.slow
def test_fit_logs_inferred_features_skipped_columns_and_row_keys(tmp_path: Path) -> None:
    import pyarrow as pa

    rng = np.random.default_rng(41)
    for i, n in enumerate((300, 200)):
        t = make_table(rng, n, tag=str(i))
        t = t.append_column("row_id", pa.array(np.arange(n) + 1000 * i, pa.int64()))
        write_table(tmp_path / "lake" / f"part-{i}.parquet", t)
    cfg = config_dict(tmp_path / "lake", tmp_path / "registry", name="inf")
    del cfg["data"]["features"]
    cfg["data"]["exclude"] = ["x_noise"]
    proc = run_cli("fit", "--config", str(write_config(tmp_path / "job.yaml", cfg)))
    assert proc.returncode == 0, proc.stderr
    used = [c for c in FEATURES if c != "x_noise"]
    assert f"dreg: features ({len(used)}, inferred from the first file): {', '.join(used)}" in proc.stdout
    skipped = next(line for line in proc.stdout.splitlines() if line.startswith("dreg: columns skipped: "))
    for part in ("id (row key (unique string values))", "x_noise (excluded (data.exclude))", "y (target)", "row_id (row key"):
        assert part in skipped, skipped
    assert "warning: column 'row_id' looks like a row key" in proc.stdout
    assert "warning: column 'id' looks like a row key (unique string values" in proc.stdout
    _, model, _ = read_model(f"{tmp_path / 'registry'}/inf")
    assert model["features"] == used

    # an exclude naming no column is a configuration error that lists them
    cfg["data"]["exclude"] = ["x_noise", "x_nosie"]
    proc = run_cli("fit", "--config", str(write_config(tmp_path / "bad.yaml", cfg)))
    assert proc.returncode == 2, proc.stderr
    assert "data.exclude lists column(s) not in the lake: ['x_nosie']" in proc.stderr


# --------------------------------------------------------------------------- fit, show


@pytest.mark.cluster
@pytest.mark.slow
def test_fit_writes_a_version_equal_to_the_in_memory_fit(fitted, lake: Path) -> None:
    proc, registry, _ = fitted
    assert proc.returncode == 0, proc.stderr
    versions = list_versions(str(registry), "m")
    assert len(versions) == 1
    assert f"wrote {registry}/m/{versions[0]}" in proc.stdout
    assert "6 file(s)" in proc.stdout and "embedded LocalCluster" in proc.stdout
    assert_no_pickle(registry)
    X, y, folds = read_in_memory(open_lake(str(lake)).files)
    assert_same_fit(load_model(f"{registry}/m"), fit_in_memory(X, y, folds))


@pytest.mark.cluster
@pytest.mark.slow
def test_performance_report_is_written(fitted) -> None:
    proc, _, perf = fitted
    assert proc.returncode == 0, proc.stderr
    text = perf.read_text(encoding="utf-8", errors="replace")
    assert "<html" in text.lower() and len(text) > 1000
    assert "dreg-read-stats" in text  # the task prefix shows up in the task stream


@pytest.mark.cluster
@pytest.mark.slow
def test_show_prints_alpha_and_nonzero_features(fitted) -> None:
    _, registry, _ = fitted
    _, model, _ = read_model(f"{registry}/m")
    proc = run_cli("show", f"{registry}/m", timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert f"m version {model['version']}" in proc.stdout
    assert f"alpha       {model['alpha']:.6g}" in proc.stdout
    nonzero = [f for f, c in zip(model["features"], model["coef"], strict=True) if c != 0]
    assert nonzero and f"non-zero    {len(nonzero)} of {len(FEATURES)}" in proc.stdout
    for f in nonzero:
        assert f in proc.stdout
    # a pinned version shows the same thing
    pinned = run_cli("show", f"{registry}/m/{model['version']}", timeout=60)
    assert pinned.returncode == 0 and pinned.stdout == proc.stdout


@pytest.mark.cluster
@pytest.mark.slow
def test_show_json(fitted) -> None:
    _, registry, _ = fitted
    _, model, metrics = read_model(f"{registry}/m")
    proc = run_cli("show", "--json", f"{registry}/m", timeout=60)
    assert proc.returncode == 0, proc.stderr
    facts = json.loads(proc.stdout)
    assert facts["alpha"] == model["alpha"] and facts["version"] == model["version"]
    assert facts["coef"] == dict(zip(model["features"], model["coef"], strict=True))
    assert facts["metrics"] == metrics and facts["target"] == "y"


def test_show_of_a_missing_model_exits_1(tmp_path: Path) -> None:
    proc = run_cli("show", f"{tmp_path}/nothing", timeout=60)
    assert proc.returncode == 1
    assert "registry error" in proc.stderr and "Traceback" not in proc.stderr


# --------------------------------------------------------------------------- predict


@pytest.mark.cluster
@pytest.mark.slow
def test_predict_writes_one_file_per_input_in_row_order(fitted, lake: Path, workdir: Path) -> None:
    _, registry, _ = fitted
    _, model, _ = read_model(f"{registry}/m")
    out = workdir / "scores"
    proc = run_cli(
        "predict",
        "--model",
        f"{registry}/m",
        "--data",
        str(lake),
        "--output",
        str(out),
        "--keep",
        "id",
        "day",
    )
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {len(LAYOUT)} file(s)" in proc.stdout

    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    # no temporary or hidden files; the run's summary beside the scores (skipped by lake readers)
    assert written == sorted(["_dreg_predict_summary.json", *(rel for rel, _, _ in LAYOUT)])
    summary = json.loads((out / "_dreg_predict_summary.json").read_text())
    assert summary["files"] == len(LAYOUT) and summary["unseen"] == {} and summary["failed_files"] == 0
    coef = np.asarray(model["coef"])
    version = registry_state(registry, "m")[1].strip()
    for rel, n, _ in LAYOUT:
        got = pq.read_table(out / rel)
        assert got.column_names == ["prediction", "id", "day"]
        # lineage: the model and the input file, in the Parquet key-value metadata
        meta = {k.decode(): v.decode() for k, v in pq.read_metadata(out / rel).metadata.items()}
        assert meta["dreg.model"] == "m" and meta["dreg.model_version"] == version
        assert meta["dreg.model_registry"] == str(registry)
        assert meta["dreg.input"] == str(lake / rel)
        assert meta["dreg.version"] == dreg.__version__
        src = pq.read_table(lake / rel)
        assert got.num_rows == n == src.num_rows
        assert got.column("id").to_pylist() == src.column("id").to_pylist()  # same rows, same order
        assert set(got.column("day").to_pylist()) <= {rel.split("/")[0].split("=")[1]}
        X = (
            np.column_stack([to_float64(src.column(c)) for c in FEATURES])
            if n
            else np.zeros((0, len(FEATURES)))
        )
        expected = X @ coef + model["intercept"]
        pred = got.column("prediction").to_numpy()
        scale = np.max(np.abs(expected)) if n else 1.0
        np.testing.assert_allclose(pred, expected, rtol=1e-12, atol=1e-12 * scale)


# ------------------------------------------------------------------------- data and cluster errors


@pytest.mark.cluster
@pytest.mark.slow
def test_bad_data_exits_3_and_writes_nothing(fitted, lake: Path, tmp_path: Path) -> None:
    _, registry, _ = fitted
    before = registry_state(registry, "m")
    bad = write_lake(tmp_path / "lake", np.random.default_rng(4), layout=LAYOUT[:3], extras=False)
    path = bad / "day=2026-11-02" / "part-9.parquet"
    write_table(path, make_table(np.random.default_rng(5), 40).drop_columns(["x_noise"]))
    cfg = write_config(tmp_path / "cfg.yaml", config_dict(bad, registry, name="m"))
    proc = run_cli("fit", "--config", str(cfg), process=True)
    assert proc.returncode == 3, proc.stderr
    # the workers of the embedded cluster log the failed task; dreg's own message comes last
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("dreg: data error: ") and str(path) in last and "x_noise" in last
    assert registry_state(registry, "m") == before


@pytest.mark.timeout(120)
def test_unreachable_scheduler_exits_4_without_hanging(tmp_path: Path, lake: Path) -> None:
    registry = tmp_path / "registry"
    cfg = write_config(
        tmp_path / "cfg.yaml", config_dict(lake, registry, cluster={"connect_timeout": 1})  # nothing listens: fails, not slower
    )
    # does not hang: run_cli raises TimeoutExpired after 60 s (no wall-clock assert; timings: benchmarks/)
    proc = run_cli("fit", "--config", str(cfg), "--scheduler", "tcp://127.0.0.1:1", timeout=60)
    assert proc.returncode == 4, proc.stderr
    assert "cluster error" in proc.stderr and "tcp://127.0.0.1:1" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not registry.exists()


def test_predict_with_an_unknown_model_exits_1(tmp_path: Path, lake: Path) -> None:
    proc = run_cli(
        "predict",
        "--model",
        f"{tmp_path}/none",
        "--data",
        str(lake),
        "--output",
        str(tmp_path / "o"),
        timeout=60,
    )
    assert proc.returncode == 1 and "registry error" in proc.stderr
    assert not (tmp_path / "o").exists()


# --------------------------------------------------------------------------- demo


@pytest.mark.cluster
@pytest.mark.slow
def test_demo(tmp_path: Path) -> None:
    work = tmp_path / "demo"
    proc = run_cli("demo", "--workdir", str(work))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    model_line = next(s for s in lines if s.startswith("model:"))
    report_line = next(s for s in lines if s.startswith("report:"))
    model_path = Path(model_line.split(":", 1)[1].strip())
    report_path = Path(report_line.split(":", 1)[1].strip())
    assert model_path.is_file() and report_path.is_file()
    assert model_path.parent.parent == work / "registry" / "demo-lasso"
    assert "selected 5 of 20 features" in proc.stdout
    assert json.loads(model_path.read_text())["penalty"] == "lasso"
    assert_no_pickle(work)


@pytest.mark.cluster
@pytest.mark.slow
def test_predict_scores_the_good_files_and_names_the_bad_ones(fitted, tmp_path: Path) -> None:
    """Two bad files among good ones: every good file is scored, exit 3 names the
    first bad file (lake order) and counts the other, no worker traceback."""
    _, registry, _ = fitted
    rng = np.random.default_rng(8)
    src = write_lake(tmp_path / "lake", rng, layout=LAYOUT[:3], extras=False)
    first = src / "day=2026-11-01" / "part-8.parquet"
    second = src / "day=2026-11-02" / "part-9.parquet"
    write_table(first, make_table(rng, 60).drop_columns(["x_noise"]))
    second.parent.mkdir(parents=True, exist_ok=True)
    second.write_text("id,x_a,y\n1,2.0,3.0\n")  # not Parquet
    out = tmp_path / "scores"
    proc = run_cli("predict", "--model", f"{registry}/m", "--data", str(src), "--output", str(out))
    err = proc.stderr
    assert proc.returncode == 3, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("dreg: data error: ") and str(first) in last and "x_noise" in last
    assert "and 1 more file(s) with errors" in last and str(second) in last
    assert "Traceback" not in err and "Compute Failed" not in err, err
    assert "wrote 3 file(s)" in proc.stdout and "2 file(s) failed and have no output" in proc.stdout
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert written == sorted(["_dreg_predict_summary.json", *(rel for rel, _, _ in LAYOUT[:3])])
    assert json.loads((out / "_dreg_predict_summary.json").read_text())["failed_files"] == 2
