"""Scheduled retraining: a retrain reads only what changed, keeps its folds, and is promoted
only when it is not worse than the current model.

Every fit runs ``run_fit`` on a real 30-file hive-partitioned lake (10 days x 3
files of 200 rows) in ``tmp_path`` against one multi-process ``LocalCluster``
shared by the session; the CLI tests run ``dreg`` in a subprocess against that
same scheduler.  The key equalities: a retrain served mostly from the
statistics cache is bit for bit the model of a fit that rescans every file
(``cache: {enabled: false}``), and equals ``LassoCV.fit`` on the same rows read
into memory with the same per-file folds.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dreg.core.stats import block_stats
from dreg.job.cache import file_key
from dreg.job.config import Window
from dreg.job.errors import DataError, PromotionRejected
from dreg.job.lake import LakeFile, open_lake
from dreg.job.pipeline import _champion, _promotion, run_fit
from dreg.job.registry import latest_version, list_versions, read_model, write_version
from tests.job.lake_helpers import (
    MODEL,
    assert_same_fit,
    config_dict,
    fit_in_memory,
    make_table,
    parse,
    read_in_memory,
    run_cli,
    write_config,
    write_table,
)

DAYS = [f"2026-11-{d:02d}" for d in range(1, 11)]
FILES_PER_DAY = 3
ROWS = 200
N_FILES = len(DAYS) * FILES_PER_DAY
NO_PROMOTION = {"output": {"promotion": {"enabled": False}}}


def rel(day: str, part: int | str) -> str:
    return f"day={day}/part-{part}.parquet"


def write_file(lake: Path, relpath: str, rng: np.random.Generator, rows: int = ROWS) -> Path:
    return write_table(lake / relpath, make_table(rng, rows, tag=relpath), row_group_size=64)


def write_days(lake: Path, rng: np.random.Generator, days: list[str] = DAYS) -> Path:
    for day in days:
        for k in range(FILES_PER_DAY):
            write_file(lake, rel(day, k), rng)
    return lake


@pytest.fixture
def lake(tmp_path: Path, rng: np.random.Generator) -> Path:
    return write_days(tmp_path / "lake", rng)


def fit(cfg: dict, address: str, log=None):
    return run_fit(parse(cfg), scheduler=address, log=log or (lambda s: None), tty=False)


def counts(out) -> tuple[int, int]:
    return out.metrics.files_scanned, out.metrics.files_from_cache


def assert_bit_identical(a, b) -> None:
    """The same model to the last bit: coef_, intercept_, alphas, mse_path_ (and the JSON written)."""
    ea, eb = a.estimator, b.estimator
    np.testing.assert_array_equal(ea.coef_, eb.coef_)
    assert ea.intercept_ == eb.intercept_
    assert (ea.alpha_, ea.chosen_alpha_, ea.alpha_1se_) == (eb.alpha_, eb.chosen_alpha_, eb.alpha_1se_)
    np.testing.assert_array_equal(ea.alphas_, eb.alphas_)
    np.testing.assert_array_equal(ea.mse_path_, eb.mse_path_)
    assert (a.model.fit["coef"], a.model.intercept) == (b.model.fit["coef"], b.model.intercept)
    assert a.metrics.cv_mse == b.metrics.cv_mse and a.metrics.rows == b.metrics.rows


def cache_entries(registry: Path, name: str = "m") -> list[Path]:
    """The ``.npz`` entries of the (single) statistics-key folder of ``name``'s cache."""
    folders = [p for p in (registry.parent / f"{registry.name}-stats-cache" / name).iterdir() if p.is_dir()]
    assert len(folders) == 1, folders
    return sorted(folders[0].glob("*.npz"))


def entry_of(registry: Path, f: LakeFile, name: str = "m") -> Path:
    folder = cache_entries(registry, name)[0].parent
    return folder / f"{file_key(f)}.npz"


def fingerprint_paths(out) -> list[str]:
    return [fp["path"] for fp in out.model.data.fingerprint]


# --------------------------------------------------------------------------- reading only what changed


