"""Registry operations from the CLI: rollback and pin (``dreg promote``), ``--dry-run``, retention
(``output.keep_last``), ``--if-changed``, and the column check before the cluster starts.

Local registries with real fits on a multi-process ``LocalCluster``; the
registry functions on S3 against a moto server on 127.0.0.1 (no cluster).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import boto3
import numpy as np
import pytest
import s3fs  # noqa: F401  (a declared test dependency: its absence must fail)
import yaml
from moto import server as moto_server

from dreg.job.errors import RegistryError
from dreg.job.registry import (
    apply_retention,
    delete_version,
    latest_version,
    list_events,
    list_versions,
    pinned_version,
    promote_version,
    read_record,
    unpin,
    write_version,
)
from tests.job.lake_helpers import (
    CLUSTER,
    config_dict,
    make_table,
    registry_state,
    run_cli,
    write_config,
    write_table,
)

MODEL = {"penalty": "lasso", "alphas": 15, "cv": 3, "random_state": 5}
DEAD_SCHEDULER = "tcp://127.0.0.1:9"  # nothing listens there: a run that contacts it fails with exit 4


def write_day(lake: Path, day: int, rng: np.random.Generator, rows: int = 120) -> Path:
    return write_table(lake / f"day=2026-11-{day:02d}" / "part-0.parquet", make_table(rng, rows, tag=str(day)), 64)


@pytest.fixture
def lake(tmp_path: Path, rng: np.random.Generator) -> Path:
    root = tmp_path / "lake"
    for day in range(1, 5):
        write_day(root, day, rng)
    return root


def config(tmp_path: Path, lake: Path, registry: Path, name: str = "cfg.yaml", **output) -> Path:
    cfg = config_dict(lake, registry, model=dict(MODEL), cluster=dict(CLUSTER), output=output)
    return write_config(tmp_path / name, cfg)


def fit(cfg: Path, address: str, *extra: str):
    return run_cli("fit", "--config", str(cfg), "--scheduler", address, *extra)


@pytest.mark.cluster
def test_rollback_pin_and_unpin(lake: Path, tmp_path: Path, address: str, rng) -> None:
    registry = tmp_path / "registry"
    ref = f"{registry}/m"
    cfg = config(tmp_path, lake, registry, promotion={"enabled": False})
    assert fit(cfg, address).returncode == 0
    write_day(lake, 5, rng)
    assert fit(cfg, address).returncode == 0
    v1, v2 = list_versions(str(registry), "m")
    assert latest_version(str(registry), "m") == v2

    # roll back
    out = run_cli("promote", ref, v1, "--reason", "v2 misbehaves in production")
    assert out.returncode == 0, out.stderr
    assert f"'latest' of m is now {v1}; it was {v2}" in out.stdout
    assert latest_version(str(registry), "m") == v1 and read_record(ref)[0].version == v1
    [event] = list_events(str(registry), "m")
    assert (event.action, event.version, event.previous, event.reason) == (
        "promote",
        v1,
        v2,
        "v2 misbehaves in production",
    )

    # an unknown version: exit 1, 'latest' untouched
    bad = run_cli("promote", ref, "20200101T000000000000Z")
    assert bad.returncode == 1 and "no complete version" in bad.stderr and v2 in bad.stderr
    assert latest_version(str(registry), "m") == v1

    # pin v1: a later fit is stored but does not move 'latest' (exit 5, status pinned)
    assert run_cli("promote", ref, v1, "--pin").returncode == 0
    assert pinned_version(str(registry), "m") == v1
    held = fit(cfg, address)
    assert held.returncode == 5, held.stdout + held.stderr
    assert "pinned to" in held.stderr
    v3 = list_versions(str(registry), "m")[-1]
    _, _, m3 = read_record(f"{ref}/{v3}")
    assert m3.promotion.status == "pinned" and latest_version(str(registry), "m") == v1
    # moving 'latest' while pinned needs --pin (or --unpin first)
    moved = run_cli("promote", ref, v3)
    assert moved.returncode == 1 and "pinned" in moved.stderr and latest_version(str(registry), "m") == v1

    hist = run_cli("history", ref)
    assert hist.returncode == 0, hist.stderr
    line = next(s for s in hist.stdout.splitlines() if s.startswith(v1))
    assert "*^" in line  # latest and pinned
    assert "registry operations:" in hist.stdout and "pin     " + v1 in hist.stdout
    assert "v2 misbehaves in production" in hist.stdout
    rows = json.loads(run_cli("history", ref, "--json").stdout)
    assert [r["pinned"] for r in rows] == [True, False, False] and rows[-1]["status"] == "pinned"

    # unpin: the next fit moves 'latest' again
    un = run_cli("promote", ref, "--unpin")
    assert un.returncode == 0 and pinned_version(str(registry), "m") is None
    assert latest_version(str(registry), "m") == v1
    assert fit(cfg, address).returncode == 0
    assert latest_version(str(registry), "m") == list_versions(str(registry), "m")[-1]
    assert [e.action for e in list_events(str(registry), "m")] == ["promote", "pin", "unpin"]
    assert run_cli("promote", ref, "--unpin").returncode == 1  # not pinned any more


@pytest.mark.cluster
def test_dry_run_writes_only_the_report(lake: Path, tmp_path: Path, address: str, rng) -> None:
    registry = tmp_path / "registry"
    cfg = config(tmp_path, lake, registry)
    report = tmp_path / "out" / "dry.html"
    report.parent.mkdir()
    out = fit(cfg, address, "--dry-run", "--report", str(report))
    assert out.returncode == 0, out.stderr
    assert "dry run: would write" in out.stdout and "would be promoted" in out.stdout
    assert registry_state(registry, "m") == ([], None)  # nothing in the registry
    html = report.read_text()
    assert html.startswith("<!DOCTYPE html>") and 'id="promotion"' in html and "first" in html

    assert fit(cfg, address).returncode == 0
    before = registry_state(registry, "m")
    # a clearly worse configuration: the dry run says it would not be promoted (exit 5), writes nothing
    worse = config(tmp_path, lake, registry, name="worse.yaml")
    doc = yaml.safe_load(worse.read_text())
    doc["model"] = {"penalty": "ridge", "alphas": [1000.0], "cv": 3, "random_state": 5}
    write_config(worse, doc)
    rejected = fit(worse, address, "--dry-run")
    assert rejected.returncode == 5, rejected.stdout + rejected.stderr
    assert "would NOT be promoted" in rejected.stdout and "worse than champion" in rejected.stderr
    assert registry_state(registry, "m") == before


@pytest.mark.cluster
def test_keep_last_never_deletes_latest_or_pinned(lake: Path, tmp_path: Path, address: str, rng) -> None:
    registry = tmp_path / "registry"
    ref = f"{registry}/m"
    cfg = config(tmp_path, lake, registry, keep_last=2, promotion={"enabled": False})
    assert fit(cfg, address).returncode == 0
    v1 = latest_version(str(registry), "m")
    assert run_cli("promote", ref, v1, "--pin").returncode == 0
    for day in (5, 6, 7):
        write_day(lake, day, rng)
        out = fit(cfg, address)
        assert out.returncode == 5  # pinned: stored, not promoted
    versions = list_versions(str(registry), "m")
    # the two newest, plus the pinned (and latest) v1 although it is the oldest
    assert len(versions) == 3 and versions[0] == v1
    deleted = [e for e in list_events(str(registry), "m") if e.action == "delete"]
    # 4 versions: v1 (protected) and the oldest of the other three beyond the newest two
    assert len(deleted) == 1 and deleted[0].version not in versions and "keep_last=2" in deleted[0].reason
    assert not any(p.name.startswith(".tmp-") for p in (registry / "m").iterdir())
    assert "retention: deleted 1 version(s)" in out.stdout


@pytest.mark.cluster
def test_if_changed_skips_unchanged_data_and_config_without_a_cluster(
    lake: Path, tmp_path: Path, address: str, rng
) -> None:
    registry = tmp_path / "registry"
    cfg = config(tmp_path, lake, registry, promotion={"enabled": False})
    # a run that does contact the dead scheduler gives up after 3 s, not the default 30 s
    # (the cluster section is not part of what --if-changed compares)
    doc = yaml.safe_load(cfg.read_text())
    doc["cluster"]["connect_timeout"] = 3
    write_config(cfg, doc)
    assert fit(cfg, address, "--if-changed").returncode == 0  # nothing to compare with: fits
    state = registry_state(registry, "m")
    # unchanged: decided before any cluster is contacted (the scheduler address is dead)
    same = run_cli("fit", "--config", str(cfg), "--scheduler", DEAD_SCHEDULER, "--if-changed")
    assert same.returncode == 0, same.stderr
    assert "unchanged" in same.stdout and "no new version" in same.stdout
    assert registry_state(registry, "m") == state

    # a rewrite with the mtime preserved (rsync -a, cp -p) is a change: its footer differs
    path = lake / "day=2026-11-02" / "part-0.parquet"
    st = path.stat()
    write_table(path, make_table(rng, 120, tag="rewritten"), 64)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    rewritten = run_cli("fit", "--config", str(cfg), "--scheduler", DEAD_SCHEDULER, "--if-changed")
    assert rewritten.returncode == 4, rewritten.stdout  # it needs the cluster: a change was seen
    assert fit(cfg, address, "--if-changed").returncode == 0
    assert len(list_versions(str(registry), "m")) == 2

    # a configuration change is a change too; as every file is in the statistics cache, the
    # new model is fitted without contacting the (dead) scheduler
    doc = yaml.safe_load(cfg.read_text())
    doc["model"]["alphas"] = 16
    write_config(cfg, doc)
    changed = run_cli("fit", "--config", str(cfg), "--scheduler", DEAD_SCHEDULER, "--if-changed")
    assert changed.returncode == 0, changed.stdout + changed.stderr
    assert "configuration differs" in changed.stdout and "no cluster started" in changed.stdout
    assert len(list_versions(str(registry), "m")) == 3


def test_columns_are_checked_before_the_cluster_starts(lake: Path, tmp_path: Path) -> None:
    """A typo in target or features: exit 3 naming the file, the key and the nearest column, and no
    cluster is contacted (the scheduler address is dead)."""
    registry = tmp_path / "registry"
    cfg = config_dict(lake, registry, model=dict(MODEL), cluster=dict(CLUSTER))
    cfg["data"]["target"] = "Y"
    cfg["data"]["features"] = ["x_a", "x_bb", "x_int"]
    path = write_config(tmp_path / "typo.yaml", cfg)
    out = run_cli("fit", "--config", str(path), "--scheduler", DEAD_SCHEDULER)
    assert out.returncode == 3, out.stdout + out.stderr
    err = out.stderr
    assert "day=2026-11-01/part-0.parquet" in err
    assert "data.target column 'Y' is not in the file; did you mean 'y'?" in err
    assert "data.features column 'x_bb' is not in the file; did you mean 'x_b'" in err
    cfg["data"]["target"] = "y"
    cfg["data"]["features"] = ["x_a", "x_b"]
    cfg["data"]["categorical"] = ["x_b"]  # a float column cannot be categorical
    write_config(path, cfg)
    out = run_cli("fit", "--config", str(path), "--scheduler", DEAD_SCHEDULER)
    assert out.returncode == 3 and "data.categorical column 'x_b' has type double" in out.stderr
    assert registry_state(registry, "m") == ([], None)


# --------------------------------------------------------------------------- S3 (moto, no cluster)


@pytest.fixture(scope="module")
def s3_options():
    with pytest.MonkeyPatch.context() as mp:
        for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "NO_PROXY": "127.0.0.1"}.items():
            mp.setenv(k, v)
        server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        try:
            boto3.client(
                "s3",
                endpoint_url=endpoint,
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            ).create_bucket(Bucket="reg")
            yield {
                "key": "testing",
                "secret": "testing",
                "client_kwargs": {"endpoint_url": endpoint, "region_name": "us-east-1"},
            }
        finally:
            server.stop()


def test_registry_operations_on_s3(s3_options: dict) -> None:
    import s3fs as _s3fs

    registry = "s3://reg/models"
    versions = [
        write_version(
            registry,
            "m",
            {"model.json": json.dumps({"features": ["a"], "coef": [float(i)], "intercept": 0.0}), "metrics.json": "{}"},
            storage_options=s3_options,
            version=f"2026110{i}T000000000000Z",
        )
        for i in range(1, 6)
    ]
    assert latest_version(registry, "m", s3_options) == versions[-1]
    promote_version(registry, "m", versions[1], pin=True, reason="audit", storage_options=s3_options)
    assert (latest_version(registry, "m", s3_options), pinned_version(registry, "m", s3_options)) == (
        versions[1],
        versions[1],
    )
    with pytest.raises(RegistryError, match="latest' or pinned"):
        delete_version(registry, "m", versions[1], storage_options=s3_options)
    gone = apply_retention(registry, "m", 2, s3_options)
    assert gone == [versions[0], versions[2]]
    assert list_versions(registry, "m", s3_options) == [versions[1], versions[3], versions[4]]
    fs = _s3fs.S3FileSystem(**s3_options)
    assert not fs.exists(f"reg/models/m/{versions[0]}/model.json")
    unpin(registry, "m", storage_options=s3_options)
    assert pinned_version(registry, "m", s3_options) is None
    assert [e.action for e in list_events(registry, "m", s3_options)] == ["pin", "delete", "delete", "unpin"]
    assert read_record(f"{registry}/m", s3_options)[1].coef.tolist() == [2.0]
