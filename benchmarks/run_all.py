"""Every issue-6 comparison in one run: generate the lakes, run each benchmark, summarise.

    python benchmarks/run_all.py                 # the full run (hours on 2 cores; see benchmarks/README.md)
    python benchmarks/run_all.py --quick         # smoke run at tiny sizes (a few minutes; writes nothing)

Steps, each a subprocess of this interpreter that writes its own section of
``benchmarks/RESULTS.md`` (unless ``--no-write``) and a JSON summary that this
script collects:

0. ``data``:        the Parquet lakes (``_lakes.py``) under ``--data-dir``,
                    reused when their manifest matches;
1. ``sklearn``:     ``bench_lake_sklearn.py``: `dreg fit` on the lake vs
                    scikit-learn reading the lake with pyarrow + LassoCV /
                    ElasticNetCV (0.2, 0.5, 0.9) / GridSearchCV(Ridge), same rows,
                    folds and grid, n = ``--sizes``;
2. ``compare``:     ``bench_compare.py``: glum (CV and single fit) and dask-ml
                    ADMM (single fit at dreg's alpha, objective converted);
3. ``scan``:        ``bench_lake.py --lake``: dreg fit / bare Dask scan and /
                    the minimal X^T X pass, on the same lakes as step 1;
4. ``memory``:      ``bench_memory_n.py``: peak RSS (client + workers) of
                    `dreg fit` at n and 8n rows, target ratio <= 1.3;
5. ``coordinator``: ``bench_coordinator.py``: the CV path from statistics vs
                    scikit-learn's precomputed-Gram enet_path (p = 500, 2000);
6. ``scaling``:     ``bench_scaling.py``: 1 and 2 workers, phases from the
                    task stream and the time model.

Finally the ``run_all`` section of ``RESULTS.md`` gets the machine, the
versions, this exact command, and one table with every headline ratio and
its PASS/FAIL.  Each step's summary is also kept in
``benchmarks/results/<step>.json`` (with its command, date and dreg commit), so
a partial run (``--only scan``) rebuilds the table with the other steps'
latest recorded figures, each marked with the run it comes from.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _lakes  # noqa: E402
from _results import machine_facts, write_section  # noqa: E402

PARTS = ["sklearn", "compare", "scan", "memory", "coordinator", "scaling"]
SECTION = "run_all"
# each step's latest JSON summary (written unless --no-write), for the summary table
STEPS_DIR = HERE / "results"


def _git_commit() -> str:
    """The measured revision: HEAD, plus "+dirty" when ``dreg/`` differs from it
    (benchmark output files written during the run do not count)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "dreg"], cwd=HERE.parent, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        return (head or "?") + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "?"


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--quick", action="store_true", help="tiny sizes, 1 repetition, implies --no-write (unless --write)"
    )
    ap.add_argument("--reps", type=int, default=None, help="repetitions of every timing (default 3; --quick: 1)")
    ap.add_argument("--sizes", type=int, nargs="+", default=None, help="lake rows for steps 1 and 3 (default 1M 4M)")
    ap.add_argument(
        "--memory-sizes", type=int, nargs=2, default=None, metavar=("N", "BIG_N"), help="step 4 (default 1M 8M)"
    )
    ap.add_argument("--scaling-n", type=int, default=None, help="lake rows for step 6 (default the largest --sizes)")
    ap.add_argument("--p", type=int, default=100, help="features of the lakes (default 100)")
    ap.add_argument("--rows-per-file", type=int, default=None, help="default 250,000 (--quick: 25,000)")
    ap.add_argument("--row-group", type=int, default=None, help="default 65,536 (--quick: 8,192)")
    ap.add_argument("--data-dir", default=_lakes.DEFAULT_DATA_DIR, help=f"lakes (default {_lakes.DEFAULT_DATA_DIR})")
    ap.add_argument("--only", nargs="+", choices=PARTS, default=PARTS, help="steps to run (default all)")
    ap.add_argument("--skip", nargs="+", choices=PARTS, default=[], help="steps to leave out")
    ap.add_argument(
        "--compare-args", default=None, help='extra arguments for bench_compare.py, e.g. "--n 200000 --p 50"'
    )
    ap.add_argument(
        "--coordinator-args",
        default=None,
        help="extra arguments for bench_coordinator.py (default: none = its full size, p = 500 and 2000, "
        '10 folds x 100 alphas; to reduce: "--reps-large 1 --folds-large 5 --alphas-large 50")',
    )
    ap.add_argument(
        "--sklearn-args", default=None, help='extra arguments for bench_lake_sklearn.py, e.g. "--tight all"'
    )
    ap.add_argument(
        "--blas-threads",
        type=int,
        default=1,
        help="OPENBLAS/OMP/MKL_NUM_THREADS for every step (default 1, see benchmarks/README.md; 0 = library default)",
    )
    ap.add_argument("--no-write", action="store_true", help="print only; leave benchmarks/RESULTS.md alone")
    ap.add_argument("--write", action="store_true", help="with --quick: write RESULTS.md anyway")
    ap.add_argument("--stop-on-error", action="store_true", help="stop at the first failing step (default: go on)")
    args = ap.parse_args(argv)
    q = args.quick
    args.reps = args.reps or (1 if q else 3)
    args.sizes = args.sizes or ([100_000, 200_000] if q else [1_000_000, 4_000_000])
    args.memory_sizes = args.memory_sizes or ([100_000, 800_000] if q else [1_000_000, 8_000_000])
    args.scaling_n = args.scaling_n or max(args.sizes)
    args.rows_per_file = args.rows_per_file or (25_000 if q else 250_000)
    args.row_group = args.row_group or (8_192 if q else 65_536)
    if args.compare_args is None:
        args.compare_args = "--n 20000 --p 20" if q else ""
    if args.coordinator_args is None:
        args.coordinator_args = "--sizes 100 --folds 5 --alphas 20" if q else ""
    if args.sklearn_args is None:
        args.sklearn_args = ""
    if q and not args.write:
        args.no_write = True
    args.parts = [p for p in PARTS if p in args.only and p not in args.skip]
    return args


