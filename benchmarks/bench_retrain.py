"""A scheduled retrain after one new file against a full refit (issue 5).

Writes a hive-partitioned lake of ``--files`` Parquet files (``--rows`` rows
each, ``--features`` float64 features + target; 30 x 100,000 x 50, about
1.2 GB, by default), starts one LocalCluster (``--workers`` x 1 thread,
127.0.0.1), and times ``dreg.job.pipeline.run_fit`` end to end on that same
cluster, interleaved over ``--reps`` repetitions:

* ``full``:     a fit with ``cache: {enabled: false}``: every file is read;
* ``populate``: a fit with the cache on, starting from an empty cache: every
  file is read and its statistics are written to the cache;
* ``retrain``:  one fresh file is added to the lake, then the same cached fit:
  one file is read, the others come from the cache.

Each repetition adds one file, so the lake grows by one file per repetition
(the table gives the file counts).  Each retrain is checked against a no-cache
full refit on the same files (the next repetition's ``full`` run, and one
extra untimed run after the last): coefficients, intercept, alpha and the CV
MSE path must agree to 1e-10 relative (they are in fact bit for bit equal).
Promotion is off, so that no run is rejected.  The lake is deleted at the end.

Results go to the ``bench_retrain`` section of ``benchmarks/RESULTS.md``.

    python benchmarks/bench_retrain.py            # 30 files x 100,000 rows x 50 features
    python benchmarks/bench_retrain.py --quick    # 30 files x 10,000 rows x 20 features
"""

from __future__ import annotations

import argparse
import gc
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import machine_facts, write_section  # noqa: E402

FILES_PER_DAY = 3


def write_file(path: Path, rows: int, beta: np.ndarray, rng: np.random.Generator) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    X = rng.standard_normal((rows, beta.size))
    y = X @ beta + 3.0 + rng.standard_normal(rows)
    table = pa.table({**{f"x{j:03d}": X[:, j] for j in range(beta.size)}, "y": y})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, row_group_size=64 * 1024, compression="snappy")


def day_of(i: int) -> str:
    return f"2026-{10 + i // 28:02d}-{1 + i % 28:02d}"


