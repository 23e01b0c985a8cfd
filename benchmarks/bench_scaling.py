"""`dreg fit` with 1 and 2 Dask workers, split into scan, reduction and coordinator (issue 6).

One lake (default 4,000,000 rows x 100 float64 features, the ``_lakes.py``
lake: 16 files of 250,000 rows, 64Ki-row row groups), one LocalCluster per
worker count (``--workers 1 2``: processes, 1 thread each, 127.0.0.1), both
started before the clock.  Each repetition runs ``dreg.job.pipeline.run_fit``
(lasso, 5 folds x 100 alphas, statistics cache off) once on every cluster, in
an order reversed every other repetition, with ``gc.collect()`` before each,
while ``distributed.get_task_stream`` records every task of the fit.  From the
task stream (worker clocks; same host) and the wall clock around ``run_fit``:

* **setup**: ``run_fit`` start -> the first ``dreg-read-stats`` task starts
  (listing the lake, connecting a client, building and submitting the graph);
* **scan**: the ``dreg-read-stats-*`` tasks (one per file: read the columns a
  row group at a time, per-fold statistics).  ``S`` = the sum of their compute
  times (worker-seconds), ``s_file`` = the median per file;
* **reduction**: the ``dreg-merge-*`` tree (fan-in 8, ``ceil(log_8 F)``
  levels for ``F`` files).  ``R`` = time from the end of the last scan task to
  the end of the root merge (the part of the tree that does not overlap the
  scan), with the merge tasks' own compute and transfer times reported too;
* **coordinator**: the root merge's end -> ``run_fit`` returns (the result
  to the client, the CV paths and refit from the statistics, the report, the
  registry write) = "wall time after the graph finishes"; timing wrappers
  around ``LassoCV.fit_stats`` and ``dreg.job.report.render_report`` split it into
  CV + refit, HTML report and the rest.

Time model, to extrapolate to bigger clusters and lakes (``w`` workers, ``F``
files of the same size)::

    T(w, F) ~= setup + F * s_file / w + ceil(log_8 F) * r_level + C

with ``r_level = R / ceil(log_8 F)`` and ``C`` the coordinator time (independent
of ``n``; it grows with p, folds, alphas, l1_ratios).  The report gives the
parameters measured at each worker count and the model's prediction for every
worker count from the 1-worker parameters, next to the measured medians.
Results go to the ``bench_scaling`` section of ``benchmarks/RESULTS.md``.

    python benchmarks/bench_scaling.py                       # n = 4M, workers 1 and 2, reps 3
    python benchmarks/bench_scaling.py --quick --no-write    # n = 200k in 8 files, 1 rep
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _lakes  # noqa: E402
from _results import machine_facts, quick_defaults, write_section  # noqa: E402

SECTION = "bench_scaling"
FANIN = 8  # dreg._dask.TREE_FANIN


def phases(records: list[dict], t_start: float, t_end: float) -> dict:
    """Phase times of one fit from its task-stream records and wall-clock bounds (epoch seconds)."""

    def computes(rec):
        return [(s["start"], s["stop"]) for s in rec["startstops"] if s.get("action") == "compute"]

    def transfers(rec):
        return [s["stop"] - s["start"] for s in rec["startstops"] if s.get("action") == "transfer"]

    reads = [r for r in records if str(r["key"]).startswith("dreg-read-stats-")]
    merges = [r for r in records if str(r["key"]).startswith("dreg-merge-")]
    if not reads:
        raise RuntimeError("no dreg-read-stats task in the task stream")
    read_spans = [c for r in reads for c in computes(r)]
    merge_spans = [c for r in merges for c in computes(r)]
    first_read = min(a for a, _ in read_spans)
    last_read = max(b for _, b in read_spans)
    root_end = max([b for _, b in merge_spans] or [last_read])
    read_times = [b - a for a, b in read_spans]
    return {
        "wall": t_end - t_start,
        "setup": first_read - t_start,
        "scan_wall": last_read - first_read,
        "scan_total": float(sum(read_times)),
        "s_file": float(np.median(read_times)),
        "files": len(reads),
        "merge_tasks": len(merges),
        "merge_compute_total": float(sum(b - a for a, b in merge_spans)),
        "merge_transfer_total": float(sum(t for r in merges for t in transfers(r))),
        "reduction": root_end - last_read,
        "coordinator": t_end - root_end,
    }


def instrument() -> dict[str, list[float]]:
    """Timing wrappers (no change of behaviour) around the coordinator's two big steps.

    ``run_fit`` imports ``render_report`` from ``dreg.job.report`` and builds the
    estimator from ``dreg.estimators`` at call time, so wrapping the module
    attribute and ``LassoCV.fit_stats`` is seen by every later fit.
    """
    import functools

    import dreg.estimators
    import dreg.job.report

    timers: dict[str, list[float]] = {"cv": [], "report": []}

    def wrap(owner, name: str, key: str) -> None:
        orig = getattr(owner, name)

        @functools.wraps(orig)
        def timed(*a, **k):
            t = time.perf_counter()
            try:
                return orig(*a, **k)
            finally:
                timers[key].append(time.perf_counter() - t)

        setattr(owner, name, timed)

    wrap(dreg.job.report, "render_report", "report")
    wrap(dreg.estimators.LassoCV, "fit_stats", "cv")
    return timers


def depth(files: int) -> int:
    return max(1, math.ceil(math.log(files, FANIN))) if files > 1 else 0


def predict(par: dict, w: int, files: int) -> float:
    return par["setup"] + files * par["s_file"] / w + depth(files) * par["r_level"] + par["coordinator"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=4_000_000)
    ap.add_argument("--p", type=int, default=100)
    ap.add_argument("--rows-per-file", type=int, default=250_000)
    ap.add_argument("--row-group", type=int, default=65_536)
    ap.add_argument("--data-dir", default=_lakes.DEFAULT_DATA_DIR)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="n = 200k in 25k-row files (8 files), 1 rep")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--json", default=None)
    ap.add_argument("--section", default=SECTION)
    argv = sys.argv[1:] if argv is None else argv
    args = ap.parse_args(argv)
    if args.quick:
        quick_defaults(args, argv, n=200_000, rows_per_file=25_000, row_group=8_192, reps=1)
    command = "python benchmarks/bench_scaling.py" + (" " + shlex.join(argv) if argv else "")

    from distributed import Client, LocalCluster, get_task_stream

    from dreg.job.pipeline import run_fit

    spec = _lakes.LakeSpec(p=args.p, rows_per_file=args.rows_per_file, row_group=args.row_group)
    lake = _lakes.ensure_lake(Path(args.data_dir), spec, args.n)
    files = spec.files_for(args.n)
    tmp = Path(tempfile.mkdtemp(prefix="dreg-bench-scaling-"))
    clusters, clients, cfgs = {}, {}, {}
    loads: list[float] = []
    runs: dict[int, list[dict]] = {w: [] for w in args.workers}
    timers = instrument()
    try:
        for w in args.workers:
            clusters[w] = LocalCluster(
                n_workers=w, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
            )
            clients[w] = Client(clusters[w], set_as_default=False)
            cfgs[w] = _lakes.fit_config(
                lake,
                spec.features(),
                tmp / "registry",
                f"scaling-w{w}",
                {"penalty": "lasso", "cv": 5, "alphas": 100},
                {"address": clusters[w].scheduler_address},
            )
            t = time.perf_counter()
            run_fit(cfgs[w], log=lambda m: None, tty=False)  # warm-up: imports, compiled kernels, page cache
            print(f"warm-up w={w}: {time.perf_counter() - t:.2f} s", flush=True)
        for r in range(args.reps):
            for w in args.workers if r % 2 == 0 else args.workers[::-1]:
                gc.collect()
                loads.append(_lakes.loadavg())
                for v in timers.values():
                    v.clear()
                with get_task_stream(client=clients[w]) as ts:
                    t0 = time.time()
                    out = run_fit(cfgs[w], log=lambda m: None, tty=False)
                    t1 = time.time()
                ph = phases(ts.data, t0, t1)
                ph["data_pass_seconds"] = float(out.metrics["data_pass_seconds"])
                ph["coord_cv"] = float(sum(timers["cv"]))
                ph["coord_report"] = float(sum(timers["report"]))
                ph["coord_rest"] = ph["coordinator"] - ph["coord_cv"] - ph["coord_report"]
                runs[w].append(ph)
                print(
                    f"  rep {r + 1}/{args.reps} w={w}: wall {ph['wall']:.2f} s = setup {ph['setup']:.2f} + scan "
                    f"{ph['scan_wall']:.2f} (S = {ph['scan_total']:.2f} worker-s) + reduction {ph['reduction']:.2f} "
                    f"+ coordinator {ph['coordinator']:.2f}",
                    flush=True,
                )
    finally:
        for w in list(clients):
            clients[w].close()
            clusters[w].close()
        shutil.rmtree(tmp, ignore_errors=True)

    keys = [
        "wall",
        "setup",
        "scan_wall",
        "scan_total",
        "s_file",
        "reduction",
        "merge_compute_total",
        "merge_transfer_total",
        "coordinator",
        "coord_cv",
        "coord_report",
        "coord_rest",
        "data_pass_seconds",
    ]
    med = {w: {k: float(np.median([x[k] for x in runs[w]])) for k in keys} for w in args.workers}
    d = depth(files)
    for w in args.workers:
        med[w]["r_level"] = med[w]["reduction"] / d if d else 0.0
    base_w = min(args.workers)
    par = med[base_w]

    lines = [
        machine_facts(),
        "",
        f"Command: `{command}`",
        "",
        f"Lake: {args.n:,} rows x {args.p} float64 features + y in {files} files of {args.rows_per_file:,} rows "
        f"({args.row_group:,}-row row groups; `_lakes.py`). `run_fit` = `dreg fit` (lasso, 5 folds x 100 alphas, "
        "cache off) on a LocalCluster of w workers x 1 thread (processes, 127.0.0.1) per w, started and warmed "
        f"up before the clock; {args.reps} repetitions, worker counts interleaved; medians. Phases from "
        "`distributed.get_task_stream`: setup = start -> first `dreg-read-stats` task; scan = the "
        "`dreg-read-stats-*` tasks (S = sum of their compute times, s_file = median per file); reduction = last "
        "scan task's end -> root `dreg-merge` end; coordinator = root merge end -> `run_fit` returns (result to "
        f"the client, CV paths and refit, report, registry write). {os.cpu_count()} cores: with 2 workers the "
        "scan can at best halve.",
        "",
        "| phase (median s) | " + " | ".join(f"w = {w}" for w in args.workers) + " |",
        "|---|" + "---:|" * len(args.workers),
    ]
    labels = [
        ("wall", "**wall (measured)**"),
        ("setup", "setup (listing, client, graph submission)"),
        ("scan_wall", "scan, wall"),
        ("scan_total", "scan total S (worker-seconds)"),
        ("s_file", "s_file: one file's scan task"),
        ("reduction", "reduction R (tail after the last scan task)"),
        ("merge_compute_total", "merge tasks' compute, sum"),
        ("merge_transfer_total", "merge tasks' transfers, sum"),
        ("coordinator", "coordinator C (after the graph)"),
        ("coord_cv", "- of which CV paths + refit (`fit_stats`)"),
        ("coord_report", "- of which the HTML report (`render_report`)"),
        ("coord_rest", "- of which the rest (result to the client, metadata, registry write)"),
        ("data_pass_seconds", "run_fit's own data_pass_seconds (cross-check)"),
    ]
    for k, label in labels:
        lines.append(f"| {label} | " + " | ".join(f"{med[w][k]:.3f}" for w in args.workers) + " |")
    lines += [
        "",
        "Time model (w workers, F files like these, fan-in 8):",
        "",
        "    T(w, F) ~= setup + F * s_file / w + ceil(log_8 F) * r_level + C",
        "",
        f"with, measured at w = {base_w}: setup = {par['setup']:.3f} s, s_file = {par['s_file']:.3f} s "
        f"(per {args.rows_per_file:,}-row file of {args.p} features), r_level = R / ceil(log_8 {files}) = "
        f"{par['reduction']:.3f} / {d} = {par['r_level']:.3f} s, C = {par['coordinator']:.3f} s.",
        "",
        "| w | predicted from w = " + str(base_w) + " parameters (s) | measured (s) | predicted / measured | "
        "predicted from this w's own parameters (s) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for w in args.workers:
        p1 = predict(par, w, files)
        own = predict(med[w], w, files)
        lines.append(f"| {w} | {p1:.2f} | {med[w]['wall']:.2f} | {p1 / med[w]['wall']:.2f} | {own:.2f} |")
    slow = ", ".join(f"w = {w}: {med[w]['s_file'] / par['s_file']:.2f}" for w in args.workers if w != base_w)
    if slow:
        lines += [
            "",
            f"One file's scan task at w workers over w = {base_w}: {slow}. Above 1, the workers slow each other "
            "down (shared cores, memory bandwidth or page cache of one machine); the model's `F * s_file / w` "
            "assumes workers on separate machines, so on one machine the scan gains less than w.",
        ]
    lines += [
        "",
        "Extrapolation (same model and w = 1 parameters, F files of the same size; the scan term assumes w "
        "independent machines, each with its own cores and disk bandwidth): "
        + "; ".join(
            f"w = {w2}, F = {f2:,}: {predict(par, w2, f2):.0f} s"
            for w2, f2 in ((8, files * 8), (32, files * 32), (64, 4000), (256, 4000))
        )
        + ". The coordinator term does not shrink with workers: once the scan is spread thin it dominates.",
        "",
        "Per repetition (w: wall = setup + scan wall + reduction + coordinator): "
        + "; ".join(
            f"w={w}: "
            + ", ".join(
                f"{x['wall']:.2f} = {x['setup']:.2f} + {x['scan_wall']:.2f} + {x['reduction']:.2f} + {x['coordinator']:.2f}"
                for x in runs[w]
            )
            for w in args.workers
        )
        + ".",
        f"1-minute load average before the fits: {', '.join(f'{v:.2f}' for v in loads)}.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "section": args.section,
                    "command": command,
                    "files": files,
                    "medians": {str(w): med[w] for w in args.workers},
                    "predicted": {str(w): predict(par, w, files) for w in args.workers},
                },
                indent=1,
            )
        )
    if not args.no_write:
        write_section(args.section, "Scaling with workers and a time model of `dreg fit` (issue 6)", text)
        print(f"wrote the {args.section} section of benchmarks/RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