def lake_args(args) -> list[str]:
    return [
        "--p",
        str(args.p),
        "--rows-per-file",
        str(args.rows_per_file),
        "--row-group",
        str(args.row_group),
        "--data-dir",
        args.data_dir,
    ]


def commands(args, tmp: Path, spec: _lakes.LakeSpec) -> dict[str, list[str]]:
    py = [sys.executable]
    reps = ["--reps", str(args.reps)]
    out = {
        "sklearn": [
            *py,
            str(HERE / "bench_lake_sklearn.py"),
            "--sizes",
            *map(str, args.sizes),
            *lake_args(args),
            *reps,
            *shlex.split(args.sklearn_args),
        ],
        "compare": [*py, str(HERE / "bench_compare.py"), *reps, *shlex.split(args.compare_args)],
        "scan": [
            *py,
            str(HERE / "bench_lake.py"),
            "--lake",
            *[str(Path(args.data_dir) / f"lake-n{n}-{spec.tag}") for n in args.sizes],
            *reps,
        ],
        "memory": [
            *py,
            str(HERE / "bench_memory_n.py"),
            "--sizes",
            *map(str, args.memory_sizes),
            *lake_args(args),
            *reps,
        ],
        "coordinator": [*py, str(HERE / "bench_coordinator.py"), *reps, *shlex.split(args.coordinator_args)],
        "scaling": [*py, str(HERE / "bench_scaling.py"), "--n", str(args.scaling_n), *lake_args(args), *reps],
    }
    for part, cmd in out.items():
        cmd += ["--json", str(tmp / f"{part}.json")]
        if args.no_write:
            cmd.append("--no-write")
    return out


BLAS_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def step_env(args) -> dict[str, str]:
    env = dict(os.environ)
    if args.blas_threads > 0:
        env.update({v: str(args.blas_threads) for v in BLAS_VARS})
    return env


def display(cmd: list[str], args) -> str:
    """The command as a reader would type it from the repository root (without run_all's --json)."""
    parts = ["python", *(str(Path(c).relative_to(HERE.parent)) if c.startswith(str(HERE)) else c for c in cmd[1:])]
    if "--json" in parts:
        i = parts.index("--json")
        del parts[i : i + 2]
    text = shlex.join(parts)
    if args.blas_threads > 0:
        text = " ".join(f"{v}={args.blas_threads}" for v in BLAS_VARS) + " " + text
    return text