def relative_difference(a, b) -> float:
    """The largest difference between two fitted estimators, relative to each array's scale."""
    worst = 0.0
    for name in ("coef_", "intercept_", "alpha_", "chosen_alpha_", "mse_path_"):
        x, y = np.asarray(getattr(a, name), dtype=float), np.asarray(getattr(b, name), dtype=float)
        scale = np.max(np.abs(y)) if y.size else 0.0
        if scale > 0:
            worst = max(worst, float(np.max(np.abs(x - y)) / scale))
    return worst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=30)
    ap.add_argument("--rows", type=int, default=100_000, help="rows per file")
    ap.add_argument("--features", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-write", action="store_true", help="print, do not update RESULTS.md")
    args = ap.parse_args()
    if args.quick:
        args.rows, args.features = 10_000, 20
    from distributed import Client, LocalCluster

    from dreg.job.config import parse_config
    from dreg.job.pipeline import run_fit

    need = 8 * (args.files + args.reps) * args.rows * (args.features + 1)
    free = shutil.disk_usage(tempfile.gettempdir()).free
    if need > 2.2 * 2**30 or need > free / 2:
        raise SystemExit(
            f"the lake would take about {need / 2**30:.1f} GiB ({free / 2**30:.0f} GiB free); use fewer rows"
        )

    rng = np.random.default_rng(0)
    beta = np.zeros(args.features)
    beta[: max(1, args.features // 5)] = rng.standard_normal(max(1, args.features // 5))
    tmp = Path(tempfile.mkdtemp(prefix="dreg-bench-retrain-"))
    lake = tmp / "lake"
    try:
        t = time.perf_counter()
        for i in range(args.files):
            write_file(
                lake / f"day={day_of(i // FILES_PER_DAY)}" / f"part-{i % FILES_PER_DAY}.parquet", args.rows, beta, rng
            )
        size = sum(p.stat().st_size for p in lake.rglob("*.parquet"))
        print(
            f"wrote {args.files} files x {args.rows} x {args.features} ({size / 2**30:.2f} GiB) in {time.perf_counter() - t:.1f}s"
        )

        cluster = LocalCluster(
            n_workers=args.workers, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        )
        client = Client(cluster)
        cache = tmp / "cache"
        features = [f"x{j:03d}" for j in range(args.features)]

        def config(name: str, cached: bool):
            return parse_config(
                {
                    "data": {"path": str(lake), "target": "y", "features": features},
                    "model": {"penalty": "lasso", "cv": 5, "alphas": 100},
                    "cluster": {"address": cluster.scheduler_address},
                    "output": {"registry": str(tmp / "registry"), "name": name, "promotion": {"enabled": False}},
                    "cache": {"enabled": cached, "path": str(cache)},
                }
            )

        full_cfg, cached_cfg = config("full", False), config("cached", True)

        def timed(cfg):
            gc.collect()
            t0 = time.perf_counter()
            out = run_fit(cfg, log=lambda m: None, tty=False)
            return time.perf_counter() - t0, out

        runs = ("full", "populate", "retrain")
        times: dict[str, list[float]] = {k: [] for k in runs}
        passes: dict[str, list[float]] = {k: [] for k in runs}
        accounts: dict[str, list[tuple[int, int, int]]] = {k: [] for k in runs}
        timed(full_cfg)  # warm-up: worker imports, page cache
        retrained = []
        diffs = []
        for r in range(args.reps):
            for name in runs:
                if name == "populate":
                    shutil.rmtree(cache, ignore_errors=True)
                if name == "retrain":
                    new = lake / f"day={day_of(-(-args.files // FILES_PER_DAY))}" / f"part-{r}.parquet"
                    write_file(new, args.rows, beta, rng)
                seconds, out = timed(full_cfg if name == "full" else cached_cfg)
                m = out.metrics
                times[name].append(seconds)
                passes[name].append(m["data_pass_seconds"])
                accounts[name].append((m["files"], m["files_scanned"], m["files_from_cache"]))
                if name == "full" and retrained:  # the previous retrain's files, rescanned
                    diffs.append(relative_difference(retrained.pop().estimator, out.estimator))
                if name == "retrain":
                    assert m["files_scanned"] == 1, m
                    retrained.append(out)
        _, out = timed(full_cfg)
        diffs.append(relative_difference(retrained.pop().estimator, out.estimator))
        client.close()
        cluster.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["retrain"] / med["full"]
    cmd = "python benchmarks/bench_retrain.py" + (
        " --quick"
        if args.quick
        else f" --files {args.files} --rows {args.rows} --features {args.features} "
        f"--workers {args.workers} --reps {args.reps}"
    )
    lines = [
        f"Command: `{cmd}`",
        "",
        f"Lake: {args.files} files x {args.rows:,} rows x {args.features} float64 features + target "
        f"({size / 2**30:.2f} GiB, snappy, 64Ki-row row groups, 10 day partitions); lasso, 5 folds x 100 alphas; "
        f"LocalCluster {args.workers} workers x 1 thread on 127.0.0.1; `run_fit` end to end (listing, data pass, "
        f"CV path, refit, report, registry write), {args.reps} interleaved repetitions after one warm-up, "
        "page cache warm.  Each repetition adds one new file before its retrain, so the lake grows by one file "
        "per repetition.",
        "",
        "| run | files in lake | files_scanned | files_from_cache | median s | all runs s | median data pass s "
        "| ratio to full |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for k in runs:
        acc = accounts[k]
        col = [", ".join(str(a[i]) for a in acc) if len({a[i] for a in acc}) > 1 else str(acc[0][i]) for i in range(3)]
        lines.append(
            f"| {k} | {col[0]} | {col[1]} | {col[2]} | {med[k]:.2f} | {', '.join(f'{x:.2f}' for x in times[k])} | "
            f"{statistics.median(passes[k]):.2f} | {med[k] / med['full']:.3f} |"
        )
    worst = max(diffs)
    lines += [
        "",
        f"retrain / full = **{ratio:.3f}** (1/{1 / ratio:.1f}; target <= 1/5: {'PASS' if ratio <= 0.2 else 'FAIL'}).",
        f"Each retrain vs a no-cache full refit on the same files: largest relative difference in coef, "
        f"intercept, alpha and CV MSE path = {worst:.1e} (target <= 1e-10: {'PASS' if worst <= 1e-10 else 'FAIL'}).",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section(
            "bench_retrain",
            "Scheduled retrain after one new file vs a full refit (issue 5)",
            machine_facts() + "\n\n" + text,
        )


if __name__ == "__main__":
    main()
