"""The batch jobs behind the CLI: fit a lake into the registry, score a lake.

``run_fit``: list the lake (partition filters prune files first), one
``dreg-read-stats`` task per file on the cluster, a ``dreg-merge`` tree, then
cross-validation and the refit on the coordinator from the statistics alone,
and finally a registry version (``model.json``, ``metrics.json``,
``report.html``) written atomically.  Nothing reaches the registry unless every
step succeeded.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import platform
import posixpath
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import numpy as np

from dreg.core.problem import make_problem, mse_from_stats
from dreg.core.stats import collapse
from dreg.job.cache import StatsCache, default_cache_url, stats_key
from dreg.job.config import Config, ModelConfig
from dreg.job.errors import DataError, PromotionRejected
from dreg.job.lake import ReadSpec, infer_features, open_lake
from dreg.job.registry import ModelRef, new_version, read_model, write_version

__all__ = ["FitOutcome", "PromotionRejected", "build_estimator", "run_fit", "run_predict", "versions"]

Log = Callable[[str], None]


def _promotion(cfg: Config, stats, features: list[str], metrics: dict[str, Any], log: Log) -> dict[str, Any]:
    """Champion/challenger decision against the current ``latest`` on the same folds of the new data.

    The challenger's error is its cross-validated MSE at its alpha; the
    champion's is the mean over the same folds of its MSE on each fold's rows
    (from the fold statistics, no data read).  Promote when
    ``challenger <= champion * (1 + tolerance)``.
    """
    from dreg.job.errors import RegistryError

    p = cfg.output.promotion
    challenger = float(metrics["cv_mse"])
    base = {"challenger_mse": challenger, "tolerance": p.tolerance, "champion": None, "champion_mse": None}
    try:
        champ_ref, champ, _ = read_model(ModelRef(cfg.output.registry, cfg.output.name), cfg.output.storage_options)
    except RegistryError:
        return {**base, "status": "first", "reason": "no previous model"}
    base["champion"] = champ_ref.version
    if not p.enabled:
        return {**base, "status": "promoted", "reason": "promotion checks disabled"}
    missing = [f for f in champ["features"] if f not in features]
    if missing:
        return {
            **base,
            "status": "promoted",
            "reason": f"champion uses features absent now ({missing[:5]}); not comparable",
        }
    coef = np.zeros(len(features))
    for name, c in zip(champ["features"], champ["coef"], strict=True):
        coef[features.index(name)] = c
    folds = stats.labels[stats.labels >= 0]
    errors = [
        float(mse_from_stats(stats.select(int(k)), coef[None, :], np.array([float(champ["intercept"])]))[0])
        for k in folds
    ]
    champion = float(np.mean(errors))
    base["champion_mse"] = champion
    if challenger <= champion * (1.0 + p.tolerance):
        reason = f"CV MSE {challenger:.6g} <= champion {champ_ref.version}'s {champion:.6g} x (1 + {p.tolerance:g})"
        log(f"dreg: promoted: {reason}")
        return {**base, "status": "promoted", "reason": reason}
    reason = (
        f"CV MSE {challenger:.6g} is worse than champion {champ_ref.version}'s {champion:.6g} on the same folds "
        f"by more than the tolerance {p.tolerance:g}; kept as a rejected candidate, 'latest' unchanged"
    )
    log(f"dreg: rejected: {reason}")
    return {**base, "status": "rejected", "reason": reason}


@dataclass(frozen=True)
class FitOutcome:
    ref: ModelRef
    model: dict[str, Any]
    metrics: dict[str, Any]
    estimator: Any


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("dreg", "numpy", "scipy", "pandas", "pyarrow", "dask", "distributed", "scikit-learn", "fsspec"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[pkg] = metadata.version(pkg)
    return out


def build_estimator(m: ModelConfig):
    """The CV estimator a ``model:`` section describes."""
    from dreg.estimators import ElasticNetCV, LassoCV, RidgeCV

    common = dict(
        alphas=m.alphas if isinstance(m.alphas, int) else list(m.alphas),
        eps=m.eps,
        cv=m.cv,
        fit_intercept=m.fit_intercept,
        standardize=m.standardize,
        penalty_factor=dict(m.penalty_factor) if m.penalty_factor else None,
        positive=m.positive,
        lower_bounds=dict(m.lower_bounds) if isinstance(m.lower_bounds, dict) else m.lower_bounds,
        upper_bounds=dict(m.upper_bounds) if isinstance(m.upper_bounds, dict) else m.upper_bounds,
        solver=m.solver,
        selection=m.selection,
        tol=m.tol,
        max_iter=m.max_iter,
        random_state=m.random_state,
        n_jobs=m.n_jobs,
    )
    if m.penalty == "lasso":
        return LassoCV(**common)
    if m.penalty == "ridge":
        return RidgeCV(**common)
    l1 = 0.5 if m.l1_ratio is None else (list(m.l1_ratio) if isinstance(m.l1_ratio, list) else m.l1_ratio)
    return ElasticNetCV(l1_ratio=l1, **common)


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


def run_fit(
    cfg: Config,
    *,
    scheduler: str | None = None,
    scheduler_file: str | None = None,
    performance_report: str | None = None,
    log: Log = print,
    tty: bool | None = None,
) -> FitOutcome:
    """Fit the configured model on the lake and write a registry version."""
    import distributed

    from dreg.job.scan import lake_graph
    from dreg.estimators.serialize import estimator_to_dict, jsonable
    from dreg.job.cluster import compute_with_progress, dask_client

    started = _now()
    t0 = time.perf_counter()
    d = cfg.data
    lake = open_lake(d.path, d.storage_options, d.filters, d.window)
    if not lake.files:
        raise DataError(f"lake {d.path!r}: every file was pruned by the filters")
    features = list(d.features) if d.features else infer_features(lake, d.target, d.weight, d.fold_column)
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
    )
    cache = None
    if cfg.cache.enabled:
        cache_url = cfg.cache.path or default_cache_url(cfg.output.registry, cfg.output.name)
        cache_so = cfg.output.storage_options if cfg.cache.storage_options is None else cfg.cache.storage_options
        cache = StatsCache(url=cache_url, storage_options=dict(cache_so), key=stats_key(spec))
    log(
        f"dreg: lake {d.path}: {len(lake.files)} file(s)"
        + (f" ({lake.pruned} pruned by filters)" if lake.pruned else "")
        + (
            f", window {d.window.column} in {lake.window_values[0]}..{lake.window_values[-1]}"
            if lake.window_values
            else ""
        )
        + f", {len(features)} feature(s), target {d.target!r}"
    )
    # the report's plotting library loads while the cluster reads the data
    from dreg.job.report import warm_up

    warming = threading.Thread(target=warm_up, name="dreg-report-warm-up", daemon=True)
    warming.start()
    with dask_client(cfg.cluster, address=scheduler, scheduler_file=scheduler_file, log=log) as (client, info):
        graph = lake_graph(lake, spec, cache)
        report_ctx = (
            distributed.performance_report(filename=performance_report)
            if performance_report
            else contextlib.nullcontext()
        )
        with _cluster_failures("during the data pass"), report_ctx, distributed.span("dreg-fit"):
            part = compute_with_progress(client, graph, n_tasks=len(lake.files), log=log, tty=tty)
        cluster_info = info.as_dict()
    part.raise_errors()  # bad files come back as values (no worker tracebacks): name the first, count all
    t_pass = time.perf_counter() - t0
    stats = part.stats
    n_cached = sum(1 for f in part.files if f.get("from_cache"))
    if cache is not None:
        log(f"dreg: {len(part.files) - n_cached} file(s) scanned, {n_cached} from the statistics cache")
    rows_used = int(stats.count.sum())
    rows_total = int(sum(f["rows"] for f in part.files))
    dropped = rows_total - sum(int(f["rows_used"]) for f in part.files)
    if rows_used == 0:
        raise DataError(f"lake {d.path!r}: no usable rows in {len(lake.files)} file(s)")
    if dropped:
        for f in part.files:
            if f["rows_dropped"]:
                log(f"dreg: dropped {f['rows_dropped']} invalid row(s) of {f['path']}: {f['invalid']}")
    est = build_estimator(cfg.model)
    try:
        est.fit_stats(stats, features)
    except ValueError as exc:
        raise DataError(f"lake {d.path!r}: {exc}") from None
    finished = _now()
    seconds = time.perf_counter() - t0
    version = new_version()
    model = estimator_to_dict(est)
    model.update(
        name=cfg.output.name,
        version=version,
        created=finished.isoformat(),
        target=d.target,
        weight=d.weight,
        rows={"used": rows_used, "dropped": int(dropped), "weight_sum": float(stats.weight_sum.sum())},
        data={
            "path": d.path,
            "files": len(part.files),
            "pruned_files": lake.pruned,
            "window": (
                {"column": d.window.column, "values": list(lake.window_values)} if d.window is not None else None
            ),
            "fingerprint": [
                {"path": f["path"], "size": f["size"], "mtime": f["mtime"], "etag": f["etag"], "rows": f["rows"]}
                for f in part.files
            ],
        },
        config=jsonable(cfg.model_dump(mode="json")),
        versions=versions(),
        run={
            "started": started.isoformat(),
            "finished": finished.isoformat(),
            "seconds": seconds,
            "data_pass_seconds": t_pass,
            "cluster": cluster_info,
        },
    )
    li = est.cv_result_.best_l1_index
    chosen = est.chosen_alpha_index_
    mean = est.cv_result_.mse_mean[li]
    se = est.cv_result_.mse_se[li]
    train = est.cv_result_.train_mse_path[li].mean(axis=-1)
    var_y = make_problem(collapse(stats), True, False).yy  # weighted variance of y
    metrics = {
        "alpha": float(est.chosen_alpha_),
        "alpha_min": float(est.alpha_),
        "alpha_1se": float(est.alpha_1se_),
        "l1_ratio": float(est.l1_ratio_),
        "cv_mse": float(mean[chosen]),
        "cv_mse_se": float(se[chosen]),
        "cv_mse_min": float(mean[est.cv_result_.best_alpha_index]),
        "train_mse": float(train[chosen]),
        "cv_r2": float(1.0 - mean[chosen] / var_y) if var_y > 0 else None,
        "n_nonzero": int(np.count_nonzero(est.coef_)),
        "rows": rows_used,
        "rows_dropped": int(dropped),
        "files": len(part.files),
        "files_scanned": len(part.files) - n_cached,
        "files_from_cache": n_cached,
        "seconds": seconds,
        "data_pass_seconds": t_pass,
    }
    decision = _promotion(cfg, stats, features, metrics, log)
    metrics["promotion"] = decision
    model["promotion"] = decision
    from dreg.job.report import render_report

    warming.join()  # matplotlib's state is process-global: one renderer at a time
    html = render_report(model, metrics)
    promoted = decision["status"] != "rejected"
    write_version(
        cfg.output.registry,
        cfg.output.name,
        {
            "model.json": json.dumps(model, indent=1),
            "metrics.json": json.dumps(metrics, indent=1),
            "report.html": html,
        },
        storage_options=cfg.output.storage_options,
        version=version,
        update_latest=promoted,
    )
    if cache is not None:
        try:
            removed = cache.prune(list(lake.all_files))
            if removed:
                log(
                    f"dreg: pruned {removed} statistics cache entr{'y' if removed == 1 else 'ies'} of changed or deleted files"
                )
        except OSError as exc:  # the model is written; a cache that cannot be pruned is not fatal
            log(f"dreg: warning: could not prune the statistics cache: {exc}")
    ref = ModelRef(cfg.output.registry, cfg.output.name, version)
    log(
        f"dreg: wrote {posixpath.join(cfg.output.registry, cfg.output.name, version)} "
        f"(alpha={est.chosen_alpha_:.4g}, CV MSE={metrics['cv_mse']:.4g} ± {metrics['cv_mse_se']:.2g}, "
        f"{metrics['n_nonzero']}/{len(features)} non-zero, {seconds:.1f}s)"
    )
    outcome = FitOutcome(ref=ref, model=model, metrics=metrics, estimator=est)
    if not promoted:
        raise PromotionRejected(decision["reason"], outcome)
    return FitOutcome(ref=ref, model=model, metrics=metrics, estimator=est)


_MAX_PREDICT_ERRORS = 20


def run_predict(
    model_ref: str,
    data: str,
    output: str,
    *,
    keep: list[str] | None = None,
    storage_options: dict[str, Any] | None = None,
    cluster_cfg: Any = None,
    scheduler: str | None = None,
    scheduler_file: str | None = None,
    log: Log = print,
) -> dict[str, Any]:
    """Score every file of a lake into ``output`` (one Parquet file per input file).

    Each output file is written under a temporary name and renamed into place
    (local disks).  A file that cannot be scored (missing or non-numeric
    feature column, unreadable row group) does not stop the others: every
    good file is scored, then :class:`dreg.job.lake.DataError` names the first bad
    file in lake order and counts the rest (exit code 3 from the CLI).
    """
    from dreg.job.cluster import dask_client
    from dreg.job.config import ClusterConfig
    from dreg.job.lake import predict_file_or_error, raise_file_errors

    ref, model, _ = read_model(model_ref, storage_options)
    features = list(model["features"])
    coef = np.asarray(model["coef"], dtype=np.float64)
    intercept = float(model["intercept"])
    lake = open_lake(data, storage_options)
    keep = list(keep or [])
    cluster_cfg = cluster_cfg or ClusterConfig()
    log(f"dreg: scoring {len(lake.files)} file(s) of {data} with {ref.name}/{ref.version}")
    with dask_client(cluster_cfg, address=scheduler, scheduler_file=scheduler_file, log=log) as (client, _):
        from dask.base import tokenize
        from dask.delayed import delayed

        token = tokenize(ref, [f.identity() for f in lake.files], output, keep)[:16]
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
    raise_file_errors(errors[:_MAX_PREDICT_ERRORS], len(errors))
    return {"files": len(results), "rows": rows, "null_predictions": nulls, "model": f"{ref.name}/{ref.version}"}
