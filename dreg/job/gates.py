"""Promotion gates: sanity checks of a new model against what the champion recorded.

The like-for-like rule (:func:`dreg.job.pipeline._promotion`) compares two
errors measured on the same rows *now*.  When the new data themselves are
corrupted (a day whose target is noise, a feature in new units), both sides
are scored on the corrupted rows and the rule can still promote.  The gates
compare the challenger with the champion's *recorded* facts instead, which the
corruption cannot reach:

``cv_error``
    The challenger's CV error against the champion's recorded CV error
    (``metrics.json``'s ``cv_mse``, or ``cv_deviance`` for binomial and
    Poisson): ``challenger / champion - 1``, the relative increase (negative:
    better).
``rows``
    The rows used against the champion's: ``max(n / n0, n0 / n) - 1``, so a
    limit of 1.0 allows doubling or halving.
``target_mean``
    The target's standardized mean difference against the champion's baseline:
    ``|m - m0| / sqrt((s0^2 + s^2) / 2)`` (Cohen's d with the two SDs pooled).
``target_sd``
    The target's SD ratio: ``max(s / s0, s0 / s) - 1``.
``feature_mean``
    The largest standardized mean difference over the features both models
    use (the detail names that feature).

Each gate passes when its value is at most its limit (``output.promotion.gates``
in the configuration; ``null`` disables one).  A gate that cannot be evaluated
(the champion recorded no ``baseline`` or no CV error: a model written before
gates existed) is recorded with ``passed: null`` and does not block.
Zero spreads: a difference between two constants is infinite, none is zero.

Pure functions of the records: no Dask, no data read.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from dreg.job.record import Baseline, Gate, MetricsRecord, ModelRecord

__all__ = ["GATE_NAMES", "describe_failures", "evaluate_gates", "gate_summary"]

GATE_NAMES = ("cv_error", "rows", "target_mean", "target_sd", "feature_mean")


def _ratio_change(a: float, b: float) -> float:
    """``max(a / b, b / a) - 1``: 0 when equal, infinite when exactly one is zero."""
    if a == b:
        return 0.0
    if a <= 0.0 or b <= 0.0:
        return math.inf
    return max(a / b, b / a) - 1.0


def _smd(m: float, s: float, m0: float, s0: float) -> float:
    """Standardized mean difference ``|m - m0| / sqrt((s^2 + s0^2) / 2)``."""
    diff = abs(m - m0)
    if diff == 0.0:
        return 0.0
    pooled = math.sqrt((s * s + s0 * s0) / 2.0)
    return diff / pooled if pooled > 0.0 else math.inf


def _skipped(name: str, limit: float, why: str) -> Gate:
    return Gate(name=name, value=None, limit=limit, passed=None, detail=why)


def _check(name: str, value: float, limit: float, detail: str) -> Gate:
    return Gate(name=name, value=value, limit=limit, passed=bool(value <= limit), detail=detail)


def evaluate_gates(
    limits: Mapping[str, float | None],
    champion: ModelRecord,
    champion_metrics: MetricsRecord | None,
    challenger_cv_error: float,
    baseline: Baseline,
) -> tuple[Gate, ...]:
    """The gates with a limit in ``limits`` (name -> limit, ``None``: off), in :data:`GATE_NAMES` order.

    Parameters
    ----------
    limits : mapping
        ``output.promotion.gates`` of the configuration.
    champion, champion_metrics : ModelRecord, MetricsRecord or None
        The current ``latest`` version's records.
    challenger_cv_error : float
        The new model's CV error at its chosen alpha.
    baseline : Baseline
        The new model's training data (:meth:`Baseline.from_stats`).

    Returns
    -------
    tuple of Gate
    """
    version = champion.version or "?"
    out: list[Gate] = []
    old: Baseline | None = champion.baseline
    for name in GATE_NAMES:
        limit = limits.get(name)
        if limit is None:
            continue
        limit = float(limit)
        if name == "cv_error":
            recorded = None if champion_metrics is None else champion_metrics.cv_error
            if recorded is None or not math.isfinite(recorded):
                out.append(_skipped(name, limit, f"champion {version} recorded no CV error"))
                continue
            if recorded > 0.0:
                value = challenger_cv_error / recorded - 1.0
            else:
                value = 0.0 if challenger_cv_error <= 0.0 else math.inf
            out.append(
                _check(
                    name,
                    value,
                    limit,
                    f"CV error {challenger_cv_error:.6g} vs champion {version}'s recorded {recorded:.6g} "
                    f"({value:+.1%}; limit +{limit:.0%})",
                )
            )
            continue
        if name == "rows":
            rows0 = champion.rows.used if champion.rows is not None else (old.rows if old is not None else None)
            if rows0 is None:
                out.append(_skipped(name, limit, f"champion {version} recorded no row count"))
                continue
            value = _ratio_change(float(baseline.rows), float(rows0))
            out.append(
                _check(name, value, limit, f"{baseline.rows} rows vs champion {version}'s {rows0} (limit x{1 + limit:g})")
            )
            continue
        if old is None:
            out.append(_skipped(name, limit, f"champion {version} recorded no baseline (written before gates)"))
            continue
        if name == "target_mean":
            value = _smd(baseline.target_mean, baseline.target_sd, old.target_mean, old.target_sd)
            out.append(
                _check(
                    name,
                    value,
                    limit,
                    f"target mean {baseline.target_mean:.6g} vs {old.target_mean:.6g}: "
                    f"{value:.3g} pooled SDs (limit {limit:g})",
                )
            )
        elif name == "target_sd":
            value = _ratio_change(baseline.target_sd, old.target_sd)
            out.append(
                _check(
                    name,
                    value,
                    limit,
                    f"target SD {baseline.target_sd:.6g} vs {old.target_sd:.6g} (limit x{1 + limit:g})",
                )
            )
        else:  # feature_mean
            shared = [f for f in baseline.feature_mean if f in old.feature_mean]
            if not shared:
                out.append(_skipped(name, limit, "no feature in common with the champion"))
                continue
            shifts = {
                f: _smd(baseline.feature_mean[f], baseline.feature_sd[f], old.feature_mean[f], old.feature_sd[f])
                for f in shared
            }
            worst = max(shared, key=lambda f: shifts[f])
            value = shifts[worst]
            out.append(
                _check(
                    name,
                    value,
                    limit,
                    f"largest shift: {worst!r} mean {baseline.feature_mean[worst]:.6g} vs "
                    f"{old.feature_mean[worst]:.6g}: {value:.3g} pooled SDs (limit {limit:g}; {len(shared)} features)",
                )
            )
    return tuple(out)


def describe_failures(gates: tuple[Gate, ...]) -> str:
    """``gate <name> failed: <detail>; ...`` for the failed gates ('' when none failed)."""
    failed = [g for g in gates if g.passed is False]
    return "; ".join(f"gate {g.name} failed: {g.detail}" for g in failed)


def gate_summary(gates: Any) -> str:
    """One word per gate for ``dreg history``: ``ok``, ``-`` (none ran) or the failed names."""
    gates = tuple(gates or ())
    if not gates:
        return "-"
    failed = [g.name for g in gates if g.passed is False]
    return ",".join(failed) if failed else "ok"
