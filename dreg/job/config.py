"""The batch job's configuration: YAML read with ``yaml.safe_load``, validated by pydantic.

Unknown keys are rejected with their dotted name (``model.alpha_count``), so a
typo never silently falls back to a default.  See ``configs/`` for commented
examples.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from dreg.estimators._validation import check_param
from dreg.job.errors import ConfigError

__all__ = ["Config", "ConfigError", "load_config", "parse_config"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_FILTER_RE = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(==|=|!=|<=|>=|<|>|not in|in)\s*(.+?)\s*$")
FilterOp = Literal["==", "!=", "<", "<=", ">", ">=", "in", "not in"]


class Filter(_Strict):
    """A partition filter ``column op value`` (value: a scalar, or a list for in/not in)."""

    column: str
    op: FilterOp
    value: Any

    @classmethod
    def parse(cls, item: Any) -> Filter:
        if isinstance(item, Filter):
            return item
        if isinstance(item, str):
            m = _FILTER_RE.match(item)
            if not m:
                raise ValueError(f"cannot parse filter {item!r}; write e.g. 'day >= 2026-10-01'")
            col, op, raw = m.groups()
            op = "==" if op == "=" else op
            value: Any = raw.strip().strip("'\"")
            if op in ("in", "not in"):
                body = raw.strip().strip("[]()")
                value = [v.strip().strip("'\"") for v in body.split(",") if v.strip()]
            return cls(column=col, op=op, value=value)
        if isinstance(item, list | tuple) and len(item) == 3:
            col, op, value = item
            return cls(column=str(col), op="==" if op == "=" else op, value=value)
        if isinstance(item, dict):
            return cls(**item)
        raise ValueError(f"a filter is 'column op value' or [column, op, value], got {item!r}")


class Window(_Strict):
    """Keep the files of the ``last`` largest values of a hive partition column."""

    column: str
    last: Annotated[int, Field(ge=1)]


class DataConfig(_Strict):
    path: str = Field(description="Folder or URL (file://, s3://) of the Parquet lake")
    target: str
    features: list[str] | None = None
    # columns left out of the inferred features (only without `features`)
    exclude: list[str] = Field(default_factory=list)
    weight: str | None = None
    fold_column: str | None = None
    filters: list[Filter] = Field(default_factory=list)
    storage_options: dict[str, Any] = Field(default_factory=dict)
    on_invalid_rows: Literal["error", "drop"] = "error"
    window: Window | None = None
    # which files under `path` are the lake's (matched against the file name, or with a "/"
    # against the path relative to `path`; "**" for any depth)
    glob: str = "*.parquet"
    # categorical features: string, dictionary and bool columns are categorical; these integer
    # columns are too (one 0/1 column per level, null a level of its own)
    categorical: list[str] = Field(default_factory=list)
    # levels seen in fewer rows than this (over the rows of the fit) are lumped into "<other>"
    min_level_count: int = Field(default=0, ge=0)
    # missing numeric values (null or NaN): "mean", "zero" or a number for every numeric feature,
    # or a mapping {column: mean | zero | number}; without it a missing value is an invalid row
    impute: Literal["mean", "zero"] | float | dict[str, Literal["mean", "zero"] | float] | None = None
    # a 0/1 "<column>=<null>" feature per imputed column that had missing values
    missing_indicator: bool = False
    # binomial/Poisson: how the passes after the statistics pass reach the rows (dreg.job.glm_scan)
    passes: Literal["auto", "persist", "reread"] = "auto"
    # table formats (dreg.job.tables): "auto" reads a Delta table when `path` holds _delta_log/,
    # else a plain Parquet lake; "iceberg" reads `path` = namespace.table from `catalog`
    format: Literal["auto", "parquet", "delta", "iceberg"] = "auto"
    # Delta time travel: the table at this log version, or as of this ISO 8601 time (exclusive)
    version: Annotated[int, Field(ge=0)] | None = None
    timestamp: str | None = None
    # Iceberg: the snapshot to read (default: the current one), and the catalog's properties
    # for pyiceberg's load_catalog ({name: local, type: sql, uri: ..., warehouse: ...})
    snapshot_id: int | None = None
    catalog: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _table_keys(self) -> DataConfig:
        if self.version is not None and self.timestamp is not None:
            raise ValueError("give version or timestamp, not both (both choose the Delta table's version)")
        for key in ("version", "timestamp"):
            if getattr(self, key) is not None and self.format not in ("auto", "delta"):
                raise ValueError(f"{key} is Delta time travel: it needs format delta (or auto), not {self.format!r}")
        if self.timestamp is not None:
            try:
                import datetime

                datetime.datetime.fromisoformat(self.timestamp)
            except ValueError:
                raise ValueError(
                    f"timestamp {self.timestamp!r} is not an ISO 8601 time (e.g. 2026-11-01T12:00:00Z)"
                ) from None
        for key in ("snapshot_id", "catalog"):
            if getattr(self, key) is not None and self.format != "iceberg":
                raise ValueError(f"{key} is for Iceberg tables: it needs format iceberg, not {self.format!r}")
        if self.format == "iceberg":
            if not self.catalog:
                raise ValueError(
                    "format iceberg needs catalog, the properties of pyiceberg's load_catalog "
                    "(e.g. {name: local, type: sql, uri: 'sqlite:///...', warehouse: 'file:///...'})"
                )
            if "." not in self.path:
                raise ValueError(f"path of an Iceberg table is its identifier 'namespace.table', got {self.path!r}")
        if self.format in ("delta", "iceberg") and self.glob != "*.parquet":
            raise ValueError(f"glob is for plain Parquet lakes; a {self.format} table's files come from its metadata")
        return self

    @field_validator("filters", mode="before")
    @classmethod
    def _parse_filters(cls, v: Any) -> Any:
        if v is None:
            return []
        if not isinstance(v, list):
            v = [v]
        return [Filter.parse(item) for item in v]

    @model_validator(mode="after")
    def _distinct_columns(self) -> DataConfig:
        special = [c for c in (self.target, self.weight, self.fold_column) if c]
        if len(set(special)) != len(special):
            raise ValueError("target, weight and fold_column must be different columns")
        dup = sorted({c for c in self.exclude if self.exclude.count(c) > 1})
        if dup:
            raise ValueError(f"exclude lists {dup} more than once")
        if self.features is not None and self.exclude:
            raise ValueError("give features or exclude, not both (exclude filters the inferred features)")
        dup = sorted({c for c in self.categorical if self.categorical.count(c) > 1})
        if dup:
            raise ValueError(f"categorical lists {dup} more than once")
        clash = sorted(set(self.categorical) & set(special))
        if clash:
            raise ValueError(f"categorical must not include the target, weight or fold column: {clash}")
        if isinstance(self.impute, dict):
            clash = sorted(set(self.impute) & set(self.categorical))
            if clash:
                raise ValueError(f"impute names categorical column(s) {clash}: a null is a level of its own there")
            clash = sorted(set(self.impute) & set(special))
            if clash:
                raise ValueError(f"impute must not name the target, weight or fold column: {clash}")
        if isinstance(self.impute, float) and not math.isfinite(self.impute):
            raise ValueError(f"impute must be 'mean', 'zero' or a finite number, got {self.impute}")
        if self.missing_indicator and self.impute is None:
            raise ValueError("missing_indicator needs impute (the indicators mark the imputed values)")
        if self.features is not None:
            if not self.features:
                raise ValueError("features must not be empty (omit it to use every numeric column)")
            dup = sorted({f for f in self.features if self.features.count(f) > 1})
            if dup:
                raise ValueError(f"features lists {dup} more than once")
            clash = sorted(set(self.features) & set(special))
            if clash:
                raise ValueError(f"features must not include the target, weight or fold column: {clash}")
            for key, names in (("categorical", self.categorical), ("impute", self.impute)):
                if isinstance(names, (list, dict)):
                    absent = sorted(set(names) - set(self.features))
                    if absent:
                        raise ValueError(f"{key} names column(s) {absent} that are not in features")
        return self


class ModelConfig(_Strict):
    """The estimator's parameters.  Their value rules are the estimators' own
    (:data:`dreg.estimators._validation.PARAMETER_CONSTRAINTS`), applied to
    every field below but ``penalty``; the types only parse the YAML."""

    # the loss: least squares (gaussian), logistic (binomial) or Poisson
    family: Literal["gaussian", "binomial", "poisson"] = "gaussian"
    penalty: Literal["ridge", "lasso", "elasticnet"] = "ridge"
    l1_ratio: float | list[float] | None = None
    alphas: int | list[float] = 100
    eps: float | None = None
    cv: int = 5
    selection: str = "min"
    standardize: bool = True
    fit_intercept: bool = True
    solver: str = "auto"
    random_state: int = 0
    tol: float = 1e-7
    max_iter: int = 10_000
    # coordinator threads for the fold paths (null or -1: every CPU)
    n_jobs: int | None = None
    penalty_factor: dict[str, float] | None = None
    positive: bool = False
    lower_bounds: float | dict[str, float] | None = None
    upper_bounds: float | dict[str, float] | None = None
    # binomial/Poisson CV criterion: deviance (default), auc or accuracy (binomial)
    scoring: str | None = None
    # memory for the Gram engine's statistics: (cv + 1) x p^2 x 8 bytes for p design columns
    # (numeric columns, missing indicators, categorical levels); engine gram refuses a wider design
    max_gram_bytes: int = 2**31
    # 'gram': per-fold statistics in one pass (a p x p Gram per fold); 'wide': the rows stay on the
    # workers as sparse chunks and the solver asks for gradients and Gram columns (gaussian only);
    # 'auto': wide when the design is too wide for max_gram_bytes
    engine: str = "auto"

    @field_validator(
        "l1_ratio", "alphas", "eps", "cv", "selection", "standardize", "fit_intercept", "solver", "random_state",
        "tol", "max_iter", "n_jobs", "penalty_factor", "positive", "lower_bounds", "upper_bounds", "scoring",
        "max_gram_bytes", "engine",
    )  # fmt: skip
    @classmethod
    def _shared_constraints(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name == "l1_ratio":
            return None if value is None else check_param("l1_ratio", value, "l1_ratios")
        if info.field_name == "scoring" and value is None:
            return None
        return check_param(info.field_name, value)

    @model_validator(mode="after")
    def _l1_ratio_fits_penalty(self) -> ModelConfig:
        if self.penalty != "elasticnet" and self.l1_ratio is not None:
            raise ValueError(f"l1_ratio is only used with penalty: elasticnet (penalty is {self.penalty!r})")
        if self.family == "gaussian":
            if self.scoring is not None:
                raise ValueError("scoring is only used with family: binomial or poisson (gaussian uses the CV MSE)")
        else:
            allowed = ("deviance", "auc", "accuracy") if self.family == "binomial" else ("deviance",)
            if self.scoring is not None and self.scoring not in allowed:
                raise ValueError(f"scoring for family {self.family} must be one of {list(allowed)}, got {self.scoring!r}")
            if self.solver != "auto":
                raise ValueError(f"solver is only used with family: gaussian (family is {self.family!r})")
            if self.engine == "wide":
                raise ValueError(f"engine: wide is for family: gaussian (family is {self.family!r})")
        return self


class TLSConfig(_Strict):
    """Certificates for ``tls://`` clusters (PEM files): the CA that signed the
    cluster's certificates, and this client's certificate and key."""

    ca_file: str
    cert: str
    key: str


class ClusterConfig(_Strict):
    address: str | None = None
    scheduler_file: str | None = None
    n_workers: Annotated[int, Field(ge=1)] = 2
    threads_per_worker: Annotated[int, Field(ge=1)] = 1
    memory_limit: str | None = "auto"
    dashboard_address: str | None = "127.0.0.1:8787"
    connect_timeout: Annotated[float, Field(gt=0)] = 30.0
    tls: TLSConfig | None = None

    @model_validator(mode="after")
    def _one_target(self) -> ClusterConfig:
        if self.address and self.scheduler_file:
            raise ValueError("give cluster.address or cluster.scheduler_file, not both")
        if self.tls is not None and self.address and not self.address.startswith("tls://"):
            raise ValueError(f"cluster.tls is set but cluster.address {self.address!r} is not a tls:// address")
        return self


class GatesConfig(_Strict):
    """Sanity gates against the champion's recorded facts (:mod:`dreg.job.gates`).

    A gate fails when its value exceeds its limit; ``null`` turns it off.
    ``cv_error``: relative increase of the CV error over the champion's
    recorded one (0.5: at most 50% worse).  ``rows``: change of the rows used,
    ``max(n/n0, n0/n) - 1`` (1.0: at most doubled or halved).
    ``target_mean`` and ``feature_mean``: standardized mean difference (pooled
    SDs) of the target and of the worst feature.  ``target_sd``: the target
    SD's ratio, ``max(s/s0, s0/s) - 1``."""

    cv_error: Annotated[float, Field(ge=0)] | None = 0.5
    rows: Annotated[float, Field(ge=0)] | None = 1.0
    target_mean: Annotated[float, Field(ge=0)] | None = 0.5
    target_sd: Annotated[float, Field(ge=0)] | None = 0.5
    feature_mean: Annotated[float, Field(ge=0)] | None = 0.5


