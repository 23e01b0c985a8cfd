"""Shared helpers for the lake benchmarks: generating Parquet lakes, reading them back
the way a scikit-learn user would, dreg's folds of a lake, and `dreg fit` configs.

Data.  The rows follow ``bench_cv.make_data``: ``X = Z @ L + mu`` with ``Z``
standard normal, ``L^T L`` the AR(1) correlation ``0.5^|i-j|``, column means
``mu ~ N(0, 1)``; ``y = 1 + X @ beta + 2 * noise`` with ``beta`` non-zero on
``p // 10`` features (magnitudes 2 .. 0.02, mixed signs).  ``L``, ``mu`` and
``beta`` are drawn once from ``default_rng(seed)`` (in ``make_data``'s order);
file ``i``'s ``Z`` and noise come from ``default_rng([seed, i])``, so a file
never depends on how many files are written and a lake of ``n`` rows is
exactly the first ``n / rows_per_file`` files of any larger lake.

Layout.  All files are written once into a *pool* folder
(``<data-dir>/pool-p<p>-f<rows_per_file>-rg<row_group>-s<seed>/part-00000.parquet``
...) with a ``_manifest.json``; a lake of ``n`` rows is a folder
``<data-dir>/lake-n<n>-p<p>-f<rows_per_file>-rg<row_group>-s<seed>/`` of hard
links to the first ``n / rows_per_file`` pool files (copies if hard links are
not possible), so the 8M-row lake costs no more disk than the pool.  Files are
``part-NNNNN.parquet`` (flat, no hive partitions), columns ``x0 .. x{p-1}``
(float64) and ``y``, snappy, row groups of ``row_group`` rows.  A pool whose
manifest matches the parameters (and whose files have the recorded sizes) is
reused as is.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

GENERATOR = "dreg-bench-lake-v1"
DEFAULT_DATA_DIR = "/tmp/dreg-bench-data"


@dataclass(frozen=True)
class LakeSpec:
    p: int = 100
    rows_per_file: int = 250_000
    row_group: int = 65_536
    seed: int = 0

    @property
    def tag(self) -> str:
        return f"p{self.p}-f{self.rows_per_file}-rg{self.row_group}-s{self.seed}"

    def features(self) -> list[str]:
        return [f"x{j}" for j in range(self.p)]

    def files_for(self, n: int) -> int:
        if n % self.rows_per_file:
            raise ValueError(f"n = {n:,} is not a multiple of rows_per_file = {self.rows_per_file:,}")
        return n // self.rows_per_file


def _truth(p: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``L``, ``mu``, ``beta`` drawn in ``make_data``'s order from ``default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    lags = np.abs(np.subtract.outer(np.arange(p), np.arange(p)))
    L = np.linalg.cholesky(0.5**lags).T
    mu = rng.standard_normal(p)
    beta = np.zeros(p)
    k = max(1, p // 10)
    support = rng.choice(p, size=k, replace=False)
    beta[support] = rng.choice([-1.0, 1.0], size=k) * np.geomspace(2.0, 0.02, k)
    return L, mu, beta


def file_data(spec: LakeSpec, i: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of pool file ``i``."""
    L, mu, beta = _truth(spec.p, spec.seed)
    rng = np.random.default_rng([spec.seed, i])
    X = rng.standard_normal((spec.rows_per_file, spec.p)) @ L
    X += mu
    y = 1.0 + X @ beta + 2.0 * rng.standard_normal(spec.rows_per_file)
    return X, y


def true_beta(spec: LakeSpec) -> np.ndarray:
    return _truth(spec.p, spec.seed)[2]


