"""`dreg warmup`: compiles every numba kernel into NUMBA_CACHE_DIR, then only loads it.

Real subprocesses with a fresh cache folder: numba reads ``NUMBA_CACHE_DIR`` at
import, and an in-process run would find the kernels already compiled.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _warmup(cache: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    env.pop("DREG_DISABLE_NUMBA", None)
    return subprocess.run(
        [sys.executable, "-m", "dreg.job.cli", "warmup"], env=env, capture_output=True, text=True, timeout=280
    )


@pytest.mark.slow
def test_warmup_compiles_into_the_cache_then_loads_it(tmp_path: Path) -> None:
    cache = tmp_path / "numba-cache"
    first = _warmup(cache)
    assert first.returncode == 0, first.stderr
    assert f"numba cache: {cache}" in first.stdout
    names = {p.name for p in cache.rglob("*")}
    # the coordinator's path kernel and the workers' statistics kernels are cached
    for kernel in ("cd._path_kernel", "cd._polish_kernel", "stats._positions", "stats._shift_into"):
        assert any(n.startswith(kernel) and n.endswith(".nbi") for n in names), kernel
        assert any(n.startswith(kernel) and n.endswith(".nbc") for n in names), kernel
        assert f"{kernel} " in first.stdout
    assert "0 loaded from the cache" in first.stdout

    second = _warmup(cache)
    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith("dreg warmup: 0 specialization(s) compiled"), second.stdout


def test_warmup_without_numba_says_so(tmp_path: Path) -> None:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), DREG_DISABLE_NUMBA="1")
    done = subprocess.run(
        [sys.executable, "-m", "dreg.job.cli", "warmup"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "nothing to compile" in done.stdout
    assert not any(tmp_path.iterdir())