class PromotionConfig(_Strict):
    """Champion/challenger: whether a new version becomes ``latest``.

    Two checks, both must pass (see :func:`dreg.job.pipeline._promotion`):

    * like for like: the challenger's out-of-sample error is at most
      ``(1 + tolerance)`` times the champion's on the same rows (rows of new
      files, or the same folds when no file is new);
    * the sanity ``gates`` against the champion's recorded CV error, row count
      and data distribution (:class:`GatesConfig`).

    ``enabled: false`` promotes every new version."""

    enabled: bool = True
    tolerance: Annotated[float, Field(ge=0)] = 0.01
    gates: GatesConfig = Field(default_factory=GatesConfig)


class OutputConfig(_Strict):
    """Where versions go.  ``keep_last``: after each run, delete all but the newest
    N versions, never ``latest`` nor a pinned version (``null``: keep all)."""

    registry: str
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    storage_options: dict[str, Any] = Field(default_factory=dict)
    promotion: PromotionConfig = Field(default_factory=PromotionConfig)
    keep_last: Annotated[int, Field(ge=1)] | None = None


class CacheConfig(_Strict):
    """Per-file statistics cache (see :mod:`dreg.job.cache`).

    ``path`` defaults to ``<registry>-stats-cache/<name>``, beside the registry;
    workers must be able to reach it (a shared folder or an object store), as
    they read and write it.  ``enabled: false`` rescans every file.
    """

    enabled: bool = True
    path: str | None = None
    storage_options: dict[str, Any] | None = None


