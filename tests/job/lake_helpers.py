"""Parquet lakes, configurations, clusters and CLI runs shared by the batch-job tests.

Used by ``test_lake.py``, ``test_registry.py``, ``test_cli.py`` and ``test_s3.py``.
Everything is real: lakes are written with pyarrow into ``tmp_path``, clusters
are multi-process ``LocalCluster`` s on 127.0.0.1, the CLI runs in a
subprocess.  The in-memory reference reads the same files with pyarrow and
converts every value to float64 through Python (``float(v)``), independently
of how :mod:`dreg.job.lake` converts Arrow columns.
"""

from __future__ import annotations

import contextlib
import copy
import subprocess
import sys
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from dreg.core.stats import SufficientStats

TARGET = "y"
# int32 / int8 (0/1) / decimal128 / float32 / float64 feature columns (a bool column would be
# categorical: tests/job/test_categorical.py)
FEATURES = ["x_int", "x_bool", "x_dec", "x_f32", "x_a", "x_b", "x_noise"]
SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("x_int", pa.int32()),
        ("x_bool", pa.int8()),
        ("x_dec", pa.decimal128(9, 2)),
        ("x_f32", pa.float32()),
        ("x_a", pa.float64()),
        ("x_b", pa.float64()),
        ("x_noise", pa.float64()),
        ("y", pa.float64()),
    ]
)

# (relative path, rows, row_group_size): uneven row groups, one empty file,
# three hive partitions
LAYOUT: list[tuple[str, int, int]] = [
    ("day=2026-11-01/part-0.parquet", 700, 256),
    ("day=2026-11-01/part-1.parquet", 0, 100),
    ("day=2026-11-02/part-0.parquet", 900, 100),
    ("day=2026-11-02/part-1.parquet", 500, 500),  # carries an extra column
    ("day=2026-11-03/part-0.parquet", 1100, 333),
    ("day=2026-11-03/part-1.parquet", 400, 1000),
]
EXTRA_COLUMN_FILE = "day=2026-11-02/part-1.parquet"

MODEL = {"penalty": "lasso", "alphas": 30, "cv": 4, "random_state": 7}
CLUSTER = {"n_workers": 2, "threads_per_worker": 1, "dashboard_address": None}


def make_table(rng: np.random.Generator, n: int, tag: str = "r") -> pa.Table:
    """``n`` rows of the lake schema; y is linear in the features plus noise.

    ``x_int`` has a mean of 1e5 and ``x_f32`` of 1e4 with unit spread, so any
    accumulation in float32 (or raw uncentered sums) would be visible.
    """
    x_int = rng.integers(-50, 50, n) + 100_000
    x_bool = rng.random(n) < 0.3
    cents = rng.integers(-100_000, 100_000, n)
    x_f32 = (1e4 + rng.standard_normal(n)).astype(np.float32)
    x_a = rng.standard_normal(n)
    x_b = 0.5 * x_a + rng.standard_normal(n)
    x_noise = rng.standard_normal(n)
    y = (
        1.0
        + 0.02 * (x_int - 100_000)
        + 1.5 * x_bool
        + 0.003 * cents / 100
        - 2.0 * (x_f32.astype(np.float64) - 1e4)
        + 1.0 * x_a
        - 0.5 * x_b
        + 0.5 * rng.standard_normal(n)
    )
    return pa.table(
        {
            "id": pa.array([f"{tag}-{i}" for i in range(n)], pa.string()),
            "x_int": pa.array(x_int.astype(np.int32), pa.int32()),
            "x_bool": pa.array(x_bool.astype(np.int8), pa.int8()),
            "x_dec": pa.array([Decimal(int(c)).scaleb(-2) for c in cents], pa.decimal128(9, 2)),
            "x_f32": pa.array(x_f32, pa.float32()),
            "x_a": pa.array(x_a),
            "x_b": pa.array(x_b),
            "x_noise": pa.array(x_noise),
            "y": pa.array(y),
        },
        schema=SCHEMA,
    )


