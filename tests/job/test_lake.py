"""Parquet lakes: listing, pruning, dtypes, per-file statistics, bad data, and the key equality.

The key equality: the model ``run_fit`` writes from a lake (one task per file
on a real multi-process cluster) equals ``LassoCV.fit`` on the same rows read
into memory, with the same per-file folds.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dreg.core.stats import block_stats, collapse
from dreg.job.config import Filter
from dreg.job.errors import DataError
from dreg.job.lake import (
    ReadSpec,
    file_fold_ids,
    infer_feature_columns,
    infer_features,
    merge_parts,
    open_lake,
    read_file_arrays,
    read_file_stats,
)
from tests.job.lake_helpers import (
    FEATURES,
    LAYOUT,
    MODEL,
    TARGET,
    assert_same_fit,
    config_dict,
    fit_in_memory,
    make_table,
    parse,
    read_in_memory,
    registry_state,
    write_config,
    write_lake,
    write_table,
)

# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The standard test lake: 3 day partitions, uneven row groups, an empty file,
    an extra column, hidden junk."""
    return write_lake(tmp_path_factory.mktemp("lake") / "lake", np.random.default_rng(11))


@pytest.fixture(scope="module")
def fitted(lake: Path, address: str, tmp_path_factory: pytest.TempPathFactory):
    """One good fit of ``lake`` into a registry: ``(cfg, outcome, log lines)``."""
    from dreg.job.pipeline import run_fit

    registry = tmp_path_factory.mktemp("registry")
    cfg = parse(config_dict(lake, registry, name="m"))
    lines: list[str] = []
    out = run_fit(cfg, scheduler=address, log=lines.append, tty=False)
    return cfg, out, lines


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


def assert_same_stats(a, b, rtol: float = 1e-12) -> None:
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.count, b.count)
    for name in ("weight_sum", "x_mean", "y_mean", "xx", "xy", "yy"):
        x, y = getattr(a, name), getattr(b, name)
        scale = np.max(np.abs(y)) if y.size else 0.0
        np.testing.assert_allclose(x, y, rtol=rtol, atol=rtol * scale, err_msg=name)


# --------------------------------------------------------------------------- listing and pruning


def test_open_lake_lists_parquet_files_sorted_and_ignores_hidden(lake: Path) -> None:
    opened = open_lake(str(lake))
    assert [f.relpath for f in opened.files] == [rel for rel, _, _ in LAYOUT]
    assert opened.partition_columns == ("day",) and opened.pruned == 0
    assert opened.protocol in ("file", "local")
    for f in opened.files:
        assert f.size == (lake / f.relpath).stat().st_size
        assert f.mtime is not None and f.etag is None
        assert f.partitions == (("day", f.relpath.split("/")[0].split("=")[1]),)
        assert opened.full_url(f) == str(lake / f.relpath)
    # _SUCCESS, .crc and the whole _temporary folder are skipped
    listed = {f.relpath for f in opened.files}
    assert not any(p.startswith(("_", ".")) or "/." in p or "/_" in p for p in listed)


def test_open_lake_by_file_url_and_single_file(lake: Path) -> None:
    by_url = open_lake(f"file://{lake}")
    assert [f.relpath for f in by_url.files] == [rel for rel, _, _ in LAYOUT]
    single = open_lake(str(lake / LAYOUT[0][0]))
    assert [f.relpath for f in single.files] == ["part-0.parquet"]


@pytest.mark.parametrize(
    "flt, days",
    [
        ("day >= 2026-11-02", ["2026-11-02", "2026-11-03"]),
        ("day > 2026-11-02", ["2026-11-03"]),
        ("day = 2026-11-01", ["2026-11-01"]),
        ("day != 2026-11-01", ["2026-11-02", "2026-11-03"]),
        ("day in [2026-11-01, 2026-11-03]", ["2026-11-01", "2026-11-03"]),
        ("day not in [2026-11-01, 2026-11-03]", ["2026-11-02"]),
        (["day", "<", "2026-11-03"], ["2026-11-01", "2026-11-02"]),
        (["day", "in", ["2026-11-02"]], ["2026-11-02"]),
    ],
)
def test_partition_filters_prune_files(lake: Path, flt, days: list[str]) -> None:
    opened = open_lake(str(lake), filters=[Filter.parse(flt)])
    kept = sorted({dict(f.partitions)["day"] for f in opened.files})
    assert kept == days
    assert opened.pruned == len(LAYOUT) - len(opened.files)
    assert len(opened.files) == 2 * len(days)


