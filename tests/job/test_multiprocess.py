"""dreg on a real multi-process cluster: `dask scheduler` + `dask worker` processes on 127.0.0.1.

* ``dreg fit --scheduler-file`` and ``dreg predict --scheduler-file`` in subprocesses give the
  model of the embedded ``LocalCluster`` (``run_fit`` without an address) to 1e-10;
* load: a lake of 2,000 small files (per-task overhead, listing) and a lake of a few
  large files both complete, with the model of the same rows fitted in memory.

:class:`ProcessCluster` is also used by ``test_faults.py``, which kills its processes.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.job.lake_helpers import (
    assert_same_fit,
    config_dict,
    deep_update,
    fit_in_memory,
    parse,
    read_in_memory,
    run_cli,
    to_float64,
    write_config,
    write_lake,
)

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def dask_command() -> str:
    """The ``dask`` script of this interpreter's environment."""
    return str(Path(sys.executable).with_name("dask"))


class ProcessCluster:
    """A ``dask scheduler`` and ``n_workers`` ``dask worker`` processes (1 thread each) on 127.0.0.1.

    Found through a scheduler file, as on a batch system.  ``nanny=False`` starts the
    workers with ``--no-nanny`` (the Popen process *is* the worker; killed, it stays
    dead); with a nanny the worker is a child process that the nanny restarts.
    ``env`` is added to the environment of the scheduler and workers (``DASK_*`` config).
    Process output goes to ``<folder>/*.log``.
    """

    def __init__(
        self, folder: Path, n_workers: int = 2, *, nanny: bool = True, env: dict[str, str] | None = None
    ) -> None:
        self.folder = folder
        self.n_workers = n_workers
        self.nanny = nanny
        self.env = {**os.environ, **(env or {})}
        self.scheduler_file = folder / "scheduler.json"
        self.scheduler: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        self.address = ""

    def _spawn(self, args: list[str], log: str) -> subprocess.Popen:
        with open(self.folder / log, "w") as fh:
            return subprocess.Popen([dask_command(), *args], env=self.env, stdout=fh, stderr=subprocess.STDOUT)

    def start(self, timeout: float = 60) -> ProcessCluster:
        from distributed import Client

        self.folder.mkdir(parents=True, exist_ok=True)
        self.scheduler = self._spawn(
            [
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(self.scheduler_file),
            ],
            "scheduler.log",
        )
        deadline = time.monotonic() + timeout
        while not self.scheduler_file.exists():
            assert self.scheduler.poll() is None, (self.folder / "scheduler.log").read_text()
            assert time.monotonic() < deadline, "the scheduler did not write its scheduler file"
            time.sleep(0.05)
        self.address = json.loads(self.scheduler_file.read_text())["address"]
        assert self.address.startswith("tcp://127.0.0.1:")
        for i in range(self.n_workers):
            args = ["worker", "--scheduler-file", str(self.scheduler_file), "--nthreads", "1"]
            args += ["--host", "127.0.0.1", "--no-dashboard", *([] if self.nanny else ["--no-nanny"])]
            self.workers.append(self._spawn(args, f"worker-{i}.log"))
        with Client(scheduler_file=str(self.scheduler_file), timeout=timeout) as client:
            client.wait_for_workers(self.n_workers, timeout=timeout)
        return self

    def client(self, timeout: float = 10):
        from distributed import Client

        return Client(scheduler_file=str(self.scheduler_file), timeout=timeout, set_as_default=False)

    def stop(self) -> None:
        # workers first: a nanny whose scheduler is already gone takes seconds to give up
        for group in (self.workers, [self.scheduler] if self.scheduler is not None else []):
            for p in group:
                if p.poll() is None:
                    p.send_signal(signal.SIGINT)
            for p in group:
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=15)

    def __enter__(self) -> ProcessCluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture(scope="module")
def proc_cluster(tmp_path_factory: pytest.TempPathFactory):
    with ProcessCluster(tmp_path_factory.mktemp("proc-cluster")) as cluster:
        yield cluster


