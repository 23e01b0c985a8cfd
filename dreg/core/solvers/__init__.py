"""Solvers on the Gram matrix: coordinate descent, ADMM and eigen-ridge.

They take a quadratic problem ``(Q, q)`` (see :mod:`dreg.core.problem`), never data.
Pure numpy/scipy.
"""

from ._common import PathSolution, kkt_violation, objective
from .admm import admm_path
from .cd import cd_path, polish
from .ridge import ridge_path

__all__ = [
    "PathSolution",
    "admm_path",
    "cd_path",
    "kkt_violation",
    "objective",
    "polish",
    "ridge_path",
]
