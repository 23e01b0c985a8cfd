"""Lakes and registries on S3: a real moto server on 127.0.0.1, s3fs, a multi-process cluster.

The workers are separate processes, so credentials and the endpoint travel in
``storage_options`` (not only in this process's environment).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dreg.job.errors import DataError
from dreg.job.lake import open_lake
from tests.job.lake_helpers import (
    LAYOUT,
    assert_same_fit,
    config_dict,
    fit_in_memory,
    parse,
    read_in_memory,
    write_lake,
)
from tests.job.s3_helpers import moto_endpoint, s3_client
from tests.job.s3_helpers import storage_options as s3_storage_options

BUCKET = "dreg-lake"


@pytest.fixture(scope="module")
def endpoint():
    with moto_endpoint() as url:
        yield url


@pytest.fixture(scope="module")
def storage_options(endpoint: str) -> dict:
    return s3_storage_options(endpoint)


@pytest.fixture(scope="module")
def s3(endpoint: str):
    return s3_client(endpoint)


@pytest.fixture(scope="module")
def local_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_lake(tmp_path_factory.mktemp("s3") / "lake", np.random.default_rng(31))


@pytest.fixture(scope="module")
def s3_lake(s3, local_lake: Path) -> str:
    """The local lake (hidden junk included) uploaded to s3://BUCKET/lake."""
    s3.create_bucket(Bucket=BUCKET)
    for p in sorted(local_lake.rglob("*")):
        if p.is_file():
            s3.upload_file(str(p), BUCKET, f"lake/{p.relative_to(local_lake).as_posix()}")
    return f"s3://{BUCKET}/lake"


@pytest.fixture(scope="module")
def s3_fit(s3_lake: str, storage_options: dict, address: str):
    from dreg.job.pipeline import run_fit

    cfg = parse(
        config_dict(
            s3_lake,
            f"s3://{BUCKET}/registry",
            name="m",
            data={"storage_options": storage_options},
            output={"storage_options": storage_options},
        )
    )
    return cfg, run_fit(cfg, scheduler=address, log=lambda s: None, tty=False)


def keys(s3, prefix: str) -> list[str]:
    out = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(o["Key"] for o in out.get("Contents", []))


def test_open_lake_on_s3_lists_files_with_etags(s3, s3_lake: str, storage_options: dict) -> None:
    lake = open_lake(s3_lake, storage_options)
    assert lake.protocol == "s3"
    assert [f.relpath for f in lake.files] == [rel for rel, _, _ in LAYOUT]  # hidden junk skipped
    for f in lake.files:
        head = s3.head_object(Bucket=BUCKET, Key=f"lake/{f.relpath}")
        assert f.etag == head["ETag"].strip('"') and f.size == head["ContentLength"]
        assert lake.full_url(f) == f"s3://{BUCKET}/lake/{f.relpath}"
    pruned = open_lake(
        s3_lake,
        storage_options,
        filters=parse(
            config_dict(s3_lake, "/r", data={"filters": ["day = 2026-11-03"]})
        ).data.filters,
    )
    assert len(pruned.files) == 2 and pruned.pruned == 4


@pytest.mark.cluster
def test_s3_fit_equals_local_fit_and_in_memory_fit(
    s3_fit, local_lake: Path, address: str, tmp_path: Path
) -> None:
    from dreg.job.pipeline import run_fit

    _, out = s3_fit
    local = run_fit(
        parse(config_dict(local_lake, tmp_path / "registry")),
        scheduler=address,
        log=lambda s: None,
        tty=False,
    )
    # same files, same relative paths, so the same folds and statistics
    np.testing.assert_array_equal(out.estimator.coef_, local.estimator.coef_)
    assert_same_fit(out.estimator, local.estimator, rtol=1e-13)
    assert_same_fit(out.estimator, fit_in_memory(*read_in_memory(open_lake(str(local_lake)).files)))
    assert out.metrics.rows == sum(n for _, n, _ in LAYOUT)


@pytest.mark.cluster
def test_s3_fingerprint_has_etags(s3, s3_fit) -> None:
    _, out = s3_fit
    fingerprint = out.model.data.fingerprint
    assert len(fingerprint) == len(LAYOUT)
    for fp, (rel, n, _) in zip(fingerprint, LAYOUT, strict=True):
        head = s3.head_object(Bucket=BUCKET, Key=f"lake/{rel}")
        assert fp["path"] == f"s3://{BUCKET}/lake/{rel}"
        assert fp["etag"] == head["ETag"].strip('"')
        assert fp["size"] == head["ContentLength"] and fp["rows"] == n
        assert fp["mtime"]


