"""The batch jobs behind the CLI: fit a lake into the registry, score a lake.

``run_fit`` runs named steps: ``_plan`` lists the lake (partition filters
prune files first); ``_scan`` runs one ``dreg-read-stats`` task per file on the
cluster and a ``dreg-merge`` tree; the estimator cross-validates and refits on
the coordinator from the statistics alone; ``_metrics`` and ``_record`` build
the typed records (:mod:`dreg.job.record`); ``_promotion`` decides against the
champion; ``_publish`` writes the registry version (``model.json``,
``metrics.json``, ``report.html``) atomically and prunes the statistics cache.
Nothing reaches the registry unless every step succeeded.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import platform
import posixpath
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import partial, wraps
from importlib import metadata
from typing import Any

import numpy as np

from dreg.core.design import (
    DesignSpec,
    DesignStats,
    Encoding,
    align_design,
    coef_in_pass_design,
    finish_design,
    map_design,
)
from dreg.core.problem import make_problem
from dreg.core.stats import SufficientStats, collapse
from dreg.job.cache import StatsCache, default_cache_url, stats_key
from dreg.job.config import Config, ModelConfig
from dreg.job.errors import ConfigError, DataError, PromotionRejected, RegistryError
from dreg.job.gates import describe_failures, evaluate_gates
from dreg.job.lake import (  # noqa: F401 - open_lake: tests patch it here
    TOO_WIDE_HINT,
    Lake,
    ReadSpec,
    categorical_features,
    check_columns,
    infer_feature_columns,
    open_lake,
)
from dreg.job.promotion import feature_subset, fixed_model_mse, held_out_rows, out_of_fold_mse
from dreg.job.record import (
    Baseline,
    DataInfo,
    FileAccount,
    MetricsRecord,
    ModelRecord,
    Promotion,
    RowsInfo,
    RunInfo,
)
from dreg.job.registry import (
    STATS_FILE,
    ModelRef,
    apply_retention,
    fit_stats_bytes,
    new_version,
    pinned_version,
    read_record,
    write_version,
)

__all__ = ["FitOutcome", "PromotionRejected", "build_estimator", "run_fit", "run_predict", "versions"]

Log = Callable[[str], None]


@dataclass(frozen=True)
class _Champion:
    """The current ``latest``: its reference, records, and the pinned version (if any)."""

    ref: ModelRef
    model: ModelRecord
    metrics: MetricsRecord | None
    pinned: str | None = None


def _champion(cfg: Config) -> _Champion | None:
    """The current ``latest`` (``None`` when there is none), read before the data pass:
    its ``data.fingerprint`` tells the pass which files are new."""
    registry, name, so = cfg.output.registry, cfg.output.name, cfg.output.storage_options
    try:
        ref, record, metrics = read_record(ModelRef(registry, name), so)
    except RegistryError:
        return None
    return _Champion(ref, record, metrics, pinned_version(registry, name, so))


def _trained_on(cfg: Config, champion: _Champion | None) -> Any:
    """The champion's file fingerprints when the promotion check needs the new files' statistics."""
    if champion is None or not cfg.output.promotion.enabled or champion.model.data is None:
        return None
    return champion.model.data.fingerprint


def _glm_l1_index(est: Any) -> int:
    """The index of a GLM CV estimator's chosen l1_ratio in its path."""
    return int(np.flatnonzero(est.path_result_.l1_ratios == est.l1_ratio_)[0])


def _cv_error(est: Any) -> float:
    """The cross-validated error at the chosen alpha: MSE (``metrics.json``'s ``cv_mse``), or
    the held-out mean deviance for binomial and Poisson (``cv_deviance``)."""
    if hasattr(est, "deviance_mean_"):
        return float(est.deviance_mean_[_glm_l1_index(est), est.chosen_alpha_index_])
    cv = est.cv_result_
    return float(cv.mse_mean[cv.best_l1_index][est.chosen_alpha_index_])



def _same_folds_mse(
    cfg: Config, champ: ModelRecord, stats: SufficientStats, features: list[str], challenger: float
) -> tuple[float, bool] | str:
    """The champion configuration's CV MSE on the same folds, and whether it is unchanged;
    or why it cannot be compared (a reason string)."""
    section = (champ.config or {}).get("model")
    if section is None:
        return "no new rows and the champion has no recorded configuration; not comparable"
    try:
        champ_model = ModelConfig.model_validate(section)
    except ValueError as exc:  # pydantic's ValidationError: a configuration this version does not read
        return f"the champion's configuration is not readable ({exc}); not comparable"
    if champ.features == features and champ_model.model_dump(mode="json") == cfg.model.model_dump(mode="json"):
        return challenger, True  # the refit would repeat the challenger's cross-validation bit for bit
    index = [features.index(name) for name in champ.features]
    own = stats if index == list(range(len(features))) else feature_subset(stats, index)
    try:
        return _cv_error(build_estimator(champ_model).fit_stats(own, champ.features)), False
    except ValueError as exc:  # e.g. its configuration cannot cross-validate these folds
        return f"the champion's configuration cannot be cross-validated here ({exc})"


def _like_for_like_glm(
    cfg: Config,
    champion: _Champion,
    features: list[str],
    challenger: float,
    new_rows: _NewRows | None,
    measure: str = "deviance",
) -> dict[str, Any]:
    """:func:`_like_for_like` for binomial and Poisson (held-out mean deviances) and for the
    wide engine (``measure='MSE'``), whose fits are passes over the data, not statistics.

    New rows: both errors were measured in one extra pass over the new files
    (:func:`_glm_new_rows`, :func:`_wide_new_rows`).  Without new rows, the same
    configuration and features are ``unchanged``; another configuration is not
    compared (its cross-validation would cost a whole path of passes): the gates decide.
    """
    p = cfg.output.promotion
    version = champion.ref.version
    champ = champion.model
    out = {"challenger_mse": challenger, "champion_mse": None, "rule": None, "rows": None, "passed": None}
    if new_rows is not None:
        out = {
            "challenger_mse": new_rows.challenger,
            "champion_mse": new_rows.champion,
            "rule": "new_rows",
            "rows": new_rows.rows,
        }
        what = f"out-of-sample {measure} on {new_rows.rows} new row(s)"
        if new_rows.challenger <= new_rows.champion * (1.0 + p.tolerance):
            reason = f"{what}: {new_rows.challenger:.6g} <= champion {version}'s {new_rows.champion:.6g} x (1 + {p.tolerance:g})"
            return out | {"passed": True, "reason": reason}
        reason = (
            f"{what}: {new_rows.challenger:.6g} is worse than champion {version}'s {new_rows.champion:.6g} "
            f"by more than the tolerance {p.tolerance:g}"
        )
        return out | {"passed": False, "reason": reason}
    section = (champ.config or {}).get("model")
    if section is not None and champ.features == features:
        try:
            same = ModelConfig.model_validate(section).model_dump(mode="json") == cfg.model.model_dump(mode="json")
        except ValueError:
            same = False
        if same:
            reason = (
                f"unchanged: no new rows and the configuration of champion {version}; "
                f"CV {measure} {challenger:.6g} on the same folds"
            )
            return out | {"champion_mse": challenger, "rule": "same_folds", "passed": True, "reason": reason}
    who = "GLMs" if measure == "deviance" else "wide-engine models"
    return out | {"reason": f"no new rows and another configuration ({who} are compared on new rows); not compared"}


