"""Faults on real clusters: killed workers, a lost or absent scheduler, a killed job, a corrupt file.

Clusters are `dask scheduler` / `dask worker` processes on 127.0.0.1
(:class:`test_multiprocess.ProcessCluster`); ``dreg fit`` runs in a subprocess, so
exit codes and messages are the real ones.  To kill a worker "in the middle of the
data pass" the test polls the scheduler until some, but not all, ``dreg-read-stats``
tasks are done: the pass over an 80-file lake takes a few seconds on two
one-thread workers, and nothing sleeps in dreg.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from dreg.job.registry import (
    history,
    latest_version,
    list_versions,
    load_model,
    new_version,
    read_model,
    write_version,
)
from tests.job.lake_helpers import (
    assert_same_fit,
    config_dict,
    dreg_command,
    parse,
    registry_state,
    run_cli,
    write_config,
    write_lake,
)
from tests.job.test_multiprocess import ProcessCluster, float_config, write_float_lake

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

VERSION_RE = re.compile(r"^\d{8}T\d{6}\d{6}Z$")
N_FILES = 80  # files of the slow lake
P = 20  # its features


@pytest.fixture(scope="module")
def slow_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """80 files x 4,000 rows x 20 features in 200-row row groups: a pass of seconds, not milliseconds."""
    root = tmp_path_factory.mktemp("slow") / "lake"
    write_float_lake(root, np.random.default_rng(11), files=N_FILES, rows=4000, p=P, row_group_size=200)
    return root


@pytest.fixture(scope="module")
def shared_cluster(tmp_path_factory: pytest.TempPathFactory):
    """A process cluster for the tests that do not kill it."""
    with ProcessCluster(tmp_path_factory.mktemp("shared-cluster")) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def undisturbed(slow_lake: Path, shared_cluster: ProcessCluster, tmp_path_factory: pytest.TempPathFactory):
    """The slow lake fitted without faults: ``(registry, estimator)``."""
    from dreg.job.pipeline import run_fit

    registry = tmp_path_factory.mktemp("undisturbed") / "registry"
    cfg = parse(float_config(slow_lake, registry, "m", P))
    out = run_fit(cfg, scheduler_file=str(shared_cluster.scheduler_file), log=lambda s: None, tty=False)
    return registry, out.estimator


def start_fit(config: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [*dreg_command(), "fit", "--config", str(config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_mid_pass(cluster: ProcessCluster, job: subprocess.Popen, kill: Callable[[], None], after: int = 4) -> int:
    """Call ``kill`` once ``after`` of the ``N_FILES`` read tasks are done; return how many were done."""

    def progress(dask_scheduler) -> tuple[int, int]:  # runs on the scheduler (a closure: pickled by value)
        """``(dreg-read-stats tasks known, of which not computed yet)``."""
        present = pending = 0
        for key, ts in dask_scheduler.tasks.items():
            if isinstance(key, str) and key.startswith("dreg-read-stats-"):
                present += 1
                pending += ts.state in ("released", "waiting", "queued", "processing", "no-worker")
        return present, pending

    deadline = time.monotonic() + 90
    with cluster.client() as client:
        while True:
            assert job.poll() is None, f"dreg fit ended before the kill:\n{job.communicate()[1][-3000:]}"
            assert time.monotonic() < deadline, "the data pass did not start"
            present, pending = client.run_on_scheduler(progress)
            done = N_FILES - pending
            if present and done >= after:
                break
            time.sleep(0.01)
    kill()
    assert after <= done < N_FILES, f"not in the middle of the pass: {done}/{N_FILES} read tasks done"
    return done


def dreg_error(stderr: str) -> str:
    """dreg's own error message: from the last line starting with ``dreg: `` to the end
    (Dask's messages can span lines; workers and the client log tracebacks before it)."""
    lines = stderr.strip().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("dreg: ")]
    return "\n".join(lines[starts[-1] :]) if starts else ""


def assert_registry_consistent(registry: Path, name: str) -> None:
    """Every version folder is complete, ``latest`` is absent or names one, only temp files besides."""
    base = registry / name
    versions = list_versions(str(registry), name)
    for entry in base.iterdir():
        if VERSION_RE.match(entry.name):
            assert entry.name in versions
            names = sorted(p.name for p in entry.iterdir())
            # stats.npz: least-squares CV models only
            assert [n for n in names if n != "stats.npz"] == ["metrics.json", "model.json", "report.html"], names
            model = json.loads((entry / "model.json").read_text())
            assert model["version"] == entry.name
            json.loads((entry / "metrics.json").read_text())
        else:
            assert entry.name == "latest" or entry.name.startswith((".tmp-", ".latest-")), entry.name
    latest = latest_version(str(registry), name)
    assert latest is None or latest in versions