def _write_file(spec: LakeSpec, i: int, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    X, y = file_data(spec, i)
    table = pa.table({**{f"x{j}": X[:, j] for j in range(spec.p)}, "y": y})
    tmp = path.with_name(f".tmp-{path.name}")
    pq.write_table(table, tmp, row_group_size=spec.row_group, compression="snappy")
    os.replace(tmp, path)


def ensure_pool(data_dir: Path, spec: LakeSpec, files: int, log=print) -> Path:
    """The pool folder holding at least ``files`` files of ``spec`` (written or reused)."""
    pool = Path(data_dir) / f"pool-{spec.tag}"
    pool.mkdir(parents=True, exist_ok=True)
    man_path = pool / "_manifest.json"
    manifest = {"generator": GENERATOR, "spec": asdict(spec), "files": {}}
    if man_path.exists():
        try:
            old = json.loads(man_path.read_text())
            if old.get("generator") == GENERATOR and old.get("spec") == asdict(spec):
                manifest["files"] = old.get("files", {})
        except (OSError, ValueError):
            pass
    t0 = time.perf_counter()
    written = 0
    for i in range(files):
        name = f"part-{i:05d}.parquet"
        path = pool / name
        if path.exists() and manifest["files"].get(name) == path.stat().st_size:
            continue
        _write_file(spec, i, path)
        manifest["files"][name] = path.stat().st_size
        written += 1
        man_path.write_text(json.dumps(manifest, indent=1))
        if written % 8 == 0:
            log(f"  pool {pool.name}: wrote {written} file(s) ({time.perf_counter() - t0:.0f} s)")
    if written:
        log(f"pool {pool}: wrote {written} of {files} file(s) in {time.perf_counter() - t0:.1f} s")
    return pool


def ensure_lake(data_dir: Path, spec: LakeSpec, n: int, log=print) -> Path:
    """A lake folder of exactly ``n`` rows (hard links into the pool)."""
    files = spec.files_for(n)
    pool = ensure_pool(data_dir, spec, files, log)
    lake = Path(data_dir) / f"lake-n{n}-{spec.tag}"
    want = {f"part-{i:05d}.parquet" for i in range(files)}
    lake.mkdir(parents=True, exist_ok=True)
    for extra in set(os.listdir(lake)) - want:
        (lake / extra).unlink()
    for name in sorted(want):
        src, dst = pool / name, lake / name
        if dst.exists() and os.path.samestat(dst.stat(), src.stat()):
            continue
        if dst.exists() or dst.is_symlink():
            dst.unlink()
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)
    return lake


def lake_files(lake: Path) -> list[Path]:
    """The lake's files in dreg's order (``open_lake`` sorts full paths)."""
    from dreg.job.lake import open_lake

    return [Path(f.path) for f in open_lake(str(lake)).files]


def lake_folds(lake: Path, n_folds: int, random_state: int = 0) -> np.ndarray:
    """dreg's fold of every row of the lake, rows in dreg's file order.

    ``dreg.job.lake`` draws the folds of a file's rows from the file's path relative
    to the lake root and the row's position in the file
    (``file_fold_ids(f, start, stop, K, random_state)``, independent of how the
    file is split into row groups), so concatenating each whole file's labels in
    the lake's file order gives the label of every row of the concatenated data.
    """
    import pyarrow.parquet as pq

    from dreg.job.lake import file_fold_ids, open_lake

    out = []
    for f in open_lake(str(lake)).files:
        rows = pq.ParquetFile(f.path).metadata.num_rows
        out.append(file_fold_ids(f, 0, rows, n_folds, random_state))
    return np.concatenate(out)


def read_lake_numpy(lake: Path, features: list[str], target: str = "y") -> tuple[np.ndarray, np.ndarray]:
    """The whole lake as ``X`` (float64, Fortran order) and ``y``, read with pyarrow.

    What a scikit-learn user does to get a Parquet lake into memory, done
    economically: one file at a time (``pyarrow.parquet.read_table(file,
    columns=...)``), each column copied into a preallocated array, so the peak is
    ``X`` plus one file's table (``pd.read_parquet(lake)[features].to_numpy()``
    would hold the whole table and the array at once).  Fortran order is what
    ``DataFrame.to_numpy()`` returns for a frame of float64 columns, and what
    scikit-learn's coordinate descent wants.
    """
    import pyarrow.parquet as pq

    files = lake_files(lake)
    rows = [pq.ParquetFile(f).metadata.num_rows for f in files]
    n = int(sum(rows))
    X = np.empty((n, len(features)), dtype=np.float64, order="F")
    y = np.empty(n, dtype=np.float64)
    start = 0
    for f, m in zip(files, rows, strict=True):
        t = pq.read_table(f, columns=[*features, target])
        for j, c in enumerate(features):
            X[start : start + m, j] = t.column(c).to_numpy()
        y[start : start + m] = t.column(target).to_numpy()
        start += m
        del t
    return X, y


def fit_config(lake: Path, features: list[str], registry: Path, name: str, model: dict, cluster: dict):
    """A validated `dreg fit` configuration for a benchmark lake.

    The statistics cache is off (every fit reads every file: the cache is
    measured in ``bench_retrain.py``) and promotion checks are off (every run
    writes a new version, as a first fit does).
    """
    from dreg.job.config import parse_config

    return parse_config(
        {
            "data": {"path": str(lake), "target": "y", "features": list(features)},
            "model": model,
            "cluster": cluster,
            "output": {"registry": str(registry), "name": name, "promotion": {"enabled": False}},
            "cache": {"enabled": False},
        }
    )


def loadavg() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return float("nan")


def git_state(root: Path) -> str:
    import subprocess

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return "?"

    dirty = git("diff", "--name-only", "HEAD", "--", "dreg")
    return f"git {git('rev-parse', '--short', 'HEAD') or '?'}" + (
        f"; uncommitted changes in {', '.join(dirty.split())}" if dirty else "; dreg/ clean"
    )
