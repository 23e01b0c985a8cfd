"""The per-file statistics cache: keys, entries, corruption, pruning, and sharing across penalties.

Unit tests call :mod:`dreg.job.cache` directly on real Parquet files in ``tmp_path``
(no cluster); the ``cluster`` tests run ``run_fit`` on one real multi-process
``LocalCluster`` shared by the session (``address``, tests/conftest.py).
"""

from __future__ import annotations

import dataclasses
import io
import zipfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from dreg.job.cache import (
    StatsCache,
    cached_file_stats,
    default_cache_url,
    file_key,
    stats_key,
)
from dreg.job.lake import LakeFile, ReadSpec, open_lake, read_file_stats
from tests.job.lake_helpers import (
    FEATURES,
    LAYOUT,
    MODEL,
    TARGET,
    assert_identical_stats,
    config_dict,
    parse,
    write_lake,
)


def spec(**kw) -> ReadSpec:
    base = dict(
        protocol="file",
        storage_options={},
        features=tuple(FEATURES),
        target=TARGET,
        n_folds=MODEL["cv"],
        random_state=MODEL["random_state"],
    )
    base.update(kw)
    return ReadSpec(**base)


def key_dirs(cache_root: Path) -> list[Path]:
    return sorted(p for p in cache_root.iterdir() if p.is_dir()) if cache_root.exists() else []


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_lake(tmp_path_factory.mktemp("cache") / "lake", np.random.default_rng(31))


# --------------------------------------------------------------------------- keys


KEY_CHANGES = {
    "features": dict(features=tuple(FEATURES[:-1])),
    "feature-order": dict(features=tuple(reversed(FEATURES))),
    "target": dict(target="x_noise", features=tuple(FEATURES[:-1])),
    "weight": dict(weight="x_noise", features=tuple(FEATURES[:-1])),
    "fold-column": dict(fold_column="x_int", features=tuple(FEATURES[1:])),
    "n_folds": dict(n_folds=MODEL["cv"] + 1),
    "no-folds": dict(n_folds=None),
    "random_state": dict(random_state=MODEL["random_state"] + 1),
    "on_invalid_rows": dict(on_invalid_rows="drop"),
}


@pytest.mark.parametrize("change", list(KEY_CHANGES))
def test_stats_key_changes_with_every_statistics_input(change: str) -> None:
    assert stats_key(spec(**KEY_CHANGES[change])) != stats_key(spec())


def test_stats_key_is_stable_and_ignores_what_does_not_change_statistics() -> None:
    """Same inputs, same key (no per-process salt); storage options (credentials) do not
    split the cache; with a fold column, random_state draws nothing and is ignored."""
    assert stats_key(spec()) == stats_key(spec())
    assert len(stats_key(spec())) == 20
    assert stats_key(spec(storage_options={"key": "k", "secret": "s"})) == stats_key(spec())
    feats = tuple(FEATURES[1:])
    assert stats_key(spec(features=feats, fold_column="x_int", n_folds=None, random_state=1)) == stats_key(
        spec(features=feats, fold_column="x_int", n_folds=None, random_state=2)
    )