def write_float_lake(
    root: Path, rng: np.random.Generator, files: int, rows: int, p: int, row_group_size: int | None = None
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``files`` Parquet files of ``rows`` x ``p`` float64 features ``x00..`` and target ``y``.

    Returns ``{path: (X, y)}``: the exact float64 values written.
    """
    beta = rng.standard_normal(p) * (rng.random(p) < 0.6)
    out = {}
    for i in range(files):
        X = rng.standard_normal((rows, p))
        y = 3.0 + X @ beta + 0.5 * rng.standard_normal(rows)
        path = root / f"part-{i:05d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(
            pa.table({**{f"x{j:02d}": X[:, j] for j in range(p)}, "y": y}), path, row_group_size=row_group_size
        )
        out[str(path)] = (X, y)
    return out


FLOAT_MODEL = {"penalty": "lasso", "alphas": 20, "cv": 4, "random_state": 0}


def float_config(lake: Path, registry: Path, name: str, p: int, **sections: dict[str, Any]) -> dict[str, Any]:
    """A lasso configuration on a :func:`write_float_lake` lake, cache and promotion off."""
    base = {
        "data": {"path": str(lake), "target": "y", "features": [f"x{j:02d}" for j in range(p)]},
        "model": dict(FLOAT_MODEL),
        "cluster": {"n_workers": 2, "threads_per_worker": 1, "dashboard_address": None, "connect_timeout": 10},
        "output": {"registry": str(registry), "name": name, "promotion": {"enabled": False}},
        "cache": {"enabled": False},
    }
    return deep_update(base, sections)


def in_memory_reference(
    lake: Path, written: dict[str, tuple[np.ndarray, np.ndarray]], model: dict[str, Any] = FLOAT_MODEL
):
    """The same lasso fitted in memory on the written values, folds as dreg draws them per file."""
    from dreg.job.lake import file_fold_ids, open_lake

    files = open_lake(str(lake)).files
    X = np.concatenate([written[f.path][0] for f in files])
    y = np.concatenate([written[f.path][1] for f in files])
    folds = np.concatenate(
        [file_fold_ids(f, 0, len(written[f.path][1]), model["cv"], model["random_state"]) for f in files]
    )
    return fit_in_memory(X, y, folds, model)


# --------------------------------------------------------------------------- fit and predict


def test_cli_fit_and_predict_on_a_process_cluster_equal_the_embedded_cluster(
    proc_cluster: ProcessCluster, tmp_path: Path, rng: np.random.Generator
) -> None:
    from dreg.job.lake import open_lake
    from dreg.job.pipeline import run_fit
    from dreg.job.registry import list_versions, load_model, read_model

    lake = write_lake(tmp_path / "lake", rng)
    registry = tmp_path / "registry"
    sections = {"cache": {"enabled": False}, "output": {"promotion": {"enabled": False}}}
    cfg = write_config(tmp_path / "fit.yaml", config_dict(lake, registry, name="proc", **sections))
    sf = str(proc_cluster.scheduler_file)

    proc = run_cli("fit", "--config", str(cfg), "--scheduler-file", sf)
    assert proc.returncode == 0, proc.stderr
    assert f"Dask existing at {proc_cluster.address} with 2 worker(s)" in proc.stdout
    _, model, _ = read_model(f"{registry}/proc")
    assert model["run"]["cluster"]["kind"] == "existing" and model["run"]["cluster"]["workers"] == 2

    embedded = run_fit(parse(config_dict(lake, registry, name="embedded", **sections)), log=lambda s: None, tty=False)
    assert embedded.model.run.cluster["kind"] == "embedded LocalCluster"
    on_processes = load_model(f"{registry}/proc")
    assert_same_fit(on_processes, embedded.estimator, rtol=1e-10)
    files = open_lake(str(lake)).files
    assert_same_fit(on_processes, fit_in_memory(*read_in_memory(files)), rtol=1e-10)
    assert len(list_versions(str(registry), "proc")) == len(list_versions(str(registry), "embedded")) == 1

    out = tmp_path / "scores"
    proc = run_cli(
        "predict", "--model", f"{registry}/proc", "--data", str(lake), "--output", str(out), "--keep", "id",
        "--scheduler-file", sf,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f"Dask existing at {proc_cluster.address}" in proc.stdout
    for f in files:
        got = pq.read_table(out / f.relpath)
        src = pq.read_table(f.path)
        assert got.column("id").to_pylist() == src.column("id").to_pylist()
        n = src.num_rows
        X = np.column_stack([to_float64(src.column(c)) for c in model["features"]]) if n else np.zeros((0, 7))
        expected = embedded.estimator.predict(X) if n else np.zeros(0)
        scale = max(1.0, float(np.max(np.abs(expected)))) if n else 1.0
        np.testing.assert_allclose(got.column("prediction").to_numpy(), expected, rtol=1e-10, atol=1e-10 * scale)


# --------------------------------------------------------------------------- load


@pytest.mark.timeout(240)  # does not hang; its speed is benchmarks/' business
def test_a_lake_of_2000_small_files(proc_cluster: ProcessCluster, tmp_path: Path, rng: np.random.Generator) -> None:
    """Per-task overhead and listing: 2,000 files of 20 rows x 5 features, one task each."""
    from dreg.job.pipeline import run_fit

    lake = tmp_path / "lake"
    written = write_float_lake(lake, rng, files=2000, rows=20, p=5)
    cfg = parse(float_config(lake, tmp_path / "registry", "small", 5))
    out = run_fit(cfg, scheduler_file=str(proc_cluster.scheduler_file), log=lambda s: None, tty=False)
    assert out.metrics.files == 2000 and out.metrics.rows == 40_000
    assert_same_fit(out.estimator, in_memory_reference(lake, written), rtol=1e-10)


def test_a_lake_of_a_few_large_files(proc_cluster: ProcessCluster, tmp_path: Path, rng: np.random.Generator) -> None:
    """3 files of 200,000 rows x 10 features in 64Ki-row row groups."""
    from dreg.job.pipeline import run_fit

    lake = tmp_path / "lake"
    written = write_float_lake(lake, rng, files=3, rows=200_000, p=10, row_group_size=65_536)
    assert all(pq.ParquetFile(p).num_row_groups == 4 for p in written)
    cfg = parse(float_config(lake, tmp_path / "registry", "large", 10))
    out = run_fit(cfg, scheduler_file=str(proc_cluster.scheduler_file), log=lambda s: None, tty=False)
    assert out.metrics.files == 3 and out.metrics.rows == 600_000
    assert_same_fit(out.estimator, in_memory_reference(lake, written), rtol=1e-10)


# --------------------------------------------------------------------------- dashboard link


def test_dashboard_link_only_when_the_scheduler_serves_the_dashboard(proc_cluster: ProcessCluster) -> None:
    """``dask scheduler --no-dashboard`` still runs an HTTP server (the "dashboard" service):
    no link is printed for it; a scheduler with the Bokeh dashboard gets its link."""
    from dreg.job.cluster import dask_client
    from dreg.job.config import ClusterConfig

    def logged(address: str) -> tuple[list[str], str | None]:
        lines: list[str] = []
        with dask_client(ClusterConfig(connect_timeout=10), address=address, log=lines.append) as (client, info):
            assert "dashboard" in client.scheduler_info()["services"]  # the HTTP server is there
        return lines, info.dashboard

    lines, link = logged(proc_cluster.address)
    assert link is None and not any("dashboard" in line for line in lines), lines

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    folder = proc_cluster.folder / "with-dashboard"
    folder.mkdir()
    with_dashboard = ProcessCluster(folder, n_workers=0)
    scheduler = with_dashboard._spawn(
        [
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--dashboard-address",
            f"127.0.0.1:{port}",
            "--scheduler-file",
            str(with_dashboard.scheduler_file),
        ],
        "scheduler.log",
    )
    with_dashboard.scheduler = scheduler
    try:
        deadline = time.monotonic() + 60
        while not with_dashboard.scheduler_file.exists():
            assert scheduler.poll() is None and time.monotonic() < deadline, (folder / "scheduler.log").read_text()
            time.sleep(0.05)
        address = json.loads(with_dashboard.scheduler_file.read_text())["address"]
        lines, link = logged(address)
        assert link == f"http://127.0.0.1:{port}/status"
        assert f"dreg: dashboard: {link}" in lines, lines
    finally:
        with_dashboard.stop()
