"""Delta Lake and Apache Iceberg tables as lakes (:mod:`dreg.job.tables`).

Everything is real: Delta tables are written with ``deltalake.write_deltalake``
(appends, a partition deleted, a compaction, so superseded files stay on disk),
Iceberg tables with pyiceberg's SQL catalog on sqlite in ``tmp_path``.  The
fits run on one multi-process ``LocalCluster`` shared by the session (one of
them through the ``dreg`` command line) and are compared with scikit-learn's
``Ridge`` on the live rows as the formats' own readers return them
(``DeltaTable.to_pyarrow_table``, ``Table.scan().to_arrow``).

The model is a ridge at one fixed alpha with ``standardize: false``:
scikit-learn's ``Ridge(alpha=A)`` is dreg's ``alpha = A / n_rows``, so the
coefficients agree to rounding whatever the row order.
"""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dreg.job.config import Window
from dreg.job.errors import ConfigError, DataError
from dreg.job.pipeline import run_fit, run_predict
from dreg.job.registry import load_model
from dreg.job.tables import NULL_PARTITION, open_data, open_table, partition_string
from tests.job.lake_helpers import CLUSTER, parse, run_cli, write_config

deltalake = pytest.importorskip("deltalake", reason="dreg[delta] is not installed")

FEATURES = ["x0", "x1", "x2", "x3"]
BETA = np.array([1.5, -2.0, 0.5, 0.0])
# dreg's alpha; scikit-learn's Ridge takes alpha * n_rows
ALPHA = 0.05
PARTS = [0, 1, 2, 3]


def batch(rng: np.random.Generator, n: int, parts: list[int] = PARTS, shift: float = 0.0) -> pa.Table:
    """``n`` rows spread over the partitions ``parts``; y linear in x plus noise.

    ``shift`` moves the features' means so that batches (and so versions) differ.
    """
    X = rng.standard_normal((n, len(FEATURES))) + shift
    part = np.asarray(parts)[np.arange(n) % len(parts)]
    y = 3.0 + X @ BETA + 0.7 * part + rng.standard_normal(n)
    cols: dict[str, Any] = {c: X[:, j] for j, c in enumerate(FEATURES)}
    return pa.table({"part": pa.array(part, pa.int64()), **cols, "y": y})


def sklearn_coef(table: pa.Table) -> tuple[np.ndarray, float]:
    """scikit-learn's ridge on the rows of ``table`` (dreg's ``ALPHA`` on its scale)."""
    from sklearn.linear_model import Ridge

    X = np.column_stack([table.column(c).to_numpy() for c in FEATURES])
    y = table.column("y").to_numpy()
    ref = Ridge(alpha=ALPHA * len(y), fit_intercept=True, solver="cholesky").fit(X, y)
    return ref.coef_, float(ref.intercept_)