def test_stats_key_in_a_fresh_interpreter_is_the_same() -> None:
    import subprocess
    import sys

    code = (
        "from dreg.job.lake import ReadSpec; from dreg.job.cache import stats_key; "
        f"print(stats_key(ReadSpec(protocol='file', storage_options={{}}, features={tuple(FEATURES)!r}, "
        f"target={TARGET!r}, n_folds={MODEL['cv']}, random_state={MODEL['random_state']})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == stats_key(spec())


BASE_FILE = LakeFile(
    path="/lake/day=2026-11-01/part-0.parquet",
    relpath="day=2026-11-01/part-0.parquet",
    size=1234,
    mtime="2026-11-01T00:00:00.123456+00:00",
    etag=None,
    partitions=(("day", "2026-11-01"),),
)


@pytest.mark.parametrize(
    "change",
    [
        dict(size=1235),
        dict(mtime="2026-11-01T00:00:00.123457+00:00"),
        dict(etag="abc123"),
        dict(path="/lake/day=2026-11-01/part-1.parquet", relpath="day=2026-11-01/part-1.parquet"),
        dict(path="/other/day=2026-11-01/part-0.parquet"),
    ],
    ids=["size", "mtime", "etag", "path", "root"],
)
def test_file_key_changes_with_identity(change: dict) -> None:
    assert file_key(dataclasses.replace(BASE_FILE, **change)) != file_key(BASE_FILE)
    assert file_key(dataclasses.replace(BASE_FILE)) == file_key(BASE_FILE)


def test_same_file_under_another_lake_root_is_not_served_stale_folds(lake: Path, tmp_path: Path) -> None:
    """Folds are drawn from the path relative to the lake root, so the same file opened as part of
    ``lake/`` and of ``lake/day=.../`` has different statistics: it must not share a cache entry."""
    whole = open_lake(str(lake)).files[0]
    sub = open_lake(str(lake / whole.relpath.split("/")[0])).files[0]
    assert whole.path == sub.path and whole.relpath != sub.relpath
    cache = StatsCache(str(tmp_path / "cache"), {}, stats_key(spec()))
    cached_file_stats(whole, spec(), whole.path, cache.entry(whole))
    got = cached_file_stats(sub, spec(), sub.path, cache.entry(sub))
    assert_identical_stats(got.stats, read_file_stats(sub, spec()).stats)


def test_default_cache_url_is_beside_the_registry() -> None:
    assert default_cache_url("/data/registry", "sales") == "/data/registry-stats-cache/sales"
    assert default_cache_url("/data/registry/", "sales") == "/data/registry-stats-cache/sales"
    assert default_cache_url("s3://bucket/models", "sales") == "s3://bucket/models-stats-cache/sales"
    assert default_cache_url("s3://bucket", "sales") == "s3://bucket/_dreg_stats_cache/sales"


# --------------------------------------------------------------------------- entries


def test_an_entry_round_trips_bit_for_bit(lake: Path, tmp_path: Path) -> None:
    f = open_lake(str(lake)).files[2]  # 900 rows in row groups of 100
    cache = StatsCache(str(tmp_path / "cache"), {}, stats_key(spec()))
    first = cached_file_stats(f, spec(), f.path, cache.entry(f))
    assert first.files[0].from_cache is False and first.files[0].cached is True
    entry = Path(cache.entry(f))
    assert entry.parent == tmp_path / "cache" / stats_key(spec()) and entry.suffix == ".npz"
    assert [p.name for p in entry.parent.iterdir()] == [entry.name]  # no temporary file left behind
    with np.load(entry, allow_pickle=False) as z:  # plain arrays: loads without pickle
        assert {"labels", "xx", "files"} <= set(z.files)
    second = cached_file_stats(f, spec(), f.path, cache.entry(f))
    assert second.files[0].from_cache is True
    assert_identical_stats(second.stats, first.stats)
    assert_identical_stats(second.stats, read_file_stats(f, spec()).stats)
    strip = {"from_cache": None, "cached": None}
    assert dataclasses.replace(second.files[0], **strip) == dataclasses.replace(first.files[0], **strip)


def _truncate_half(p: Path) -> None:
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _empty(p: Path) -> None:
    p.write_bytes(b"")


def _garbage(p: Path) -> None:
    p.write_bytes(b"\x00" * p.stat().st_size)


def _flipped_byte(p: Path) -> None:
    data = bytearray(p.read_bytes())
    data[len(data) // 3] ^= 0xFF  # inside a stored array: the zip CRC no longer matches
    p.write_bytes(bytes(data))


def _missing_array(p: Path) -> None:
    buf = io.BytesIO()
    with np.load(p, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if k != "xx"}
    np.savez(buf, **arrays)
    p.write_bytes(buf.getvalue())


def _a_pickle(p: Path) -> None:
    with p.open("wb") as fh:
        np.save(fh, np.array([{"a": 1}], dtype=object), allow_pickle=True)


def _a_plain_array(p: Path) -> None:
    with p.open("wb") as fh:
        np.save(fh, np.arange(3.0))


def _a_zip_of_text(p: Path) -> None:
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("labels.npy", "not an array")


CORRUPTIONS = {
    "truncated": _truncate_half,
    "empty": _empty,
    "zeros": _garbage,
    "flipped-byte": _flipped_byte,
    "missing-array": _missing_array,
    "object-array": _a_pickle,
    "npy-not-npz": _a_plain_array,
    "zip-of-text": _a_zip_of_text,
}


@pytest.mark.parametrize("corrupt", list(CORRUPTIONS))
def test_a_corrupt_entry_is_recomputed_and_rewritten(corrupt: str, lake: Path, tmp_path: Path) -> None:
    f = open_lake(str(lake)).files[0]
    cache = StatsCache(str(tmp_path / "cache"), {}, stats_key(spec()))
    good = cached_file_stats(f, spec(), f.path, cache.entry(f))
    CORRUPTIONS[corrupt](Path(cache.entry(f)))
    again = cached_file_stats(f, spec(), f.path, cache.entry(f))
    assert again.files[0].from_cache is False and again.files[0].cached is True
    assert_identical_stats(again.stats, good.stats)
    healed = cached_file_stats(f, spec(), f.path, cache.entry(f))
    assert healed.files[0].from_cache is True
    assert_identical_stats(healed.stats, good.stats)


def test_an_entry_with_another_feature_count_is_not_used(lake: Path, tmp_path: Path) -> None:
    f = open_lake(str(lake)).files[0]
    entry = str(tmp_path / "entry.npz")
    cached_file_stats(f, spec(features=tuple(FEATURES[:3])), f.path, entry)
    got = cached_file_stats(f, spec(), f.path, entry)
    assert got.files[0].from_cache is False and got.stats.n_features == len(FEATURES)


def test_an_unwritable_cache_does_not_fail_the_file(lake: Path, tmp_path: Path) -> None:
    f = open_lake(str(lake)).files[0]
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    got = cached_file_stats(f, spec(), f.path, str(blocker / "key" / "entry.npz"))
    assert got.files[0].from_cache is False and got.files[0].cached is False
    assert_identical_stats(got.stats, read_file_stats(f, spec()).stats)


def test_without_an_entry_nothing_is_cached(lake: Path) -> None:
    f = open_lake(str(lake)).files[0]
    got = cached_file_stats(f, spec(), f.path, None)
    assert got.files[0].from_cache is False and got.files[0].cached is False


def test_prune_keeps_the_listed_files_only(lake: Path, tmp_path: Path) -> None:
    files = list(open_lake(str(lake)).files)
    cache = StatsCache(str(tmp_path / "cache"), {}, stats_key(spec()))
    assert cache.prune(files) == 0  # no folder yet
    for f in files:
        cached_file_stats(f, spec(), f.path, cache.entry(f))
    folder = Path(cache.folder)
    (folder / ".tmp-deadbeef.npz").write_bytes(b"left by a crashed writer")
    (folder / "README").write_text("not ours")
    assert cache.prune(files[1:]) == 2
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [Path(cache.entry(f)).name for f in files[1:]] + ["README"]
    )
    assert cache.prune(files[1:]) == 0


# --------------------------------------------------------------------------- in a fit


def _fit(cfg_dict: dict, address: str):
    from dreg.job.pipeline import run_fit

    return run_fit(parse(cfg_dict), scheduler=address, log=lambda s: None, tty=False)


@pytest.mark.cluster
def test_one_cache_serves_every_penalty_and_scaling(lake: Path, address: str, tmp_path: Path) -> None:
    """The penalty, standardization and alpha grid are applied on the coordinator: they share
    one cache.  The fold scheme is not: ``model.cv`` or ``random_state`` get a folder of their own."""
    registry = tmp_path / "reg"
    cache_root = tmp_path / "reg-stats-cache" / "m"
    n = len(LAYOUT)
    off = {"output": {"promotion": {"enabled": False}}}
    first = _fit(config_dict(lake, registry, **off), address)
    assert (first.metrics.files_scanned, first.metrics.files_from_cache) == (n, 0)
    assert len(key_dirs(cache_root)) == 1 and len(list(cache_root.glob("*/*.npz"))) == n
    for model in (
        {"penalty": "ridge", "alphas": [0.1, 1.0, 10.0], "standardize": False},
        {"penalty": "elasticnet", "l1_ratio": [0.2, 0.9], "alphas": 7, "fit_intercept": True},
        {"penalty": "lasso", "alphas": 5, "selection": "1se", "tol": 1e-9},
    ):
        out = _fit(config_dict(lake, registry, model=model, **off), address)
        assert (out.metrics.files_scanned, out.metrics.files_from_cache) == (0, n), model
        no_cache = _fit(config_dict(lake, registry, name="nc", model=model, cache={"enabled": False}), address)
        assert no_cache.metrics.files_scanned == n and no_cache.metrics.files_from_cache == 0
        np.testing.assert_array_equal(out.estimator.coef_, no_cache.estimator.coef_)
        np.testing.assert_array_equal(out.estimator.mse_path_, no_cache.estimator.mse_path_)
    assert len(key_dirs(cache_root)) == 1
    assert not (tmp_path / "reg-stats-cache" / "nc").exists()  # cache disabled: nothing written
    for i, model in enumerate(({"cv": MODEL["cv"] + 1}, {"random_state": MODEL["random_state"] + 1})):
        out = _fit(config_dict(lake, registry, model=model, **off), address)
        assert (out.metrics.files_scanned, out.metrics.files_from_cache) == (n, 0)
        assert len(key_dirs(cache_root)) == 2 + i


@pytest.mark.cluster
def test_a_corrupt_entry_in_a_fit_is_rescanned(lake: Path, address: str, tmp_path: Path) -> None:
    registry = tmp_path / "reg"
    off = {"output": {"promotion": {"enabled": False}}}
    first = _fit(config_dict(lake, registry, **off), address)
    entries = sorted((tmp_path / "reg-stats-cache" / "m").glob("*/*.npz"))
    _truncate_half(entries[0])
    _empty(entries[1])
    lines: list[str] = []
    from dreg.job.pipeline import run_fit

    again = run_fit(parse(config_dict(lake, registry, **off)), scheduler=address, log=lines.append, tty=False)
    assert (again.metrics.files_scanned, again.metrics.files_from_cache) == (2, len(LAYOUT) - 2)
    assert any("2 file(s) scanned" in s for s in lines)
    np.testing.assert_array_equal(again.estimator.coef_, first.estimator.coef_)
    np.testing.assert_array_equal(again.estimator.mse_path_, first.estimator.mse_path_)
    assert again.estimator.intercept_ == first.estimator.intercept_
    third = _fit(config_dict(lake, registry, **off), address)
    assert third.metrics.files_scanned == 0  # the entries were rewritten


DEAD_SCHEDULER = "tcp://127.0.0.1:9"  # nothing listens there: a run that needs a cluster fails (exit 4)


@pytest.mark.cluster
def test_a_fit_served_fully_from_the_cache_starts_no_cluster(tmp_path: Path, address: str) -> None:
    """Every file in the cache: the coordinator loads the entries and contacts no scheduler (the
    address given is dead), with the statistics of the cluster's merge tree bit for bit.  A file
    rewritten in place (same size and mtime, another footer) is a miss: that fit needs the cluster."""
    import os

    from dreg.job.errors import ClusterError
    from dreg.job.pipeline import NO_CLUSTER, run_fit

    lake = write_lake(tmp_path / "lake", np.random.default_rng(5))
    registry = tmp_path / "reg"
    cfg = config_dict(lake, registry, output={"promotion": {"enabled": False}}, cluster={"connect_timeout": 3})
    first = _fit(cfg, address)
    assert first.metrics.files_scanned == len(LAYOUT) and first.model.run.cluster["workers"] == 2
    lines: list[str] = []
    cached = run_fit(parse(cfg), scheduler=DEAD_SCHEDULER, log=lines.append, tty=False)
    assert (cached.metrics.files_scanned, cached.metrics.files_from_cache) == (0, len(LAYOUT))
    assert any(f"all {len(LAYOUT)} file(s) are in the statistics cache: no cluster started" in s for s in lines)
    assert dict(cached.model.run.cluster) == NO_CLUSTER
    np.testing.assert_array_equal(cached.estimator.coef_, first.estimator.coef_)
    np.testing.assert_array_equal(cached.estimator.mse_path_, first.estimator.mse_path_)
    assert cached.estimator.intercept_ == first.estimator.intercept_ and cached.estimator.alpha_ == first.estimator.alpha_

    # a file rewritten in place with its mtime kept (rsync -a, cp -p): its rows must be read again
    path = lake / LAYOUT[0][0]
    st = path.stat()
    table = pq.read_table(path)
    pq.write_table(table.take(np.arange(table.num_rows)[::-1]), path, row_group_size=LAYOUT[0][2])
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    with pytest.raises(ClusterError):
        run_fit(parse(cfg), scheduler=DEAD_SCHEDULER, log=lambda s: None, tty=False)
