"""The first run after install against a warm run, as whole processes (issue 14, item 2).

numba compiles dreg's kernels on first use and keeps them in its cache
(``NUMBA_CACHE_DIR``).  This script installs dreg into a fresh virtualenv (or
reinstalls it, without its dependencies, into ``--venv``), then times whole
``dreg demo`` processes, interleaved over ``--reps`` repetitions:

* ``cold``:    an empty ``NUMBA_CACHE_DIR``: the first run after install;
* ``warm``:    the same cache again: the second run;
* ``warmup``:  ``dreg warmup`` into another empty cache (the Docker build step) ...
* ``after``:   ... then ``dreg demo`` on that cache (a container of the image).

Target: ``after / warm <= 1.5`` (and the ``cold / warm`` ratio says what a user
pays without the warm-up).  Results go to the ``bench_first_run`` section of
``benchmarks/RESULTS.md``.

    python benchmarks/bench_first_run.py                       # fresh venv in a temporary folder
    python benchmarks/bench_first_run.py --venv /tmp/fresh     # reuse a venv (dreg reinstalled, --no-deps)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import machine_facts, write_section  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def _install(venv: Path, fresh: bool) -> None:
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    if fresh:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([*pip, str(REPO)], check=True)
    else:  # only dreg itself: the dependencies are there already
        subprocess.run([*pip, "--no-deps", "--force-reinstall", str(REPO)], check=True)


def _timed(cmd: list[str], cache: Path, log: Path) -> float:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    env.pop("DREG_DISABLE_NUMBA", None)
    t = time.perf_counter()
    with log.open("a") as out:
        done = subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=log.parent)
    seconds = time.perf_counter() - t
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {done.returncode}: see {log}")
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--venv", type=Path, help="reuse this virtualenv (dreg is reinstalled into it, --no-deps)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="dreg-first-run-"))
    venv = args.venv or work / "venv"
    t = time.perf_counter()
    _install(venv, fresh=args.venv is None)
    install_s = time.perf_counter() - t
    dreg = str(venv / "bin" / "dreg")
    log = work / "runs.log"
    times: dict[str, list[float]] = {"cold": [], "warm": [], "warmup": [], "after": []}
    loads = [os.getloadavg()[0]]

    def demo(name: str, cache: Path) -> float:
        # a fresh workdir each time: every run writes the same lake into an empty registry
        workdir = work / f"demo-{name}"
        seconds = _timed([dreg, "demo", "--workdir", str(workdir)], cache, log)
        shutil.rmtree(workdir)
        return seconds

    def pair_cold_warm(rep: int) -> None:
        cache = work / f"cache-{rep}"
        times["cold"].append(demo("cold", cache))
        times["warm"].append(demo("warm", cache))
        shutil.rmtree(cache)

    def pair_warmup(rep: int) -> None:
        cache = work / f"cache-warmed-{rep}"
        times["warmup"].append(_timed([dreg, "warmup"], cache, log))
        times["after"].append(demo("after", cache))
        shutil.rmtree(cache)

    for rep in range(args.reps):
        pairs = (pair_cold_warm, pair_warmup) if rep % 2 == 0 else (pair_warmup, pair_cold_warm)
        for pair in pairs:
            pair(rep)
        loads.append(os.getloadavg()[0])
        print(f"rep {rep}: " + ", ".join(f"{k} {v[-1]:.1f}s" for k, v in times.items()), flush=True)

    med = {k: statistics.median(v) for k, v in times.items()}
    cold_ratio = med["cold"] / med["warm"]
    after_ratio = med["after"] / med["warm"]
    command = "python benchmarks/bench_first_run.py" + (f" --venv {args.venv}" if args.venv else "")
    command += f" --reps {args.reps}" if args.reps != 3 else ""
    lines = [
        f"`{command}`: whole `dreg demo` processes (120,000 rows x 20 features, 12 files, 2-worker LocalCluster), "
        f"{'a fresh venv' if args.venv is None else 'dreg reinstalled into an existing venv'} "
        f"({'install' if args.venv is None else 'reinstall'} {install_s:.0f} s); per repetition: "
        "cold (empty NUMBA_CACHE_DIR) then warm (same cache), and `dreg warmup` into a new empty cache "
        "then the demo on it, the two pairs in alternating order; each demo in an empty workdir. 1-minute load average during the runs: "
        + ", ".join(f"{x:.2f}" for x in loads)
        + ".",
        "",
        "| run | median (s) | runs (s) | / warm |",
        "|---|---|---|---|",
    ]
    labels = {
        "cold": "first `dreg demo` after install (cold cache)",
        "warm": "second `dreg demo` (warm cache)",
        "warmup": "`dreg warmup` (cold cache)",
        "after": "`dreg demo` after `dreg warmup`",
    }
    for k, label in labels.items():
        lines.append(
            f"| {label} | {med[k]:.1f} | {', '.join(f'{x:.1f}' for x in times[k])} | {med[k] / med['warm']:.2f} |"
        )
    lines += [
        "",
        f"After `dreg warmup` (the Docker image's build step, the SLURM script's first step) the first run costs "
        f"**{after_ratio:.2f}x** a warm run (target <= 1.5: {'PASS' if after_ratio <= 1.5 else 'FAIL'}); "
        f"without it, the first run after `pip install` costs {cold_ratio:.2f}x.",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section(
            "bench_first_run",
            "First run after install: cold vs warm numba cache (issue 14)",
            machine_facts() + "\n\n" + text,
        )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