# --------------------------------------------------------------------------- workers killed


@pytest.mark.parametrize("nanny", [True, False], ids=["nanny", "no-nanny"])
def test_worker_killed_mid_pass_gives_the_undisturbed_model(
    nanny: bool, slow_lake: Path, undisturbed, tmp_path: Path
) -> None:
    """SIGKILL one of two workers mid-pass: its tasks (pure) are recomputed, the model is unchanged."""
    _, reference = undisturbed
    registry = tmp_path / "registry"
    cfg = write_config(tmp_path / "fit.yaml", float_config(slow_lake, registry, "m", P))
    with ProcessCluster(tmp_path / "cluster", nanny=nanny) as cluster:
        with cluster.client() as client:
            pids = sorted(client.run(os.getpid).values())
        if not nanny:
            assert pids == sorted(p.pid for p in cluster.workers)  # no nanny: the Popen is the worker
        job = start_fit(cfg, "--scheduler-file", str(cluster.scheduler_file))
        kill_mid_pass(cluster, job, lambda: os.kill(pids[0], signal.SIGKILL))
        out, err = job.communicate(timeout=120)
        assert job.returncode == 0, err
        with cluster.client() as client:
            if nanny:  # the nanny started a new worker process
                client.wait_for_workers(2, timeout=30)
                assert pids[0] not in client.run(os.getpid).values()
            else:
                assert cluster.workers[[p.pid for p in cluster.workers].index(pids[0])].wait(10) == -signal.SIGKILL
                assert list(client.run(os.getpid).values()) == [pids[1]]
    assert_same_fit(load_model(f"{registry}/m"), reference, rtol=1e-10)