def _like_for_like(
    cfg: Config,
    champion: _Champion,
    est: Any,
    stats: SufficientStats,
    new_stats: SufficientStats | None,
    features: list[str],
    challenger: float,
    glm_new_rows: _NewRows | None = None,
    new_design: tuple[DesignStats, DesignSpec] | None = None,
) -> dict[str, Any]:
    """The like-for-like comparison: ``challenger_mse``, ``champion_mse``, ``rule``, ``rows``,
    ``passed`` (``None``: not compared) and the ``reason`` text.

    ``new_design``: with categorical or imputed columns, the new files' pass
    statistics (aligned to all files') and the design spec: the champion is
    scored on them with its own levels and imputation values
    (:func:`dreg.core.design.coef_in_pass_design`), so level sets may differ.
    """
    p = cfg.output.promotion
    version = champion.ref.version
    champ = champion.model
    not_compared = {"challenger_mse": challenger, "champion_mse": None, "rule": None, "rows": None, "passed": None}
    if getattr(est, "engine_", "gram") == "wide":
        if champ.family != cfg.model.family:
            return not_compared | {"reason": f"champion is {champ.family}, this model {cfg.model.family}; not comparable"}
        if isinstance(glm_new_rows, str):
            return not_compared | {"reason": glm_new_rows}
        return _like_for_like_glm(cfg, champion, features, challenger, glm_new_rows, measure="MSE")
    missing = [f for f in champ.features if f not in features]
    folds = est.cv_result_.fold_labels if cfg.model.family == "gaussian" else None
    if (
        new_design is not None
        and champ.family == cfg.model.family == "gaussian"
        and new_stats is not None
        and held_out_rows(new_stats, folds)
    ):
        missing = []  # compared in the pass design: levels and imputation values may differ
    if missing:
        return not_compared | {"reason": f"champion uses features absent now ({missing[:5]}); not comparable"}
    if champ.family != cfg.model.family:
        return not_compared | {"reason": f"champion is {champ.family}, this model {cfg.model.family}; not comparable"}
    if cfg.model.family != "gaussian":
        return _like_for_like_glm(cfg, champion, features, challenger, glm_new_rows)
    n_new = 0 if new_stats is None else held_out_rows(new_stats, folds)
    unchanged = False
    if n_new:
        rule, rows, what = "new_rows", n_new, f"out-of-sample MSE on {n_new} new row(s)"
        if new_design is not None:
            coef = coef_in_pass_design(champ.column_encoding(), champ.coef, *new_design)
            if isinstance(coef, str):
                return not_compared | {"reason": f"champion {version} cannot score the new rows: {coef}"}
            champion_mse = fixed_model_mse(new_design[0].stats, folds, coef, champ.intercept)
        else:
            coef = np.zeros(len(features))
            for name, c in zip(champ.features, champ.coef, strict=True):
                coef[features.index(name)] = c
            champion_mse = fixed_model_mse(new_stats, folds, coef, champ.intercept)
        challenger = out_of_fold_mse(stats, new_stats, folds, est.fold_coef_, est.fit_intercept)
    else:
        rule, rows, what = "same_folds", held_out_rows(stats, folds), "CV MSE on the same folds"
        same = _same_folds_mse(cfg, champ, stats, features, challenger)
        if isinstance(same, str):
            return not_compared | {"reason": same}
        champion_mse, unchanged = same
    out = {"challenger_mse": challenger, "champion_mse": champion_mse, "rule": rule, "rows": rows}
    if challenger <= champion_mse * (1.0 + p.tolerance):
        if unchanged:
            reason = (
                f"unchanged: no new rows and the configuration of champion {version}; "
                f"CV MSE {challenger:.6g} on the same folds"
            )
        else:
            reason = f"{what}: {challenger:.6g} <= champion {version}'s {champion_mse:.6g} x (1 + {p.tolerance:g})"
        return out | {"passed": True, "reason": reason}
    reason = (
        f"{what}: {challenger:.6g} is worse than champion {version}'s {champion_mse:.6g} "
        f"by more than the tolerance {p.tolerance:g}"
    )
    return out | {"passed": False, "reason": reason}


