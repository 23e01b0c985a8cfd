"""The nightly retrain loop on S3: a real moto server on 127.0.0.1, s3fs, a multi-process cluster.

Lake, registry, statistics cache and prediction output all live in the moto bucket; the workers
get the endpoint and credentials in ``storage_options``.  Checked here (``test_s3.py`` covers a
first fit):

* a retrain served from the S3 statistics cache (``files_from_cache``, entries in the bucket) is bit
  for bit the model of a fit without the cache, and a new day's file is the only one scanned;
* a same-size overwrite of an S3 object is rescanned and its statistics equal a fresh scan;
* a second version is promoted (an identical rerun as "unchanged", a new day by the new rows'
  rule) and moves ``latest`` on S3; a worse one is rejected and leaves it;
* ``dreg predict`` from an S3 registry and lake to an S3 output: values equal the model's predict on
  the same rows read into memory, and each output carries its lineage in the Parquet metadata.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import dreg
from dreg.job.errors import PromotionRejected
from dreg.job.lake import open_lake
from dreg.job.registry import latest_version, list_versions
from tests.job.lake_helpers import (
    assert_same_fit,
    config_dict,
    fit_in_memory,
    make_table,
    parse,
    read_in_memory,
)
from tests.job.s3_helpers import moto_endpoint, s3_client
from tests.job.s3_helpers import storage_options as s3_storage_options

BUCKET = "dreg-retrain"
DAYS = ["2026-11-01", "2026-11-02", "2026-11-03"]
FILES_PER_DAY = 2
ROWS = 150
N_FILES = len(DAYS) * FILES_PER_DAY


@pytest.fixture(scope="module")
def endpoint():
    with moto_endpoint() as url:
        yield url


@pytest.fixture(scope="module")
def storage_options(endpoint: str) -> dict:
    return s3_storage_options(endpoint)


@pytest.fixture(scope="module")
def s3(endpoint: str):
    client = s3_client(endpoint)
    client.create_bucket(Bucket=BUCKET)
    return client


def rel(day: str, part: int) -> str:
    return f"day={day}/part-{part}.parquet"


def table_bytes(table: pa.Table, **kwargs) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf, row_group_size=64, **kwargs)
    return buf.getvalue()


def put_lake(s3, prefix: str, local: Path, rng: np.random.Generator, days: list[str] = DAYS) -> str:
    """Write the days' files locally (the in-memory reference reads these) and upload them under
    ``s3://BUCKET/prefix``; returns the lake URL."""
    for day in days:
        for k in range(FILES_PER_DAY):
            put_file(s3, prefix, local, rel(day, k), make_table(rng, ROWS, tag=f"{prefix}-{day}-{k}"))
    return f"s3://{BUCKET}/{prefix}"


def put_file(s3, prefix: str, local: Path, relpath: str, table: pa.Table, **kwargs) -> None:
    data = table_bytes(table, **kwargs)
    path = local / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/{relpath}", Body=data)


