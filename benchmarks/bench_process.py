"""`dreg fit` as a user runs it: whole processes from the shell, against a bare Dask script.

The in-process benchmarks (``bench_lake.py`` ...) start the cluster before the
clock starts; this one times whole processes, start-up and exit included
(issue 14): interpreter start, imports, configuration, the embedded
LocalCluster (2 workers x 1 thread, dashboard on), the data pass, the fit,
the report, the registry write and the exit.

The bare script is what a Dask user would write: ``LocalCluster(n_workers=2,
threads_per_worker=1)`` with its dashboard, then
``dd.read_parquet(lake).sum().compute()``.  Three comparisons, each pair run
interleaved in one run (order reversed every other repetition), medians of
``--reps``, the 1-minute load average printed before each run:

* (a) small: `dreg fit` on a 2,000 x 10 lake (2 files, cache off) vs the bare script on it; target <= 1.5;
* (b) 1M x 100 (16 files), cache off: `dreg fit` vs the bare script on the lake; target <= 1.3;
* (c) 1M x 100 served fully from the statistics cache (filled by one fit before timing) vs the same bare
  scan; target <= 1.0.

Lakes are written by ``_lakes.py`` under ``--data-dir`` (reused when present).
Results go to the ``bench_process`` section of ``benchmarks/RESULTS.md``.

    python benchmarks/bench_process.py              # 5 repetitions
    python benchmarks/bench_process.py --reps 3
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _lakes  # noqa: E402
from _results import machine_facts, write_section  # noqa: E402

SMALL = (_lakes.LakeSpec(p=10, rows_per_file=1_000, row_group=1_000), 2_000)
LARGE = (_lakes.LakeSpec(p=100, rows_per_file=62_500), 1_000_000)
TARGETS = {"a": 1.5, "b": 1.3, "c": 1.0}

BARE = '''"""The bare Dask scan: a LocalCluster as dreg's, then one sum over the lake."""
import sys

import dask.dataframe as dd
from distributed import Client, LocalCluster

if __name__ == "__main__":
    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address="127.0.0.1:0") as c:
        with Client(c):
            dd.read_parquet(sys.argv[1]).sum().compute()
'''


def fit_config(lake: Path, registry: Path, name: str, cache: bool) -> dict:
    """dreg's defaults (lasso, 5 folds, 100 alphas), the cluster the bare script starts, promotion off."""
    return {
        "data": {"path": str(lake), "target": "y"},
        "model": {"penalty": "lasso", "cv": 5, "alphas": 100},
        "cluster": {"n_workers": 2, "threads_per_worker": 1, "dashboard_address": "127.0.0.1:0"},
        "output": {"registry": str(registry), "name": name, "promotion": {"enabled": False}},
        "cache": {"enabled": cache},
    }


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{shlex.join(cmd)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--data-dir", default=_lakes.DEFAULT_DATA_DIR)
    ap.add_argument("--no-write", action="store_true", help="print, do not update RESULTS.md")
    args = ap.parse_args(argv)

    data = Path(args.data_dir)
    small = _lakes.ensure_lake(data, *SMALL)
    large = _lakes.ensure_lake(data, *LARGE)
    dreg = str(Path(sys.executable).with_name("dreg"))
    work = Path(tempfile.mkdtemp(prefix="dreg-bench-process-"))
    bare = work / "bare_scan.py"
    bare.write_text(BARE)
    configs = {}
    for key, lake, cache in (("small", small, False), ("large", large, False), ("cached", large, True)):
        path = work / f"{key}.yaml"
        path.write_text(yaml.safe_dump(fit_config(lake, work / "registry", key, cache)))
        configs[key] = path
    commands = {
        "dreg-small": [dreg, "fit", "--config", str(configs["small"])],
        "bare-small": [sys.executable, str(bare), str(small)],
        "dreg-large": [dreg, "fit", "--config", str(configs["large"])],
        "dreg-cached": [dreg, "fit", "--config", str(configs["cached"])],
        "bare-large": [sys.executable, str(bare), str(large)],
    }
    print(f"filling the statistics cache and warming up: {shlex.join(commands['dreg-cached'])}", flush=True)
    timed(commands["dreg-cached"])  # fills the cache, and numba's cache if it was cold
    timed(commands["dreg-small"])
    timed(commands["bare-small"])

    times: dict[str, list[float]] = {k: [] for k in commands}
    loads: list[float] = []
    order = list(commands)
    for rep in range(args.reps):
        for key in order if rep % 2 == 0 else order[::-1]:
            load = _lakes.loadavg()
            loads.append(load)
            times[key].append(timed(commands[key]))
            print(f"rep {rep + 1}/{args.reps}  load {load:4.2f}  {key:<12} {times[key][-1]:6.2f} s", flush=True)

    med = {k: statistics.median(v) for k, v in times.items()}
    pairs = {
        "a": ("dreg-small", "bare-small", "small lake, 2,000 x 10 (2 files), cache off"),
        "b": ("dreg-large", "bare-large", "1M x 100 (16 files), first fit, cache off"),
        "c": ("dreg-cached", "bare-large", "1M x 100 (16 files), fit served fully from the cache"),
    }
    rows = []
    for item, (fit, scan, what) in pairs.items():
        ratio = med[fit] / med[scan]
        ok = "pass" if ratio <= TARGETS[item] else f"**fail** (by {ratio / TARGETS[item] - 1:.0%})"
        rows.append(
            f"| ({item}) {what} | {med[fit]:.2f} | {med[scan]:.2f} | **{ratio:.2f}** | <= {TARGETS[item]} | {ok} |"
        )
    all_runs = ", ".join(f"{k}: " + " ".join(f"{t:.2f}" for t in v) for k, v in times.items())
    body = "\n".join(
        [
            "Whole processes from the shell (start-up and exit included), each `dreg fit` against the bare script "
            "(`LocalCluster(n_workers=2, threads_per_worker=1)`, dashboard on, then "
            "`dd.read_parquet(lake).sum().compute()`), interleaved, order reversed every other repetition, "
            f"medians of {args.reps}.",
            "",
            f"    python benchmarks/bench_process.py --reps {args.reps}",
            "",
            machine_facts(),
            f"1-minute load average during the runs: median {statistics.median(loads):.2f}, max {max(loads):.2f}; "
            f"{_lakes.git_state(Path(__file__).resolve().parents[1])}.",
            "",
            "| comparison | dreg fit (s) | bare scan (s) | ratio | target | |",
            "|---|---:|---:|---:|---:|---|",
            *rows,
            "",
            f"All runs (s): {all_runs}.",
        ]
    )
    print(body)
    if not args.no_write:
        write_section(
            "bench_process", "Whole processes: `dreg fit` from the shell vs a bare Dask scan (issue 14)", body
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