def _promotion(
    cfg: Config,
    champion: _Champion | None,
    est: Any,
    stats: SufficientStats,
    new_stats: SufficientStats | None,
    features: list[str],
    log: Log,
    baseline: Baseline | None = None,
    glm_new_rows: _NewRows | None = None,
    new_design: tuple[DesignStats, DesignSpec] | None = None,
) -> Promotion:
    """Champion/challenger decision against the current ``latest``: like for like, then the gates.

    **Like for like**: both errors out of sample, on the same rows.

    * **New rows** (``rule: new_rows``), when the lake has rows of files the
      champion never trained on (not in its ``data.fingerprint``: path, size,
      mtime, ETag, footer): the champion's error is its fixed model's MSE on
      those rows; the challenger's is its cross-validated error on the same
      rows: each row is scored by the challenger's fold model of its fold at
      the chosen alpha (trained without that fold: ``fold_coef_`` and the
      intercept of the fold's training statistics), pooled over folds with the
      weights.  ``new_stats`` (the new files' per-fold statistics) come from
      the same data pass (:func:`dreg.job.scan.lake_graph`).
    * **Same folds** (``rule: same_folds``), when there are no new rows: the
      champion's configuration (its recorded ``config.model``) is
      cross-validated on the same folds of the current statistics (no data
      read), and its CV MSE at its chosen alpha is the champion's error; the
      challenger's is its own CV MSE.  With the same configuration and features
      the two are equal without a refit, and the reason says ``unchanged``.

    It passes when ``challenger <= champion * (1 + tolerance)``; it is skipped
    (neither passes nor fails) for a champion whose features are absent now or
    (same-folds rule) that has no recorded configuration.

    **Gates** (:mod:`dreg.job.gates`): the challenger against the champion's
    *recorded* CV error, row count and data baseline, which corrupted new data
    cannot reach.

    Promoted when neither fails; ``rejected`` otherwise, the reason naming
    every failed check.  Not compared: the first model (``first``) and
    ``promotion.enabled: false`` (``promoted``).  A pinned ``latest``
    (``dreg promote --pin``) gives ``pinned``: stored, ``latest`` unmoved,
    whatever the checks say.  ``rows`` of the record is the number of rows
    the like-for-like errors were measured on.
    """
    p = cfg.output.promotion
    challenger = _cv_error(est)
    decision = partial(Promotion, tolerance=p.tolerance)
    if champion is None:
        return decision(
            challenger_mse=challenger, champion=None, champion_mse=None, status="first", reason="no previous model"
        )
    version = champion.ref.version
    decision = partial(decision, champion=version)
    pin = (
        f"; 'latest' is pinned to {champion.pinned} (dreg promote --pin), so it stays there"
        if champion.pinned
        else ""
    )
    if not p.enabled:
        status = "pinned" if champion.pinned else "promoted"
        return decision(
            challenger_mse=challenger, champion_mse=None, status=status, reason="promotion checks disabled" + pin
        )
    cmp = _like_for_like(cfg, champion, est, stats, new_stats, features, challenger, glm_new_rows, new_design)
    baseline = baseline if baseline is not None else Baseline.from_stats(stats, features)
    gates = evaluate_gates(p.gates.model_dump(), champion.model, champion.metrics, challenger, baseline)
    failures = describe_failures(gates)
    passed = cmp.pop("passed")
    reason = cmp.pop("reason")
    decision = partial(decision, gates=gates, **cmp)
    if passed is not False and not failures:
        ran = [g.name for g in gates if g.passed]
        reason += f"; gates passed: {', '.join(ran)}" if ran else ""
        if champion.pinned:
            log(f"dreg: not promoted: {reason}{pin}")
            return decision(status="pinned", reason=reason + pin)
        log(f"dreg: promoted: {reason}")
        return decision(status="promoted", reason=reason)
    reasons = ([reason] if passed is False else []) + ([failures] if failures else [])
    reason = "; ".join(reasons) + "; kept as a rejected candidate, 'latest' unchanged"
    log(f"dreg: rejected: {reason}")
    return decision(status="rejected", reason=reason)


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("dreg", "numpy", "scipy", "pandas", "pyarrow", "dask", "distributed", "scikit-learn", "fsspec"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[pkg] = metadata.version(pkg)
    return out


def build_estimator(m: ModelConfig):
    """The CV estimator a ``model:`` section describes (``family`` and ``penalty`` pick the class).

    For binomial and Poisson, ``penalty`` sets the mix (ridge: ``l1_ratio`` 0,
    lasso: 1, elasticnet: ``l1_ratio``, default 0.5), and ``tol`` and
    ``max_iter`` keep the GLM estimators' own defaults unless the section sets
    them (the gaussian ones mean something else there: a coordinate-descent
    tolerance and sweep count, against the GLMs' KKT tolerance and passes).
    """
    from dreg.estimators import (
        ElasticNetCV,
        LassoCV,
        LogisticRegressionCV,
        PoissonRegressorCV,
        RidgeCV,
    )

    values = m.model_dump(mode="python")
    if m.family == "gaussian":
        cls = {"lasso": LassoCV, "ridge": RidgeCV, "elasticnet": ElasticNetCV}[m.penalty]
        # the config's model fields are the estimator's parameters, by name (one source: dreg.estimators._validation);
        # impute, missing_indicator and min_level_count are data keys: the job encodes the lake itself
        params = {name: values[name] for name in cls._get_param_names() if name in values}
        params["penalty_factor"] = params["penalty_factor"] or None
        if cls is ElasticNetCV and params["l1_ratio"] is None:
            params["l1_ratio"] = 0.5
        return cls(**params)
    cls = LogisticRegressionCV if m.family == "binomial" else PoissonRegressorCV
    params = {name: values[name] for name in cls._get_param_names() if name in values}
    params["penalty_factor"] = params["penalty_factor"] or None
    params["l1_ratio"] = {"ridge": 0.0, "lasso": 1.0}.get(m.penalty, 0.5 if m.l1_ratio is None else m.l1_ratio)
    if m.scoring is None:
        params.pop("scoring", None)
    for name in ("tol", "max_iter"):
        if name not in m.model_fields_set:
            params.pop(name, None)
    return cls(**params)


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


@contextlib.contextmanager
def _cluster_failures(during: str) -> Iterator[None]:
    """Turn a lost scheduler or lost workers into :class:`ClusterError` (exit code 4).

    Errors raised by dreg's own tasks (a :class:`DataError` naming a file) pass
    through unchanged.  ``KilledWorker``: the workers running one task died more
    than ``distributed.scheduler.allowed-failures`` times (its message names the
    task); below that limit Dask recomputes the lost tasks, which are pure.
    """
    from distributed import KilledWorker
    from distributed.client import FutureCancelledError
    from distributed.comm.core import CommClosedError

    from dreg.job.errors import ClusterError

    try:
        yield
    except KilledWorker as exc:
        raise ClusterError(f"Dask workers died {during} (KilledWorker): {exc}") from None
    except (CommClosedError, ConnectionError, TimeoutError) as exc:
        raise ClusterError(f"lost the Dask scheduler {during}: {exc}") from None
    except FutureCancelledError as exc:  # the client lost the scheduler
        raise ClusterError(f"the cluster cancelled the work {during}: {exc}") from None


# --------------------------------------------------------------------------- binomial and Poisson


@dataclass(frozen=True)
class _NewRows:
    """Held-out mean deviances on the rows of new files: the champion's fixed model and the
    challenger's fold models (each row by the model of its fold), and how many rows."""

    champion: float
    challenger: float
    rows: int


@dataclass(frozen=True)
class _GLMFit:
    """What the GLM passes produced on the cluster."""

    estimator: Any
    stats: SufficientStats  # pass-0 statistics with the target as fitted (binomial: 0/1)
    mode: str
    passes: int  # passes over the data after pass 0 (the estimator's, calibration, promotion)
    calibration: list[dict[str, float]] | None
    new_rows: _NewRows | None


def _z_models(center: np.ndarray, coef: np.ndarray, intercept: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Original-scale models ``b + x^T beta`` as a pass's ``z = x - center`` models."""
    coef = np.atleast_2d(np.asarray(coef, dtype=np.float64))
    return coef, np.asarray(intercept, dtype=np.float64) + coef @ center


def _fold_models(est: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(fold labels, coef (K, p), intercept (K,))`` of the CV fold models at the chosen alpha."""
    res = est.path_result_
    li, ai = _glm_l1_index(est), est.chosen_alpha_index_
    return res.fold_labels, res.fold_coef[li, ai], res.fold_intercept[li, ai]


_CALIBRATION_BINS = 20


def _calibration(est: Any, passes: Any, stats: SufficientStats) -> list[dict[str, float]]:
    """Held-out calibration at the chosen alpha: each row scored by its fold's model, in
    ``_CALIBRATION_BINS`` bins of equal width in predicted probability; one pass.

    Each bin: the weighted mean predicted probability, the observed positive rate, the weight.
    """
    from dreg.core.glm import _HIST_BINS, _HIST_RANGE, PassRequest

    labels, coef, intercept = _fold_models(est)
    center = collapse(stats).x_mean[0]
    zc, zb = _z_models(center, coef, intercept)
    st = passes.run_pass(
        PassRequest(
            family="binomial",
            center=center,
            scale=np.ones_like(center),
            coef=zc,
            intercept=zb,
            held_label=np.asarray(labels, dtype=np.int64),
            histogram=True,
        )
    )
    neg, pos = st.hist[..., 0].sum(axis=0), st.hist[..., 1].sum(axis=0)
    eta = -_HIST_RANGE + (np.arange(_HIST_BINS) + 0.5) * (2 * _HIST_RANGE / _HIST_BINS)
    prob = 1.0 / (1.0 + np.exp(-eta))
    group = np.minimum((prob * _CALIBRATION_BINS).astype(np.int64), _CALIBRATION_BINS - 1)
    out = []
    for g in range(_CALIBRATION_BINS):
        sel = group == g
        weight = float(neg[sel].sum() + pos[sel].sum())
        if weight > 0:
            out.append(
                {
                    "predicted": float((prob[sel] * (neg[sel] + pos[sel])).sum() / weight),
                    "observed": float(pos[sel].sum() / weight),
                    "weight": weight,
                }
            )
    return out


def _new_file_index(scan: _Scan, champion: _Champion) -> list[int]:
    """Lake indices of the files the champion never trained on (listing identity or footer differ)."""
    from dreg.job.scan import file_identity

    known: dict[tuple[Any, ...], set[str | None]] = {}
    for e in champion.model.data.fingerprint if champion.model.data else ():
        known.setdefault(file_identity(e.get("path"), e.get("size"), e.get("mtime"), e.get("etag")), set()).add(
            e.get("footer")
        )
    out = []
    for i, f in enumerate(scan.files):
        footers = known.get(file_identity(f.path, f.size, f.mtime, f.etag))
        if footers is None or (None not in footers and f.footer not in footers):
            out.append(i)
    return out


def _glm_new_rows(
    cfg: Config, est: Any, passes: Any, stats: SufficientStats, features: list[str], champion: _Champion | None, scan: _Scan
) -> _NewRows | None:
    """One pass over the new files: the champion's and the fold models' held-out deviances there."""
    from dreg.core.glm import PassRequest

    if champion is None or not cfg.output.promotion.enabled or champion.model.data is None:
        return None
    champ = champion.model
    if champ.family != cfg.model.family or any(f not in features for f in champ.features):
        return None
    new = _new_file_index(scan, champion)
    if not new:
        return None
    labels, coef, intercept = _fold_models(est)
    champ_coef = np.zeros(len(features))
    for name, c in zip(champ.features, champ.coef, strict=True):
        champ_coef[features.index(name)] = c
    center = collapse(stats).x_mean[0]
    zc, zb = _z_models(center, np.vstack([champ_coef, coef]), np.concatenate([[champ.intercept], intercept]))
    st = passes.run_pass(
        PassRequest(family=cfg.model.family, center=center, scale=np.ones_like(center), coef=zc, intercept=zb),
        files=new,
    )
    held = np.isin(st.labels, labels) & (st.weight_sum > 0)
    if not held.any():
        return None
    W = st.weight_sum[held].sum()
    champion_dev = 2.0 * (st.loss[held, 0] - st.saturated[held]).sum() / W
    pos = {int(k): j for j, k in enumerate(labels)}
    challenger_dev = sum(
        2.0 * (st.loss[i, 1 + pos[int(lab)]] - st.saturated[i]) for i, lab in enumerate(st.labels) if held[i]
    ) / W
    return _NewRows(champion=float(champion_dev), challenger=float(challenger_dev), rows=int(st.count[held].sum()))


def _fit_glm_on(cfg: Config, plan: _Plan, champion: _Champion | None, log: Log, client: Any, scan: _Scan) -> _GLMFit:
    """:func:`_fit_glm` with the arguments in :func:`_scan`'s ``then(client, scan)`` order."""
    return _fit_glm(cfg, plan, scan, client, champion, log)


def _encoded_plan(plan: _Plan, scan: _Scan) -> _Plan:
    """The plan after the data pass: the model's features, and the encoding for passes that
    read encoded rows (binomial and Poisson)."""
    if scan.encoding is None:
        return plan
    return replace(plan, features=list(scan.features), spec=replace(plan.spec, encoding=scan.encoding))


def _fit_glm(cfg: Config, plan: _Plan, scan: _Scan, client: Any, champion: _Champion | None, log: Log) -> _GLMFit:
    """The binomial or Poisson fit on the cluster: classes, the passes, calibration, new-rows deviances."""
    from dask.base import tokenize

    from dreg.job.glm_scan import LakePasses, binomial_stats, choose_mode, discover_classes

    family, d = cfg.model.family, cfg.data
    plan = _encoded_plan(plan, scan)
    mode, why = choose_mode(d.passes, client, scan.rows_used, len(plan.features))
    token = tokenize(plan.lake.url, [f.identity() for f in plan.lake.files], plan.spec, family)[:16]
    passes = LakePasses(client, plan.lake, plan.spec, token, mode)
    log(f"dreg: {family}: passes over the data {'held in worker memory' if mode == 'persist' else 're-read'} ({why})")
    values, smallest = discover_classes(passes)
    stats, classes = scan.stats, None
    if family == "binomial":
        if values.size != 2:
            shown = f": {values.tolist()}" if values.size < 3 else " or more"
            raise DataError(
                f"lake {d.path!r}: family binomial needs exactly 2 distinct values of {d.target!r}, "
                f"found {values.size}{shown}"
            )
        classes = values
        passes.positive = float(values[1])
        stats = binomial_stats(scan.stats, float(values[0]), float(values[1]))
    elif smallest < 0:
        raise DataError(f"lake {d.path!r}: family poisson needs {d.target!r} >= 0, found {smallest:g}")
    est = build_estimator(cfg.model)
    try:
        est.fit_passes(stats, plan.features, passes.run_pass, classes)
    except ValueError as exc:
        raise DataError(f"lake {d.path!r}: {exc}") from None
    calibration = _calibration(est, passes, stats) if family == "binomial" else None
    new_rows = _glm_new_rows(cfg, est, passes, stats, plan.features, champion, scan)
    passes.release()
    log(f"dreg: {family}: {passes.passes} pass(es) over the data after the statistics pass")
    return _GLMFit(est, stats, mode, passes.passes, calibration, new_rows)



@dataclass(frozen=True)
class _Plan:
    """What the data pass reads: the listed lake, the features, how to read them, the cache."""

    lake: Lake
    features: list[str]
    spec: ReadSpec
    cache: StatsCache | None
    # 'gram' (per-fold statistics in one pass) or 'wide' (dreg.job.wide_lake: no p x p Gram)
    engine: str = "gram"


@dataclass(frozen=True)
class _Scan:
    """The data pass's result: the statistics, the per-file account and the row counts."""

    stats: SufficientStats
    files: tuple[FileAccount, ...]
    rows_used: int
    rows_dropped: int
    n_cached: int
    cluster: dict[str, Any]
    seconds: float  # since the run started
    new_stats: SufficientStats | None = None  # of the files the champion never trained on
    # the model's features (the columns, or with categorical/imputed columns the encoded ones)
    features: list[str] = field(default_factory=list)
    encoding: Encoding | None = None  # with categorical or imputed columns
    # with an encoding: the new files' statistics of the pass design, aligned to all files' levels
    new_design: DesignStats | None = None
    # the wide engine (stats is None): every row's centered moments (the all-rows model is the last)
    moments: Any = None

    @property
    def weight_sum(self) -> float:
        """Total weight of the rows used."""
        if self.stats is None:
            return float(self.moments.weight_sum[-1])
        return float(self.stats.weight_sum.sum())


def _design_spec(cfg: Config, lake: Lake, features: list[str], log: Log) -> DesignSpec:
    """Which features are categorical (by type, or ``data.categorical``) and which are imputed."""
    d = cfg.data
    absent = [c for c in d.categorical if c not in features]
    if absent:
        raise ConfigError(f"data.categorical names column(s) {absent} that are not features ({features})")
    categorical = categorical_features(lake, features, d.categorical)
    impute = d.impute
    if isinstance(impute, dict):
        absent = sorted(set(impute) - set(features))
        if absent:
            raise ConfigError(f"data.impute names column(s) {absent} that are not features ({features})")
        clash = sorted(set(impute) & set(categorical))
        if clash:
            raise ConfigError(f"data.impute names categorical column(s) {clash}: a null is a level of its own there")
    try:
        design = DesignSpec.build(features, categorical, impute, d.missing_indicator, d.min_level_count)
    except ValueError as exc:
        raise ConfigError(f"data: {exc}") from None
    if categorical:
        log(f"dreg: categorical feature(s) ({len(categorical)}, one 0/1 column per level): {', '.join(categorical)}")
    if design.imputed:
        shown = design.imputed if len(design.imputed) <= 10 else [*design.imputed[:10], "..."]
        log(f"dreg: missing values imputed ({len(design.imputed)} column(s)): {', '.join(shown)}")
    return design


def max_design_columns(max_gram_bytes: int, cv: int) -> int:
    """The widest design whose ``cv + 1`` Gram matrices (one per fold, one for all rows) fit in
    ``max_gram_bytes``: the largest p with ``(cv + 1) * p**2 * 8 <= max_gram_bytes``."""
    return math.isqrt(max_gram_bytes // (8 * (cv + 1)))


def _plan(cfg: Config, log: Log) -> _Plan:
    """List the lake (filters and window prune files), pick the features and the cache."""
    d = cfg.data
    from dreg.job.tables import open_data  # plain lakes, Delta and Iceberg tables (data.format)

    lake = open_data(d)
    if not lake.files:
        raise DataError(f"lake {d.path!r}: every file was pruned by the filters")
    check_columns(lake, d.features, d.target, d.weight, d.fold_column, d.categorical)
    if d.features:
        features = list(d.features)
        log(f"dreg: features ({len(features)}, from data.features): {', '.join(features)}")
    else:
        features, skipped, row_keys = infer_feature_columns(lake, d.target, d.weight, d.fold_column, d.exclude)
        log(f"dreg: features ({len(features)}, inferred from the first file): {', '.join(features)}")
        if skipped:
            log("dreg: columns skipped: " + "; ".join(f"{c} ({why})" for c, why in skipped.items()))
        for c, why in row_keys.items():
            log(f"dreg: warning: column {c!r} looks like a row key ({why}); excluded, list it in data.features to use it")
    design = _design_spec(cfg, lake, features, log)
    spec = ReadSpec(
        protocol=lake.protocol,
        storage_options=dict(d.storage_options),
        features=tuple(features),
        target=d.target,
        weight=d.weight,
        fold_column=d.fold_column,
        n_folds=None if d.fold_column else cfg.model.cv,
        random_state=cfg.model.random_state,
        on_invalid_rows=d.on_invalid_rows,
        design=None if design.plain else design,
        max_columns=max_design_columns(cfg.model.max_gram_bytes, cfg.model.cv),
    )
    # before any cluster: the narrowest design these columns can have must fit
    least = len(features) + len(design.imputed)  # a missing-value column per imputed one, a level per categorical
    engine = cfg.model.engine
    if engine == "auto":
        engine = "wide" if least > spec.max_columns and cfg.model.family == "gaussian" else "gram"
        if engine == "wide":
            log(
                f"dreg: {least:,} design columns need more than model.max_gram_bytes={cfg.model.max_gram_bytes:,} "
                f"for {cfg.model.cv + 1} Gram matrices: the wide engine fits them (model.engine: auto)"
            )
    if engine == "gram" and least > spec.max_columns:
        raise ConfigError(
            f"data: {len(features):,} feature column(s) make a design of at least {least:,} columns, more than the "
            f"{spec.max_columns:,} whose {cfg.model.cv + 1} Gram matrices fit in model.max_gram_bytes="
            f"{cfg.model.max_gram_bytes:,} ((cv + 1) x p^2 x 8 bytes); raise model.max_gram_bytes if the memory "
            "is there, use fewer features"
            + (", or model.engine: wide (or auto)" if cfg.model.family == "gaussian" else "")
        )
    cache = None
    if cfg.cache.enabled and engine == "wide":
        log("dreg: the wide engine keeps its rows on the workers, not in the statistics cache (cache not used)")
    elif cfg.cache.enabled:
        cache_url = cfg.cache.path or default_cache_url(cfg.output.registry, cfg.output.name)
        cache_so = cfg.output.storage_options if cfg.cache.storage_options is None else cfg.cache.storage_options
        cache = StatsCache(url=cache_url, storage_options=dict(cache_so), key=stats_key(spec))
    log(
        f"dreg: lake {d.path}: {len(lake.files)} file(s)"
        + (f" ({lake.pruned} pruned by filters)" if lake.pruned else "")
        + (
            f", {len(lake.ignored)} other file(s) not matching data.glob {lake.glob!r} ignored"
            f" (e.g. {lake.ignored[0]!r})"
            if lake.ignored
            else ""
        )
        + (
            f", window {d.window.column} in {lake.window_values[0]}..{lake.window_values[-1]}"
            if lake.window_values
            else ""
        )
        + f", {len(features)} feature(s), target {d.target!r}"
    )
    return _Plan(lake, features, spec, cache, engine)


# model.json's run.cluster of a fit whose files all came from the statistics cache
NO_CLUSTER = {"kind": "none (every file from the statistics cache)", "address": None, "workers": None, "dashboard": None}


def _scan(
    cfg: Config,
    plan: _Plan,
    t0: float,
    *,
    address: str | None,
    scheduler_file: str | None,
    performance_report: str | None,
    log: Log,
    tty: bool | None,
    trained_on: Any = None,
    then: Callable[[Any, _Scan], Any] | None = None,
) -> tuple[_Scan, Any]:
    """The data pass on the cluster: one task per file and a merge tree, then the row counts.

    ``then(client, scan)``, when given, runs next on the same cluster (the
    binomial and Poisson passes); its result is returned with the scan.
    Without ``then`` and ``performance_report``, when every file is in the
    statistics cache (:func:`dreg.job.scan.lake_from_cache`), the coordinator
    loads the entries itself and no cluster is started or contacted: the same
    statistics bit for bit, without the cluster's start (seconds on a
    LocalCluster, minutes for pods).
    Raises :class:`DataError` naming the first bad file, or when no row is usable.
    """
    import distributed

    from dreg.job.cluster import compute_with_progress, dask_client
    from dreg.job.scan import lake_from_cache, lake_graph

    if then is None and plan.cache is not None and not performance_report:
        # every file in the statistics cache: nothing for workers to do, no cluster to start
        part = lake_from_cache(plan.lake, plan.spec, plan.cache, trained_on)
        if part is not None:
            log(f"dreg: all {len(plan.lake.files)} file(s) are in the statistics cache: no cluster started")
            return _scan_result(cfg, plan, part, dict(NO_CLUSTER), time.perf_counter() - t0, log), None

    # the client waits for the workers: import what the steps after the pass need meanwhile
    prefetch = threading.Thread(target=_prefetch, name="dreg-prefetch", daemon=True)
    try:
        with dask_client(cfg.cluster, address=address, scheduler_file=scheduler_file, log=log) as (client, info):
            prefetch.start()
            graph = lake_graph(plan.lake, plan.spec, plan.cache, trained_on)
            report_ctx = (
                distributed.performance_report(filename=performance_report)
                if performance_report
                else contextlib.nullcontext()
            )
            with report_ctx, distributed.span("dreg-fit"):
                with _cluster_failures("during the data pass"):
                    part = compute_with_progress(client, graph, n_tasks=len(plan.lake.files), log=log, tty=tty)
                scan = _scan_result(cfg, plan, part, info.as_dict(), time.perf_counter() - t0, log)
                result = None
                if then is not None:
                    with _cluster_failures("during the model's passes"):
                        result = then(client, scan)
    finally:
        if prefetch.ident is not None:  # also after an error: no matplotlib left drawing behind a later report
            prefetch.join()
    return scan, result


def _prefetch() -> None:
    """Import matplotlib (the report's figures, with one tiny figure drawn), about 2 s of a small
    fit's client, in a thread while the workers read the data; started once the cluster is up, so
    it does not compete with the workers' start.  Errors are left for the report.  (The
    estimators no longer need scikit-learn: :mod:`dreg.estimators._sklearn_base`.)"""
    from dreg.job.report import warm_up

    warm_up()


def _scan_result(cfg: Config, plan: _Plan, part: Any, cluster_info: dict[str, Any], seconds: float, log: Log) -> _Scan:
    """The checked outcome of the data pass: errors raised, rows counted, drops logged."""
    part.raise_errors()  # bad files come back as values (no worker tracebacks): name the first, count all
    files = part.files
    n_cached = sum(1 for f in files if f.from_cache)
    if plan.cache is not None:
        log(f"dreg: {len(files) - n_cached} file(s) scanned, {n_cached} from the statistics cache")
    rows_used = int(part.stats.count.sum())
    dropped = sum(f.rows for f in files) - sum(f.rows_used for f in files)
    if rows_used == 0:
        raise DataError(f"lake {cfg.data.path!r}: no usable rows in {len(plan.lake.files)} file(s)")
    for f in files if dropped else ():
        if f.rows_dropped:
            log(f"dreg: dropped {f.rows_dropped} invalid row(s) of {f.path}: {dict(f.invalid)}")
    if part.design is None:
        return _Scan(
            part.stats, files, rows_used, int(dropped), n_cached, cluster_info, seconds, part.new_stats, plan.features
        )
    width = part.design.stats.n_features
    if plan.spec.max_columns is not None and width > plan.spec.max_columns:
        # each file fitted, the lake's levels together do not: refuse before the CV's copies
        from dreg.core.design import too_many_columns_message
        from dreg.job.lake import TOO_WIDE_HINT

        msg = too_many_columns_message(
            width,
            plan.spec.max_columns,
            part.design.n_numeric,
            len(part.design.imputed),
            dict(zip(plan.spec.encoded.categorical, (len(lv) for lv in part.design.levels), strict=True)),
            f"over the lake's {len(files):,} file(s)",
        )
        raise DataError(f"lake {cfg.data.path!r}: {msg}; {TOO_WIDE_HINT}")
    try:
        fin = finish_design(part.design, plan.spec.encoded)
    except ValueError as exc:
        raise DataError(f"lake {cfg.data.path!r}: {exc}") from None
    _log_encoding(fin.encoding, log)
    new_stats = new_design = None
    if part.new_design is not None:
        new_design = align_design(part.new_design, part.design)
        new_stats = map_design(new_design, fin)
    return _Scan(
        fin.stats,
        files,
        rows_used,
        int(dropped),
        n_cached,
        cluster_info,
        seconds,
        new_stats,
        fin.encoding.feature_names,
        fin.encoding,
        new_design,
    )


@dataclass(frozen=True)
class _WideFit:
    """What the wide engine produced on the cluster."""

    estimator: Any
    # the promotion's new-rows errors, or why the champion cannot score the new rows
    new_rows: _NewRows | str | None


def _fit_wide(
    cfg: Config,
    plan: _Plan,
    t0: float,
    *,
    address: str | None,
    scheduler_file: str | None,
    log: Log,
    champion: _Champion | None,
) -> tuple[_Scan, _WideFit]:
    """The wide engine (:mod:`dreg.job.wide_lake`): the files loaded once as sparse chunks on the
    workers, then the cross-validation by passes over them (gradients, Gram columns of the
    working set), and the promotion's new-rows errors in one more pass."""
    import distributed

    from dreg.job.cluster import dask_client
    from dreg.job.wide_lake import load_wide_lake

    with dask_client(cfg.cluster, address=address, scheduler_file=scheduler_file, log=log) as (client, info):
        with _cluster_failures("during the wide engine's passes"), distributed.span("dreg-fit"):
            wide = load_wide_lake(client, plan.lake, plan.spec, fit_intercept=cfg.model.fit_intercept)
            files = wide.summary.files
            rows_used = sum(f.rows_used for f in files)
            dropped = sum(f.rows for f in files) - rows_used
            if rows_used == 0:
                raise DataError(f"lake {cfg.data.path!r}: no usable rows in {len(plan.lake.files)} file(s)")
            for f in files if dropped else ():
                if f.rows_dropped:
                    log(f"dreg: dropped {f.rows_dropped} invalid row(s) of {f.path}: {dict(f.invalid)}")
            seconds = time.perf_counter() - t0
            encoding = None if plan.spec.encoded is None else wide.encoding
            if encoding is not None:
                _log_encoding(encoding, log)
            names = wide.encoding.feature_names
            log(
                f"dreg: wide engine: {len(names):,} design columns; {len(files)} file(s) held on the workers as "
                "sparse chunks"
            )
            est = build_estimator(cfg.model)
            if est.solver == "admm":
                # consensus ADMM needs each fold's rows in one place (dreg.core.wide_admm); over a lake's chunks
                # the working set's coordinate descent runs, with the same answer
                log("dreg: wide engine on a lake: solver admm runs as coordinate descent (the same solution)")
                est.set_params(solver="cd")
            try:
                est.fit_oracle(wide.oracle, names)
            except ValueError as exc:
                raise DataError(f"lake {cfg.data.path!r}: {exc}") from None
            per_alpha = np.asarray(est.passes_, dtype=float)
            log(
                f"dreg: wide engine: {est.n_passes_} passes over the chunks ({per_alpha.mean():.2f} per alpha), "
                f"final working set {est.working_set_:,} of {len(names):,} columns"
            )
            scan = _Scan(
                None, files, rows_used, int(dropped), 0, info.as_dict(), seconds, None, names, encoding, None,
                moments=wide.oracle.centered,
            )  # fmt: skip
            new_rows = _wide_new_rows(cfg, est, wide, scan, champion)
            wide.oracle.release()
    return scan, _WideFit(est, new_rows)


def _champion_coef(champ: ModelRecord, encoding: Encoding) -> tuple[np.ndarray, np.ndarray] | str:
    """The champion's model in the columns of ``encoding`` (the new fit's design), or why not.

    ``(coef, shift)``: levels match by value (a level the champion lumped gets
    its ``<other>`` coefficient, one it never saw 0, as its own predictions
    give); an imputed column's missing rows add ``shift`` (the champion's
    coefficient times its imputation value minus this fit's), per imputed
    column of ``encoding`` in order.
    """
    from dreg.core.encode import OTHER_LEVEL, _key

    now = {c.name: (c, sl) for c, sl in zip(encoding.columns, encoding.slices(), strict=True)}
    imputed = [c.name for c in encoding.columns if c.kind == "numeric" and c.impute is not None]
    coef = np.zeros(len(encoding.feature_names))
    shift = np.zeros(len(imputed))
    champ_coef = champ.coef
    cenc = champ.column_encoding()
    for c, sl in zip(cenc.columns, cenc.slices(), strict=True):
        beta = champ_coef[sl]
        if c.name not in now:
            return f"its column {c.name!r} is not a feature now"
        cur, at = now[c.name]
        if cur.kind != c.kind:
            return f"column {c.name!r} is {c.kind} in the champion, {cur.kind} now"
        if c.kind == "numeric":
            if c.impute is None and cur.impute is not None:
                return f"column {c.name!r} is not imputed in the champion (its missing values have no prediction)"
            if c.impute is not None and cur.impute is not None:
                shift[imputed.index(c.name)] = beta[0] * (c.impute - cur.impute)
            coef[at.start] = beta[0]
            if c.indicator and cur.indicator:
                coef[at.start + 1] = beta[1]
            continue
        index = c.level_index()
        for j, lv in enumerate(cur.levels):
            if lv is OTHER_LEVEL:
                values = {float(beta[index[_key(x)]]) if _key(x) in index else 0.0 for x in cur.lumped}
                if len(values) > 1:
                    return f"column {c.name!r}: levels lumped now have different coefficients in the champion"
                coef[at.start + j] = values.pop() if values else 0.0
            else:
                k = index.get(_key(lv))
                coef[at.start + j] = 0.0 if k is None else beta[k]
    return coef, shift


def _wide_new_rows(cfg: Config, est: Any, wide: Any, scan: _Scan, champion: _Champion | None) -> _NewRows | str | None:
    """One pass over the new files' chunks: the champion's fixed model and the challenger's fold
    models (each row by the model of its fold) scored on their held-out rows."""
    if champion is None or not cfg.output.promotion.enabled or champion.model.data is None:
        return None
    champ = champion.model
    if champ.family != cfg.model.family:
        return None
    new = _new_file_index(scan, champion)
    if not new:
        return None
    mapped = _champion_coef(champ, wide.encoding)
    if isinstance(mapped, str):
        return f"champion {champion.ref.version} cannot score the new rows: {mapped}"
    coef, shift = mapped
    folds = est.cv_result_.fold_labels
    K = folds.size
    mom = wide.oracle.moments()
    fold_coef = np.asarray(est.fold_coef_, dtype=np.float64)
    if est.fit_intercept:
        fold_b = mom.y_mean[:K] - np.einsum("kp,kp->k", mom.x_mean[:K], fold_coef)
    else:
        fold_b = np.zeros(K)
    sums = wide.oracle.new_rows_errors(new, (folds, fold_coef, fold_b, coef, shift, float(champ.intercept)))
    if not sums[2] > 0:
        return None
    return _NewRows(champion=float(sums[1] / sums[2]), challenger=float(sums[0] / sums[2]), rows=int(sums[3]))


def _log_encoding(encoding: Encoding, log: Log) -> None:
    """One line per categorical column (levels, lumped) and one for the imputation values."""
    imputed = []
    for c in encoding.columns:
        if c.kind == "categorical":
            lumped = f", {len(c.lumped)} rare level(s) lumped into <other>" if c.lumped else ""
            shown = ", ".join(str(lv) if lv is not None else "<null>" for lv in c.levels[:8])
            more = f", ... ({len(c.levels)} in all)" if len(c.levels) > 8 else ""
            log(f"dreg: categorical {c.name}: {len(c.levels)} level(s) ({shown}{more}){lumped}")
        elif c.impute is not None:
            imputed.append(f"{c.name}={c.impute:.6g}" + (" (+indicator)" if c.indicator else ""))
    if imputed:
        shown = imputed if len(imputed) <= 10 else [*imputed[:10], "..."]
        log(f"dreg: imputation values: {', '.join(shown)}")


def _metrics(est: Any, scan: _Scan, seconds: float, glm: _GLMFit | None = None) -> MetricsRecord:
    """The chosen model's cross-validated error (at ``est.chosen_alpha_index_``) and the run's counts."""
    counts = {
        "alpha": float(est.chosen_alpha_),
        "alpha_min": float(est.alpha_),
        "alpha_1se": float(est.alpha_1se_),
        "l1_ratio": float(est.l1_ratio_),
        "n_nonzero": int(np.count_nonzero(est.coef_)),
        "rows": scan.rows_used,
        "rows_dropped": scan.rows_dropped,
        "files": len(scan.files),
        "files_scanned": len(scan.files) - scan.n_cached,
        "files_from_cache": scan.n_cached,
        "seconds": seconds,
        "data_pass_seconds": scan.seconds,
    }
    chosen = est.chosen_alpha_index_
    if glm is not None:
        li = _glm_l1_index(est)
        auc = getattr(est, "auc_path_", None)
        return MetricsRecord(
            **counts,
            cv_mse=None,
            cv_mse_se=None,
            cv_mse_min=None,
            train_mse=None,
            cv_r2=None,
            family=est._family.name,
            cv_deviance=float(est.deviance_mean_[li, chosen]),
            cv_deviance_se=float(est.deviance_se_[li, chosen]),
            cv_auc=None if auc is None else float(np.asarray(auc)[li, chosen].mean()),
            n_passes=1 + glm.passes,
            passes_mode=glm.mode,
        )
    cv = est.cv_result_
    li = cv.best_l1_index
    mean = cv.mse_mean[li]
    train = cv.train_mse_path[li].mean(axis=-1)
    wide = {}
    if scan.stats is None:  # the wide engine: every row's centered moments
        var_y = float(scan.moments.yy[-1] / scan.moments.weight_sum[-1])
        wide = {"n_passes": 1 + int(est.n_passes_), "passes_mode": "wide engine (sparse chunks on the workers)"}
    else:
        var_y = make_problem(collapse(scan.stats), True, False).yy  # weighted variance of y
    return MetricsRecord(
        **counts,
        **wide,
        cv_mse=float(mean[chosen]),
        cv_mse_se=float(cv.mse_se[li][chosen]),
        cv_mse_min=float(mean[cv.best_alpha_index]),
        train_mse=float(train[chosen]),
        cv_r2=float(1.0 - mean[chosen] / var_y) if var_y > 0 else None,
    )


def _record(
    cfg: Config,
    est: Any,
    plan: _Plan,
    scan: _Scan,
    version: str,
    started: _dt.datetime,
    seconds: float,
    baseline: Baseline | None = None,
) -> ModelRecord:
    """``model.json`` of the new version: the estimator's state and the run's facts."""
    from dreg.estimators.serialize import estimator_to_dict, jsonable

    d = cfg.data
    finished = _now()
    return ModelRecord(
        fit=estimator_to_dict(est),
        name=cfg.output.name,
        version=version,
        created=finished.isoformat(),
        target=d.target,
        weight=d.weight,
        rows=RowsInfo(used=scan.rows_used, dropped=scan.rows_dropped, weight_sum=scan.weight_sum),
        data=DataInfo(
            path=d.path,
            files=len(scan.files),
            pruned_files=plan.lake.pruned,
            window=(
                {"column": d.window.column, "values": list(plan.lake.window_values)} if d.window is not None else None
            ),
            fingerprint=tuple(f.fingerprint() for f in scan.files),
        ),
        config=jsonable(cfg.model_dump(mode="json")),
        versions=versions(),
        run=RunInfo(
            started=started.isoformat(),
            finished=finished.isoformat(),
            seconds=seconds,
            data_pass_seconds=scan.seconds,
            cluster=scan.cluster,
        ),
        baseline=baseline if baseline is not None else Baseline.from_stats(scan.stats, plan.features),
    )


def _publish(
    cfg: Config,
    model: ModelRecord,
    metrics: MetricsRecord,
    html: str,
    plan: _Plan,
    log: Log,
    extra: dict[str, bytes] | None = None,
) -> None:
    """Write the version (``latest`` moves unless rejected), then prune the statistics cache.

    ``extra``: more files of the version (``stats.npz``: the fit's statistics, for an exact
    refit at any alpha of the path)."""
    write_version(
        cfg.output.registry,
        cfg.output.name,
        {
            **(extra or {}),
            "model.json": json.dumps(model.to_json(), indent=1),
            "metrics.json": json.dumps(metrics.to_json(), indent=1),
            "report.html": html,
        },
        storage_options=cfg.output.storage_options,
        version=model.version,
        update_latest=model.promotion is None or model.promotion.promoted,
    )
    if plan.cache is None:
        return
    try:
        removed = plan.cache.prune(list(plan.lake.all_files))
        if removed:
            log(
                f"dreg: pruned {removed} statistics cache entr{'y' if removed == 1 else 'ies'} of changed or deleted files"
            )
    except OSError as exc:  # the model is written; a cache that cannot be pruned is not fatal
        log(f"dreg: warning: could not prune the statistics cache: {exc}")


def _model_config(doc: Any) -> Any:
    """The parts of a dumped configuration that decide the model, ``data`` and ``model``, with
    every default filled in (so a record written before a key existed compares equal); ``None``
    when they are not readable by this version."""
    from dreg.job.config import DataConfig

    doc = doc or {}
    try:
        data = DataConfig.model_validate(doc.get("data") or {}).model_dump(mode="json")
        model = ModelConfig.model_validate(doc.get("model") or {}).model_dump(mode="json")
    except ValueError:  # pydantic's ValidationError
        return None
    return {"data": data, "model": model}


def _unchanged_since(cfg: Config, plan: _Plan, log: Log) -> tuple[ModelRef, ModelRecord, MetricsRecord | None] | None:
    """The newest version, when neither the data nor the configuration changed since it was fitted.

    For ``--if-changed``, before any cluster starts.  The configuration's
    ``data`` and ``model`` sections must be equal, and every file of the lake
    must match the version's ``data.fingerprint`` (URL, size, mtime, ETag)
    with none added or removed; then each file's Parquet footer is hashed
    (one small ranged read per file, in threads) and must equal the recorded
    one, so a same-size, same-mtime rewrite counts as a change.
    """
    from concurrent.futures import ThreadPoolExecutor

    from dreg.estimators.serialize import jsonable
    from dreg.job.cache import footer_fingerprint
    from dreg.job.registry import list_versions
    from dreg.job.scan import file_identity

    registry, name, so = cfg.output.registry, cfg.output.name, cfg.output.storage_options
    try:
        known = list_versions(registry, name, so)
    except OSError:
        return None
    if not known:
        return None
    ref, model, metrics = read_record(ModelRef(registry, name, known[-1]), so)
    recorded_config = _model_config(model.config)
    if recorded_config is None or recorded_config != _model_config(jsonable(cfg.model_dump(mode="json"))):
        log(f"dreg: --if-changed: the configuration differs from version {ref.version}'s")
        return None
    recorded = {
        file_identity(e.get("path"), e.get("size"), e.get("mtime"), e.get("etag")): e.get("footer")
        for e in (model.data.fingerprint if model.data else ())
    }
    files = plan.lake.files
    idents = [file_identity(plan.lake.full_url(f), f.size, f.mtime, f.etag) for f in files]
    if len(recorded) != len(files) or any(i not in recorded for i in idents):
        log(f"dreg: --if-changed: the lake's files differ from version {ref.version}'s")
        return None
    lake_so = dict(plan.lake.storage_options)
    with ThreadPoolExecutor(max_workers=16) as pool:
        footers = list(pool.map(lambda f: footer_fingerprint(plan.lake.full_url(f), f.size, lake_so), files))
    for ident, footer in zip(idents, footers, strict=True):
        if recorded[ident] is None or footer is None or recorded[ident] != footer:
            log(f"dreg: --if-changed: {ident[0]} was rewritten since version {ref.version}")
            return None
    return ref, model, metrics


@dataclass(frozen=True)
class FitOutcome:
    """A fitted version: where it is, its records, the fitted estimator and what happened.

    ``status``: ``written`` (a new registry version), ``dry_run`` (nothing
    written; ``ref`` is where it would have gone) or ``unchanged``
    (``--if-changed`` found nothing new: ``ref`` and the records are the newest
    existing version's, ``estimator`` is ``None``).
    """

    ref: ModelRef
    model: ModelRecord
    metrics: MetricsRecord
    estimator: Any
    status: str = "written"
    deleted: tuple[str, ...] = ()  # versions removed by output.keep_last


def _stops_clusters_in_background(fit: Callable[..., FitOutcome]) -> Callable[..., FitOutcome]:
    """Run ``fit`` with :func:`dreg.job.cluster.closing_in_background`: the embedded cluster stops
    while the coordinator fits, renders the report and writes the version (joined before returning)."""

    @wraps(fit)
    def run(*args: Any, **kwargs: Any) -> FitOutcome:
        from dreg.job.cluster import closing_in_background

        with closing_in_background():
            return fit(*args, **kwargs)

    return run


@_stops_clusters_in_background
def run_fit(
    cfg: Config,
    *,
    scheduler: str | None = None,
    scheduler_file: str | None = None,
    performance_report: str | None = None,
    log: Log = print,
    tty: bool | None = None,
    dry_run: bool = False,
    report: str | None = None,
    if_changed: bool = False,
) -> FitOutcome:
    """Fit the configured model on the lake and write a registry version.

    The steps: plan (list the lake), scan (statistics on the cluster), fit
    (cross-validation on the coordinator), metrics, record, promotion, report,
    publish, retention (``output.keep_last``).  Raises :class:`PromotionRejected`
    (the version is stored, ``latest`` unchanged) when the new model loses to
    the champion, fails a gate, or ``latest`` is pinned.

    Parameters
    ----------
    dry_run : bool
        Do everything but write to the registry (no version, ``latest``
        unmoved, no retention, no cache pruning; the statistics cache is still
        read and filled, as it holds only facts of the files).  The
        promotion decision is computed and :class:`PromotionRejected` raised as
        in a real run, so a dry run tells whether the model would be promoted.
    report : str, optional
        Also write the HTML report to this local path (with ``dry_run``, the
        only place it goes).
    if_changed : bool
        Before starting any cluster, compare the lake's files (listing and
        Parquet footers) and the configuration's ``data`` and ``model``
        sections with the newest version's; when nothing changed, write
        nothing and return that version with ``status='unchanged'``.
    """
    from dreg.job.report import render_report

    started = _now()
    t0 = time.perf_counter()
    plan = _plan(cfg, log)
    if if_changed:
        same = _unchanged_since(cfg, plan, log)
        if same is not None:
            ref, model, metrics = same
            log(
                f"dreg: unchanged: the lake's {len(plan.lake.files)} file(s) and the configuration are those of "
                f"version {ref.version}; no new version (--if-changed)"
            )
            return FitOutcome(ref, model, metrics or MetricsRecord.from_json({}), None, status="unchanged")
    champion = _champion(cfg)
    glm_then = None
    if cfg.model.family != "gaussian":
        glm_then = partial(_fit_glm_on, cfg, plan, champion, log)
    glm = wide = None
    if plan.engine == "gram":
        try:
            scan, glm = _scan(
                cfg,
                plan,
                t0,
                address=scheduler,
                scheduler_file=scheduler_file,
                performance_report=performance_report,
                log=log,
                tty=tty,
                trained_on=_trained_on(cfg, champion),
                then=glm_then,
            )
        except DataError as exc:
            if not (cfg.model.engine == "auto" and cfg.model.family == "gaussian" and TOO_WIDE_HINT in str(exc)):
                raise
            log(f"dreg: {exc}")
            log("dreg: switching to the wide engine (model.engine: auto; set model.engine: wide to skip the Gram pass)")
            plan = replace(plan, engine="wide", cache=None)
    if plan.engine == "wide":
        scan, wide = _fit_wide(
            cfg, plan, t0, address=scheduler, scheduler_file=scheduler_file, log=log, champion=champion
        )
    plan = _encoded_plan(plan, scan)
    if wide is not None:
        est, stats = wide.estimator, None
    elif glm is not None:
        est, stats = glm.estimator, glm.stats
    else:
        est, stats = build_estimator(cfg.model), scan.stats
        try:
            est.fit_stats(scan.stats, plan.features)
        except ValueError as exc:
            raise DataError(f"lake {cfg.data.path!r}: {exc}") from None
    if scan.encoding is not None:
        est.encoding_ = scan.encoding  # model.json's encoding: the loaded model predicts raw DataFrames
    seconds = time.perf_counter() - t0
    baseline = Baseline.from_stats(stats, plan.features) if stats is not None else Baseline.from_moments(scan.moments, plan.features)
    model = _record(cfg, est, plan, scan, new_version(), started, seconds, baseline)
    if glm is not None and glm.calibration is not None:
        model = replace(model, calibration=glm.calibration)
    metrics = _metrics(est, scan, seconds, glm)
    decision = _promotion(
        cfg,
        champion,
        est,
        scan.stats,
        scan.new_stats,
        plan.features,
        log,
        baseline,
        glm_new_rows=wide.new_rows if wide is not None else (None if glm is None else glm.new_rows),
        new_design=None if scan.new_design is None else (scan.new_design, plan.spec.encoded),
    )
    metrics = replace(metrics, promotion=decision)
    model = replace(model, promotion=decision)
    html = render_report(model, metrics)
    if report:
        from dreg.job.storage import write_local

        try:
            write_local(report, html)
        except OSError as exc:
            raise RegistryError(f"cannot write the report to {report!r}: {exc}") from None
        log(f"dreg: report written to {report}")
    ref = ModelRef(cfg.output.registry, cfg.output.name, model.version)
    error = (
        f"CV MSE={metrics.cv_mse:.4g} ± {metrics.cv_mse_se:.2g}"
        if glm is None
        else f"CV deviance={metrics.cv_deviance:.4g} ± {metrics.cv_deviance_se:.2g}"
        + ("" if metrics.cv_auc is None else f", CV AUC={metrics.cv_auc:.4f}")
        + f", {metrics.n_passes} passes"
    )
    summary = f"(alpha={est.chosen_alpha_:.4g}, {error}, {metrics.n_nonzero}/{len(plan.features)} non-zero, {seconds:.1f}s)"
    deleted: tuple[str, ...] = ()
    if dry_run:
        log(
            f"dreg: dry run: would write {posixpath.join(cfg.output.registry, cfg.output.name, model.version)} "
            f"{summary}; {'would be promoted' if decision.promoted else 'would NOT be promoted'}; nothing written"
        )
        status = "dry_run"
    else:
        # least squares: the statistics of all rows (one p x p Gram) make any alpha of the path exact
        # (not for the wide engine: a p x p Gram is what it avoids)
        refit = hasattr(est, "restore_refit") and getattr(est, "engine_", "gram") == "gram"
        extra = {STATS_FILE: fit_stats_bytes(stats)} if refit else None
        _publish(cfg, model, metrics, html, plan, log, extra)
        log(f"dreg: wrote {posixpath.join(cfg.output.registry, cfg.output.name, model.version)} {summary}")
        deleted = _retention(cfg, log)
        status = "written"
    outcome = FitOutcome(ref=ref, model=model, metrics=metrics, estimator=est, status=status, deleted=deleted)
    if not decision.promoted:
        raise PromotionRejected(decision.reason, outcome)
    return outcome


def _retention(cfg: Config, log: Log) -> tuple[str, ...]:
    """``output.keep_last``: delete the oldest versions beyond it (never ``latest`` or pinned).

    The new version is written by then; a failure here is logged, not fatal.
    """
    keep = cfg.output.keep_last
    if keep is None:
        return ()
    try:
        gone = apply_retention(cfg.output.registry, cfg.output.name, keep, cfg.output.storage_options)
    except RegistryError as exc:
        log(f"dreg: warning: retention (output.keep_last={keep}) failed: {exc}")
        return ()
    if gone:
        log(f"dreg: retention: deleted {len(gone)} version(s) beyond output.keep_last={keep}: {', '.join(gone)}")
    return tuple(gone)


_MAX_PREDICT_ERRORS = 20


def path_model(
    model: ModelRecord,
    alpha: float | None,
    selection: str | None,
    refit: Callable[[float], tuple[np.ndarray, float] | None] | None = None,
) -> tuple[np.ndarray, float, float]:
    """``(coef, intercept, alpha)`` of a registry model at ``alpha`` or by ``selection``.

    ``selection`` ``'min'`` or ``'1se'`` picks ``alpha_min`` or ``alpha_1se`` of the
    stored CV path.  An ``alpha`` within a relative 1e-5 of a grid point (so a
    value copied from ``dreg show`` works) is that grid model; any other alpha
    needs ``refit`` (the exact refit from the version's ``stats.npz``, least
    squares; it returns None when the version has none), else it is refused.  Neither: the model's own coefficients.
    """
    if alpha is None and selection is None:
        return model.coef, model.intercept, model.alpha
    if alpha is not None and selection is not None:
        raise ConfigError("give --alpha or --selection, not both")
    path = model.fit.get("path")
    if not isinstance(path, Mapping) or "coef_path" not in path:
        raise ConfigError(
            f"{model.estimator} was fitted at one alpha: it has no path to choose another alpha from"
        )
    li = int(path.get("best_l1_index", 0))
    grid = np.asarray(path["alphas"], dtype=np.float64)[li]
    coefs = np.asarray(path["coef_path"], dtype=np.float64)
    icpts = np.asarray(path["intercept_path"], dtype=np.float64).reshape(-1)
    if selection is not None:
        if selection not in ("min", "1se"):
            raise ConfigError(f"--selection must be 'min' or '1se', got {selection!r}")
        k = int(path["best_alpha_index" if selection == "min" else "alpha_1se_index"])
    else:
        a = float(alpha)
        if not np.isfinite(a) or a < 0:
            raise ConfigError(f"--alpha must be finite and >= 0, got {alpha!r}")
        near = np.flatnonzero(np.abs(grid - a) <= 1e-5 * grid)
        off_grid = refit(a) if near.size == 0 and refit is not None else None
        if off_grid is not None:
            return off_grid[0], off_grid[1], a
        if near.size == 0:
            above, below = grid[grid > a], grid[grid < a]
            where = (
                f"between grid points {below.max():.6g} and {above.min():.6g}"
                if above.size and below.size
                else f"outside the grid [{grid.min():.6g}, {grid.max():.6g}]"
            )
            raise ConfigError(
                f"--alpha {a:g} is {where} of the stored path, and this version holds no statistics "
                "(stats.npz, written for least-squares models) for an exact refit there; use a grid alpha "
                "(dreg show --json lists them), or refit with alphas: [...] including it"
            )
        k = int(near[np.argmin(np.abs(grid[near] - a))])
    return coefs[k].copy(), float(icpts[k]), float(grid[k])


def run_predict(
    model_ref: str,
    data: str,
    output: str,
    *,
    keep: list[str] | None = None,
    storage_options: dict[str, Any] | None = None,
    glob: str = "*.parquet",
    alpha: float | None = None,
    selection: str | None = None,
    on_unseen: str = "zero",
    cluster_cfg: Any = None,
    scheduler: str | None = None,
    scheduler_file: str | None = None,
    log: Log = print,
) -> dict[str, Any]:
    """Score every file of a lake into ``output`` (one Parquet file per input file).

    A model with categorical or imputed columns (``encoding`` in model.json)
    encodes each file with its stored levels and imputation values; levels it
    does not know get all-zero dummies and are counted per column and level
    (``on_unseen='error'``: the file fails, naming the column and level).
    The run's summary (files, rows, null predictions, unseen levels) is
    returned and written to ``output/_dreg_predict_summary.json`` (a name
    that a lake reader skips).

    Each output file is written under a temporary name and renamed into place
    (local disks).  A file that cannot be scored (missing or non-numeric
    feature column, unreadable row group) does not stop the others: every
    good file is scored, then :class:`dreg.job.lake.DataError` names the first bad
    file in lake order and counts the rest (exit code 3 from the CLI).
    """
    from dreg import __version__
    from dreg.job.cluster import dask_client
    from dreg.job.config import ClusterConfig
    from dreg.job.lake import predict_file_or_error, raise_file_errors

    ref, model, _ = read_record(model_ref, storage_options)
    glm = {} if model.family == "gaussian" else {"family": model.family, "classes": model.classes}
    if model.encoding is not None:
        glm |= {"encoding": model.encoding, "on_unseen": on_unseen}
    features = model.features

    def refit(a: float) -> tuple[np.ndarray, float] | None:
        """Between grid points: the exact refit from the version's statistics (read only now)."""
        from dreg.estimators.serialize import estimator_from_dict
        from dreg.job.registry import read_fit_stats

        est = estimator_from_dict(model.fit)
        gram = hasattr(est, "restore_refit") and getattr(est, "engine_", "gram") == "gram"
        stats = read_fit_stats(ref, storage_options) if gram else None
        if stats is None:
            return None
        est.restore_refit(stats)
        return est._model_at(a)  # coef_at + intercept_at in one solve

    coef, intercept, used_alpha = path_model(model, alpha, selection, refit)
    if alpha is not None or selection is not None:
        log(f"dreg: scoring with the path's model at alpha {used_alpha:.6g} (the model's own: {model.alpha:.6g})")
    from dreg.job.tables import open_table  # a Delta table (_delta_log/) scores its live files only

    lake = open_table(data, "auto", storage_options, glob=glob)
    keep = list(keep or [])
    cluster_cfg = cluster_cfg or ClusterConfig()
    log(f"dreg: scoring {len(lake.files)} file(s) of {data} with {ref.name}/{ref.version}")
    with dask_client(cluster_cfg, address=scheduler, scheduler_file=scheduler_file, log=log) as (client, _):
        from dask.base import tokenize
        from dask.delayed import delayed

        token = tokenize(ref, [f.identity() for f in lake.files], output, keep)[:16]
        lineage = {
            "dreg.model": ref.name,
            "dreg.model_version": ref.version,
            "dreg.alpha": repr(used_alpha),
            "dreg.model_registry": str(ref.registry),
            "dreg.version": __version__,
        }
        tasks = [
            delayed(predict_file_or_error, pure=True)(
                f,
                lake.protocol,
                dict(lake.storage_options),
                lake.full_url(f),
                features,
                keep,
                coef,
                intercept,
                output,
                storage_options,
                lineage=lineage,
                **glm,
                dask_key_name=f"dreg-predict-{token}-{i}",
            )
            for i, f in enumerate(lake.files)
        ]
        with _cluster_failures("while scoring"):
            results = client.compute(tasks, sync=True)
    errors = [r["error"] for r in results if "error" in r]  # lake order
    results = [r for r in results if "error" not in r]
    rows = int(sum(r["rows"] for r in results))
    nulls = int(sum(r["null_predictions"] for r in results))
    log(
        f"dreg: wrote {len(results)} file(s), {rows} row(s) to {output}"
        + (f" ({nulls} null predictions)" if nulls else "")
        + (f"; {len(errors)} file(s) failed and have no output" if errors else "")
    )
    unseen: dict[str, dict[str, int]] = {}
    for r in results:
        for c, levels in r.get("unseen", {}).items():
            into = unseen.setdefault(c, {})
            for lv, k in levels.items():
                into[lv] = into.get(lv, 0) + k
    for c, levels in unseen.items():
        shown = ", ".join(f"{lv}: {k}" for lv, k in sorted(levels.items(), key=lambda t: -t[1])[:10])
        more = f", ... ({len(levels)} levels)" if len(levels) > 10 else ""
        log(
            f"dreg: warning: column {c!r}: {sum(levels.values())} row(s) with level(s) the model does not know, "
            f"scored with all-zero dummies ({shown}{more})"
        )
    summary = {
        "files": len(results),
        "rows": rows,
        "null_predictions": nulls,
        "model": f"{ref.name}/{ref.version}",
        "alpha": used_alpha,
        "unseen": unseen,
        "failed_files": len(errors),
    }
    _write_predict_summary(output, storage_options, summary, log)
    raise_file_errors(errors[:_MAX_PREDICT_ERRORS], len(errors))
    return summary


def _write_predict_summary(output: str, storage_options: dict[str, Any] | None, summary: dict[str, Any], log: Log) -> None:
    """``output/_dreg_predict_summary.json`` (atomic; a failure to write it is logged, not fatal)."""
    from dreg.job.storage import atomic_write, is_local, url_to_fs

    try:
        fs, root = url_to_fs(output, storage_options)
        if is_local(fs):
            fs.makedirs(root, exist_ok=True)
        atomic_write(fs, posixpath.join(root.rstrip("/"), "_dreg_predict_summary.json"), json.dumps(summary, indent=1).encode())
    except OSError as exc:
        log(f"dreg: warning: cannot write the predict summary to {output}: {exc}")