def keys(s3, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def s3_config(lake_url: str, storage_options: dict, name: str, **sections) -> dict:
    return config_dict(
        lake_url,
        f"s3://{BUCKET}/registry",
        name=name,
        data={"storage_options": storage_options},
        output={"storage_options": storage_options, **sections.pop("output", {})},
        **sections,
    )


def fit(cfg: dict, address: str, log=None):
    from dreg.job.pipeline import run_fit

    return run_fit(parse(cfg), scheduler=address, log=log or (lambda s: None), tty=False)


def counts(out) -> tuple[int, int]:
    return out.metrics.files_scanned, out.metrics.files_from_cache


def assert_bit_identical(a, b) -> None:
    ea, eb = a.estimator, b.estimator
    np.testing.assert_array_equal(ea.coef_, eb.coef_)
    assert ea.intercept_ == eb.intercept_
    assert (ea.alpha_, ea.chosen_alpha_) == (eb.alpha_, eb.chosen_alpha_)
    np.testing.assert_array_equal(ea.alphas_, eb.alphas_)
    np.testing.assert_array_equal(ea.mse_path_, eb.mse_path_)
    assert a.metrics.rows == b.metrics.rows


def local_files(local: Path, out) -> list:
    """The lake files of a fit's fingerprint, as local LakeFiles with the same relative paths (so the
    same folds), for the in-memory reference."""
    files = {f.relpath: f for f in open_lake(str(local)).files}
    return [files[fp["path"].split("/", 3)[3].split("/", 1)[1]] for fp in out.model.data.fingerprint]


@pytest.mark.cluster
def test_a_retrain_from_the_s3_cache_equals_a_cache_off_fit_and_is_promoted(
    s3, storage_options: dict, address: str, tmp_path: Path
) -> None:
    rng = np.random.default_rng(1607)
    local = tmp_path / "lake"
    lake = put_lake(s3, "cached", local, rng)
    cfg = s3_config(lake, storage_options, "m")
    rescan = s3_config(lake, storage_options, "full", cache={"enabled": False})

    first = fit(cfg, address)
    assert counts(first) == (N_FILES, 0)
    entries = [k for k in keys(s3, "registry-stats-cache/m/") if k.endswith(".npz")]
    assert len(entries) == N_FILES  # the statistics cache is in the bucket, beside the registry
    assert latest_version(f"s3://{BUCKET}/registry", "m", storage_options) == first.ref.version

    lines: list[str] = []
    again = fit(cfg, address, lines.append)
    assert counts(again) == (0, N_FILES)  # every file from the S3 cache
    assert_bit_identical(again, first)  # the first fit scanned every file: a fit without the cache
    # a second version, promoted as "unchanged" (same data, same configuration), moves latest on S3
    p = again.metrics.promotion
    assert (p.status, p.rule, p.champion) == ("promoted", "same_folds", first.ref.version)
    assert any(s.startswith("dreg: promoted: unchanged") for s in lines)
    latest = s3.get_object(Bucket=BUCKET, Key="registry/m/latest")["Body"].read().decode().strip()
    assert latest == again.ref.version != first.ref.version

    # a new day: only its files are scanned; promoted on the new rows; equal to a cache-off fit and in memory
    new_day = "2026-11-04"
    put_lake(s3, "cached", local, rng, days=[new_day])
    third = fit(cfg, address)
    assert counts(third) == (FILES_PER_DAY, N_FILES)
    full = fit(rescan, address)
    assert counts(full) == (N_FILES + FILES_PER_DAY, 0)
    assert_bit_identical(third, full)
    assert_same_fit(third.estimator, fit_in_memory(*read_in_memory(local_files(local, third))))
    p = third.metrics.promotion
    assert (p.status, p.rule, p.rows, p.champion) == ("promoted", "new_rows", FILES_PER_DAY * ROWS, again.ref.version)
    assert latest_version(f"s3://{BUCKET}/registry", "m", storage_options) == third.ref.version

    # a clearly worse configuration is stored but not promoted: latest stays on S3
    with pytest.raises(PromotionRejected) as info:
        fit(s3_config(lake, storage_options, "m", model={"alphas": [1e3]}), address)
    rejected = info.value.outcome
    assert rejected.metrics.promotion.status == "rejected"
    assert f"registry/m/{rejected.ref.version}/model.json" in keys(s3, "registry/m/")
    assert latest_version(f"s3://{BUCKET}/registry", "m", storage_options) == third.ref.version
    assert list_versions(f"s3://{BUCKET}/registry", "m", storage_options) == [
        first.ref.version,
        again.ref.version,
        third.ref.version,
        rejected.ref.version,
    ]


@pytest.mark.cluster
def test_a_same_size_overwrite_on_s3_is_rescanned_and_equals_a_fresh_scan(
    s3, storage_options: dict, address: str, tmp_path: Path
) -> None:
    rng = np.random.default_rng(1608)
    local = tmp_path / "lake"
    lake = put_lake(s3, "overwrite", local, rng)
    target = rel(DAYS[1], 0)
    table = make_table(rng, ROWS, tag="target")
    put_file(s3, "overwrite", local, target, table, compression="none")  # uncompressed: new y, same size
    cfg = s3_config(lake, storage_options, "ow", output={"promotion": {"enabled": False}})  # data, not promotion
    first = fit(cfg, address)
    assert counts(first) == (N_FILES, 0)

    before = s3.head_object(Bucket=BUCKET, Key=f"overwrite/{target}")
    y = table.column("y").to_numpy()
    # new values of the target: the same model plus more noise
    changed = table.set_column(table.schema.get_field_index("y"), "y", pa.array(y + 0.5 * rng.standard_normal(ROWS)))
    put_file(s3, "overwrite", local, target, changed, compression="none")
    after = s3.head_object(Bucket=BUCKET, Key=f"overwrite/{target}")
    assert after["ContentLength"] == before["ContentLength"] and after["ETag"] != before["ETag"]

    again = fit(cfg, address)
    assert counts(again) == (1, N_FILES - 1)  # only the overwritten object
    fresh = fit(s3_config(lake, storage_options, "ow-fresh", cache={"enabled": False}), address)
    assert_bit_identical(again, fresh)
    assert_same_fit(again.estimator, fit_in_memory(*read_in_memory(local_files(local, again))))
    assert not np.array_equal(again.estimator.coef_, first.estimator.coef_)
    url = f"s3://{BUCKET}/overwrite/{target}"
    old = {fp["path"]: fp for fp in first.model.data.fingerprint}
    new = {fp["path"]: fp for fp in again.model.data.fingerprint}
    assert old.keys() == new.keys()
    assert [p for p in old if old[p]["etag"] != new[p]["etag"]] == [url]
    assert new[url]["etag"] == after["ETag"].strip('"')

    third = fit(cfg, address)
    assert counts(third) == (0, N_FILES)  # the overwritten object's new entry serves the next retrain
    assert_bit_identical(third, again)


@pytest.mark.cluster
def test_dreg_predict_from_and_to_s3_with_lineage(
    s3, storage_options: dict, address: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``dreg predict --storage-options`` (the command's ``main``): S3 registry, S3 lake, S3 output."""
    import fsspec

    from dreg.job.cli import main

    rng = np.random.default_rng(1609)
    local = tmp_path / "lake"
    lake = put_lake(s3, "scoring", local, rng, days=DAYS[:2])
    out = fit(s3_config(lake, storage_options, "scorer"), address)
    model_url = f"s3://{BUCKET}/registry/scorer"
    capsys.readouterr()
    code = main(
        [
            "predict", "--model", model_url, "--data", lake, "--output", f"s3://{BUCKET}/scores",
            "--keep", "id", "--storage-options", json.dumps(storage_options), "--scheduler", address,
        ]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    files = open_lake(str(local)).files
    expected = ["scores/_dreg_predict_summary.json", *(f"scores/{f.relpath}" for f in files)]
    assert keys(s3, "scores/") == sorted(expected)

    loaded = dreg.load_model(model_url, storage_options)
    np.testing.assert_array_equal(loaded.coef_, out.estimator.coef_)
    fs = fsspec.filesystem("s3", **storage_options)
    for f in files:
        with fs.open(f"{BUCKET}/scores/{f.relpath}", "rb") as fh:
            pf = pq.ParquetFile(fh)
            got = pf.read()
            meta = {k.decode(): v.decode() for k, v in pf.schema_arrow.metadata.items() if k.startswith(b"dreg.")}
        src = pq.read_table(f.path)
        assert got.column_names == ["prediction", "id"] and got.num_rows == src.num_rows == ROWS
        assert got.column("id").to_pylist() == src.column("id").to_pylist()
        X, _, _ = read_in_memory([f])
        expected = out.estimator.predict(X)
        np.testing.assert_allclose(got.column("prediction").to_numpy(), expected, rtol=1e-12, atol=1e-12)
        assert meta == {
            "dreg.model": "scorer",
            "dreg.model_version": out.ref.version,
            "dreg.model_registry": f"s3://{BUCKET}/registry",
            "dreg.input": f"s3://{BUCKET}/scoring/{f.relpath}",
            "dreg.version": dreg.__version__,
            "dreg.alpha": repr(out.estimator.chosen_alpha_),
        }
