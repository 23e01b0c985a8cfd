"""Parameter validation, declared once (as scikit-learn's ``_parameter_constraints``).

:data:`PARAMETER_CONSTRAINTS` maps each model parameter to one constraint; the
estimators check their parameters with :func:`check_params` at ``fit`` and the
batch job's ``ModelConfig`` (``dreg/job/config.py``) runs the same constraint
on each of its fields, so a rule and its message live here only.  The values
of the per-feature parameters (``penalty_factor``, bounds) are checked by
:class:`dreg.core.penalty.Penalty`, the one place that defines them.

No scikit-learn import: the job's configuration uses this module too.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dreg.core._util import n_threads
from dreg.core.path import SOLVERS
from dreg.core.penalty import Penalty

__all__ = [
    "ENGINES",
    "PARAMETER_CONSTRAINTS",
    "SCORINGS",
    "SELECTIONS",
    "check_param",
    "check_params",
    "penalty_from_params",
]

SELECTIONS = ("min", "1se")
# the least-squares engines: 'gram' (per-fold p x p Grams), 'wide' (working set, dreg.core.wide)
ENGINES = ("auto", "gram", "wide")
# cross-validation criteria of the GLM estimators ('auc' and 'accuracy': binomial only)
SCORINGS = ("deviance", "auc", "accuracy")


def _is_real(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, numbers.Real)


def _is_int(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, numbers.Integral)


@dataclass(frozen=True)
class Real:
    """A finite real number in an interval; returns it as a float."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __call__(self, name: str, value: Any) -> float:
        if not _is_real(value) or not np.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            raise ValueError(f"{name} must be {'>' if self.low_open else '>='} {self.low:g}, got {value!r}")
        if self.high is not None and (value > self.high or (self.high_open and value == self.high)):
            interval = f"{'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"
            raise ValueError(f"{name} must be in {interval}, got {value!r}")
        return float(value)


@dataclass(frozen=True)
class Integer:
    """An integer ``>= low``."""

    low: int

    def __call__(self, name: str, value: Any) -> int:
        if not _is_int(value) or value < self.low:
            what = "a positive integer" if self.low == 1 else f"an integer >= {self.low}"
            raise ValueError(f"{name} must be {what}, got {value!r}")
        return int(value)


@dataclass(frozen=True)
class Options:
    """One of a few strings."""

    values: tuple[str, ...]

    def __call__(self, name: str, value: Any) -> str:
        if value not in self.values:
            raise ValueError(f"{name} must be one of {self.values}, got {value!r}")
        return value


@dataclass(frozen=True)
class Boolean:
    def __call__(self, name: str, value: Any) -> bool:
        if not isinstance(value, bool | np.bool_):
            raise ValueError(f"{name} must be True or False, got {value!r}")
        return bool(value)


@dataclass(frozen=True)
class L1Ratios:
    """A mix in [0, 1], or (``many=True``) a non-empty list of them."""

    many: bool = False

    def __call__(self, name: str, value: Any) -> float | list[float]:
        if not self.many or np.ndim(value) == 0:
            return _L1_RATIO(name, value)
        values = np.atleast_1d(np.asarray(value, dtype=object))
        if values.ndim != 1 or values.size == 0:
            raise ValueError(f"{name} must be a number or a non-empty list of numbers")
        return [_L1_RATIO(name, v) for v in values]


@dataclass(frozen=True)
class AlphaGrid:
    """A number of alphas (a positive integer) or an explicit grid of finite alphas >= 0."""

    def __call__(self, name: str, value: Any) -> Any:
        if np.ndim(value) == 0:
            if not _is_int(value) or value < 1:
                raise ValueError(f"{name} must be a positive integer or an array of alphas, got {value!r}")
            return value
        a = np.asarray(value, dtype=np.float64)
        if a.ndim != 1 or a.size == 0 or not np.all(np.isfinite(a)) or np.any(a < 0):
            raise ValueError(f"{name} must be a non-empty 1-d array of finite values >= 0")
        return value


@dataclass(frozen=True)
class Threads:
    """``None``, ``-1`` or a positive number of threads (:func:`dreg.core._util.n_threads`)."""

    def __call__(self, name: str, value: Any) -> int | None:
        n_threads(value)
        return value