def write_table(path: Path, table: pa.Table, row_group_size: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


def write_lake(
    root: Path,
    rng: np.random.Generator,
    layout: Sequence[tuple[str, int, int]] = LAYOUT,
    *,
    extras: bool = True,
) -> Path:
    """A hive-partitioned lake; with ``extras``, an extra column in one file and hidden junk."""
    for rel, n, rg in layout:
        table = make_table(rng, n, tag=rel.replace("/", "_"))
        if extras and rel == EXTRA_COLUMN_FILE:
            table = table.add_column(1, "extra", pa.array(rng.standard_normal(n)))
        write_table(root / rel, table, rg)
    if extras:
        # things a Spark/Hadoop writer leaves behind: all must be ignored
        (root / "_SUCCESS").write_bytes(b"")
        (root / "day=2026-11-02" / ".part-0.parquet.crc").write_bytes(b"\x00crc junk")
        (root / "_temporary" / "0").mkdir(parents=True)
        (root / "_temporary" / "0" / "part-7.parquet").write_bytes(b"half-written junk")
        # and what people leave beside the data: not Parquet by name, so not read (data.glob)
        (root / "README.txt").write_text("events, one folder per day\n")
    return root


def to_float64(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A column as float64 through Python values (None -> NaN)."""
    return np.array([np.nan if v is None else float(v) for v in col.to_pylist()], dtype=np.float64)


def read_in_memory(
    files: Sequence[Any],
    features: Sequence[str] = FEATURES,
    target: str = TARGET,
    *,
    cv: int = MODEL["cv"],
    random_state: int = MODEL["random_state"],
    path_of=lambda f: f.path,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(X, y, folds)`` of lake files (``LakeFile`` s in ``open_lake`` order), in float64.

    Folds come from :func:`dreg.job.lake.file_fold_ids` per file over all of its
    rows, before any row is dropped.
    """
    from dreg.job.lake import file_fold_ids

    Xs, ys, fs = [], [], []
    for f in files:
        table = pq.read_table(path_of(f), columns=[*features, target])
        n = table.num_rows
        Xs.append(
            np.column_stack([to_float64(table.column(c)) for c in features])
            if n
            else np.zeros((0, len(features)))
        )
        ys.append(to_float64(table.column(target)))
        fs.append(file_fold_ids(f, 0, n, cv, random_state))
    return np.concatenate(Xs), np.concatenate(ys), np.concatenate(fs)


def fit_in_memory(X: np.ndarray, y: np.ndarray, folds: np.ndarray, model: dict[str, Any] = MODEL):
    import dreg

    params = {k: v for k, v in model.items() if k != "penalty"}
    assert model["penalty"] == "lasso"
    return dreg.LassoCV(**params).fit(X, y, folds=folds)


def assert_same_fit(est, ref, rtol: float = 1e-10) -> None:
    """coef_, intercept_, alpha_ and mse_path_ agree to ``rtol``, relative to each array's scale."""
    np.testing.assert_allclose(est.alpha_, ref.alpha_, rtol=rtol, atol=0)
    np.testing.assert_allclose(est.chosen_alpha_, ref.chosen_alpha_, rtol=rtol, atol=0)
    np.testing.assert_allclose(est.alphas_, ref.alphas_, rtol=rtol, atol=0)
    scale = np.max(np.abs(ref.coef_))
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=rtol, atol=rtol * scale)
    np.testing.assert_array_equal(est.coef_ == 0, ref.coef_ == 0)
    np.testing.assert_allclose(est.intercept_, ref.intercept_, rtol=rtol, atol=rtol * scale)
    np.testing.assert_allclose(est.mse_path_, ref.mse_path_, rtol=rtol, atol=0)


def deep_update(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in override.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_update(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def config_dict(
    lake: Path | str, registry: Path | str, name: str = "m", **sections: dict[str, Any]
) -> dict[str, Any]:
    """A fit configuration on ``lake``: explicit features, a small cluster without dashboard."""
    base = {
        "data": {"path": str(lake), "target": TARGET, "features": list(FEATURES)},
        "model": dict(MODEL),
        "cluster": dict(CLUSTER),
        "output": {"registry": str(registry), "name": name},
    }
    return deep_update(base, sections)


def parse(cfg: dict[str, Any]):
    from dreg.job.config import parse_config

    return parse_config(cfg, "(test)")


def write_config(path: Path, cfg: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path


def registry_state(registry: Path, name: str) -> tuple[list[str], str | None]:
    """Entries of ``REGISTRY/NAME`` (hidden ones too) and the content of ``latest``."""
    base = registry / name
    if not base.exists():
        return [], None
    latest = base / "latest"
    return sorted(p.name for p in base.iterdir()), latest.read_text() if latest.exists() else None


def assert_no_pickle(root: Path) -> None:
    found = [p for p in root.rglob("*") if p.suffix in (".pkl", ".pickle")]
    assert not found, found


@contextlib.contextmanager
def local_cluster() -> Iterator[str]:
    """A 2-process LocalCluster on 127.0.0.1 without dashboard; yields the scheduler address."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


def dreg_command() -> list[str]:
    return [sys.executable, "-m", "dreg.job.cli"]


def run_cli(
    *args: str, timeout: float = 180, cwd: Path | None = None, process: bool = False
) -> subprocess.CompletedProcess[str]:
    """``dreg ARGS``, output captured as text, as a :class:`subprocess.CompletedProcess`.

    By default the CLI's ``main`` runs in this process (stdout and stderr
    redirected, an uncaught exception is exit 1 with its traceback, as in a
    process): the same code path without paying ~2 s of interpreter start and
    imports per call. ``process=True`` runs the real ``python -m dreg.job.cli``
    subprocess, for what only a process shows (the console script's exit,
    environment variables read at import, being killed).
    """
    if process:
        return subprocess.run(
            [*dreg_command(), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd,
            check=False,
        )
    import io
    import os
    import traceback

    from dreg.job.cli import main

    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse: --help, --version, a bad command line
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except Exception:  # noqa: BLE001 - what the interpreter does with an uncaught exception
                traceback.print_exc()
                code = 1
    finally:
        os.chdir(here)
    return subprocess.CompletedProcess([*dreg_command(), *args], code, out.getvalue(), err.getvalue())


STATS_FIELDS = ("labels", "count", "weight_sum", "x_mean", "y_mean", "xx", "xy", "yy", "nonfinite_x")


def assert_identical_stats(a: SufficientStats, b: SufficientStats) -> None:
    """Bit for bit: a cache round trip (or a read that skips a footer fetch) must not change a number."""
    for name in STATS_FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        np.testing.assert_array_equal(x, y, err_msg=name)
    for name in ("nonfinite_y", "nonfinite_w", "negative_w", "n_blocks"):
        assert getattr(a, name) == getattr(b, name), name
