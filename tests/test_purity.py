"""The maths modules stay pure numpy/scipy: importing them pulls in no Dask and no scikit-learn."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

MATHS = ["dreg.stats", "dreg.folds", "dreg.problem", "dreg.solvers", "dreg.path", "dreg.cv"]
FORBIDDEN = ["dask", "distributed", "sklearn"]


def loaded_after_import(modules: list[str]) -> list[str]:
    """Top-level packages in ``sys.modules`` after importing ``modules`` in a fresh interpreter."""
    code = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        "print(json.dumps(sorted({k.split('.')[0] for k in sys.modules})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_maths_modules_import_no_dask_distributed_or_sklearn():
    loaded = loaded_after_import(MATHS)
    assert "dreg" in loaded and "numpy" in loaded
    assert [m for m in FORBIDDEN if m in loaded] == []


@pytest.mark.parametrize("module", MATHS)
def test_each_maths_module_alone(module):
    loaded = loaded_after_import([module])
    assert [m for m in FORBIDDEN if m in loaded] == []


def test_top_level_package_is_lazy():
    loaded = loaded_after_import(["dreg"])
    assert [m for m in FORBIDDEN if m in loaded] == []


def test_estimators_on_numpy_do_not_import_dask():
    """Fitting numpy data runs the in-process pass; Dask is imported only for Dask inputs."""
    code = (
        "import sys, numpy as np\n"
        "from dreg import LassoCV\n"
        "rng = np.random.default_rng(0)\n"
        "X = rng.standard_normal((60, 3)); y = X[:, 0] + rng.standard_normal(60)\n"
        "LassoCV(alphas=5).fit(X, y).predict(X)\n"
        "print(sorted(m for m in ('dask', 'distributed') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_check_can_fail():
    """Sanity check of the harness: importing the Dask pass does load Dask."""
    assert "dask" in loaded_after_import(["dreg._dask"])
