"""The model record: what a registry version says, as typed values.

One schema for ``model.json`` and ``metrics.json``: the pipeline builds a
:class:`ModelRecord` and a :class:`MetricsRecord` and writes their
``to_json()``; the registry, ``dreg show``, ``dreg history``, the promotion
check and the report read them back with ``from_json()``.

``model.json`` keeps one flat object, because other tools read its top-level
keys (``features``, ``coef``, ``intercept``, ``alpha``, ...).  It has two halves:

* the fitted estimator's state, written by
  :func:`dreg.estimators.serialize.estimator_to_dict` and read back by
  :func:`~dreg.estimators.serialize.estimator_from_dict`.  It stays in the
  estimator layer because it is the estimators' own JSON form (usable without
  the batch job); the record embeds it as :attr:`ModelRecord.fit` and gives
  typed views of the keys the job reads (:attr:`~ModelRecord.coef`, ...);
* the batch job's facts: name, version, data, rows, configuration, run,
  promotion.

Reading accepts every ``format_version`` up to
:data:`dreg.estimators.serialize.FORMAT_VERSION`; keys this version does not
know are kept in ``extra`` and written back unchanged.  JSON floats are exact:
``json`` writes ``repr``, which round-trips float64.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dreg.core.design import Encoding

__all__ = [
    "Baseline",
    "DataInfo",
    "Event",
    "FileAccount",
    "Gate",
    "MetricsRecord",
    "ModelRecord",
    "Promotion",
    "RowsInfo",
    "RunInfo",
]


def _known(cls: type, d: Mapping[str, Any], **defaults: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """``d`` split into the fields of ``cls`` (missing ones from ``defaults``, else ``None``)
    and the other keys."""
    names = [f.name for f in fields(cls) if f.name != "extra"]
    return {n: d.get(n, defaults.get(n)) for n in names}, {k: v for k, v in d.items() if k not in names}


@dataclass(frozen=True)
class FileAccount:
    """What one lake file contributed: its identity and its rows read, used and dropped.

    ``from_cache`` and ``cached`` are ``None`` until the statistics cache has
    seen the file (read from the cache; read from the file and cached).
    """

    path: str
    size: int | None
    mtime: str | None
    etag: str | None
    rows: int
    rows_used: int
    rows_dropped: int
    invalid: Mapping[str, int] = field(default_factory=dict)  # invalid values per column
    from_cache: bool | None = None
    cached: bool | None = None
    footer: str | None = None  # hash of the Parquet footer (dreg.job.cache.footer_fingerprint)

    def to_json(self) -> dict[str, Any]:
        """The account as a JSON object (``from_cache``/``cached`` only when known)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["invalid"] = dict(self.invalid)
        return {k: v for k, v in out.items() if v is not None or k not in ("from_cache", "cached", "footer")}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> FileAccount:
        """The account of :meth:`to_json`; raises ``KeyError`` if a key is missing."""
        return cls(
            path=d["path"],
            size=d["size"],
            mtime=d["mtime"],
            etag=d["etag"],
            rows=int(d["rows"]),
            rows_used=int(d["rows_used"]),
            rows_dropped=int(d["rows_dropped"]),
            invalid=dict(d["invalid"]),
            from_cache=d.get("from_cache"),
            cached=d.get("cached"),
            footer=d.get("footer"),
        )

    def fingerprint(self) -> dict[str, Any]:
        """The file's entry in ``model.json``'s ``data.fingerprint`` (``footer`` when known)."""
        out = {"path": self.path, "size": self.size, "mtime": self.mtime, "etag": self.etag, "rows": self.rows}
        if self.footer is not None:
            out["footer"] = self.footer
        return out


@dataclass(frozen=True)
class Gate:
    """One promotion gate's check (see :mod:`dreg.job.gates`): a measured value against its limit.

    ``passed`` is ``None`` when the gate could not be evaluated (the champion
    recorded no baseline, say); ``detail`` says what was compared, or why not.
    """

    name: str
    value: float | None
    limit: float
    passed: bool | None
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Gate:
        return cls(**_known(cls, d, detail="")[0])