@dataclass(frozen=True)
class NoneOr:
    """``None`` or what ``inner`` accepts."""

    inner: Any

    def __call__(self, name: str, value: Any) -> Any:
        return None if value is None else self.inner(name, value)


@dataclass(frozen=True)
class PerFeature:
    """``None``, a number, an array or a {feature: value} mapping whose values
    :class:`~dreg.core.penalty.Penalty` accepts as ``field``."""

    field: str

    def __call__(self, name: str, value: Any) -> Any:
        if value is None:
            return value
        raw = list(value.values()) if isinstance(value, Mapping) else value
        values = np.atleast_1d(np.asarray(raw, dtype=np.float64))
        if values.ndim == 1 and values.size:
            Penalty.make(values.size, **{self.field: values})
        return value


_L1_RATIO = Real(0.0, 1.0)

PARAMETER_CONSTRAINTS: dict[str, Any] = {
    "alpha": Real(0.0),
    "l1_ratio": _L1_RATIO,
    "l1_ratios": L1Ratios(many=True),
    "alphas": AlphaGrid(),
    "eps": NoneOr(Real(0.0, 1.0, low_open=True, high_open=True)),
    "cv": Integer(2),
    "selection": Options(SELECTIONS),
    "scoring": Options(SCORINGS),
    "solver": Options(SOLVERS),
    "engine": Options(ENGINES),
    "max_gram_bytes": Integer(1),
    "fit_intercept": Boolean(),
    "standardize": Boolean(),
    "positive": Boolean(),
    "tol": Real(0.0, low_open=True),
    "max_iter": Integer(1),
    "n_jobs": Threads(),
    # the estimators also take a numpy Generator or RandomState (dreg.core.folds.resolve_seed)
    "random_state": Integer(0),
    "penalty_factor": PerFeature("penalty_factor"),
    "lower_bounds": PerFeature("lower"),
    "upper_bounds": PerFeature("upper"),
}


def check_param(name: str, value: Any, constraint: str | None = None) -> Any:
    """Check one parameter against ``PARAMETER_CONSTRAINTS[constraint or name]``; returns it normalised."""
    return PARAMETER_CONSTRAINTS[constraint or name](name, value)


def check_params(obj: object, names: Sequence[str]) -> None:
    """Check the attributes ``names`` of ``obj`` (an estimator), in that order."""
    for name in names:
        check_param(name, getattr(obj, name))


# --------------------------------------------------------------------------- per-feature values
def per_feature(name: str, value: object, p: int, names: list[str] | None, default: float) -> NDArray[np.float64]:
    """A per-feature array from None, a scalar, an array or a {feature name: value} mapping."""
    if value is None:
        return np.full(p, default)
    if isinstance(value, Mapping):
        out = np.full(p, default)
        index = {n: i for i, n in enumerate(names or [])}
        # a categorical column's name stands for all its one-hot features ("column=level"); exact
        # feature names, set after, override it
        for key, v in value.items():
            if isinstance(key, str) and key not in index:
                group = [i for n, i in index.items() if n.startswith(key + "=")]
                if not group:
                    raise ValueError(f"{name} names unknown feature {key!r}")
                out[group] = float(v)
        for key, v in value.items():
            if isinstance(key, str):
                if key not in index:
                    continue
                out[index[key]] = float(v)
            elif isinstance(key, numbers.Integral) and 0 <= key < p:
                out[int(key)] = float(v)
            else:
                raise ValueError(f"{name} has an invalid key {key!r}")
        return out
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        return np.full(p, float(arr))
    if arr.shape != (p,):
        raise ValueError(f"{name} must have one value per feature ({p}), got shape {arr.shape}")
    return arr.copy()


def penalty_from_params(est: Any, l1_ratio: float, p: int, names: list[str] | None) -> Penalty:
    """The :class:`~dreg.core.penalty.Penalty` of an estimator's ``penalty_factor``,
    ``lower_bounds``, ``upper_bounds`` and ``positive`` on ``p`` features."""
    pf = per_feature("penalty_factor", est.penalty_factor, p, names, 1.0)
    lower = per_feature("lower_bounds", est.lower_bounds, p, names, -np.inf)
    upper = per_feature("upper_bounds", est.upper_bounds, p, names, np.inf)
    if est.positive:
        lower = np.maximum(lower, 0.0)
    return Penalty(l1_ratio, pf, lower, upper)