class Config(_Strict):
    data: DataConfig
    model: ModelConfig = Field(default_factory=ModelConfig)
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)
    output: OutputConfig
    cache: CacheConfig = Field(default_factory=CacheConfig)


def _format_errors(err: ValidationError, source: str) -> str:
    lines = []
    seen = set()
    for e in err.errors():
        # keep the config keys; drop pydantic's union-member tags ("constrained-int", "list[...]")
        parts = []
        for p in e["loc"]:
            if isinstance(p, int):
                parts.append(f"[{p}]")
            elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(p)) or not parts:
                parts.append(str(p))
            else:
                break
        loc = ".".join(parts).replace(".[", "[")
        if (loc, e["type"]) in seen and e["type"] not in ("extra_forbidden", "missing"):
            continue
        seen.add((loc, e["type"]))
        if e["type"] == "extra_forbidden":
            lines.append(f"  unknown key '{loc}'")
        elif e["type"] == "missing":
            lines.append(f"  missing required key '{loc}'")
        else:
            where = f"'{loc}'" if loc else "(top level)"
            lines.append(f"  {where}: {e['msg']}")
    return f"invalid configuration {source}:\n" + "\n".join(lines)


_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def resolve_path(value: str | None, base_dir: Path) -> str | None:
    """A local path relative to ``base_dir``, made absolute (``~`` expanded).

    URLs (anything with a scheme: ``s3://``, ``file://``, ``memory://``) and
    absolute paths are returned unchanged.
    """
    if value is None or _SCHEME_RE.match(value):
        return value
    p = Path(value).expanduser()
    if p.is_absolute():
        return str(p)
    return str(Path(os.path.normpath(base_dir / p)))