@dataclass(frozen=True)
class Promotion:
    """The champion/challenger decision (``status``: ``first``, ``promoted``, ``rejected`` or ``pinned``).

    ``rule`` says how the two errors were measured (see
    :func:`dreg.job.pipeline._promotion`): ``"new_rows"`` (the champion's
    fixed model and the challenger's cross-validation models, each scored on
    rows of files the champion never trained on) or ``"same_folds"`` (the two
    configurations' CV errors on the same folds of the current data); ``rows``
    is how many rows the errors were measured on.  Both are ``None`` when no
    comparison was made (first model, checks disabled, not comparable) and in
    records written before they existed; ``to_json`` then omits them.
    ``gates`` are the sanity gates' checks (:mod:`dreg.job.gates`), empty when
    none ran.  ``pinned``: ``latest`` is pinned (``dreg promote --pin``), so the
    new version is stored without moving it, whatever the comparison says.
    """

    challenger_mse: float
    tolerance: float
    champion: str | None
    champion_mse: float | None
    status: str
    reason: str
    rule: str | None = None
    rows: int | None = None
    gates: tuple[Gate, ...] = ()

    @property
    def promoted(self) -> bool:
        """Whether ``latest`` moves to the new version."""
        return self.status not in ("rejected", "pinned")

    @property
    def failed_gates(self) -> list[Gate]:
        return [g for g in self.gates if g.passed is False]

    def to_json(self) -> dict[str, Any]:
        """The decision as a JSON object (``rule``, ``rows`` and ``gates`` only when known)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["gates"] = [g.to_json() for g in self.gates]
        return {k: v for k, v in out.items() if (v is not None and v != []) or k not in ("rule", "rows", "gates")}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Promotion:
        """The decision of :meth:`to_json` (a missing ``status`` reads as ``promoted``)."""
        known = _known(cls, d, status="promoted", reason="")[0]
        known["gates"] = tuple(Gate.from_json(g) for g in (known["gates"] or ()))
        return cls(**known)


@dataclass(frozen=True)
class MetricsRecord:
    """``metrics.json``: the chosen model's cross-validated error and the run's counts.

    Every field may be ``None`` in a file written by hand; the pipeline writes
    them all (``cv_r2`` is ``None`` when the target is constant).
    """

    alpha: float | None
    alpha_min: float | None
    alpha_1se: float | None
    l1_ratio: float | None
    cv_mse: float | None
    cv_mse_se: float | None
    cv_mse_min: float | None
    train_mse: float | None
    cv_r2: float | None
    n_nonzero: int | None
    rows: int | None
    rows_dropped: int | None
    files: int | None
    files_scanned: int | None
    files_from_cache: int | None
    seconds: float | None
    data_pass_seconds: float | None
    promotion: Promotion | None = None
    # binomial/Poisson (None for gaussian): held-out mean deviance at the chosen alpha, its
    # standard error, the held-out AUC (binomial), the passes over the data and how they read it
    family: str | None = None
    cv_deviance: float | None = None
    cv_deviance_se: float | None = None
    cv_auc: float | None = None
    n_passes: int | None = None
    passes_mode: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    _GLM_ONLY = ("family", "cv_deviance", "cv_deviance_se", "cv_auc", "n_passes", "passes_mode")

    @property
    def cv_error(self) -> float | None:
        """The error promotion compares: ``cv_deviance`` for binomial/Poisson, else ``cv_mse``."""
        return self.cv_deviance if self.family in ("binomial", "poisson") else self.cv_mse

    def to_json(self) -> dict[str, Any]:
        """``metrics.json`` as a JSON object, in the order the pipeline writes it (the GLM keys
        only when set, so gaussian files keep their keys)."""
        out = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name not in ("promotion", "extra")
            and not (f.name in self._GLM_ONLY and getattr(self, f.name) is None)
        }
        if self.promotion is not None:
            out["promotion"] = self.promotion.to_json()
        return {**out, **self.extra}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> MetricsRecord:
        """The record of a ``metrics.json`` object; unknown keys go to ``extra``."""
        known, extra = _known(cls, d)
        promotion = known.pop("promotion")
        return cls(**known, promotion=Promotion.from_json(promotion) if promotion else None, extra=extra)


@dataclass(frozen=True)
class RowsInfo:
    """Rows of the lake that the model was fitted on."""

    used: int
    dropped: int
    weight_sum: float

    def to_json(self) -> dict[str, Any]:
        return {"used": self.used, "dropped": self.dropped, "weight_sum": self.weight_sum}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> RowsInfo:
        return cls(**_known(cls, d, dropped=0)[0])


@dataclass(frozen=True)
class DataInfo:
    """The lake as it was read: path, file counts, time window and per-file fingerprint."""

    path: str
    files: int
    pruned_files: int
    window: Mapping[str, Any] | None  # {"column": ..., "values": [...]} or None
    fingerprint: tuple[Mapping[str, Any], ...]  # FileAccount.fingerprint() of each file

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "files": self.files,
            "pruned_files": self.pruned_files,
            "window": None if self.window is None else dict(self.window),
            "fingerprint": [dict(f) for f in self.fingerprint],
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> DataInfo:
        known = _known(cls, d)[0]
        return cls(**{**known, "fingerprint": tuple(known["fingerprint"] or ())})

    @property
    def window_text(self) -> str:
        """``column=first..last`` of the time window, ``all`` without one."""
        window = self.window or {}
        values = window.get("values") or []
        return f"{window.get('column')}={values[0]}..{values[-1]}" if values else "all"


@dataclass(frozen=True)
class RunInfo:
    """When and where the fit ran."""

    started: str
    finished: str
    seconds: float
    data_pass_seconds: float
    cluster: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)} | {"cluster": dict(self.cluster)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> RunInfo:
        return cls(**_known(cls, d)[0])


@dataclass(frozen=True)
class Baseline:
    """The training data's distribution, for drift gates and standardized coefficients.

    Weighted means and standard deviations (``sqrt(sum_i w_i (x_i - mean)^2 / sum_i w_i)``)
    of the target and of every feature, over the rows the model was fitted on.
    """

    rows: int
    weight_sum: float
    target_mean: float
    target_sd: float
    feature_mean: Mapping[str, float]
    feature_sd: Mapping[str, float]

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "weight_sum": self.weight_sum,
            "target": {"mean": self.target_mean, "sd": self.target_sd},
            "features": {k: {"mean": self.feature_mean[k], "sd": self.feature_sd[k]} for k in self.feature_mean},
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Baseline:
        feats = d.get("features") or {}
        return cls(
            rows=int(d["rows"]),
            weight_sum=float(d["weight_sum"]),
            target_mean=float(d["target"]["mean"]),
            target_sd=float(d["target"]["sd"]),
            feature_mean={k: float(v["mean"]) for k, v in feats.items()},
            feature_sd={k: float(v["sd"]) for k, v in feats.items()},
        )

    @classmethod
    def from_moments(cls, moments: Any, features: list[str]) -> Baseline:
        """The baseline of the all-rows model of :class:`dreg.core.wide.WideMoments` (the wide engine)."""
        W = float(moments.weight_sum[-1])
        sd_x = np.sqrt(np.clip(moments.xx_diag[-1] / W, 0.0, None))
        return cls(
            rows=int(moments.count[-1]),
            weight_sum=W,
            target_mean=float(moments.y_mean[-1]),
            target_sd=float(np.sqrt(max(float(moments.yy[-1]) / W, 0.0))),
            feature_mean=dict(zip(features, (float(v) for v in moments.x_mean[-1]), strict=True)),
            feature_sd=dict(zip(features, (float(v) for v in sd_x), strict=True)),
        )

    @classmethod
    def from_stats(cls, stats: Any, features: list[str]) -> Baseline:
        """The baseline of the rows of ``stats`` (a :class:`~dreg.core.stats.SufficientStats`, any labels)."""
        from dreg.core.stats import collapse

        s = collapse(stats)
        W = float(s.weight_sum[0])
        sd_x = np.sqrt(np.clip(np.diag(s.xx[0]) / W, 0.0, None))
        return cls(
            rows=int(s.count[0]),
            weight_sum=W,
            target_mean=float(s.y_mean[0]),
            target_sd=float(np.sqrt(max(float(s.yy[0]) / W, 0.0))),
            feature_mean=dict(zip(features, (float(v) for v in s.x_mean[0]), strict=True)),
            feature_sd=dict(zip(features, (float(v) for v in sd_x), strict=True)),
        )


@dataclass(frozen=True)
class Event:
    """A registry operation on a model name: ``promote``, ``pin``, ``unpin`` or ``delete``.

    Stored one JSON file per event under ``REGISTRY/NAME/events/`` (written once,
    never appended: works on object stores); ``dreg history`` lists them.
    """

    time: str
    action: str
    version: str | None
    previous: str | None  # the version `latest` named before
    reason: str
    user: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Event:
        return cls(**_known(cls, d, reason="")[0])


# the batch job's top-level keys of model.json, in the order written, with their readers
_JOB_PARTS: dict[str, Any] = {
    "name": None,
    "version": None,
    "created": None,
    "target": None,
    "weight": None,
    "rows": RowsInfo,
    "data": DataInfo,
    "config": None,
    "versions": None,
    "run": RunInfo,
    "promotion": Promotion,
    "baseline": Baseline,
    "calibration": None,
}
# the estimator's top-level keys (dreg.estimators.serialize.estimator_to_dict)
_FIT_KEYS = (
    "format",
    "format_version",
    "estimator",
    "penalty",
    "params",
    "features",
    "coef",
    "intercept",
    "n_iter",
    "alpha",
    "alpha_min",
    "alpha_1se",
    "chosen_alpha_index",
    "l1_ratio",
    "selection",
    "n_folds",
    "path",
    "fold_coef",
    "family",
    "classes",
    "n_passes",
    "fold_intercept",
    "encoding",
)


@dataclass(frozen=True)
class ModelRecord:
    """``model.json``: the fitted estimator's state plus the batch job's facts.

    A file written by :func:`dreg.estimators.serialize.estimator_to_dict`
    alone (no batch job) has ``None`` for every job field; ``to_json`` then
    writes only the keys that file had.
    """

    fit: Mapping[str, Any]  # the estimator's state: estimator_to_dict() output
    name: str | None = None
    version: str | None = None
    created: str | None = None
    target: str | None = None
    weight: str | None = None
    rows: RowsInfo | None = None
    data: DataInfo | None = None
    config: Mapping[str, Any] | None = None
    versions: Mapping[str, str] | None = None
    run: RunInfo | None = None
    promotion: Promotion | None = None
    baseline: Baseline | None = None
    # binomial: held-out calibration bins at the chosen alpha ({predicted, observed, weight})
    calibration: list[Mapping[str, float]] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # keys this version does not know

    @property
    def encoding(self) -> Encoding | None:
        """Categorical levels and imputation values (None: every feature is a lake column as is)."""
        d = self.fit.get("encoding")
        return None if d is None else Encoding.from_json(d)

    def column_encoding(self) -> Encoding:
        """How the lake's columns become :attr:`features` (each feature its own column without one)."""
        return self.encoding if self.encoding is not None else Encoding.numeric(self.features)

    # -- typed views of the estimator's state
    @property
    def features(self) -> list[str]:
        return list(self.fit["features"])

    @property
    def coef(self) -> NDArray[np.float64]:
        """``ndarray of shape (n_features,)``: the coefficients on the original scale."""
        return np.asarray(self.fit["coef"], dtype=np.float64).reshape(-1)

    @property
    def family(self) -> str:
        """``gaussian``, ``binomial`` or ``poisson`` (files before format version 3: gaussian)."""
        return self.fit.get("family") or "gaussian"

    @property
    def classes(self) -> list[Any] | None:
        """The two class labels of a binomial model (the second is the positive class)."""
        return self.fit.get("classes")

    @property
    def intercept(self) -> float:
        return float(np.asarray(self.fit["intercept"], dtype=np.float64).reshape(-1)[0])

    @property
    def alpha(self) -> float:
        """The alpha the model uses."""
        return float(self.fit["alpha"])

    @property
    def l1_ratio(self) -> float | None:
        return self.fit.get("l1_ratio")

    @property
    def estimator(self) -> str:
        """The estimator's class name (``LassoCV``, ...)."""
        return self.fit["estimator"]

    def to_json(self) -> dict[str, Any]:
        """``model.json`` as one flat JSON object: the estimator's keys, then the job's."""
        out = dict(self.fit)
        for key in _JOB_PARTS:
            value = getattr(self, key)
            if value is None and not (key == "weight" and self.target is not None):
                continue  # absent in the file read (weight: null accompanies target)
            out[key] = value.to_json() if hasattr(value, "to_json") else value
        return {**out, **self.extra}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ModelRecord:
        """The record of a ``model.json`` object of any format version."""
        job = {}
        for key, part in _JOB_PARTS.items():
            value = d.get(key)
            job[key] = part.from_json(value) if part is not None and isinstance(value, Mapping) else value
        fit = {k: d[k] for k in _FIT_KEYS if k in d}
        extra = {k: v for k, v in d.items() if k not in fit and k not in _JOB_PARTS}
        return cls(fit=fit, extra=extra, **job)
