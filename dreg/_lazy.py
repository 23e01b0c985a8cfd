"""Module attributes imported on first use (PEP 562), so that importing a package stays cheap.

``import dreg`` and ``import dreg.estimators`` must not import scikit-learn,
Dask or the batch job until one of their public names is used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any

__all__ = ["lazy_attributes"]


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