@pytest.mark.cluster
def test_retrain_scans_only_new_changed_files_and_equals_a_full_refit(
    lake: Path, address: str, tmp_path: Path, rng: np.random.Generator
) -> None:
    registry = tmp_path / "reg"
    cached = config_dict(lake, registry, name="m", **NO_PROMOTION)
    rescan = config_dict(lake, registry, name="full", cache={"enabled": False})

    def check_against_full_refit(out) -> None:
        full = fit(rescan, address)
        assert counts(full) == (len(open_lake(str(lake)).files), 0)
        assert_bit_identical(out, full)
        files = open_lake(str(lake)).files
        assert fingerprint_paths(out) == [f.path for f in files]
        assert_same_fit(out.estimator, fit_in_memory(*read_in_memory(files)))
        assert len(cache_entries(registry)) == len(files)  # entries of changed/deleted files pruned

    lines: list[str] = []
    first = fit(cached, address, lines.append)
    assert counts(first) == (N_FILES, 0) and first.metrics.files == N_FILES
    assert any(f"{N_FILES} file(s) scanned, 0 from the statistics cache" in s for s in lines)
    assert len(cache_entries(registry)) == N_FILES

    # a new file in a new day
    write_file(lake, rel("2026-11-11", 0), rng)
    added = fit(cached, address)
    assert counts(added) == (1, N_FILES) and added.metrics.files == N_FILES + 1
    check_against_full_refit(added)

    # an existing file rewritten with other rows: new size and mtime
    changed_path = lake / rel(DAYS[4], 1)
    old = next(f for f in open_lake(str(lake)).files if f.path == str(changed_path))
    old_entry = entry_of(registry, old)
    assert old_entry.exists()
    before = os.stat(changed_path)
    write_file(lake, rel(DAYS[4], 1), rng, rows=ROWS + 17)
    os.utime(changed_path, ns=(before.st_atime_ns, before.st_mtime_ns + 2_000_000_000))
    new = next(f for f in open_lake(str(lake)).files if f.path == str(changed_path))
    assert (new.size, new.mtime) != (old.size, old.mtime)
    changed = fit(cached, address)
    assert counts(changed) == (1, N_FILES)
    assert not old_entry.exists() and entry_of(registry, new).exists()
    check_against_full_refit(changed)

    # a file deleted: nothing to read, its entry pruned after the fit
    gone_path = lake / rel(DAYS[0], 2)
    gone = next(f for f in open_lake(str(lake)).files if f.path == str(gone_path))
    gone_entry = entry_of(registry, gone)
    assert gone_entry.exists()
    gone_path.unlink()
    lines = []
    deleted = fit(cached, address, lines.append)
    assert counts(deleted) == (0, N_FILES)
    assert not gone_entry.exists()
    assert any("pruned 1 statistics cache entry" in s for s in lines)
    check_against_full_refit(deleted)