def test_numeric_partition_values_compare_as_numbers(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    for hour in (2, 9, 10):
        write_table(tmp_path / f"hour={hour}" / "part-0.parquet", make_table(rng, 5))
    opened = open_lake(str(tmp_path), filters=[Filter.parse("hour >= 9")])
    assert [dict(f.partitions)["hour"] for f in opened.files] == ["10", "9"]  # path order
    assert opened.pruned == 1


def test_filter_on_a_column_that_is_not_a_partition(lake: Path) -> None:
    with pytest.raises(DataError, match="'x_a': not a partition column"):
        open_lake(str(lake), filters=[Filter.parse("x_a > 1")])


def test_missing_and_empty_lakes(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        open_lake(str(tmp_path / "nope"))
    (tmp_path / "empty" / "_SUCCESS").parent.mkdir()
    (tmp_path / "empty" / "_SUCCESS").write_bytes(b"")
    with pytest.raises(DataError, match=r"holds no files matching '\*.parquet'$"):
        open_lake(str(tmp_path / "empty"))


def test_only_files_matching_the_glob_are_the_lake(tmp_path: Path, rng: np.random.Generator) -> None:
    """A stray README.txt, a CSV export or a checksum beside the data is not read (issue 17,
    item 3); data.glob picks other files, by name or by path under the root."""
    root = tmp_path / "lake"
    write_table(root / "day=1" / "part-0.parquet", make_table(rng, 20))
    write_table(root / "day=2" / "part-0.parquet", make_table(rng, 20))
    write_table(root / "day=2" / "part-1.pq", make_table(rng, 20))
    (root / "README.txt").write_text("how this lake is made\n")
    (root / "day=1" / "export.csv").write_text("a,b\n1,2\n")
    opened = open_lake(str(root))
    assert [f.relpath for f in opened.files] == ["day=1/part-0.parquet", "day=2/part-0.parquet"]
    assert opened.ignored == ("README.txt", "day=1/export.csv", "day=2/part-1.pq") and opened.glob == "*.parquet"
    pq_only = open_lake(str(root), glob="*.pq")
    assert [f.relpath for f in pq_only.files] == ["day=2/part-1.pq"]
    by_path = open_lake(str(root), glob="day=2/*")
    assert [f.relpath for f in by_path.files] == ["day=2/part-0.parquet", "day=2/part-1.pq"]
    deep = open_lake(str(root), glob="**/part-*")
    assert [f.relpath for f in deep.files] == ["day=1/part-0.parquet", "day=2/part-0.parquet", "day=2/part-1.pq"]
    assert [f.relpath for f in open_lake(str(root), glob="*/*.parquet").files] == [
        "day=1/part-0.parquet",
        "day=2/part-0.parquet",
    ]
    assert open_lake(str(root), glob="*.parquet").files == opened.files
    # a file named by the path is read whatever its name
    assert [f.relpath for f in open_lake(str(root / "day=2" / "part-1.pq")).files] == ["part-1.pq"]
    # nothing matches: the error names the glob and the files it skipped
    with pytest.raises(DataError, match=r"no files matching '\*.orc' \(5 other file\(s\), e.g. 'README.txt'"):
        open_lake(str(root), glob="*.orc")


@pytest.mark.parametrize(
    "relpath, pattern, expected",
    [
        ("a/b/part-0.parquet", "*.parquet", True),
        ("a/b/part-0.parquet.crc", "*.parquet", False),
        ("a/b/part-0.parquet", "a/*", False),  # * does not cross /
        ("a/b/part-0.parquet", "a/*/*", True),
        ("a/b/part-0.parquet", "**/*.parquet", True),
        ("part-0.parquet", "**/*.parquet", True),  # ** is zero or more parts
        ("a/b/part-0.parquet", "a/**", True),
        ("a/b/part-0.parquet", "b/**", False),
        ("A.PARQUET", "*.parquet", False),  # case-sensitive, as object stores are
    ],
)
def test_glob_matching(relpath: str, pattern: str, expected: bool) -> None:
    from dreg.job.lake import matches_glob

    assert matches_glob(relpath, pattern) is expected


def test_infer_features_takes_numeric_columns_of_the_first_file(lake: Path) -> None:
    opened = open_lake(str(lake))
    assert infer_features(opened, TARGET, None, None) == FEATURES  # the string id column is skipped
    assert infer_features(opened, TARGET, "x_noise", None) == FEATURES[:-1]


def test_inferred_features_name_each_skipped_column_and_why(lake: Path) -> None:
    opened = open_lake(str(lake))
    feats, skipped, row_keys = infer_feature_columns(opened, TARGET, "x_noise", "x_bool", exclude=["x_b", "day"])
    assert feats == ["x_int", "x_dec", "x_f32", "x_a"]
    assert skipped == {
        "id": "row key (unique string values)",  # a string column would be categorical: not an id
        "x_bool": "fold column",
        "x_b": "excluded (data.exclude)",
        "x_noise": "weight",
        "y": "target",
    }
    assert list(row_keys) == ["id"] and row_keys["id"].startswith("unique string values in ")


def test_exclude_of_unknown_columns_is_a_clear_error(lake: Path) -> None:
    from dreg.job.errors import ConfigError

    opened = open_lake(str(lake))
    with pytest.raises(ConfigError, match=r"data.exclude lists column\(s\) not in the lake: \['x_c', 'nope'\]"):
        infer_feature_columns(opened, TARGET, None, None, exclude=["x_a", "x_c", "nope"])


def test_unique_or_monotonic_integer_columns_are_row_keys(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 50
    table = make_table(rng, n).append_column("row_id", pa.array(rng.permutation(n) + 10**9, pa.int64()))
    table = table.append_column("seq", pa.array(np.repeat(np.arange(10), 5), pa.int32()))  # sorted, repeats
    table = table.append_column("small", pa.array(rng.integers(0, 5, n), pa.int16()))  # neither
    write_table(tmp_path / "lake" / "part-0.parquet", table)
    feats, skipped, row_keys = infer_feature_columns(open_lake(str(tmp_path / "lake")), TARGET, None, None)
    assert set(row_keys) == {"id", "row_id", "seq"}
    assert row_keys["row_id"].startswith("unique integer values in ")
    assert row_keys["seq"].startswith("monotonic integer values in ")
    assert skipped["row_id"] == "row key (unique integer values)"
    assert feats == [*FEATURES, "small"]
    # too few rows to tell: no row key
    write_table(tmp_path / "tiny" / "part-0.parquet", table.slice(0, 5))
    assert infer_feature_columns(open_lake(str(tmp_path / "tiny")), TARGET, None, None)[2] == {}


# --------------------------------------------------------------------------- per-file statistics


def test_file_stats_are_float64_statistics_of_the_rows(lake: Path) -> None:
    """int32, bool, decimal128 and float32 columns are accumulated in float64:
    per file and merged, the statistics equal those of a float64 copy in memory."""
    opened = open_lake(str(lake))
    parts = []
    for f in opened.files:
        part = read_file_stats(f, spec())
        X, y, folds = read_in_memory([f])
        assert part.files[0].rows == X.shape[0] == pq.ParquetFile(f.path).metadata.num_rows
        assert part.files[0].rows_dropped == 0
        if X.shape[0]:
            assert_same_stats(part.stats, block_stats(X, y, None, folds))
        else:
            assert part.stats.n_labels == 0
        parts.append(part)
    merged = merge_parts(*parts)
    X, y, folds = read_in_memory(opened.files)
    assert_same_stats(merged.stats, block_stats(X, y, None, folds))
    # the float32 column (mean 1e4, unit spread) keeps its variance to float64 accuracy
    j = FEATURES.index("x_f32")
    one = collapse(merged.stats)
    np.testing.assert_allclose(one.xx[0, j, j] / one.weight_sum[0], np.var(X[:, j]), rtol=1e-12)
    np.testing.assert_allclose(one.x_mean[0], X.mean(axis=0), rtol=1e-14)


@pytest.mark.parametrize("weighted", [False, True])
def test_file_stats_with_row_groups_and_dropped_rows(tmp_path: Path, rng, weighted: bool) -> None:
    """Several row groups of a file, invalid rows dropped in some of them (nulls,
    NaN, inf in features, target and weight): the statistics are those of the
    valid rows in memory, each row keeping the fold of its position in the file."""
    n = 1000
    table = make_table(rng, n)
    x_a = table.column("x_a").to_numpy().copy()
    x_a[[5, 250, 251, 990]] = [np.nan, np.inf, -np.inf, np.nan]
    x_b = table.column("x_b").to_pylist()
    x_b[400] = None
    y = table.column("y").to_numpy().copy()
    y[[6, 600]] = np.nan
    table = table.set_column(table.schema.get_field_index("x_a"), "x_a", pa.array(x_a))
    table = table.set_column(table.schema.get_field_index("x_b"), "x_b", pa.array(x_b, pa.float64()))
    table = table.set_column(table.schema.get_field_index("y"), "y", pa.array(y))
    w = rng.uniform(0.0, 2.0, n)
    w[777] = np.nan
    if weighted:
        table = table.append_column("w", pa.array(w))
    write_table(tmp_path / "lake" / "part-0.parquet", table, row_group_size=128)
    f = open_lake(str(tmp_path / "lake")).files[0]
    assert pq.ParquetFile(f.path).num_row_groups == 8
    part = read_file_stats(f, spec(on_invalid_rows="drop", weight="w" if weighted else None))
    X, yy, folds = read_in_memory([f])
    keep = np.isfinite(X).all(axis=1) & np.isfinite(yy) & (np.isfinite(w) if weighted else True)
    assert part.files[0].rows_dropped == n - keep.sum() == (8 if weighted else 7)
    ref = block_stats(X[keep], yy[keep], w[keep] if weighted else None, folds[keep])
    assert_same_stats(part.stats, ref)
    # with row groups of one row each (a block per row: the merges) the same statistics
    write_table(tmp_path / "small" / "part-0.parquet", pq.read_table(f.path).slice(0, 300), row_group_size=1)
    g = open_lake(str(tmp_path / "small")).files[0]
    one = read_file_stats(g, spec(on_invalid_rows="drop", weight="w" if weighted else None))
    k300 = keep[:300]
    ref300 = block_stats(X[:300][k300], yy[:300][k300], w[:300][k300] if weighted else None, folds[:300][k300])
    assert_same_stats(one.stats, ref300, rtol=1e-10)


def test_folds_are_per_file_and_independent_of_row_groups(lake: Path, tmp_path: Path) -> None:
    opened = open_lake(str(lake))
    f = opened.files[2]  # 900 rows in row groups of 100
    got = np.concatenate([folds for _, _, _, folds, _, _ in read_file_arrays(f, spec())])
    np.testing.assert_array_equal(got, file_fold_ids(f, 0, 900, MODEL["cv"], MODEL["random_state"]))
    # the same file rewritten with other row groups, in a lake somewhere else: same folds
    other = tmp_path / "elsewhere"
    write_table(other / f.relpath, pq.read_table(f.path), row_group_size=7)
    g = open_lake(str(other)).files[0]
    assert g.relpath == f.relpath
    again = np.concatenate([folds for _, _, _, folds, _, _ in read_file_arrays(g, spec())])
    np.testing.assert_array_equal(again, got)
    # every fold is used, sizes differ by at most one row per block of cv rows
    counts = np.bincount(got, minlength=MODEL["cv"])
    assert counts.max() - counts.min() <= 1


# --------------------------------------------------------------------------- the key equality


@pytest.mark.cluster
def test_run_fit_equals_in_memory_fit(lake: Path, fitted) -> None:
    cfg, out, lines = fitted
    opened = open_lake(str(lake))
    X, y, folds = read_in_memory(opened.files)
    ref = fit_in_memory(X, y, folds)
    assert_same_fit(out.estimator, ref)
    # what the registry holds is the same model
    from dreg.job.registry import load_model

    loaded = load_model(f"{cfg.output.registry}/m")
    assert_same_fit(loaded, ref)
    np.testing.assert_array_equal(loaded.predict(X), out.estimator.predict(X))
    m = out.metrics
    assert m.rows == X.shape[0] == sum(n for _, n, _ in LAYOUT)
    assert m.rows_dropped == 0 and m.files == len(LAYOUT)
    assert out.model.data.pruned_files == 0
    assert [fp["rows"] for fp in out.model.data.fingerprint] == [n for _, n, _ in LAYOUT]
    assert any("6 file(s)" in line for line in lines)
    assert any("1 other file(s) not matching data.glob '*.parquet' ignored (e.g. 'README.txt')" in s for s in lines)


@pytest.mark.cluster
def test_inferred_features_and_ridge(lake: Path, address: str, tmp_path: Path) -> None:
    """Without ``features``: the first file's numeric columns (not id, not the extra column)."""
    import dreg
    from dreg.job.pipeline import run_fit

    d = config_dict(lake, tmp_path / "reg", model={"penalty": "ridge", "alphas": 20})
    del d["data"]["features"]
    out = run_fit(parse(d), scheduler=address, log=lambda s: None, tty=False)
    assert out.model.features == FEATURES
    X, y, folds = read_in_memory(open_lake(str(lake)).files)
    ref = dreg.RidgeCV(alphas=20, cv=MODEL["cv"], random_state=MODEL["random_state"]).fit(
        X, y, folds=folds
    )
    assert_same_fit(out.estimator, ref)


@pytest.mark.cluster
def test_filters_prune_before_reading(
    address: str, tmp_path: Path, rng: np.random.Generator
) -> None:
    """A corrupt file in a pruned partition is never opened; the fit is that of the kept files."""
    from dreg.job.pipeline import run_fit

    lake = write_lake(tmp_path / "lake", rng, extras=False)
    (lake / "day=2026-11-01" / "part-9.parquet").write_text("not parquet at all\n")
    for i, flt in enumerate((["day >= 2026-11-02"], [["day", "in", ["2026-11-02", "2026-11-03"]]])):
        out = run_fit(
            parse(config_dict(lake, tmp_path / "reg", name=f"m{i}", data={"filters": flt})),
            scheduler=address,
            log=lambda s: None,
            tty=False,
        )
        kept = open_lake(str(lake), filters=[Filter.parse(f) for f in flt])
        assert kept.pruned == 3 and out.model.data.pruned_files == 3
        assert [fp["path"] for fp in out.model.data.fingerprint] == [
            f.path for f in kept.files
        ]
        assert_same_fit(out.estimator, fit_in_memory(*read_in_memory(kept.files)))
    # without the filter the corrupt file is read and reported
    with pytest.raises(DataError, match="part-9.parquet"):
        run_fit(
            parse(config_dict(lake, tmp_path / "reg")),
            scheduler=address,
            log=lambda s: None,
            tty=False,
        )


@pytest.mark.cluster
def test_invalid_rows_dropped_and_counted(
    address: str, tmp_path: Path, rng: np.random.Generator
) -> None:
    """``on_invalid_rows: drop``: null targets and NaN/inf features are skipped, counted, and the
    fit equals the in-memory fit without those rows (folds drawn before dropping)."""
    from dreg.job.pipeline import run_fit
    from dreg.job.registry import read_model

    lake = write_lake(tmp_path / "lake", rng, extras=False)
    f1 = lake / "day=2026-11-02" / "part-0.parquet"
    t = pq.read_table(f1)
    y = t.column("y").to_pylist()
    null_rows = [0, 17, 101, 899]
    for i in null_rows:
        y[i] = None
    t = t.set_column(t.schema.get_field_index("y"), "y", pa.array(y, pa.float64()))
    write_table(f1, t, row_group_size=100)
    f2 = lake / "day=2026-11-03" / "part-1.parquet"
    t = pq.read_table(f2)
    xa = t.column("x_a").to_numpy().copy()
    xa[[5, 6]] = [np.nan, np.inf]
    t = t.set_column(t.schema.get_field_index("x_a"), "x_a", pa.array(xa))
    write_table(f2, t, row_group_size=64)

    registry = tmp_path / "reg"
    lines: list[str] = []
    out = run_fit(
        parse(config_dict(lake, registry, data={"on_invalid_rows": "drop"})),
        scheduler=address,
        log=lines.append,
        tty=False,
    )
    _, model, metrics = read_model(f"{registry}/m")
    assert metrics["rows_dropped"] == 6 and model["rows"]["dropped"] == 6
    total = sum(n for _, n, _ in LAYOUT)
    assert metrics["rows"] == total - 6 and model["rows"]["used"] == total - 6
    assert any("dropped 4 invalid row(s)" in s and "part-0.parquet" in s for s in lines)

    X, y, folds = read_in_memory(open_lake(str(lake)).files)
    ok = np.isfinite(y) & np.all(np.isfinite(X), axis=1)
    assert (~ok).sum() == 6
    assert_same_fit(out.estimator, fit_in_memory(X[ok], y[ok], folds[ok]))


# --------------------------------------------------------------------------- bad data


def _bad_missing_column(t: pa.Table, path: Path) -> None:
    write_table(path, t.drop_columns(["x_b"]))


def _bad_string_column(t: pa.Table, path: Path) -> None:
    i = t.schema.get_field_index("x_a")
    write_table(
        path, t.set_column(i, "x_a", pa.array([str(v) for v in t.column("x_a").to_pylist()]))
    )


def _bad_null_target(t: pa.Table, path: Path) -> None:
    y = t.column("y").to_pylist()
    y[3] = y[40] = None
    write_table(path, t.set_column(t.schema.get_field_index("y"), "y", pa.array(y, pa.float64())))


def _bad_not_parquet(t: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("id,x_a,y\n1,2.0,3.0\n")


def _bad_truncated(t: pa.Table, path: Path) -> None:
    write_table(path, t, row_group_size=50)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


BAD = {
    "missing-feature": (_bad_missing_column, ["missing column", "x_b"]),
    "string-feature": (_bad_string_column, ["'x_a'", "non-numeric"]),
    "null-target": (_bad_null_target, ["'y'", "null", "2 row(s)"]),
    "not-parquet": (_bad_not_parquet, ["not a readable Parquet file"]),
    "truncated": (_bad_truncated, ["not a readable Parquet file"]),
}


@pytest.mark.cluster
@pytest.mark.parametrize("case", list(BAD))
def test_bad_data_exits_3_names_file_and_column_and_writes_nothing(
    case: str,
    fitted,
    address: str,
    tmp_path: Path,
    rng: np.random.Generator,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from dreg.job.cli import main

    make_bad, expected = BAD[case]
    lake = write_lake(tmp_path / "lake", rng, layout=LAYOUT[:3], extras=False)
    bad = lake / "day=2026-11-02" / "part-9.parquet"
    make_bad(make_table(rng, 120, "bad"), bad)

    cfg0, _, _ = fitted  # a registry that already holds a model and a `latest`
    registry = Path(cfg0.output.registry)
    before = registry_state(registry, "m")
    assert before[1] is not None
    cfg = write_config(tmp_path / "cfg.yaml", config_dict(lake, registry, name="m"))

    capsys.readouterr()
    code = main(["fit", "--config", str(cfg), "--scheduler", address])
    err = capsys.readouterr().err
    assert code == 3, err
    assert "data error" in err and str(bad) in err
    for text in expected:
        assert text in err
    assert registry_state(registry, "m") == before


@pytest.mark.cluster
def test_missing_column_in_first_file_with_inferred_features(
    address: str, tmp_path: Path, rng
) -> None:
    """A later file lacking a column the first file has: named with the file."""
    from dreg.job.pipeline import run_fit

    lake = write_lake(tmp_path / "lake", rng, layout=LAYOUT[:3], extras=False)
    write_table(
        lake / "day=2026-11-03" / "part-0.parquet", make_table(rng, 50).drop_columns(["x_dec"])
    )
    d = config_dict(lake, tmp_path / "reg")
    del d["data"]["features"]
    with pytest.raises(
        DataError, match=r"day=2026-11-03/part-0.parquet: missing column\(s\) \['x_dec'\]"
    ):
        run_fit(parse(d), scheduler=address, log=lambda s: None, tty=False)
    assert not (tmp_path / "reg").exists()


def test_nothing_is_written_when_every_file_is_pruned(tmp_path: Path, rng) -> None:
    from dreg.job.pipeline import run_fit

    lake = write_lake(tmp_path / "lake", rng, layout=LAYOUT[:2], extras=False)
    cfg = parse(config_dict(lake, tmp_path / "reg", data={"filters": ["day > 2030-01-01"]}))
    with pytest.raises(DataError, match="pruned"):
        run_fit(
            cfg, scheduler="tcp://127.0.0.1:1", log=lambda s: None
        )  # fails before any connection
    assert not (tmp_path / "reg").exists()


def test_bad_data_without_a_cluster_reading_directly(tmp_path: Path, rng) -> None:
    """The per-file reader itself names file and column (what a worker raises)."""
    path = tmp_path / "lake" / "part-0.parquet"
    _bad_null_target(make_table(rng, 60), path)
    f = open_lake(str(tmp_path / "lake")).files[0]
    with pytest.raises(DataError, match=r"part-0.parquet: 2 row\(s\) with null.*column 'y': 2"):
        read_file_stats(f, spec())
    dropped = read_file_stats(f, spec(on_invalid_rows="drop"))
    assert dropped.files[0].rows_dropped == 2 and dropped.files[0].invalid == {"y": 2}
    assert int(dropped.stats.count.sum()) == 58


def test_a_files_problems_are_counted_over_all_its_row_groups(tmp_path: Path, rng) -> None:
    """NaN/inf features found through the statistics (no per-value scan), NaN
    targets and negative weights spread over several row groups: one error with
    the whole file's counts, whichever row group showed the first problem."""
    n = 400
    table = make_table(rng, n)
    x_a = table.column("x_a").to_numpy().copy()
    x_a[[10, 150, 390]] = [np.nan, np.inf, np.nan]  # row groups 0, 1, 3 (of 100 rows)
    y = table.column("y").to_numpy().copy()
    y[[250, 251]] = np.nan  # row group 2
    w = rng.uniform(0.5, 2.0, n)
    w[[120, 310, 311, 312]] = -1.0  # row groups 1, 3
    table = table.set_column(table.schema.get_field_index("x_a"), "x_a", pa.array(x_a))
    table = table.set_column(table.schema.get_field_index("y"), "y", pa.array(y))
    table = table.append_column("w", pa.array(w))
    write_table(tmp_path / "lake" / "part-0.parquet", table, row_group_size=100)
    f = open_lake(str(tmp_path / "lake")).files[0]
    assert pq.ParquetFile(f.path).num_row_groups == 4
    with pytest.raises(DataError) as err:
        read_file_stats(f, spec())
    msg = str(err.value)
    assert msg.startswith(f"{f.path}: 5 row(s) with null, NaN or infinite values ("), msg
    assert "column 'x_a': 3" in msg and "column 'y': 2" in msg
    assert "column 'w' has 4 negative weight(s)" not in msg  # unweighted spec: w is not read
    with pytest.raises(DataError) as err:
        read_file_stats(f, spec(weight="w"))
    msg = str(err.value)
    assert "5 row(s)" in msg and "column 'x_a': 3" in msg and "column 'w' has 4 negative weight(s)" in msg, msg
    # dropping the invalid rows leaves the negative weights, counted over the file
    with pytest.raises(DataError, match=r"part-0.parquet: column 'w' has 4 negative weight\(s\)$"):
        read_file_stats(f, spec(weight="w", on_invalid_rows="drop"))
    # and the arrays reader (the GLM passes) gives the same account
    with pytest.raises(DataError, match=r"5 row\(s\) with null.*column 'x_a': 3"):
        list(read_file_arrays(f, spec()))


@pytest.mark.cluster
def test_metrics_file_is_json(fitted) -> None:
    cfg, out, _ = fitted
    vdir = Path(cfg.output.registry) / "m" / out.ref.version
    assert json.loads((vdir / "metrics.json").read_text()) == json.loads(json.dumps(out.metrics.to_json()))


def test_bad_files_are_reported_without_worker_tracebacks(tmp_path: Path, rng) -> None:
    """Two bad files on an embedded multi-process cluster: exit 3, the first bad
    file (lake order) named, the other counted, and no worker traceback or
    "Compute Failed" log on the console before dreg's own message."""
    import subprocess
    import sys

    lake = write_lake(tmp_path / "lake", rng, layout=LAYOUT[:3], extras=False)
    first = lake / "day=2026-11-01" / "part-8.parquet"
    second = lake / "day=2026-11-02" / "part-9.parquet"
    _bad_null_target(make_table(rng, 120, "bad1"), first)
    _bad_truncated(make_table(rng, 120, "bad2"), second)
    registry = tmp_path / "registry"
    cfg = write_config(tmp_path / "cfg.yaml", config_dict(lake, registry, name="m"))
    done = subprocess.run(
        [sys.executable, "-m", "dreg.job.cli", "fit", "--config", str(cfg)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    err = done.stderr
    assert done.returncode == 3, err
    assert str(first) in err and "null" in err
    assert "and 1 more file(s) with errors" in err and str(second) in err
    assert "Traceback" not in err and "Compute Failed" not in err, err
    # the configuration has no dashboard: no link, and no "port 8787 in use" warning
    assert "dashboard" not in done.stdout + err and "8787" not in err, done.stdout + err
    assert not (registry / "m").exists() or not any((registry / "m").iterdir())


@pytest.mark.cluster
def test_predict_at_another_alpha_of_the_stored_path(lake: Path, address: str, fitted, tmp_path: Path) -> None:
    """``dreg predict --selection 1se`` / ``--alpha A`` (issue 17, item 5): the registry model's
    stored path at that alpha; an alpha between grid points is refused with the reason."""
    from dreg.job.errors import ConfigError
    from dreg.job.pipeline import path_model, run_predict
    from dreg.job.registry import read_record

    cfg, out, _ = fitted
    est = out.estimator
    _, model, _ = read_record(f"{cfg.output.registry}/m")
    # the model's own, alpha_1se's, and a grid alpha given to 6 digits (as dreg show prints it)
    coef, b, a = path_model(model, None, None)
    np.testing.assert_array_equal(coef, est.coef_)
    assert (b, a) == (est.intercept_, est.chosen_alpha_)
    k1 = int(np.flatnonzero(est.alphas_ == est.alpha_1se_)[0])
    coef, b, a = path_model(model, None, "1se")
    np.testing.assert_array_equal(coef, est.coef_path_[k1])
    assert (b, a) == (est.intercept_path_[k1], est.alpha_1se_)
    coef, b, a = path_model(model, float(f"{est.alphas_[4]:.6g}"), None)
    np.testing.assert_array_equal(coef, est.coef_path_[4])
    assert a == est.alphas_[4]
    mid = float(np.sqrt(est.alphas_[4] * est.alphas_[5]))
    with pytest.raises(ConfigError, match="between grid points .* holds no statistics"):
        path_model(model, mid, None)  # no refit given
    # the version holds the fit's statistics: a loaded model refits exactly between grid points
    from dreg.job.registry import load_model, read_fit_stats

    ref, _, _ = read_record(f"{cfg.output.registry}/m")
    assert read_fit_stats(ref).n_labels == 1
    loaded = load_model(f"{cfg.output.registry}/m")
    np.testing.assert_allclose(loaded.coef_at(mid), est.coef_at(mid), rtol=1e-10, atol=1e-12)
    coef, b, a = path_model(model, mid, None, loaded._model_at)
    np.testing.assert_allclose(coef, est.coef_at(mid), rtol=1e-10, atol=1e-12)
    assert a == mid and b == pytest.approx(est.intercept_at(mid), rel=1e-10)
    with pytest.raises(ConfigError, match="outside the grid"):
        path_model(model, 10 * float(est.alphas_[0]), None)
    with pytest.raises(ConfigError, match="not both"):
        path_model(model, float(est.alphas_[4]), "min")
    # the scores: X @ coef_path[1se] + intercept, with the alpha in the files' metadata
    scores = tmp_path / "scores"
    run_predict(f"{cfg.output.registry}/m", str(lake), str(scores), selection="1se", scheduler=address,
                log=lambda s: None)
    first = open_lake(str(lake)).files[0]
    X, _, _ = read_in_memory([first])
    got = pq.read_table(scores / first.relpath)
    np.testing.assert_allclose(
        got.column("prediction").to_numpy(), X @ est.coef_path_[k1] + est.intercept_path_[k1], rtol=1e-12
    )
    assert float(got.schema.metadata[b"dreg.alpha"]) == est.alpha_1se_
    # --alpha between grid points: the exact refit from the version's stats.npz
    run_predict(f"{cfg.output.registry}/m", str(lake), str(tmp_path / "mid"), alpha=mid, scheduler=address,
                log=lambda s: None)
    got = pq.read_table(tmp_path / "mid" / first.relpath)
    np.testing.assert_allclose(
        got.column("prediction").to_numpy(), X @ est.coef_at(mid) + est.intercept_at(mid), rtol=1e-9
    )
    assert float(got.schema.metadata[b"dreg.alpha"]) == mid
