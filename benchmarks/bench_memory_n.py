"""Peak memory of a whole `dreg fit` (client + workers) at n and 8n rows (issue 6).

For each lake size (default 1,000,000 and 8,000,000 rows x 100 float64
features; the lakes of ``_lakes.py``: 250,000-row files, 64Ki-row row groups,
so 4 and 32 files), the real command

    python -m dreg.job.cli fit --config <cfg>      # = `dreg fit --config <cfg>`

runs as a subprocess with an embedded LocalCluster (2 workers x 1 thread,
processes, 127.0.0.1, no dashboard), lasso 5 folds x 100 alphas, statistics
cache off, while a thread samples with ``psutil`` every ``--interval`` seconds
the resident set size of that process (client, scheduler and coordinator) and
of every process below it (the Dask worker processes and multiprocessing
helpers).  Reported per run: the peak of the *sum* over the process tree, the
peak of the client process, the peak of the workers' sum, and, as a cross-check
that the sampling did not miss a spike, the kernel's ``ru_maxrss`` of the
command (``os.wait4``: the largest peak of any single process of the tree).

Repetitions are interleaved (sizes in an order reversed every other repetition);
the medians over repetitions are compared: target ``peak(8n) / peak(n) <= 1.3``
(reported PASS/FAIL).  Everything is the absolute resident memory, libraries
included (bench_memory.py measures the increase of one worker over its idle
state against row-group, file and lake size).  Results go to the
``bench_memory_n`` section of ``benchmarks/RESULTS.md``.

    python benchmarks/bench_memory_n.py                       # n = 1M and 8M, reps 3
    python benchmarks/bench_memory_n.py --quick --no-write    # n = 100k and 800k, 1 rep
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _lakes  # noqa: E402
from _results import machine_facts, quick_defaults, write_section  # noqa: E402

SECTION = "bench_memory_n"
TARGET = 1.3
MiB = 2**20


class TreeSampler:
    """Samples the RSS of a process and all its descendants; keeps the peaks."""

    def __init__(self, pid: int, interval: float) -> None:
        import psutil

        self.psutil = psutil
        self.root = psutil.Process(pid)
        self.interval = interval
        self.peak_total = 0
        self.peak_root = 0
        self.peak_children = 0
        self.max_children = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        ps = self.psutil
        try:
            root = self.root.memory_info().rss
            kids = self.root.children(recursive=True)
        except (ps.NoSuchProcess, ps.AccessDenied):
            return
        child = 0
        alive = 0
        for k in kids:
            try:
                child += k.memory_info().rss
                alive += 1
            except (ps.NoSuchProcess, ps.AccessDenied):
                pass
        total = root + child
        self.peak_total = max(self.peak_total, total)
        self.peak_root = max(self.peak_root, root)
        self.peak_children = max(self.peak_children, child)
        self.max_children = max(self.max_children, alive)
        self.samples += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def run_once(lake: Path, features: list[str], workers: int, tmp: Path, interval: float, tag: str) -> dict:
    cfg = {
        "data": {"path": str(lake), "target": "y", "features": features},
        "model": {"penalty": "lasso", "cv": 5, "alphas": 100},
        "cluster": {"n_workers": workers, "threads_per_worker": 1, "dashboard_address": None},
        "output": {"registry": str(tmp / "registry"), "name": f"mem-{tag}", "promotion": {"enabled": False}},
        "cache": {"enabled": False},
    }
    path = tmp / f"{tag}.yaml"
    path.write_text(json.dumps(cfg))  # JSON is YAML
    cmd = [sys.executable, "-m", "dreg.job.cli", "fit", "--config", str(path)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=HERE.parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sampler = TreeSampler(proc.pid, interval)
    sampler.start()
    out_chunks = []
    reader = threading.Thread(target=lambda: out_chunks.append(proc.stdout.read()), daemon=True)
    reader.start()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    sampler.stop()
    reader.join(timeout=10)
    proc.returncode = os.waitstatus_to_exitcode(status)
    output = "".join(out_chunks)
    if proc.returncode != 0:
        raise RuntimeError(f"`{shlex.join(cmd)}` exited {proc.returncode}:\n{output[-3000:]}")
    return {
        "seconds": seconds,
        "peak_total_mib": sampler.peak_total / MiB,
        "peak_client_mib": sampler.peak_root / MiB,
        "peak_workers_mib": sampler.peak_children / MiB,
        "ru_maxrss_mib": usage.ru_maxrss * 1024 / MiB,  # Linux: KiB
        "processes": 1 + sampler.max_children,
        "samples": sampler.samples,
        "command": shlex.join(cmd),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs=2, default=[1_000_000, 8_000_000], metavar=("N", "BIG_N"))
    ap.add_argument("--p", type=int, default=100)
    ap.add_argument("--rows-per-file", type=int, default=250_000)
    ap.add_argument("--row-group", type=int, default=65_536)
    ap.add_argument("--data-dir", default=_lakes.DEFAULT_DATA_DIR)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--interval", type=float, default=0.02, help="RSS sampling interval, seconds")
    ap.add_argument("--quick", action="store_true", help="n = 100k and 800k, 25k-row files, 1 rep")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--json", default=None)
    ap.add_argument("--section", default=SECTION)
    argv = sys.argv[1:] if argv is None else argv
    args = ap.parse_args(argv)
    if args.quick:
        quick_defaults(args, argv, sizes=[100_000, 800_000], rows_per_file=25_000, row_group=8_192, reps=1)
    command = "python benchmarks/bench_memory_n.py" + (" " + shlex.join(argv) if argv else "")
    spec = _lakes.LakeSpec(p=args.p, rows_per_file=args.rows_per_file, row_group=args.row_group)
    features = spec.features()
    lakes = {n: _lakes.ensure_lake(Path(args.data_dir), spec, n) for n in args.sizes}
    runs: dict[int, list[dict]] = {n: [] for n in args.sizes}
    loads = []
    with tempfile.TemporaryDirectory(prefix="dreg-bench-memory-n-") as tmp:
        for r in range(args.reps):
            for n in args.sizes if r % 2 == 0 else args.sizes[::-1]:
                loads.append(_lakes.loadavg())
                res = run_once(lakes[n], features, args.workers, Path(tmp), args.interval, f"n{n}-r{r}")
                runs[n].append(res)
                print(
                    f"  rep {r + 1}/{args.reps} n={n:>11,}: peak total {res['peak_total_mib']:7.0f} MiB "
                    f"(client {res['peak_client_mib']:.0f}, workers {res['peak_workers_mib']:.0f}, "
                    f"ru_maxrss {res['ru_maxrss_mib']:.0f}), {res['seconds']:.1f} s, {res['samples']} samples",
                    flush=True,
                )

    def med(n, key):
        return float(np.median([x[key] for x in runs[n]]))

    n1, n8 = args.sizes
    ratio = med(n8, "peak_total_mib") / med(n1, "peak_total_mib")
    ok = ratio <= TARGET
    keys = [
        ("peak_total_mib", "peak RSS, whole tree (MiB)"),
        ("peak_client_mib", "peak RSS, client process (MiB)"),
        ("peak_workers_mib", "peak RSS, workers' sum (MiB)"),
        ("ru_maxrss_mib", "ru_maxrss: largest single process (MiB)"),
        ("seconds", "wall time of the command (s)"),
    ]
    lines = [
        machine_facts(),
        "",
        f"Command: `{command}`",
        "",
        f"Each run is the real command `python -m dreg.job.cli fit --config cfg.yaml` (= `dreg fit`) in a fresh process: "
        f"embedded LocalCluster of {args.workers} workers x 1 thread (processes, 127.0.0.1, no dashboard, "
        "memory_limit auto), lasso 5 folds x 100 alphas, statistics cache off, promotion off. `psutil` samples "
        f"every {args.interval * 1000:.0f} ms the RSS of the command's process (client, scheduler, coordinator) "
        "and of all its descendants (workers, multiprocessing helpers); the peak of the sum is the figure. "
        f"Lakes of `_lakes.py` ({args.p} float64 features + y, {args.rows_per_file:,}-row files, "
        f"{args.row_group:,}-row row groups). {args.reps} repetitions, sizes interleaved; medians.",
        "",
        f"| | n = {n1:,} ({spec.files_for(n1)} files) | n = {n8:,} ({spec.files_for(n8)} files) | ratio |",
        "|---|---:|---:|---:|",
    ]
    for key, label in keys:
        a, b = med(n1, key), med(n8, key)
        lines.append(
            f"| {label} | {a:.0f} | {b:.0f} | {b / a:.2f} |"
            if key != "seconds"
            else f"| {label} | {a:.1f} | {b:.1f} | {b / a:.2f} |"
        )
    lines += [
        "",
        f"- **peak(n = {n8:,}) / peak(n = {n1:,}) = {ratio:.2f}** (target <= {TARGET}: **{'PASS' if ok else 'FAIL'}**), "
        "absolute resident memory of the whole process tree, libraries included.",
        f"- The lakes are {n1 * (args.p + 1) * 8 / MiB:,.0f} MiB and {n8 * (args.p + 1) * 8 / MiB:,.0f} MiB as "
        f"float64; one row group is {args.row_group * (args.p + 1) * 8 / MiB:.0f} MiB.",
        "- Per run (n: peak total / client / workers MiB, seconds): "
        + "; ".join(
            f"{n:,}: "
            + ", ".join(
                f"{x['peak_total_mib']:.0f}/{x['peak_client_mib']:.0f}/{x['peak_workers_mib']:.0f} {x['seconds']:.1f}s"
                for x in runs[n]
            )
            for n in args.sizes
        )
        + ".",
        f"- 1-minute load average before the runs: {', '.join(f'{v:.2f}' for v in loads)}.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "section": args.section,
                    "command": command,
                    "runs": {str(k): v for k, v in runs.items()},
                    "ratio": ratio,
                    "pass": ok,
                },
                indent=1,
            )
        )
    if not args.no_write:
        write_section(args.section, "Peak memory of `dreg fit` (client + workers) at n and 8n rows (issue 6)", text)
        print(f"wrote the {args.section} section of benchmarks/RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