def assert_sklearn(coef: np.ndarray, intercept: float, table: pa.Table) -> None:
    ref_coef, ref_icpt = sklearn_coef(table)
    np.testing.assert_allclose(coef, ref_coef, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(intercept, ref_icpt, rtol=1e-8, atol=1e-10)


def config(data: dict[str, Any], registry: Path, name: str = "m", **sections: Any) -> dict[str, Any]:
    return {
        "data": {"target": "y", "features": FEATURES, **data},
        "model": {"penalty": "ridge", "alphas": [ALPHA], "cv": 3, "standardize": False},
        "cluster": dict(CLUSTER),
        "output": {"registry": str(registry), "name": name, "promotion": {"enabled": False}},
        **sections,
    }


def fit(cfg: dict[str, Any], address: str, log=None):
    return run_fit(parse(cfg), scheduler=address, log=log or (lambda s: None), tty=False)


def coef_of(out) -> tuple[np.ndarray, float]:
    return np.asarray(out.estimator.coef_), float(out.estimator.intercept_)


def parquet_on_disk(root: Path) -> set[str]:
    return {str(p) for p in root.rglob("*.parquet")}


@pytest.fixture(scope="module")
def delta(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Delta table partitioned by ``part``: 3 appends (v0-v2), ``part = 1`` deleted (v3),
    then compacted (v4).  The deleted and compacted-away files stay on disk."""
    from deltalake import DeltaTable, write_deltalake

    rng = np.random.default_rng(17)
    path = tmp_path_factory.mktemp("delta") / "events"
    for k in range(3):
        write_deltalake(str(path), batch(rng, 600, shift=0.3 * k), mode="append", partition_by=["part"])
        time.sleep(0.01)  # commits in distinct milliseconds, for data.timestamp
    dt = DeltaTable(str(path))
    dt.delete("part = 1")
    DeltaTable(str(path)).optimize.compact()
    assert DeltaTable(str(path)).version() == 4
    return path


# --------------------------------------------------------------------------- Delta: listing


def test_delta_lists_exactly_the_live_files(delta: Path) -> None:
    from deltalake import DeltaTable

    dt = DeltaTable(str(delta))
    live = {str(Path(u)) for u in dt.file_uris()}
    on_disk = parquet_on_disk(delta)
    assert len(on_disk) > len(live)  # deleted and compacted files are still there
    lake = open_table(str(delta), "delta")
    assert {f.path for f in lake.files} == live
    assert lake.all_files == lake.files and lake.partition_columns == ("part",)
    assert lake.url == f"{delta}@v4" and lake.protocol == "file"
    for f in lake.files:
        assert f.size == Path(f.path).stat().st_size
        assert f.relpath == str(Path(f.path).relative_to(delta))
        assert f.partitions[0][0] == "part" and f.partitions[0][1] in {"0", "2", "3"}
        assert f.mtime is not None
    # "auto" finds _delta_log/; a plain read of the folder would read every file on disk
    assert {f.path for f in open_table(str(delta)).files} == live
    assert {f.path for f in open_table(str(delta), "parquet").files} == on_disk


def test_delta_time_travel_lists_the_old_versions_files(delta: Path) -> None:
    from deltalake import DeltaTable

    for version in range(5):
        lake = open_table(str(delta), version=version)
        want = {str(Path(u)) for u in DeltaTable(str(delta), version=version).file_uris()}
        assert {f.path for f in lake.files} == want, version
        assert lake.url.endswith(f"@v{version}")
    assert len(open_table(str(delta), version=2).files) == 12  # 3 appends x 4 partitions
    # as of the time of commit 2: version 2.  Time travel compares with the log file's
    # modification time, which can be a few ms after the commit's recorded timestamp (a loaded
    # machine): take the later of the two
    ts = next(c["timestamp"] for c in DeltaTable(str(delta)).history() if c["version"] == 2)
    log2 = delta / "_delta_log" / f"{2:020d}.json"
    ts = max(ts, -(-log2.stat().st_mtime_ns // 1_000_000))
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts / 1000)) + f".{ts % 1000:03d}+00:00"
    assert open_table(str(delta), timestamp=iso).url.endswith("@v2")
    with pytest.raises(DataError, match=r"Delta table .*events.*version 9"):
        open_table(str(delta), version=9)
    with pytest.raises(ConfigError, match="not both"):
        open_table(str(delta), "delta", version=1, timestamp=iso)


def test_delta_filters_and_window_prune_on_partition_values(delta: Path) -> None:
    cfg = parse(config({"path": str(delta), "filters": ["part >= 2"]}, delta.parent / "r"))
    lake = open_data(cfg.data)
    assert {dict(f.partitions)["part"] for f in lake.files} == {"2", "3"} and lake.pruned == 1
    lake = open_table(str(delta), window=Window(column="part", last=1))
    assert lake.window_values == ("3",) and {dict(f.partitions)["part"] for f in lake.files} == {"3"}
    with pytest.raises(DataError, match=r"filter on 'x0': not a partition column of table .*@v4"):
        open_data(parse(config({"path": str(delta), "filters": ["x0 > 1"]}, delta.parent / "r")).data)


def test_partition_strings_are_hive_style() -> None:
    import datetime as dt

    assert partition_string(None) == NULL_PARTITION
    assert partition_string(True) == "true"
    assert partition_string(3) == "3"
    assert partition_string(dt.date(2026, 11, 1)) == "2026-11-01"
    assert partition_string(dt.datetime(2026, 11, 1, 12, 30)) == "2026-11-01 12:30:00"


# --------------------------------------------------------------------------- Delta: fits


@pytest.mark.cluster
def test_dreg_fit_on_a_delta_table_equals_sklearn_on_its_live_rows(delta: Path, address: str, tmp_path: Path) -> None:
    """Through the command line: ``data.format`` left at auto, the live rows only."""
    from deltalake import DeltaTable

    registry = tmp_path / "registry"
    cfg = write_config(tmp_path / "job.yaml", config({"path": str(delta)}, registry))
    proc = run_cli("fit", "--config", str(cfg), "--scheduler", address)
    assert proc.returncode == 0, proc.stderr
    live = DeltaTable(str(delta)).to_pyarrow_table()
    model = load_model(f"{registry}/m")
    assert_sklearn(model.coef_, model.intercept_, live)
    # a plain read of the folder reads the deleted rows too: another model
    everything = pq.ParquetDataset(sorted(parquet_on_disk(delta))).read()
    assert everything.num_rows > live.num_rows
    assert not np.allclose(model.coef_, sklearn_coef(everything)[0], rtol=1e-6)


@pytest.mark.cluster
def test_delta_version_fits_the_old_table(delta: Path, address: str, tmp_path: Path) -> None:
    from deltalake import DeltaTable

    out = fit(config({"path": str(delta), "format": "delta", "version": 2}, tmp_path / "registry"), address)
    old = DeltaTable(str(delta), version=2).to_pyarrow_table()
    assert out.metrics.rows == old.num_rows == 1800
    assert_sklearn(*coef_of(out), old)


@pytest.mark.cluster
def test_dreg_predict_on_a_delta_table_scores_the_live_rows(delta: Path, address: str, tmp_path: Path) -> None:
    from deltalake import DeltaTable

    registry = tmp_path / "registry"
    fit(config({"path": str(delta)}, registry), address)
    out = tmp_path / "scores"
    res = run_predict(f"{registry}/m", str(delta), str(out), scheduler=address, log=lambda s: None)
    live = DeltaTable(str(delta)).to_pyarrow_table()
    assert res["rows"] == live.num_rows and res["files"] == len(open_table(str(delta)).files)
    assert len(list(out.rglob("*.parquet"))) == res["files"]


@pytest.mark.cluster
def test_a_retrain_after_a_delta_append_reads_only_the_new_file(address: str, tmp_path: Path) -> None:
    from deltalake import DeltaTable, write_deltalake

    rng = np.random.default_rng(5)
    path = tmp_path / "t"
    write_deltalake(str(path), batch(rng, 400), partition_by=["part"])
    registry = tmp_path / "registry"
    cfg = config({"path": str(path), "format": "delta"}, registry)
    first = fit(cfg, address)
    assert (first.metrics.files_scanned, first.metrics.files_from_cache) == (4, 0)
    write_deltalake(str(path), batch(rng, 150, parts=[2], shift=1.0), mode="append", partition_by=["part"])
    lines: list[str] = []
    again = fit(cfg, address, lines.append)
    assert (again.metrics.files_scanned, again.metrics.files_from_cache) == (1, 4)
    assert any("1 file(s) scanned, 4 from the statistics cache" in s for s in lines), lines
    assert_sklearn(*coef_of(again), DeltaTable(str(path)).to_pyarrow_table())


# --------------------------------------------------------------------------- Delta: deletion vectors

_Z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"


def _z85(data: bytes) -> str:
    data += b"\0" * (-len(data) % 4)
    out = []
    for i in range(0, len(data), 4):
        v = int.from_bytes(data[i : i + 4], "big")
        chars = []
        for _ in range(5):
            v, r = divmod(v, 85)
            chars.append(_Z85[r])
        out.append("".join(reversed(chars)))
    return "".join(out)


def add_inline_deletion_vector(path: Path, deleted_rows: list[int]) -> None:
    """Commit a deletion vector on the table's first live file, as Spark or Databricks write one:
    the ``add`` action again, with an inline (``storageType: i``) RoaringBitmapArray.

    delta-rs does not write deletion vectors (it rewrites files), but it reads them; the
    commit follows the Delta protocol's "Deletion Vector Format"."""
    from deltalake import DeltaTable

    BitMap = pytest.importorskip("pyroaring", reason="pyroaring (a pyiceberg dependency) writes the bitmap").BitMap

    dt = DeltaTable(str(path))
    a = pa.table(dt.get_add_actions(flatten=True)).to_pylist()[0]
    # magic, then a RoaringTreemap: one 32-bit bucket (key 0) holding the row indexes
    raw = struct.pack("<IQI", 1681511377, 1, 0) + BitMap(deleted_rows).serialize()
    dv = {"storageType": "i", "pathOrInlineDv": _z85(raw), "sizeInBytes": len(raw), "cardinality": len(deleted_rows)}
    now = int(time.time() * 1000)
    common = {"path": a["path"], "partitionValues": {}, "size": a["size_bytes"], "dataChange": True}
    actions = [
        {"commitInfo": {"timestamp": now, "operation": "DELETE"}},
        {"remove": {**common, "deletionTimestamp": now, "extendedFileMetadata": True}},
        {"add": {**common, "modificationTime": a["modification_time"], "deletionVector": dv,
                 "stats": json.dumps({"numRecords": a["num_records"]})}},
    ]  # fmt: skip
    log = path / "_delta_log" / f"{dt.version() + 1:020d}.json"
    log.write_text("".join(json.dumps(x) + "\n" for x in actions))


def test_a_delta_table_with_deletion_vectors_is_refused(tmp_path: Path) -> None:
    from deltalake import DeltaTable, write_deltalake

    path = tmp_path / "dv"
    rng = np.random.default_rng(3)
    write_deltalake(str(path), batch(rng, 50).drop(["part"]), configuration={"delta.enableDeletionVectors": "true"})
    # the feature alone (no file carries a vector yet) does not stop the read
    assert "deletionVectors" in DeltaTable(str(path)).protocol().reader_features
    assert len(open_table(str(path)).files) == 1
    add_inline_deletion_vector(path, [0, 7, 9])
    selection = pa.table(DeltaTable(str(path)).deletion_vectors()).column("selection_vector")[0].as_py()
    assert [i for i, keep in enumerate(selection) if not keep] == [0, 7, 9]  # delta-rs reads the vector
    with pytest.raises(DataError) as err:
        open_table(str(path))
    msg = str(err.value)
    assert f"Delta table {path}@v1" in msg and "'deletionVectors'" in msg
    assert "1 live file(s) carry deletion vectors (3 deleted row(s)" in msg
    # and the CLI exits 3 with it, before the cluster starts
    cfg = write_config(tmp_path / "job.yaml", config({"path": str(path)}, tmp_path / "registry"))
    proc = run_cli("fit", "--config", str(cfg))
    assert proc.returncode == 3 and "deletionVectors" in proc.stderr, proc.stderr


def test_missing_packages_name_the_extra(monkeypatch: pytest.MonkeyPatch, delta: Path) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "deltalake", None)  # an import of it raises ImportError
    with pytest.raises(ConfigError, match=r"pip install 'dreg\[delta\]'"):
        open_table(str(delta), "delta")
    monkeypatch.setitem(sys.modules, "pyiceberg.catalog", None)
    with pytest.raises(ConfigError, match=r"pip install 'dreg\[iceberg\]'"):
        open_table("ns.t", "iceberg", catalog={"type": "sql"})


# --------------------------------------------------------------------------- Iceberg


@pytest.fixture(scope="module")
def iceberg(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An Iceberg table ``sales.orders`` partitioned by ``part``, in a sqlite SQL catalog:
    created from a pyarrow table, then appended twice (3 snapshots)."""
    pytest.importorskip("pyiceberg", reason="dreg[iceberg] is not installed")
    pytest.importorskip("sqlalchemy", reason="dreg[iceberg] (pyiceberg[sql-sqlite]) is not installed")
    from pyiceberg.catalog import load_catalog

    root = tmp_path_factory.mktemp("iceberg")
    props = {
        "name": "local",
        "type": "sql",
        "uri": f"sqlite:///{root / 'catalog.db'}",
        "warehouse": f"file://{root / 'wh'}",
    }
    cat = load_catalog(props["name"], **{k: v for k, v in props.items() if k != "name"})
    cat.create_namespace("sales")
    rng = np.random.default_rng(11)
    first = batch(rng, 500)
    table = cat.create_table("sales.orders", schema=first.schema)
    with table.update_spec() as spec:
        spec.add_identity("part")
    for k in range(3):
        table.append(first if k == 0 else batch(rng, 400, shift=0.5 * k))
    table = cat.load_table("sales.orders")
    return {"catalog": props, "table": table, "snapshots": [s.snapshot_id for s in table.snapshots()]}


def test_iceberg_lists_the_snapshots_data_files(iceberg: dict[str, Any]) -> None:
    table, snaps = iceberg["table"], iceberg["snapshots"]
    assert len(snaps) == 3
    for snap, n_files in ((snaps[-1], 12), (snaps[0], 4)):
        lake = open_table("sales.orders", "iceberg", catalog=iceberg["catalog"], snapshot_id=snap)
        want = {t.file.file_path.removeprefix("file://") for t in table.scan(snapshot_id=snap).plan_files()}
        assert {f.path for f in lake.files} == want and len(want) == n_files
        assert lake.url == f"iceberg:local/sales.orders@{snap}" and lake.partition_columns == ("part",)
        assert all(f.relpath.startswith("data/part=") and f.size == Path(f.path).stat().st_size for f in lake.files)
    assert open_table("sales.orders", "iceberg", catalog=iceberg["catalog"]).url.endswith(f"@{snaps[-1]}")
    with pytest.raises(DataError, match=r"Iceberg table 'sales.orders' \(catalog 'local'\): no snapshot 42"):
        open_table("sales.orders", "iceberg", catalog=iceberg["catalog"], snapshot_id=42)
    with pytest.raises(DataError, match="'sales.nope' .*no such table"):
        open_table("sales.nope", "iceberg", catalog=iceberg["catalog"])


@pytest.mark.cluster
def test_iceberg_fits_on_the_current_and_an_older_snapshot(
    iceberg: dict[str, Any], address: str, tmp_path: Path
) -> None:
    table, snaps = iceberg["table"], iceberg["snapshots"]
    data = {"path": "sales.orders", "format": "iceberg", "catalog": iceberg["catalog"]}
    current = fit(config(data, tmp_path / "registry", name="now"), address)
    assert_sklearn(*coef_of(current), table.scan().to_arrow())
    old = fit(config({**data, "snapshot_id": snaps[1]}, tmp_path / "registry", name="old"), address)
    rows = table.scan(snapshot_id=snaps[1]).to_arrow()
    assert old.metrics.rows == rows.num_rows == 900
    assert_sklearn(*coef_of(old), rows)


def test_iceberg_row_level_deletes_are_refused(iceberg: dict[str, Any]) -> None:
    """A scan plan whose data file has a position delete file (as merge-on-read writers leave
    one; pyiceberg itself deletes copy-on-write) is refused, naming table, snapshot and count."""
    from pyiceberg.manifest import DataFileContent
    from pyiceberg.table import FileScanTask

    from dreg.job.tables import _refuse_iceberg_deletes

    table = iceberg["table"]
    tasks = list(table.scan().plan_files())
    _refuse_iceberg_deletes(tasks, "Iceberg table 'sales.orders'", 7)  # no delete file: nothing raised
    data_file = tasks[0].file
    deletes = {
        type(data_file).from_args(content=c, file_path=f"file:///wh/{c.name}.parquet", record_count=1)
        for c in (DataFileContent.POSITION_DELETES, DataFileContent.EQUALITY_DELETES)
    }
    with pytest.raises(DataError) as err:
        _refuse_iceberg_deletes(
            [FileScanTask(data_file, delete_files=deletes), *tasks[1:]], "Iceberg table 'sales.orders'", 7
        )
    msg = str(err.value)
    assert msg.startswith("Iceberg table 'sales.orders', snapshot 7: 2 row-level delete file(s)")
    assert "equality and position deletes" in msg and "apply to 1 data file(s)" in msg


# --------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"version": 1, "timestamp": "2026-11-01T00:00:00Z"}, "give version or timestamp, not both"),
        ({"format": "parquet", "version": 1}, "version is Delta time travel: it needs format delta"),
        (
            {"format": "iceberg", "timestamp": "2026-11-01", "catalog": {"type": "sql"}, "path": "a.b"},
            "timestamp is Delta time travel",
        ),
        ({"timestamp": "last tuesday"}, "timestamp 'last tuesday' is not an ISO 8601 time"),
        ({"version": -1}, "'data.version'"),
        ({"snapshot_id": 5}, "snapshot_id is for Iceberg tables"),
        ({"format": "delta", "catalog": {"type": "sql"}}, "catalog is for Iceberg tables"),
        ({"format": "iceberg", "path": "a.b"}, "format iceberg needs catalog"),
        ({"format": "iceberg", "path": "orders", "catalog": {"type": "sql"}}, "'namespace.table'"),
        ({"format": "delta", "glob": "*.pq"}, "glob is for plain Parquet lakes"),
        ({"format": "hudi"}, "'data.format'"),
    ],
)
def test_config_validation(data: dict[str, Any], message: str, tmp_path: Path) -> None:
    cfg = config({"path": str(tmp_path), **data}, tmp_path / "r")
    with pytest.raises(ConfigError, match=None) as err:
        parse(cfg)
    assert message in str(err.value)


def test_config_defaults_and_time_travel_on_a_plain_lake(tmp_path: Path) -> None:
    d = parse(config({"path": str(tmp_path / "lake")}, tmp_path / "r")).data
    assert (d.format, d.version, d.timestamp, d.snapshot_id, d.catalog) == ("auto", None, None, None, None)
    pq.write_table(batch(np.random.default_rng(1), 10), tmp_path / "lake.parquet")
    (tmp_path / "lake").mkdir()
    pq.write_table(batch(np.random.default_rng(1), 10), tmp_path / "lake" / "a.parquet")
    with pytest.raises(ConfigError, match=r"data.version is time travel on a Delta table, but .* has no _delta_log/"):
        open_data(parse(config({"path": str(tmp_path / "lake"), "version": 3}, tmp_path / "r")).data)
    assert len(open_data(d).files) == 1  # auto without _delta_log/: a plain lake


def test_iceberg_identifier_survives_relative_path_resolution(tmp_path: Path, iceberg: dict[str, Any]) -> None:
    """``load_config`` resolves a relative data.path against the file's folder; an Iceberg
    identifier is recovered from it."""
    from dreg.job.config import load_config

    cfg = config({"path": "sales.orders", "format": "iceberg", "catalog": iceberg["catalog"]}, tmp_path / "r")
    loaded = load_config(write_config(tmp_path / "job.yaml", cfg))
    assert open_data(loaded.data).url.startswith("iceberg:local/sales.orders@")