def _resolve_paths(cfg: Config, base_dir: Path) -> Config:
    """Every local path field of ``cfg`` resolved against ``base_dir`` (the config file's folder)."""
    base_dir = Path(base_dir).expanduser().absolute()

    def fix(section: BaseModel, fields: tuple[str, ...]) -> BaseModel:
        update = {f: resolve_path(getattr(section, f), base_dir) for f in fields}
        return section.model_copy(update=update)

    cluster = fix(cfg.cluster, ("scheduler_file",))
    if cfg.cluster.tls is not None:
        cluster = cluster.model_copy(update={"tls": fix(cfg.cluster.tls, ("ca_file", "cert", "key"))})
    return cfg.model_copy(
        update={
            "data": fix(cfg.data, ("path",)),
            "output": fix(cfg.output, ("registry",)),
            "cache": fix(cfg.cache, ("path",)),
            "cluster": cluster,
        }
    )


def parse_config(data: Any, source: str = "", base_dir: str | Path | None = None) -> Config:
    """Validate an already-loaded mapping.

    With ``base_dir`` (:func:`load_config` passes the config file's folder),
    relative local paths (``data.path``, ``output.registry``, ``cache.path``,
    ``cluster.scheduler_file``, ``cluster.tls`` files) are resolved against it
    and made absolute; URLs and absolute paths stay as they are.  Without it,
    paths are kept as written (relative to the working directory).
    """
    if not isinstance(data, dict):
        raise ConfigError(f"configuration {source} must be a mapping with data/model/cluster/output sections")
    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, source)) from None
    return cfg if base_dir is None else _resolve_paths(cfg, Path(base_dir))


def load_config(path: str | Path) -> Config:
    """Read and validate a YAML configuration file (``yaml.safe_load``).

    Relative local paths in it resolve against the file's folder, not the
    working directory (see :func:`parse_config`)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read configuration file {str(p)!r}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"configuration file {str(p)!r} is not valid YAML: {exc}") from None
    return parse_config(data, f"in {str(p)!r}", base_dir=p.expanduser().absolute().parent)