@pytest.mark.cluster
def test_a_same_size_same_mtime_garbage_rewrite_is_not_served_from_the_cache(
    lake: Path, address: str, tmp_path: Path
) -> None:
    """A cached file's bytes replaced by garbage of the same size, its mtime restored with
    ``os.utime``: the listing identity is unchanged, but the footer fingerprint is not, so the
    retrain rescans the file and fails on it like a fit without the cache (it used to be served
    from the cache: a silent wrong model)."""
    registry = tmp_path / "reg"
    cfg = config_dict(lake, registry, **NO_PROMOTION)
    fit(cfg, address)
    target = lake / rel(DAYS[5], 1)
    ident = [f.identity() for f in open_lake(str(lake)).files]
    st = os.stat(target)
    target.write_bytes(b"\xde\xad\xbe\xef" * (st.st_size // 4) + b"\x00" * (st.st_size % 4))
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert [f.identity() for f in open_lake(str(lake)).files] == ident  # same identity, garbage bytes

    with pytest.raises(DataError, match=rf"{target.name}: not a readable Parquet file"):
        fit(cfg, address)
    with pytest.raises(DataError, match=rf"{target.name}: not a readable Parquet file"):
        fit(config_dict(lake, registry, name="full", cache={"enabled": False}), address)


def _rewrite_same_size(path: Path, table: pa.Table) -> None:
    pq.write_table(table, path, row_group_size=64, compression="none")


@pytest.mark.cluster
def test_a_same_size_same_mtime_rewrite_is_rescanned_and_equals_a_fresh_scan(
    lake: Path, address: str, tmp_path: Path
) -> None:
    """New values, the same size and a preserved mtime (``rsync -a``, ``cp -p``): the file is
    rescanned (footer fingerprint), its statistics equal a fresh scan, promotion counts its rows as
    new, and the next retrain serves every file, the rewritten one included, from the cache."""
    registry = tmp_path / "reg"
    cached = config_dict(lake, registry, name="m")
    target = lake / rel(DAYS[5], 1)
    table = pq.read_table(target)
    _rewrite_same_size(target, table)  # uncompressed, so that reordering y keeps the size
    first = fit(cached, address)
    assert counts(first) == (N_FILES, 0)

    st = os.stat(target)
    y = table.column("y").to_numpy()
    _rewrite_same_size(target, table.set_column(table.schema.get_field_index("y"), "y", pa.array(y + 1.0)))
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = os.stat(target)
    assert (after.st_size, after.st_mtime_ns) == (st.st_size, st.st_mtime_ns)

    again = fit(cached, address)
    assert counts(again) == (1, N_FILES - 1)
    full = fit(config_dict(lake, registry, name="full", cache={"enabled": False}), address)
    assert_bit_identical(again, full)
    assert_same_fit(again.estimator, fit_in_memory(*read_in_memory(open_lake(str(lake)).files)))
    assert not np.array_equal(again.estimator.coef_, first.estimator.coef_)
    footers = [{fp["path"]: fp["footer"] for fp in out.model.data.fingerprint} for out in (first, again)]
    assert footers[0].keys() == footers[1].keys()
    assert [p for p in footers[0] if footers[0][p] != footers[1][p]] == [str(target)]
    p = again.metrics.promotion.to_json()
    assert (p["rule"], p["rows"]) == ("new_rows", ROWS)  # the rewritten file's rows are new

    third = fit(cached, address)
    assert counts(third) == (0, N_FILES)  # unchanged entries, the rewritten file's new one included
    assert_bit_identical(third, again)
    assert len(cache_entries(registry)) == N_FILES


@pytest.mark.cluster
def test_window_uses_the_last_days_and_slides_reading_only_the_new_day(
    lake: Path, address: str, tmp_path: Path, rng: np.random.Generator
) -> None:
    registry = tmp_path / "reg"
    window = {"data": {"window": {"column": "day", "last": 3}}}
    cfg = config_dict(lake, registry, **window, **NO_PROMOTION)
    # a file outside the window is never opened
    (lake / rel(DAYS[0], 1)).write_bytes(b"not parquet at all")

    def days_of(out) -> list[str]:
        return sorted({Path(p).parent.name.split("=")[1] for p in fingerprint_paths(out)})

    first = fit(cfg, address)
    assert days_of(first) == DAYS[-3:] and counts(first) == (9, 0)
    assert first.model.data.window == {"column": "day", "values": DAYS[-3:]}
    assert first.model.data.pruned_files == N_FILES - 9
    win = Window(column="day", last=3)
    assert fingerprint_paths(first) == [f.path for f in open_lake(str(lake), window=win).files]

    new_day = "2026-11-11"
    for k in range(FILES_PER_DAY):
        write_file(lake, rel(new_day, k), rng)
    slid = fit(cfg, address)
    assert days_of(slid) == [*DAYS[-2:], new_day] and counts(slid) == (3, 6)
    assert slid.model.data.window["values"] == [*DAYS[-2:], new_day]
    full = fit(config_dict(lake, registry, name="full", cache={"enabled": False}, **window), address)
    assert counts(full) == (9, 0)
    assert_bit_identical(slid, full)
    files = open_lake(str(lake), window=win).files
    assert_same_fit(slid.estimator, fit_in_memory(*read_in_memory(files)))
    # the day that left the window keeps its entries (it is still in the lake): 12 files cached
    assert len(cache_entries(registry)) == 12


@pytest.mark.cluster
def test_folds_of_existing_files_do_not_move_when_files_are_added(
    lake: Path, address: str, tmp_path: Path, rng: np.random.Generator
) -> None:
    """Adding files (also ones listed before existing files) and rescanning from an empty cache
    gives every existing file the same per-fold statistics, bit for bit: a row's fold depends on
    its file's path and its position in that file, not on the file's place in the lake."""
    registry = tmp_path / "reg"
    cfg = config_dict(lake, registry, **NO_PROMOTION)
    fit(cfg, address)
    files = open_lake(str(lake)).files

    def snapshot() -> dict[str, dict[str, np.ndarray]]:
        out = {}
        for f in files:
            with np.load(entry_of(registry, f), allow_pickle=False) as z:
                out[f.relpath] = {k: z[k] for k in z.files}
        return out

    before = snapshot()
    for day in (DAYS[0], DAYS[4]):
        write_file(lake, rel(day, "00"), rng)  # sorts before part-0: shifts every later file's index
    shutil.rmtree(cache_entries(registry)[0].parent)
    again = fit(cfg, address)
    assert counts(again) == (N_FILES + 2, 0)
    after = snapshot()
    assert before.keys() == after.keys()
    for relpath, arrays in before.items():
        assert arrays.keys() == after[relpath].keys()
        for k, v in arrays.items():
            np.testing.assert_array_equal(after[relpath][k], v, err_msg=f"{relpath}: {k}")
    # the folds in the entries are those of dreg.job.lake.file_fold_ids
    from dreg.job.lake import file_fold_ids

    f = files[7]
    folds = file_fold_ids(f, 0, ROWS, MODEL["cv"], MODEL["random_state"])
    np.testing.assert_array_equal(before[f.relpath]["count"], np.bincount(folds, minlength=MODEL["cv"]))


# --------------------------------------------------------------------------- champion / challenger


@pytest.mark.cluster
def test_promotion_first_promoted_rejected_disabled_and_history(lake: Path, address: str, tmp_path: Path) -> None:
    registry = tmp_path / "reg"
    base = config_dict(lake, registry, name="p")
    zero = config_dict(lake, registry, name="p", model={"alphas": [1e3]})  # an all-zero model

    first = fit(base, address)
    p1 = first.metrics.promotion.to_json()
    assert p1["status"] == "first" and p1["champion"] is None and p1["champion_mse"] is None
    assert first.model.promotion == first.metrics.promotion
    assert latest_version(str(registry), "p") == first.ref.version

    lines: list[str] = []
    same = fit(base, address, lines.append)
    p2 = same.metrics.promotion.to_json()
    assert p2["status"] == "promoted" and p2["champion"] == first.ref.version
    assert counts(same) == (0, N_FILES)
    # no new rows and the same configuration: the same CV error on the same folds, "unchanged"
    assert p2["challenger_mse"] == p2["champion_mse"] == same.metrics.cv_mse == first.metrics.cv_mse
    assert (p2["rule"], p2["rows"]) == ("same_folds", N_FILES * ROWS) and "unchanged" in p2["reason"]
    assert latest_version(str(registry), "p") == same.ref.version
    assert any(s.startswith("dreg: promoted: unchanged") for s in lines)

    with pytest.raises(PromotionRejected, match=f"worse than champion {same.ref.version}") as info:
        fit(zero, address)
    rejected = info.value.outcome
    assert not np.any(rejected.estimator.coef_)
    p3 = rejected.metrics.promotion.to_json()
    assert p3["status"] == "rejected" and p3["champion"] == same.ref.version and p3["rule"] == "same_folds"
    # the champion's configuration cross-validated again on the same folds: its CV error, bit for bit
    assert p3["champion_mse"] == same.metrics.cv_mse and p3["challenger_mse"] == rejected.metrics.cv_mse
    assert p3["challenger_mse"] > p3["champion_mse"] * (1 + p3["tolerance"])
    vdir = registry / "p" / rejected.ref.version
    assert {"model.json", "metrics.json"} <= {p.name for p in vdir.iterdir()}
    assert json.loads((vdir / "metrics.json").read_text())["promotion"]["status"] == "rejected"
    assert latest_version(str(registry), "p") == same.ref.version
    assert read_model(f"{registry}/p")[0].version == same.ref.version  # consumers still get the champion

    # the CLI: exit code 5, the reason on stderr, latest unchanged
    cfg_file = write_config(tmp_path / "zero.yaml", zero)
    proc = run_cli("fit", "--config", str(cfg_file), "--scheduler", address)
    assert proc.returncode == 5, proc.stderr
    assert "dreg: not promoted:" in proc.stderr and f"worse than champion {same.ref.version}" in proc.stderr
    assert latest_version(str(registry), "p") == same.ref.version
    assert len(list_versions(str(registry), "p")) == 4

    # promotion disabled: the worse model becomes latest
    off = config_dict(lake, registry, name="p", model={"alphas": [1e3]}, output={"promotion": {"enabled": False}})
    forced = fit(off, address)
    p5 = forced.metrics.promotion.to_json()
    assert p5["status"] == "promoted" and "disabled" in p5["reason"]
    assert latest_version(str(registry), "p") == forced.ref.version

    # dreg history
    versions = list_versions(str(registry), "p")
    assert versions[0] == first.ref.version and versions[1] == same.ref.version
    assert versions[2] == rejected.ref.version and versions[-1] == forced.ref.version
    proc = run_cli("history", f"{registry}/p")
    assert proc.returncode == 0, proc.stderr
    rows = [line.split() for line in proc.stdout.splitlines() if line[:8].isdigit()]
    assert [r[0] for r in rows] == versions
    assert [r[1] for r in rows] == ["first", "promoted", "rejected", "rejected", "promoted*"]
    assert "* = latest" in proc.stdout

    proc = run_cli("history", f"{registry}/p", "--json")
    assert proc.returncode == 0, proc.stderr
    table = json.loads(proc.stdout)
    assert [r["version"] for r in table] == versions
    assert [r["latest"] for r in table] == [False, False, False, False, True]
    for row in table:
        vdir = registry / "p" / row["version"]
        metrics = json.loads((vdir / "metrics.json").read_text())
        model = json.loads((vdir / "model.json").read_text())
        assert row["status"] == metrics["promotion"]["status"]
        assert row["champion_mse"] == metrics["promotion"]["champion_mse"]
        assert row["cv_mse"] == metrics["cv_mse"] and row["alpha"] == model["alpha"]
        assert row["rows"] == metrics["rows"] == N_FILES * ROWS
        assert (row["files_scanned"], row["files_from_cache"]) == (
            metrics["files_scanned"],
            metrics["files_from_cache"],
        )
        assert row["files"] == N_FILES and row["window"] == "all"
    assert [r["files_scanned"] for r in table] == [N_FILES, 0, 0, 0, 0]


@pytest.mark.cluster
def test_an_identical_rerun_is_promoted_as_unchanged_through_the_cli(
    tmp_path: Path, address: str, rng: np.random.Generator
) -> None:
    """Issue 14: the same configuration on the same small lake, twice: exit 0 both times, the second
    promoted as "unchanged" (before, the champion's in-sample error made it exit 5)."""
    lake = write_days(tmp_path / "lake", rng, DAYS[:2])
    registry = tmp_path / "reg"
    cfg_file = write_config(tmp_path / "fit.yaml", config_dict(lake, registry, name="m"))
    runs = [run_cli("fit", "--config", str(cfg_file), "--scheduler", address) for _ in range(2)]
    assert [r.returncode for r in runs] == [0, 0], runs[1].stderr
    assert "dreg: promoted: unchanged" in runs[1].stdout + runs[1].stderr
    first, second = list_versions(str(registry), "m")
    assert latest_version(str(registry), "m") == second
    promotion = json.loads((registry / "m" / second / "metrics.json").read_text())["promotion"]
    assert promotion["status"] == "promoted" and promotion["champion"] == first
    assert (promotion["rule"], promotion["rows"]) == ("same_folds", 2 * FILES_PER_DAY * ROWS)
    assert promotion["champion_mse"] == promotion["challenger_mse"]
    proc = run_cli("history", f"{registry}/m")
    assert proc.returncode == 0 and ["first", "promoted*"] == [
        line.split()[1] for line in proc.stdout.splitlines() if line[:8].isdigit()
    ]


@pytest.mark.cluster
def test_new_day_champion_and_challenger_are_scored_on_the_new_rows(
    lake: Path, address: str, tmp_path: Path, rng: np.random.Generator
) -> None:
    """A CV lasso, then a new day of files.  A ridge at alpha 1000 is clearly worse on the new rows: exit 5.
    The lasso retrained is promoted, and the rule's two numbers equal numpy on the same rows read into
    memory: the champion's fixed model, and each new row scored by the in-memory LassoCV's fold model of
    its fold.  The model is bit for bit that of a fit without the promotion check (whose pass carries no
    statistics of new files); the second run serves every file, new ones included, from the cache."""
    registry = tmp_path / "reg"
    cfg = config_dict(lake, registry, name="m")
    champion = fit(cfg, address)
    new_day = "2026-11-11"
    for k in range(FILES_PER_DAY):
        write_file(lake, rel(new_day, k), rng)
    n_new = FILES_PER_DAY * ROWS

    ridge = config_dict(lake, registry, name="m", model={"penalty": "ridge", "alphas": [1000.0]})
    proc = run_cli("fit", "--config", str(write_config(tmp_path / "ridge.yaml", ridge)), "--scheduler", address)
    assert proc.returncode == 5, proc.stderr
    assert f"MSE on {n_new} new row(s)" in proc.stderr and f"worse than champion {champion.ref.version}" in proc.stderr
    assert latest_version(str(registry), "m") == champion.ref.version
    rejected = json.loads((registry / "m" / list_versions(str(registry), "m")[-1] / "metrics.json").read_text())
    assert rejected["promotion"]["status"] == "rejected"
    assert (rejected["promotion"]["rule"], rejected["promotion"]["rows"]) == ("new_rows", n_new)

    lines: list[str] = []
    out = fit(cfg, address, lines.append)
    d = out.metrics.promotion
    assert (d.status, d.rule, d.rows, d.champion) == ("promoted", "new_rows", n_new, champion.ref.version)
    assert counts(out) == (0, N_FILES + FILES_PER_DAY)  # the ridge run cached the new day
    assert out.model.promotion == d and any(s.startswith("dreg: promoted: out-of-sample MSE") for s in lines)
    assert_bit_identical(out, fit(config_dict(lake, registry, name="check", cache={"enabled": False}), address))

    files = open_lake(str(lake)).files
    X, y, folds = read_in_memory(files)
    new = np.concatenate([np.full(ROWS, f"day={new_day}" in f.path) for f in files])
    assert new.sum() == n_new
    coef, intercept = champion.model.coef, champion.model.intercept
    np.testing.assert_allclose(d.champion_mse, np.mean((y[new] - X[new] @ coef - intercept) ** 2), rtol=1e-10)
    ref = fit_in_memory(X, y, folds)
    residuals = []
    for i, k in enumerate(ref.cv_result_.fold_labels):
        train, rows = folds != k, new & (folds == k)
        b = y[train].mean() - X[train].mean(axis=0) @ ref.fold_coef_[i]
        residuals.append(y[rows] - X[rows] @ ref.fold_coef_[i] - b)
    np.testing.assert_allclose(d.challenger_mse, np.mean(np.concatenate(residuals) ** 2), rtol=1e-10)


# --------------------------------------------------------------------------- the decision itself


FEATS = ["c", "a", "b"]  # the challenger's column order
ALL_ROWS, NEW_FROM = 900, 600  # rows NEW_FROM.. come from files the champion never trained on


@pytest.fixture
def fold_data(rng: np.random.Generator):
    """``(X, y, folds)``: 900 rows in 3 folds, columns in the challenger's order c, a, b."""
    X = rng.standard_normal((ALL_ROWS, 3)) + [5.0, -2.0, 0.5]
    y = X @ [0.3, 1.0, -2.0] + 4.0 + rng.standard_normal(ALL_ROWS)
    folds = rng.permutation(np.arange(ALL_ROWS) % 3)
    return X, y, folds


def small_cfg(registry: Path, model: dict | None = None, **promotion):
    return parse(config_dict("unused-lake", registry, name="m", model=model or {}, output={"promotion": promotion}))


def challenger(cfg, X, y, folds):
    from dreg.job.pipeline import build_estimator

    return build_estimator(cfg.model).fit_stats(block_stats(X, y, None, folds), FEATS)


def write_champion(
    registry: Path, features: list[str], coef: list[float], intercept: float, model: dict | None = None
) -> str:
    """A champion ``model.json``: coefficients and, with ``model``, the recorded configuration's model section."""
    record = {"features": features, "coef": coef, "intercept": intercept}
    if model is not None:
        record["config"] = {"model": model}
    return write_version(str(registry), "m", {"model.json": json.dumps(record), "metrics.json": "{}"})


def decide(cfg, est, X, y, folds, new_from: int | None = NEW_FROM):
    """``_promotion`` of ``est`` against ``latest``, rows ``new_from:`` being new (None: no new rows)."""
    stats = block_stats(X, y, None, folds)
    new = None if new_from is None else block_stats(X[new_from:], y[new_from:], None, folds[new_from:])
    lines: list[str] = []
    out = _promotion(cfg, _champion(cfg), est, stats, new, FEATS, lines.append)
    return out, lines


def test_new_rows_rule_scores_both_sides_out_of_sample_on_the_new_rows(tmp_path: Path, fold_data) -> None:
    """The two numbers of the new-rows rule against numpy on the same rows: the champion's fixed model, and
    each new row scored by the challenger's fold model of its fold (intercept from that fold's training rows).
    The champion's coefficients are matched by feature name (its column order differs)."""
    X, y, folds = fold_data
    cfg = small_cfg(tmp_path)
    est = challenger(cfg, X, y, folds)
    champ = write_champion(tmp_path, ["a", "b", "c"], [1.1, -1.9, 0.25], 3.5)
    d, lines = decide(cfg, est, X, y, folds)
    new = np.arange(ALL_ROWS) >= NEW_FROM
    champion = np.mean((y[new] - X[new] @ [0.25, 1.1, -1.9] - 3.5) ** 2)
    residuals = []
    for i, k in enumerate(est.cv_result_.fold_labels):
        train, rows = folds != k, new & (folds == k)
        coef = est.fold_coef_[i]
        intercept = y[train].mean() - X[train].mean(axis=0) @ coef
        residuals.append(y[rows] - X[rows] @ coef - intercept)
    expected = np.mean(np.concatenate(residuals) ** 2)
    np.testing.assert_allclose(d.champion_mse, champion, rtol=1e-10)
    np.testing.assert_allclose(d.challenger_mse, expected, rtol=1e-10)
    assert d.challenger_mse != est.cv_result_.mse_mean[0][est.chosen_alpha_index_]  # not the CV MSE of all rows
    assert (d.rule, d.rows, d.champion, d.status) == ("new_rows", ALL_ROWS - NEW_FROM, champ, "promoted")
    assert d.to_json()["rule"] == "new_rows" and d.to_json()["rows"] == ALL_ROWS - NEW_FROM
    assert any(s.startswith(f"dreg: promoted: out-of-sample MSE on {ALL_ROWS - NEW_FROM} new row(s)") for s in lines)


def test_out_of_fold_error_on_all_rows_is_the_cross_validation_error(fold_data) -> None:
    """Scored on every row, the fold models give back the CV errors of the cross-validation itself."""
    from dreg.job.promotion import out_of_fold_mse

    X, y, folds = fold_data
    est = challenger(small_cfg(Path("unused")), X, y, folds)
    stats = block_stats(X, y, None, folds)
    cv = est.cv_result_
    weights = stats.weight_sum[np.searchsorted(stats.labels, cv.fold_labels)]
    pooled = weights @ cv.mse_path[0, est.chosen_alpha_index_] / weights.sum()
    got = out_of_fold_mse(stats, stats, cv.fold_labels, est.fold_coef_, est.fit_intercept)
    np.testing.assert_allclose(got, pooled, rtol=1e-14)


@pytest.mark.parametrize("tolerance", [0.0, 0.01, 0.5])
def test_tolerance_is_the_promotion_boundary(tmp_path: Path, fold_data, tolerance: float) -> None:
    """Challengers ever more penalized against one champion: promoted while the challenger's error is at
    most ``champion * (1 + tolerance)``, rejected beyond."""
    X, y, folds = fold_data
    good = challenger(small_cfg(tmp_path), X, y, folds)
    write_champion(tmp_path, FEATS, list(0.9 * good.coef_), good.intercept_)  # a little worse than the best
    seen = set()
    for alpha in (1e-4, 0.03, 0.1, 0.3, 1.0, 10.0):
        cfg = small_cfg(tmp_path, {"alphas": [alpha]}, tolerance=tolerance)
        d, lines = decide(cfg, challenger(cfg, X, y, folds), X, y, folds)
        expected = "promoted" if d.challenger_mse <= d.champion_mse * (1 + tolerance) else "rejected"
        assert d.status == expected and d.tolerance == tolerance and d.rule == "new_rows"
        if expected == "rejected":
            assert "worse than champion" in d.reason and any(s.startswith("dreg: rejected:") for s in lines)
        seen.add(expected)
    assert seen == {"promoted", "rejected"}


def test_first_disabled_and_incomparable_champions(tmp_path: Path, fold_data) -> None:
    X, y, folds = fold_data
    est = challenger(small_cfg(tmp_path), X, y, folds)
    first, _ = decide(small_cfg(tmp_path / "empty"), est, X, y, folds)
    assert first.status == "first" and first.champion is None and first.rule is None
    assert "rule" not in first.to_json() and "rows" not in first.to_json()  # keys of old records only
    champ = write_champion(tmp_path, FEATS, [1.0, -2.0, 0.3], 4.0)
    off, _ = decide(small_cfg(tmp_path, enabled=False), est, X, y, folds)
    assert off.status == "promoted" and off.champion == champ and off.champion_mse is None and off.rule is None
    write_champion(tmp_path, ["a", "b", "gone"], [1.0, -2.0, 0.3], 4.0)
    other, _ = decide(small_cfg(tmp_path), est, X, y, folds)
    assert other.status == "promoted" and "not comparable" in other.reason
    write_champion(tmp_path, FEATS, [1.0, -2.0, 0.3], 4.0)  # no recorded configuration, no new rows
    bare, _ = decide(small_cfg(tmp_path), est, X, y, folds, new_from=None)
    assert bare.status == "promoted" and "no recorded configuration" in bare.reason and bare.rule is None


def test_without_new_rows_the_configurations_are_cross_validated_on_the_same_folds(tmp_path: Path, fold_data) -> None:
    """A champion fitted with another configuration: its configuration is refitted on the same statistics
    and its CV MSE at its chosen alpha is compared with the challenger's; a much worse challenger is
    rejected, a better one promoted.  The champion may have fewer features than the challenger."""
    X, y, folds = fold_data
    lasso = {"penalty": "lasso", "alphas": 20, "cv": 3}
    ridge = {"penalty": "ridge", "alphas": [1000.0], "cv": 3}
    good, bad = challenger(small_cfg(tmp_path, lasso), X, y, folds), challenger(small_cfg(tmp_path, ridge), X, y, folds)
    write_champion(tmp_path, FEATS, list(good.coef_), good.intercept_, small_cfg(tmp_path, lasso).model.model_dump())
    rejected, _ = decide(small_cfg(tmp_path, ridge), bad, X, y, folds, new_from=None)
    cv_mse = float(good.cv_result_.mse_mean[0][good.chosen_alpha_index_])
    assert (rejected.status, rejected.rule, rejected.rows) == ("rejected", "same_folds", ALL_ROWS)
    assert rejected.champion_mse == cv_mse and rejected.challenger_mse > 1.5 * cv_mse
    assert "CV MSE on the same folds" in rejected.reason and "worse than champion" in rejected.reason

    write_champion(tmp_path, FEATS, list(bad.coef_), bad.intercept_, small_cfg(tmp_path, ridge).model.model_dump())
    promoted, _ = decide(small_cfg(tmp_path, lasso), good, X, y, folds, new_from=None)
    assert (promoted.status, promoted.rule, promoted.challenger_mse) == ("promoted", "same_folds", cv_mse)
    assert "unchanged" not in promoted.reason

    # a champion on two of the three features (in another order): its own columns of the same statistics
    import dreg

    write_champion(tmp_path, ["b", "c"], [-2.0, 0.3], 4.0, small_cfg(tmp_path, lasso).model.model_dump())
    sub, _ = decide(small_cfg(tmp_path, lasso), good, X, y, folds, new_from=None)
    ref = dreg.LassoCV(alphas=20).fit(X[:, [2, 0]], y, folds=folds)
    np.testing.assert_allclose(sub.champion_mse, ref.cv_result_.mse_mean[0][ref.chosen_alpha_index_], rtol=1e-10)


def test_a_retrain_on_identical_data_is_promoted_with_many_features(tmp_path: Path, rng: np.random.Generator) -> None:
    """p = 50 features, n = 6,000 rows: the in-sample optimism of scoring the champion on its own training
    rows (about 2p/n = 1.7%) would exceed the default tolerance of 1%.  Both sides are out of sample now:
    the same configuration on the same data is "unchanged" (equal errors), and a champion of another
    configuration is cross-validated on the same folds."""
    from dreg.estimators.serialize import estimator_to_dict
    from dreg.job.pipeline import build_estimator

    n, p = 6000, 50
    X = rng.standard_normal((n, p))
    y = X @ rng.standard_normal(p) + rng.standard_normal(n)
    folds = rng.permutation(np.arange(n) % 5)
    features = [f"x{j}" for j in range(p)]
    stats = block_stats(X, y, None, folds)

    def fitted(model: dict):
        cfg = parse(config_dict("unused-lake", tmp_path, name="m", model=model))
        return cfg, build_estimator(cfg.model).fit_stats(stats, features)

    for champion_model in ({"alphas": 30, "cv": 5}, {"alphas": 20, "cv": 5}):
        champ_cfg, champ = fitted(champion_model)
        record = {**estimator_to_dict(champ), "features": features, "config": {"model": champ_cfg.model.model_dump()}}
        write_version(str(tmp_path), "m", {"model.json": json.dumps(record), "metrics.json": "{}"})
        cfg, est = fitted({"alphas": 30, "cv": 5})
        decision = _promotion(cfg, _champion(cfg), est, stats, None, features, lambda s: None)
        assert decision.status == "promoted", decision.reason
        assert decision.rule == "same_folds" and decision.rows == n
        cv_mse = float(champ.cv_result_.mse_mean[0][champ.chosen_alpha_index_])
        assert decision.champion_mse == cv_mse
        assert ("unchanged" in decision.reason) == (champion_model["alphas"] == 30)
