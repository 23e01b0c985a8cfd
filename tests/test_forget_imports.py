"""``dreg._lazy.forget_failed_imports``: a half-done import (the report's warm-up thread) must not
break the next import of the same package.

The failure seen: the warm-up thread's ``import matplotlib`` failed half-way, its
submodules stayed in ``sys.modules`` pointing at the failed package, and the
report's own ``import matplotlib`` then died with ``module 'matplotlib' has no
attribute 'get_data_path'``.  Reproduced here with a real package on disk.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from dreg._lazy import forget_failed_imports

INIT = '''
import os
from . import helpers          # stays in sys.modules if the rest fails
if os.path.exists(os.path.join(os.path.dirname(__file__), "FAIL")):
    raise ImportError("half-way")
def data_path():
    return "ok"
VALUE = helpers.value()
'''
HELPERS = '''
import dregfakepkg
def value():
    return dregfakepkg.data_path()  # the package object this module was imported with
'''


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    pkg = tmp_path / "dregfakepkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(INIT)
    (pkg / "helpers.py").write_text(HELPERS)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield pkg
    for name in [n for n in sys.modules if n.split(".")[0] == "dregfakepkg"]:
        del sys.modules[name]


def _fail_once(pkg: Path) -> set[str]:
    before = set(sys.modules)
    (pkg / "FAIL").write_text("")
    with pytest.raises(ImportError, match="half-way"):
        import dregfakepkg  # noqa: F401
    (pkg / "FAIL").unlink()
    assert "dregfakepkg.helpers" in sys.modules and "dregfakepkg" not in sys.modules
    return before


def test_a_half_done_import_breaks_the_next_one_without_forgetting(package: Path) -> None:
    _fail_once(package)
    with pytest.raises(AttributeError, match="data_path"):
        import dregfakepkg  # noqa: F401


def test_forgetting_makes_the_next_import_clean(package: Path) -> None:
    before = _fail_once(package)
    assert forget_failed_imports(before, ("dregfakepkg", "other")) == ["dregfakepkg.helpers"]
    import dregfakepkg

    assert dregfakepkg.VALUE == "ok"
    # modules imported before, and other packages, are left alone
    assert "pytest" in sys.modules and forget_failed_imports(set(sys.modules), ("dregfakepkg",)) == []
