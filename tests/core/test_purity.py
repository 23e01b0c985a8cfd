"""The layers stay layered: what each one imports, checked in a fresh interpreter.

``dreg.core`` is pure numpy/scipy (no Dask, pandas, pyarrow, scikit-learn or
matplotlib); the estimators import no batch-job code and, on numpy input, no
Dask; nothing under ``dreg`` imports a module of a higher layer; and the
package has no import cycle.  ruff's banned-api rule (``dreg/core/ruff.toml``,
``dreg/estimators/ruff.toml``) says the same statically.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "dreg"
CORE = [
    "dreg.core",
    "dreg.core.stats",
    "dreg.core.folds",
    "dreg.core.problem",
    "dreg.core.penalty",
    "dreg.core.solvers",
    "dreg.core.path",
    "dreg.core.cv",
    "dreg.core.glm",
    "dreg.core.encode",
    "dreg.core.design",
    "dreg.core.wide",
    "dreg.core.solvers.cd_sparse",
]
NOT_IN_CORE = ["dask", "distributed", "sklearn", "pandas", "pyarrow", "matplotlib", "fsspec"]
# a module may import its own layer and the layers below it, never one above
LAYERS = {"core": 0, "_frames": 1, "_dask": 1, "estimators": 2, "job": 3}


def loaded_after_import(modules: list[str], code: str = "") -> list[str]:
    """Top-level packages (and dreg's layers) in ``sys.modules`` after importing ``modules``."""
    script = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        f"{code}\n"
        "print(json.dumps(sorted({k.split('.')[0] for k in sys.modules} | "
        "{'.'.join(k.split('.')[:2]) for k in sys.modules if k.startswith('dreg.')})))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_core_imports_no_dask_pandas_pyarrow_sklearn_or_matplotlib():
    loaded = loaded_after_import(CORE)
    assert "dreg" in loaded and "numpy" in loaded
    assert [m for m in NOT_IN_CORE if m in loaded] == []
    assert [m for m in ("dreg.estimators", "dreg.job", "dreg._dask") if m in loaded] == []


@pytest.mark.parametrize("module", CORE)
def test_each_core_module_alone(module):
    loaded = loaded_after_import([module])
    assert [m for m in NOT_IN_CORE if m in loaded] == []


def test_top_level_package_is_lazy():
    loaded = loaded_after_import(["dreg"])
    assert [m for m in ["dask", "distributed", "sklearn", "pandas", "matplotlib"] if m in loaded] == []


def test_estimators_import_no_job_code_and_no_dask():
    loaded = loaded_after_import(["dreg.estimators"])
    # (pyarrow may come in through pandas, which scikit-learn imports)
    assert [m for m in ("dreg.job", "dreg._dask", "dask", "distributed", "matplotlib") if m in loaded] == []


def test_estimators_on_numpy_do_not_import_dask():
    """Fitting numpy data runs the in-process pass; Dask is imported only for Dask inputs."""
    code = (
        "import numpy as np\n"
        "from dreg import LassoCV\n"
        "rng = np.random.default_rng(0)\n"
        "X = rng.standard_normal((60, 3)); y = X[:, 0] + rng.standard_normal(60)\n"
        "LassoCV(alphas=5).fit(X, y).predict(X)\n"
    )
    loaded = loaded_after_import([], code)
    assert [m for m in ("dask", "distributed") if m in loaded] == []


def test_the_check_can_fail():
    """Sanity check of the harness: importing the Dask pass does load Dask."""
    assert "dask" in loaded_after_import(["dreg._dask"])


# --------------------------------------------------------------------------- static import graph
def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path, top_level_only: bool) -> set[str]:
    """dreg modules imported by ``path`` (at module level only, or anywhere)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    if top_level_only:  # imports under ``if TYPE_CHECKING:`` never run
        nodes = [n for n in nodes if not isinstance(n, ast.If)]
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("dreg")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.startswith("dreg"):
                out.add(mod)
    return out


def _graph(top_level_only: bool) -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        deps = set()
        for target in _imports(path, top_level_only):
            # ``from dreg.core.solvers import cd`` names a module or a member: keep the longest module
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                deps.add(target)
        graph[name] = deps
    return graph


def _layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.get(parts[1]) if len(parts) > 1 else None


def test_no_module_imports_a_higher_layer():
    upward = [
        f"{src} -> {dst}"
        for src, deps in _graph(top_level_only=False).items()
        for dst in deps
        if _layer(src) is not None and _layer(dst) is not None and _layer(dst) > _layer(src)
    ]
    assert upward == []


def test_no_import_cycles():
    """Module-level imports form a DAG (imports inside functions are deliberate and lazy)."""
    graph = _graph(top_level_only=True)
    # a package's __init__ importing its own submodules is not a cycle in any useful sense
    graph = {m: {d for d in deps if not d.startswith(m + ".")} for m, deps in graph.items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                cycles.append(" -> ".join(stack[stack.index(dep) :] + [dep]))
            elif dep not in state:
                visit(dep, [*stack, dep])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_the_graph_check_sees_imports():
    """Sanity check of the static checker itself: it finds known edges."""
    graph = _graph(top_level_only=False)
    assert "dreg.core.stats" in graph["dreg.core.cv"]
    assert "dreg._dask" in graph["dreg.estimators._input"]
