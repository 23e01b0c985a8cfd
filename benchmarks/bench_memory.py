"""Worker memory during `dreg fit`: bounded by a row group plus statistics, not by the lake.

Writes Parquet lakes of ``--features`` float64 features + target.  Each fit
(``--reps`` per lake) gets a fresh LocalCluster (``--workers`` x 1 thread,
127.0.0.1) whose workers are warmed up by a fit on a tiny lake (imports,
compiled kernels); then ``dreg.job.pipeline.run_fit`` (5 folds x 100 alphas,
statistics cache off) runs while a thread samples the resident set size
(``psutil``) of every worker process every 50 ms.  Reported: the largest
increase of any worker's RSS over its value just before the fit, the largest
over the repetitions.

Lakes (``N = --rows``, row groups of ``--row-group`` rows unless said):

* ``4 files``:   N rows in 4 files (each file several row groups);
* ``16 files``, ``64 files``: the same N rows in 16 and 64 files;
* ``8 files (2N)``: twice the rows, files of the same size as ``4 files``;
* ``4 files, small row groups``: as ``4 files`` with row groups 4x smaller.

If a worker held a file, its peak would grow with the file (``4 files`` >>
``64 files``); if anything accumulated, with the lake (``8 files (2N)`` >>
``4 files``).  Results go to the ``bench_memory`` section of
``benchmarks/RESULTS.md``.

    python benchmarks/bench_memory.py            # N = 1,000,000 x 20 features, 64Ki-row row groups
    python benchmarks/bench_memory.py --quick    # N = 200,000
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import machine_facts, write_section  # noqa: E402

MiB = 2**20


def write_lake(root: Path, rows: int, p: int, files: int, row_group: int, seed: int = 0) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    beta = rng.standard_normal(p) * (rng.random(p) < 0.5)
    per = rows // files
    for i in range(files):
        X = rng.standard_normal((per, p))
        y = X @ beta + rng.standard_normal(per)
        d = root / f"part={i:03d}"
        d.mkdir(parents=True, exist_ok=True)
        table = pa.table({**{f"x{j:03d}": X[:, j] for j in range(p)}, "y": y})
        pq.write_table(table, d / "data.parquet", row_group_size=row_group, compression="snappy")


class RssSampler:
    """Samples the RSS of ``pids`` every ``interval`` seconds in a thread; keeps each one's maximum."""

    def __init__(self, pids: list[int], interval: float = 0.05) -> None:
        import psutil

        self.procs = [psutil.Process(pid) for pid in pids]
        self.interval = interval
        self.peak = {p.pid: 0 for p in self.procs}
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss(self) -> dict[int, int]:
        return {p.pid: p.memory_info().rss for p in self.procs}

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid, v in self.rss().items():
                self.peak[pid] = max(self.peak[pid], v)
            self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def measure(lake: Path, warm_lake: Path, p: int, workers: int, registry: Path) -> dict[str, float]:
    """Peak RSS increase (MiB) of the workers of a fresh cluster during one fit of ``lake``."""
    import gc

    from distributed import Client, LocalCluster

    from dreg.job.config import parse_config
    from dreg.job.pipeline import run_fit

    def cfg(path: Path, name: str):
        return parse_config(
            {
                "data": {"path": str(path), "target": "y", "features": [f"x{j:03d}" for j in range(p)]},
                "model": {"penalty": "lasso", "cv": 5, "alphas": 100},
                "cluster": {"address": cluster.scheduler_address},
                "output": {"registry": str(registry), "name": name, "promotion": {"enabled": False}},
                "cache": {"enabled": False},
            }
        )

    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        run_fit(cfg(warm_lake, "warm"), log=lambda m: None, tty=False)
        client.run(gc.collect)
        time.sleep(0.5)
        pids = sorted(client.run(os.getpid).values())
        sampler = RssSampler(pids)
        before = sampler.rss()
        t = time.perf_counter()
        with sampler:
            out = run_fit(cfg(lake, "m"), log=lambda m: None, tty=False)
        seconds = time.perf_counter() - t
    increase = max(sampler.peak[pid] - before[pid] for pid in pids)
    return {
        "baseline": max(before.values()) / MiB,
        "peak": max(sampler.peak.values()) / MiB,
        "increase": increase / MiB,
        "seconds": seconds,
        "samples": sampler.samples,
        "rows": out.metrics["rows"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000, help="N: rows of the base lake")
    ap.add_argument("--features", type=int, default=20)
    ap.add_argument("--row-group", type=int, default=64 * 1024)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--reps", type=int, default=2, help="fits per lake, each on a fresh cluster; the largest peak counts"
    )
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-write", action="store_true", help="print, do not update RESULTS.md")
    args = ap.parse_args()
    if args.quick:
        args.rows = 200_000
    n, p, rg = args.rows, args.features, args.row_group
    lakes = [
        ("4 files", n, 4, rg),
        ("16 files", n, 16, rg),
        ("64 files", n, 64, rg),
        ("8 files (2N)", 2 * n, 8, rg),
        ("4 files, small row groups", n, 4, rg // 4),
    ]
    tmp = Path(tempfile.mkdtemp(prefix="dreg-bench-memory-"))
    try:
        warm = tmp / "warm"
        write_lake(warm, 2000, p, 2, rg)
        results = []
        for label, rows, files, group in lakes:
            lake = tmp / label.replace(" ", "_").replace(",", "").replace("(", "").replace(")", "")
            write_lake(lake, rows, p, files, group)
            runs = [measure(lake, warm, p, args.workers, tmp / "registry") for _ in range(args.reps)]
            shutil.rmtree(lake)
            r = max(runs, key=lambda x: x["increase"])
            r["all"] = [x["increase"] for x in runs]
            per_file = rows // files
            r.update(
                label=label,
                files=files,
                total_rows=rows,
                file_mib=per_file * (p + 1) * 8 / MiB,
                group_rows=min(group, per_file),
                group_mib=min(group, per_file) * (p + 1) * 8 / MiB,
                lake_mib=rows * (p + 1) * 8 / MiB,
            )
            print(
                f"{label}: peak +{r['increase']:.1f} MiB over {r['baseline']:.0f} MiB "
                f"({r['samples']} samples, {r['seconds']:.1f}s)",
                flush=True,
            )
            results.append(r)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    stats_kib = 5 * p * p * 8 / 1024
    cmd = "python benchmarks/bench_memory.py" + (
        " --quick"
        if args.quick
        else f" --rows {n} --features {p} --row-group {rg} --workers {args.workers} --reps {args.reps}"
    )
    lines = [
        f"Command: `{cmd}`",
        "",
        f"Float64 features + target ({p} + 1 columns, snappy Parquet); for each lake a fresh LocalCluster "
        f"({args.workers} workers x 1 thread, 127.0.0.1) per run, warmed up by a fit on a tiny lake; then `run_fit` "
        "(lasso, 5 folds x 100 alphas, statistics cache off) while `psutil` samples every worker's RSS every "
        "50 ms. *Peak increase*: the largest rise of one worker's RSS above its value just before the fit "
        f"(largest of {args.reps} runs). "
        "Sizes are as float64 in memory (rows x columns x 8 bytes).",
        "",
        "| lake | files | rows | lake MiB | file MiB | row group (rows / MiB) | worker RSS before MiB "
        "| peak increase MiB (all runs) | peak / row group | fit s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['label']} | {r['files']} | {r['total_rows']:,} | {r['lake_mib']:.0f} | {r['file_mib']:.1f} | "
            f"{r['group_rows']:,} / {r['group_mib']:.1f} | {r['baseline']:.0f} | **{r['increase']:.1f}** "
            f"({', '.join(f'{x:.1f}' for x in r['all'])}) | {r['increase'] / r['group_mib']:.1f} | "
            f"{r['seconds']:.1f} |"
        )
    by = {r["label"]: r for r in results}
    lines += [
        "",
        f"Per-file statistics: 5 folds x {p}^2 Gram entries = {stats_kib:.0f} KiB, plus means and counts.",
        f"Twice the lake with the same files: {by['8 files (2N)']['increase']:.1f} vs "
        f"{by['4 files']['increase']:.1f} MiB. Same rows in 4 / 16 / 64 files: "
        f"{by['4 files']['increase']:.1f} / {by['16 files']['increase']:.1f} / {by['64 files']['increase']:.1f} MiB "
        f"(a file of the 4-file lake is {by['4 files']['file_mib']:.0f} MiB). "
        f"Row groups 4x smaller in the same 4 files: {by['4 files, small row groups']['increase']:.1f} MiB.",
        "",
        "A worker holds one row group at a time: its column chunks as read from the file, the decoded Arrow "
        "columns, the float64 copy gathered in fold order (computed on in place), and the file's statistics; "
        "*peak / row group* is that multiple of the row group's float64 size, allocator slack included. "
        "Files of several row groups peak higher than files of one row group of similar size: Arrow's own "
        "allocations while reading them are larger (in one process, `pyarrow` pool maximum about 3.2x vs 2x "
        "the row group).",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section(
            "bench_memory",
            "Worker memory during `dreg fit`: a row group, not a file or the lake (issue 4)",
            machine_facts() + "\n\n" + text,
        )


if __name__ == "__main__":
    main()
