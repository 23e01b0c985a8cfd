"""Shared helpers: machine facts and section-wise updates of benchmarks/RESULTS.md."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import re
from importlib import metadata
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def machine_facts() -> str:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 2**20:.0f} GiB"
    except OSError:
        pass
    vers = []
    for pkg in ("dreg", "numpy", "scipy", "scikit-learn", "dask", "distributed", "pyarrow", "pandas"):
        try:
            vers.append(f"{pkg} {metadata.version(pkg)}")
        except metadata.PackageNotFoundError:
            pass
    return (
        f"Run {_dt.datetime.now(_dt.UTC).strftime('%Y-%m-%d %H:%M UTC')} on {cpu}, {os.cpu_count()} cores, {mem}; "
        f"Python {platform.python_version()}; "
        + ", ".join(vers)
        + ". Shared machine: compare ratios from the same run."
    )


def write_section(key: str, title: str, body: str) -> None:
    """Replace (or append) the ``<!-- key:start -->`` ... ``<!-- key:end -->`` section."""
    start, end = f"<!-- {key}:start -->", f"<!-- {key}:end -->"
    # run_all passes each script an internal --json <temporary file>: not part of the command to rerun
    body = re.sub(r" --json \S+?\.json", "", body)
    block = f"{start}\n## {title}\n\n{body}\n{end}"
    text = (
        RESULTS.read_text()
        if RESULTS.exists()
        else "# Benchmark results\n\nEach section is written by the script it names; rerun it to refresh.\n"
    )
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    RESULTS.write_text(text)


def quick_defaults(args, argv, **defaults) -> None:
    """Set ``args.<name> = value`` for each default whose ``--<name>`` flag is not in ``argv``.

    The ``--quick`` sizes of a script, without overriding what the command
    line gave explicitly (``rows_per_file`` is the flag ``--rows-per-file``).
    """
    given = set(argv)
    for name, value in defaults.items():
        if "--" + name.replace("_", "-") not in given:
            setattr(args, name, value)