@pytest.mark.cluster
def test_s3_registry_layout_and_load_model(s3, s3_fit, storage_options: dict) -> None:
    from dreg.job.registry import list_versions, load_model, read_model

    cfg, out = s3_fit
    v = out.ref.version
    assert keys(s3, "registry/") == sorted(
        [f"registry/m/{v}/{n}" for n in ("metrics.json", "model.json", "report.html", "stats.npz")]
        + ["registry/m/latest"]
    )
    latest = s3.get_object(Bucket=BUCKET, Key="registry/m/latest")["Body"].read().decode()
    assert latest.strip() == v
    model = json.loads(
        s3.get_object(Bucket=BUCKET, Key=f"registry/m/{v}/model.json")["Body"].read()
    )
    assert model == json.loads(json.dumps(out.model.to_json()))
    assert list_versions(cfg.output.registry, "m", storage_options) == [v]

    ref, read, metrics = read_model(f"s3://{BUCKET}/registry/m", storage_options)
    assert (
        ref.version == v
        and read["coef"] == model["coef"]
        and metrics["rows"] == out.metrics.rows
    )
    loaded = load_model(f"s3://{BUCKET}/registry/m", storage_options)
    pinned = load_model(f"s3://{BUCKET}/registry/m/{v}", storage_options)
    X = np.random.default_rng(0).standard_normal((20, len(model["features"])))
    np.testing.assert_array_equal(loaded.predict(X), out.estimator.predict(X))
    np.testing.assert_array_equal(pinned.predict(X), out.estimator.predict(X))
    assert loaded.get_params() == out.estimator.get_params()


@pytest.mark.cluster
def test_bad_s3_file_writes_nothing(
    s3, s3_fit, local_lake: Path, storage_options: dict, address: str
) -> None:
    from dreg.job.pipeline import run_fit

    cfg0, _ = s3_fit
    for p in sorted(local_lake.rglob("*.parquet")):
        if not any(part.startswith(("_", ".")) for part in p.relative_to(local_lake).parts):
            s3.upload_file(str(p), BUCKET, f"bad/{p.relative_to(local_lake).as_posix()}")
    data = (local_lake / LAYOUT[0][0]).read_bytes()
    s3.put_object(
        Bucket=BUCKET, Key="bad/day=2026-11-02/part-5.parquet", Body=data[: len(data) // 2]
    )
    before = keys(s3, "registry/")
    cfg = parse(
        config_dict(
            f"s3://{BUCKET}/bad",
            cfg0.output.registry,
            name="m",
            data={"storage_options": storage_options},
            output={"storage_options": storage_options},
        )
    )
    with pytest.raises(
        DataError, match=rf"s3://{BUCKET}/bad/day=2026-11-02/part-5.parquet: not a readable Parquet"
    ):
        run_fit(cfg, scheduler=address, log=lambda s: None, tty=False)
    assert keys(s3, "registry/") == before


@pytest.mark.cluster
def test_predict_an_s3_lake(
    s3_fit, s3_lake: str, local_lake: Path, storage_options: dict, address: str, tmp_path: Path
) -> None:
    """Score the S3 lake with a model from a local registry into a local folder."""
    import pyarrow.parquet as pq

    from dreg.job.pipeline import run_predict
    from dreg.job.registry import write_version

    _, out = s3_fit
    write_version(str(tmp_path / "registry"), "m", {"model.json": json.dumps(out.model.to_json())})
    result = run_predict(
        f"{tmp_path}/registry/m",
        s3_lake,
        str(tmp_path / "scores"),
        keep=["id"],
        storage_options=storage_options,
        scheduler=address,
        log=lambda s: None,
    )
    assert result["files"] == len(LAYOUT) and result["rows"] == sum(n for _, n, _ in LAYOUT)
    files = {f.relpath: f for f in open_lake(str(local_lake)).files}
    for rel, n, _ in LAYOUT:
        got = pq.read_table(tmp_path / "scores" / rel)
        X, _, _ = read_in_memory([files[rel]])
        assert got.num_rows == n
        assert (
            got.column("id").to_pylist() == pq.read_table(local_lake / rel).column("id").to_pylist()
        )
        expected = X @ out.estimator.coef_ + out.estimator.intercept_
        np.testing.assert_allclose(got.column("prediction").to_numpy(), expected, rtol=1e-12)