def test_worker_lost_beyond_allowed_failures_exits_4_and_writes_nothing(
    slow_lake: Path, undisturbed, tmp_path: Path
) -> None:
    """allowed-failures = 0: the first lost worker fails its tasks with KilledWorker -> exit 4."""
    registry = tmp_path / "registry"
    shutil.copytree(undisturbed[0], registry)  # an existing model, whose latest must not move
    before = registry_state(registry, "m")
    cfg = write_config(tmp_path / "fit.yaml", float_config(slow_lake, registry, "m", P))
    env = {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
    with ProcessCluster(tmp_path / "cluster", nanny=False, env=env) as cluster:
        job = start_fit(cfg, "--scheduler-file", str(cluster.scheduler_file))
        kill_mid_pass(cluster, job, lambda: os.kill(cluster.workers[0].pid, signal.SIGKILL))
        _, err = job.communicate(timeout=120)
    assert job.returncode == 4, err
    msg = dreg_error(err)
    assert msg.startswith("dreg: cluster error: Dask workers died during the data pass (KilledWorker)"), err
    assert re.search(r"task '?dreg-(read-stats|merge)-[0-9a-f]+-", msg), msg  # names the task
    assert "Traceback" not in msg
    assert registry_state(registry, "m") == before


# --------------------------------------------------------------------------- scheduler absent or lost


@pytest.mark.timeout(150)
def test_unreachable_scheduler_exits_4_without_hanging(slow_lake: Path, tmp_path: Path) -> None:
    with socket.socket() as s:  # a port that was just free: nothing listens on it
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    registry = tmp_path / "registry"
    cfg = write_config(tmp_path / "fit.yaml", float_config(slow_lake, registry, "m", P, cluster={"connect_timeout": 1}))
    # does not hang: run_cli raises TimeoutExpired after 90 s (no wall-clock assert)
    proc = run_cli("fit", "--config", str(cfg), "--scheduler", f"tcp://127.0.0.1:{port}", timeout=90)
    assert proc.returncode == 4, proc.stderr
    assert dreg_error(proc.stderr).startswith(
        f"dreg: cluster error: cannot reach the Dask scheduler at tcp://127.0.0.1:{port}"
    )
    assert "Traceback" not in proc.stderr
    assert not registry.exists()


def test_scheduler_killed_mid_pass_exits_4_and_writes_nothing(
    slow_lake: Path, undisturbed, tmp_path: Path
) -> None:
    registry = tmp_path / "registry"
    shutil.copytree(undisturbed[0], registry)
    before = registry_state(registry, "m")
    cfg = write_config(tmp_path / "fit.yaml", float_config(slow_lake, registry, "m", P, cluster={"connect_timeout": 5}))
    with ProcessCluster(tmp_path / "cluster") as cluster:
        job = start_fit(cfg, "--scheduler-file", str(cluster.scheduler_file))
        kill_mid_pass(cluster, job, lambda: os.kill(cluster.scheduler.pid, signal.SIGKILL))
        try:  # does not hang (a timeout, not a wall-clock assert)
            _, err = job.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            job.kill()
            pytest.fail(f"dreg fit still running 60s after the scheduler was killed:\n{job.communicate()[1][-3000:]}")
    assert job.returncode == 4, err
    msg = dreg_error(err)
    assert msg.startswith("dreg: cluster error: ") and "Traceback" not in msg, err
    assert registry_state(registry, "m") == before


# --------------------------------------------------------------------------- the job killed while writing


def _first_version(lake: Path, registry: Path, cluster: ProcessCluster, **sections):
    from dreg.job.pipeline import run_fit

    cfg = parse(config_dict(lake, registry, "m", output={"promotion": {"enabled": False}}, **sections))
    return run_fit(cfg, scheduler_file=str(cluster.scheduler_file), log=lambda s: None, tty=False)


def test_leftovers_of_a_killed_write_break_neither_readers_nor_the_next_fit(
    shared_cluster: ProcessCluster, tmp_path: Path, rng: np.random.Generator
) -> None:
    """The states a SIGKILL inside ``write_version`` can leave, made directly.

    (a) a ``.tmp-<version>-xxxx`` folder with some files (killed before the rename);
    (b) a ``.latest-xxxx`` file (killed before ``os.replace`` of ``latest``);
    (c) a complete version that ``latest`` does not name yet (killed right after the rename).
    """
    lake = write_lake(tmp_path / "lake", rng, extras=False)
    registry = tmp_path / "registry"
    first = _first_version(lake, registry, shared_cluster)
    v1 = first.ref.version
    base = registry / "m"
    future = "20991231T235959000000Z"
    tmp = base / f".tmp-{future}-deadbeef"  # (a)
    tmp.mkdir()
    (tmp / "report.html").write_text("<html>half")
    (tmp / "metrics.json").write_text('{"alpha": 0.')
    (base / ".latest-0badf00d").write_text(future[:9])  # (b)
    orphan = new_version()  # (c)
    files = {n: (base / v1 / n).read_text() for n in ("metrics.json", "report.html")}
    files["model.json"] = json.dumps({**first.model.to_json(), "version": orphan})
    write_version(str(registry), "m", files, version=orphan, update_latest=False)

    assert latest_version(str(registry), "m") == v1
    assert list_versions(str(registry), "m") == [v1, orphan]
    assert_same_fit(load_model(f"{registry}/m"), first.estimator, rtol=0)
    rows = history(str(registry), "m")
    assert [(r["version"], r["latest"]) for r in rows] == [(v1, True), (orphan, False)]
    show = run_cli("show", f"{registry}/m", timeout=60)
    assert show.returncode == 0 and f"m version {v1}" in show.stdout, show.stderr
    hist = run_cli("history", "--json", f"{registry}/m", timeout=60)
    assert hist.returncode == 0 and [r["version"] for r in json.loads(hist.stdout)] == [v1, orphan], hist.stderr

    cfg = write_config(
        tmp_path / "fit.yaml", config_dict(lake, registry, "m", output={"promotion": {"enabled": False}})
    )
    proc = run_cli("fit", "--config", str(cfg), "--scheduler-file", str(shared_cluster.scheduler_file))
    assert proc.returncode == 0, proc.stderr
    v2 = latest_version(str(registry), "m")
    assert v2 not in (v1, orphan, None) and list_versions(str(registry), "m") == [v1, orphan, v2]
    assert read_model(f"{registry}/m")[1]["version"] == v2
    assert_same_fit(load_model(f"{registry}/m"), first.estimator, rtol=1e-10)
    assert tmp.exists() and (base / ".latest-0badf00d").exists()  # left alone, still harmless
    assert_registry_consistent(registry, "m")


def _wait_for_line(job: subprocess.Popen, pattern: str, timeout: float = 90) -> None:
    """Read ``job``'s stdout until a line matches ``pattern`` (the rest is drained in a thread)."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in job.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + timeout
    while True:
        line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        assert line is not None, f"dreg fit ended without a line matching {pattern!r}:\n{job.communicate()[1][-3000:]}"
        if re.match(pattern, line):
            return


def _wait_for_tmp_entry(base: Path, job: subprocess.Popen, timeout: float = 90) -> None:
    """Return as soon as a ``.tmp-`` folder exists in ``base``: the job is inside ``write_version``."""
    deadline = time.monotonic() + timeout
    while not any(e.name.startswith(".tmp-") for e in os.scandir(base)):
        assert job.poll() is None, "dreg fit ended before it was seen writing"
        assert time.monotonic() < deadline
        time.sleep(0.0002)


def test_fit_killed_after_the_data_pass_leaves_a_consistent_registry(
    shared_cluster: ProcessCluster, tmp_path: Path, rng: np.random.Generator
) -> None:
    """Real SIGKILLs of ``dreg fit`` after its data pass: as soon as it logs "N file(s) scanned", at a
    random moment of the ~2 s of CV, report and registry write that follow, and as soon as its
    temporary version folder appears (inside ``write_version``).  Each time the registry is
    consistent; the next fit succeeds and becomes latest."""
    lake = write_lake(tmp_path / "lake", rng, extras=False)
    registry = tmp_path / "registry"
    base = registry / "m"
    v1 = _first_version(lake, registry, shared_cluster).ref.version
    cfg = write_config(
        tmp_path / "fit.yaml", config_dict(lake, registry, "m", output={"promotion": {"enabled": False}})
    )
    scanned = r"dreg: \d+ file\(s\) scanned"
    delay = [float(rng.uniform(0.0, 2.5))]
    moments = {
        "scanned": lambda job: _wait_for_line(job, scanned),
        "random": lambda job: (_wait_for_line(job, scanned), time.sleep(delay[0])),
        "writing": lambda job: (_wait_for_line(job, scanned), _wait_for_tmp_entry(base, job)),
    }
    for name, wait in moments.items():
        for _attempt in range(8):
            job = start_fit(cfg, "--scheduler-file", str(shared_cluster.scheduler_file))
            wait(job)
            if name == "random" and job.poll() is not None:
                # the fit finished within the random delay (a fast machine): it wrote a whole
                # version; draw again within the half of the delay and kill that one
                job.communicate(timeout=30)
                assert job.returncode == 0
                assert_registry_consistent(registry, "m")
                delay[0] = float(rng.uniform(0.0, delay[0] / 2))
                continue
            job.send_signal(signal.SIGKILL)
            job.communicate(timeout=30)
            break
        assert job.returncode == -signal.SIGKILL, f"{name}: the fit was never caught running"
        assert_registry_consistent(registry, "m")
        assert latest_version(str(registry), "m") in list_versions(str(registry), "m")
        assert_same_fit(load_model(f"{registry}/m"), load_model(f"{registry}/m/{v1}"), rtol=1e-10)
    proc = run_cli("fit", "--config", str(cfg), "--scheduler-file", str(shared_cluster.scheduler_file))
    assert proc.returncode == 0, proc.stderr
    assert_registry_consistent(registry, "m")
    assert latest_version(str(registry), "m") == list_versions(str(registry), "m")[-1] != v1


# --------------------------------------------------------------------------- a corrupt file among hundreds


def test_a_truncated_file_among_300_exits_3_names_it_and_writes_nothing(
    shared_cluster: ProcessCluster, tmp_path: Path, rng: np.random.Generator
) -> None:
    lake = tmp_path / "lake"
    written = sorted(write_float_lake(lake, rng, files=300, rows=5, p=3))
    bad = Path(written[150])
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    registry = tmp_path / "registry"
    cfg = float_config(lake, registry, "m", 3, cache={"enabled": True})  # the default: cache on
    proc = run_cli("fit", "--config", str(write_config(tmp_path / "fit.yaml", cfg)), "--scheduler-file",
                   str(shared_cluster.scheduler_file))  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    msg = dreg_error(proc.stderr)
    assert msg.startswith("dreg: data error: ") and str(bad) in msg, proc.stderr
    assert "Traceback" not in msg
    assert not registry.exists()  # the statistics cache (beside it) may hold entries of good files
    assert pq.ParquetFile(written[0]).metadata.num_rows == 5