def headlines(part: str, data: dict | None) -> list[tuple[str, str, str]]:
    """(figure, value, verdict) rows for the summary table."""
    if data is None:
        return [("(no JSON summary: the step failed or did not run)", "—", "—")]
    rows: list[tuple[str, str, str]] = []
    pf = lambda ok: "**PASS**" if ok else "**FAIL**"  # noqa: E731
    if part == "sklearn":
        for s in data["sizes"]:
            n = s["n"]
            if not s["sklearn_run"]:
                rows.append((f"n={n:,}: scikit-learn", f"not run (needs > {s['available_gib']:.0f} GiB)", "—"))
            for key, sec in s["comparisons"].items():
                times = sec["times"]
                d = sorted(times["dreg fit (lake)"])[len(times["dreg fit (lake)"]) // 2]
                sk = [v for k, v in times.items() if k.startswith("sklearn")]
                if not sk:
                    rows.append((f"n={n:,} {key}: dreg fit", f"{d:.2f} s", "—"))
                    continue
                ratio = float(np.median(sk[0])) / float(np.median(times["dreg fit (lake)"]))
                target = {"lasso": 5.0, "enet": 10.0}.get(key)
                same = sec.get("same_alpha")
                extra = f"; same alpha_: {'yes' if same else 'NO'}"
                if "coef_diff_tight" in sec:
                    extra += f"; coef diff vs sklearn tol=1e-10 {sec['coef_diff_tight']:.1e}"
                elif "coef_diff" in sec:
                    extra += f"; coef diff {sec['coef_diff']:.1e}"
                verdict = pf(ratio >= target and bool(same)) + f" (>= {target:g}x, same alpha)" if target else "—"
                rows.append(
                    (f"n={n:,} {key}: sklearn (pyarrow read + fit) / dreg fit", f"{ratio:.1f}x{extra}", verdict)
                )
    elif part == "compare":
        cv = data["cv"]
        rows.append(
            (
                f"glum CV / dreg LassoCV (n={data['n']:,}, p={data['p']})",
                f"{cv['ratio']:.1f}x; same alpha_: {'yes' if cv['same_alpha'] else 'NO'}; coef diff {cv['coef_diff']:.1e}",
                "—",
            )
        )
        for r in data["single_fit"][1:]:
            rows.append(
                (
                    f"{r['name']} / dreg Lasso (single fit at dreg's alpha_)",
                    f"{r['ratio']:.2f}x; coef diff vs dreg {r['diff_vs_dreg']:.1e}",
                    "—",
                )
            )
        for r in data["dask"][1:]:
            rows.append(
                (
                    f"{r['name']} / dreg Lasso on the same Dask array",
                    f"{r['ratio']:.1f}x; {r['nonzero']} non-zeros; coef diff vs dreg (standardized) "
                    f"{r['diff_vs_dreg_std']:.1e}",
                    "—",
                )
            )
    elif part == "scan":
        for lk in data["lakes"]:
            rows.append(
                (
                    f"{lk['rows']:,} rows: dreg fit / bare Dask scan",
                    f"{lk['fit_over_scan_dd']:.2f}",
                    pf(lk["pass"]) + " (<= 1.3)",
                )
            )
            rows.append((f"{lk['rows']:,} rows: dreg fit / minimal X^T X pass", f"{lk['fit_over_gram']:.2f}", "—"))
    elif part == "memory":
        runs = data["runs"]
        (n1, r1), (n8, r8) = list(runs.items())
        a = float(np.median([x["peak_total_mib"] for x in r1]))
        b = float(np.median([x["peak_total_mib"] for x in r8]))
        rows.append(
            (
                f"peak RSS (client + workers) n={int(n8):,} / n={int(n1):,}",
                f"{data['ratio']:.2f} ({b:.0f} / {a:.0f} MiB)",
                pf(data["pass"]) + " (<= 1.3)",
            )
        )
    elif part == "coordinator":
        for s in data["sizes"]:
            rows.append(
                (
                    f"p={s['p']} ({s['folds']} folds x {s['alphas']} alphas x 3): sklearn enet_path (tol=1e-4) / dreg",
                    f"{s['ratio']:.2f} ({s['sklearn']:.2f} s / {s['dreg']:.2f} s)",
                    pf(s["pass"]) + " (dreg no slower)",
                )
            )
            if "sklearn_tight" in s:
                rows.append(
                    (
                        f"p={s['p']}: sklearn enet_path at dreg's accuracy (tol=1e-10) / dreg",
                        f"{s['ratio_tight']:.2f} ({s['sklearn_tight']:.2f} s / {s['dreg']:.2f} s; "
                        f"dreg 1 thread {s['dreg_1thread']:.2f} s)",
                        pf(s["pass_tight"]) + " (dreg no slower, same accuracy)",
                    )
                )
    elif part == "scaling":
        for w, m in data["medians"].items():
            pred = data["predicted"][w]
            rows.append(
                (
                    f"w={w}: measured (setup + scan + reduction + coordinator)",
                    f"{m['wall']:.2f} s = {m['setup']:.2f} + {m['scan_wall']:.2f} + {m['reduction']:.2f} + "
                    f"{m['coordinator']:.2f}; model {pred:.2f} s",
                    "—",
                )
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    command = "python benchmarks/run_all.py" + (" " + shlex.join(argv) if argv else "")
    spec = _lakes.LakeSpec(p=args.p, rows_per_file=args.rows_per_file, row_group=args.row_group)
    started = time.perf_counter()
    print(f"run_all: {command}\nsteps: {', '.join(args.parts)}; reps {args.reps}; data {args.data_dir}", flush=True)
    print(machine_facts(), flush=True)

    # ------------------------------------------------------------ 0. data
    need = set()
    if {"sklearn", "scan"} & set(args.parts):
        need |= set(args.sizes)
    if "memory" in args.parts:
        need |= set(args.memory_sizes)
    if "scaling" in args.parts:
        need.add(args.scaling_n)
    t = time.perf_counter()
    for n in sorted(need, reverse=True):  # the largest first: it writes the whole pool
        lake = _lakes.ensure_lake(Path(args.data_dir), spec, n)
        print(f"lake {lake} ready", flush=True)
    data_seconds = time.perf_counter() - t

    # ------------------------------------------------------------ 1-6
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="dreg-run-all-") as tmp:
        cmds = commands(args, Path(tmp), spec)
        for part in args.parts:
            cmd = cmds[part]
            print(f"\n{'=' * 78}\nrun_all step {part}: {display(cmd, args)}\n{'=' * 78}", flush=True)
            t = time.perf_counter()
            rc = subprocess.run(cmd, cwd=HERE.parent, env=step_env(args)).returncode
            seconds = time.perf_counter() - t
            js = Path(tmp) / f"{part}.json"
            data = json.loads(js.read_text()) if rc == 0 and js.exists() else None
            results[part] = {
                "cmd": display(cmd, args),
                "rc": rc,
                "seconds": seconds,
                "data": data,
                "finished": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
                "run_all": command,
                "commit": _git_commit(),
            }
            if not args.no_write:
                # kept (JSON) so that a later partial run can show every step's latest figures
                STEPS_DIR.mkdir(exist_ok=True)
                (STEPS_DIR / f"{part}.json").write_text(json.dumps(results[part], indent=1, default=float) + "\n")
            print(f"run_all step {part}: exit {rc}, {seconds / 60:.1f} min", flush=True)
            if rc != 0 and args.stop_on_error:
                break
    # steps not run this time: their latest recorded results, marked with their date
    earlier: dict[str, dict] = {}
    if not args.no_write:
        for part in PARTS:
            f = STEPS_DIR / f"{part}.json"
            if part not in results and f.exists():
                earlier[part] = json.loads(f.read_text())

    total = time.perf_counter() - started
    lines = [
        machine_facts(),
        "",
        f"Command: `{command}`",
        "",
        f"One run of every issue-6 comparison (steps {', '.join(args.parts)}), {args.reps} repetition(s) each, "
        f"medians; total {total / 60:.1f} min (lake generation/reuse {data_seconds:.0f} s). Lakes: {args.p} "
        f"float64 features + y, {args.rows_per_file:,}-row Parquet files, {args.row_group:,}-row row groups, "
        f"under `{args.data_dir}`. Each step wrote its own section below (with its per-repetition times and "
        "checks)" + (" — not in this run: `--no-write`" if args.no_write else "") + ". Ratios are the comparator's "
        "time over dreg's unless named otherwise. BLAS threads: "
        + (
            f"{args.blas_threads} in every process (`{'`, `'.join(f'{v}={args.blas_threads}' for v in BLAS_VARS)}`; "
            "dreg's Dask workers use 1 anyway): on this shared 2-core VM OpenBLAS's default 2 threads make "
            "scikit-learn's coordinate descent spin, 1.5-9x slower and erratic, which would flatter dreg "
            "(benchmarks/README.md)."
            if args.blas_threads > 0
            else "library defaults."
        ),
        "",
        "| step | figure | value | target |",
        "|---|---|---|---|",
    ]
    shown = [p for p in PARTS if p in args.parts or p in earlier]
    for part in shown:
        res = results.get(part)
        if res is None and part in earlier:
            res = earlier[part]
            lines.append(
                f"| {part} | (not in this run: the latest recorded run, finished {res['finished']} on commit "
                f"{res['commit']}, `{res['run_all']}`) | | |"
            )
        if res is None:
            lines.append(f"| {part} | not run (an earlier step failed with --stop-on-error) | — | — |")
            continue
        for fig, val, verdict in headlines(part, res["data"]):
            lines.append(f"| {part} | {fig} | {val} | {verdict} |")
    lines += [
        "",
        "| step | exact command | exit code | minutes | finished | dreg commit |",
        "|---|---|---:|---:|---|---|",
    ]
    for part in shown:
        res = results.get(part) or earlier.get(part)
        if res is not None:
            lines.append(
                f"| {part} | `{res['cmd']}` | {res['rc']} | {res['seconds'] / 60:.1f} | {res.get('finished', '?')} "
                f"| {res.get('commit', '?')} |"
            )
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    if not args.no_write:
        write_section(SECTION, "All comparisons in one run (`run_all.py`, issue 6)", text)
        print("wrote the run_all section of benchmarks/RESULTS.md")
    failed = [p for p, r in results.items() if r["rc"] != 0]
    if failed:
        print(f"run_all: step(s) failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
