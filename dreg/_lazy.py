"""Module attributes imported on first use (PEP 562), so that importing a package stays cheap.

``import dreg`` and ``import dreg.estimators`` must not import scikit-learn,
Dask or the batch job until one of their public names is used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
import sys
from collections.abc import Iterable
from importlib import import_module
from typing import Any

__all__ = ["forget_failed_imports", "lazy_attributes"]


def lazy_attributes(
    namespace: dict[str, Any], sources: Mapping[str, str], public: list[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for a module whose names in ``sources`` live in other modules.

    ``sources`` maps each lazy name to the module that defines it; a name is
    imported on first access and then cached in ``namespace`` (the module's
    ``globals()``), so later accesses cost nothing.
    """
    module = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        if name in sources:
            value = getattr(import_module(sources[name]), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*public, *namespace})

    return __getattr__, __dir__


def forget_failed_imports(before: Iterable[str], roots: Iterable[str]) -> list[str]:
    """Drop from ``sys.modules`` the modules of the packages ``roots`` imported since ``before``.

    An import that fails half-way (in a background thread, racing another
    thread's imports) can leave submodules behind that point to the failed,
    half-initialized package: the next ``import matplotlib`` then runs the
    package again against those stale submodules and fails
    (``module 'matplotlib' has no attribute 'get_data_path'``).  Forgetting
    them makes the next import start clean.  Returns the names dropped.
    """
    seen = set(before)
    tops = set(roots)
    gone = [n for n in list(sys.modules) if n not in seen and n.split(".", 1)[0] in tops]
    for name in gone:
        sys.modules.pop(name, None)
    return gone
