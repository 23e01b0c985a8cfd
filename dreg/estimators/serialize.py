"""Fitted estimators to and from plain JSON (never pickle).

This is the estimator-state half of a registry's ``model.json``
(:class:`dreg.job.record.ModelRecord` embeds it); it has no batch-job keys,
so a model can be saved and loaded without the job.

Format versions: 1 is the original; 2 adds ``chosen_alpha_index`` (CV
estimators), the index of ``alpha`` in the chosen l1_ratio's alpha grid.
Reading accepts both: for version 1 the index follows from ``selection``.

Python's ``json`` writes floats with ``repr``, which round-trips float64
exactly, so a model loaded back predicts bit-for-bit what the fitted one did.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from dreg.core.cv import CVResult

__all__ = ["FORMAT", "FORMAT_VERSION", "estimator_from_dict", "estimator_to_dict", "jsonable"]

FORMAT = "dreg-model"
FORMAT_VERSION = 2
PENALTY = {
    "LassoCV": "lasso",
    "RidgeCV": "ridge",
    "ElasticNetCV": "elasticnet",
    "Lasso": "lasso",
    "Ridge": "ridge",
    "ElasticNet": "elasticnet",
}


def jsonable(v: Any) -> Any:
    """numpy scalars/arrays and tuples to plain JSON types, recursively."""
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return jsonable(v.tolist())
    if isinstance(v, np.bool_ | bool):
        return bool(v)
    if isinstance(v, numbers.Integral):
        return int(v)
    if isinstance(v, numbers.Real):
        return float(v)
    return v


def estimator_to_dict(est: Any) -> dict[str, Any]:
    """The fitted state of a dreg estimator as JSON-ready data."""
    name = type(est).__name__
    out: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "estimator": name,
        "penalty": PENALTY.get(name),
        "params": jsonable(est.get_params()),
        "features": [str(f) for f in getattr(est, "feature_names_in_", [f"x{i}" for i in range(est.n_features_in_)])],
        "coef": jsonable(est.coef_),
        "intercept": float(est.intercept_),
        "n_iter": int(est.n_iter_),
    }
    if hasattr(est, "cv_result_"):
        cv: CVResult = est.cv_result_
        out.update(
            alpha=float(est.chosen_alpha_),
            alpha_min=float(est.alpha_),
            alpha_1se=float(est.alpha_1se_),
            chosen_alpha_index=int(est.chosen_alpha_index_),
            l1_ratio=float(est.l1_ratio_),
            selection=est.selection,
            n_folds=int(est.n_folds_),
            path={
                "l1_ratios": jsonable(cv.l1_ratios),
                "alphas": jsonable(cv.alphas),
                "mse_mean": jsonable(cv.mse_mean),
                "mse_se": jsonable(cv.mse_se),
                "mse_path": jsonable(cv.mse_path),
                "train_mse_path": jsonable(cv.train_mse_path),
                "best_l1_index": int(cv.best_l1_index),
                "best_alpha_index": int(cv.best_alpha_index),
                "alpha_1se_index": int(cv.alpha_1se_index),
                "fold_labels": jsonable(cv.fold_labels),
                "coef_path": jsonable(est.coef_path_),
                "intercept_path": jsonable(est.intercept_path_),
            },
            fold_coef=jsonable(est.fold_coef_),
        )
    else:
        out.update(alpha=float(est.alpha), l1_ratio=float(est._l1()))
    return out


def estimator_from_dict(d: dict[str, Any]) -> Any:
    """Rebuild a fitted estimator from :func:`estimator_to_dict` output."""
    from dreg import estimators

    if d.get("format") != FORMAT:
        raise ValueError(f"not a dreg model (format={d.get('format')!r})")
    if int(d.get("format_version", 0)) > FORMAT_VERSION:
        raise ValueError(
            f"model format version {d['format_version']} is newer than this dreg understands ({FORMAT_VERSION})"
        )
    cls = getattr(estimators, d["estimator"], None)
    if cls is None or d["estimator"] not in PENALTY:
        raise ValueError(f"unknown estimator {d['estimator']!r}")
    est = cls(**d["params"])
    est.coef_ = np.asarray(d["coef"], dtype=np.float64)
    est.intercept_ = float(d["intercept"])
    est.n_iter_ = int(d.get("n_iter", 0))
    est.n_features_in_ = int(est.coef_.shape[0])
    est.feature_names_in_ = np.asarray(d["features"], dtype=object)
    if "path" in d:
        path = d["path"]
        floats = ("l1_ratios", "alphas", "mse_path", "train_mse_path", "mse_mean", "mse_se")
        indices = ("best_l1_index", "best_alpha_index", "alpha_1se_index")
        cv = CVResult(
            **{k: np.asarray(path[k], dtype=np.float64) for k in floats},
            **{k: int(path[k]) for k in indices},
            fold_labels=np.asarray(path["fold_labels"], dtype=np.int64),
            fold_coef=np.zeros((0,)),  # not stored: est.fold_coef_ keeps the chosen alpha's
            n_iter=np.zeros((0,), dtype=np.int64),
        )
        single = est._l1_fixed is not None or np.ndim(est.l1_ratio) == 0
        squeeze = (lambda a: a[0]) if single else (lambda a: a)
        est.cv_result_ = cv
        est.alpha_ = float(d["alpha_min"])
        est.alpha_1se_ = float(d["alpha_1se"])
        est.chosen_alpha_ = float(d["alpha"])
        if "chosen_alpha_index" in d:
            est.chosen_alpha_index_ = int(d["chosen_alpha_index"])
        else:  # format version 1
            est.chosen_alpha_index_ = cv.best_alpha_index if est.selection == "min" else cv.alpha_1se_index
        est.l1_ratio_ = float(d["l1_ratio"])
        est.alphas_ = squeeze(cv.alphas)
        est.mse_path_ = squeeze(cv.mse_path)
        est.mse_mean_ = squeeze(cv.mse_mean)
        est.mse_se_ = squeeze(cv.mse_se)
        est.train_mse_path_ = squeeze(cv.train_mse_path)
        est.n_folds_ = int(d["n_folds"])
        est.coef_path_ = np.asarray(path["coef_path"], dtype=np.float64)
        est.intercept_path_ = np.asarray(path["intercept_path"], dtype=np.float64)
        est.fold_coef_ = np.asarray(d["fold_coef"], dtype=np.float64)
    return est
