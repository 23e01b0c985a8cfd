"""Fitted estimators to and from plain JSON (never pickle).

This is the estimator-state half of a registry's ``model.json``
(:class:`dreg.job.record.ModelRecord` embeds it); it has no batch-job keys,
so a model can be saved and loaded without the job.

Format versions:

* 1 is the original (the gaussian estimators);
* 2 adds ``chosen_alpha_index`` (CV estimators), the index of ``alpha`` in
  the chosen l1_ratio's alpha grid;
* 3 adds the GLM estimators (:class:`dreg.LogisticRegression`,
  :class:`dreg.LogisticRegressionCV`, :class:`dreg.PoissonRegressor`,
  :class:`dreg.PoissonRegressorCV`) and ``family`` on every model:
  ``gaussian``, ``binomial`` or ``poisson`` (a file of version 1 or 2 reads
  as gaussian).  A binomial model has ``classes``, its two labels as given
  (JSON numbers, strings or booleans; the second is the positive class).
  ``coef`` is always the flat list of the n_features coefficients and
  ``intercept`` a float: the GLM classifiers' ``coef_`` of shape
  (1, n_features) and ``intercept_`` of shape (1,) are rebuilt on load.
  ``penalty`` of a GLM follows its l1_ratio: ``ridge`` (0), ``lasso`` (1),
  else ``elasticnet``.  A GLM CV model adds ``n_passes``,
  ``fold_intercept`` (next to ``fold_coef``, at the chosen alpha) and its
  ``path`` holds::

      measure          "deviance": the curves are held-out mean deviances
      l1_ratios        (R,)          alphas           (R, A)
      deviance_mean    (R, A)        deviance_se      (R, A)
      deviance_path    (R, A, K)     train_deviance   (R, A)
      dev_ratio        (R, A)
      auc_path, accuracy_path, auc_error   (R, A, K), binomial only
      best_l1_index, best_alpha_index, alpha_1se_index   as in the estimator's
                       selection (``scoring`` decides the curve they minimise)
      fold_labels      (K,)
      coef_path        (A, n_features), intercept_path (A,): the chosen l1_ratio

  where gaussian CV models have ``mse_mean``, ``mse_se``, ``mse_path`` and
  ``train_mse_path`` instead of the deviance keys (and no ``measure``).

A gaussian CV model fitted by the wide engine (no Gram, so no exact refit
between grid points) adds ``engine: "wide"``, ``n_passes`` and
``working_set``; without ``engine`` a model is the Gram engine's.

Reading accepts every version up to :data:`FORMAT_VERSION`: for version 1
the chosen index follows from ``selection``.  Python's ``json`` writes floats
with ``repr``, which round-trips float64 exactly, so a model loaded back
predicts bit-for-bit what the fitted one did; non-finite floats are written as
``NaN``/``Infinity``, which Python's ``json`` reads back.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from dreg.core.cv import CVResult, select_alpha

__all__ = ["FORMAT", "FORMAT_VERSION", "estimator_from_dict", "estimator_to_dict", "jsonable"]

FORMAT = "dreg-model"
FORMAT_VERSION = 3
PENALTY = {
    "LassoCV": "lasso",
    "RidgeCV": "ridge",
    "ElasticNetCV": "elasticnet",
    "Lasso": "lasso",
    "Ridge": "ridge",
    "ElasticNet": "elasticnet",
}
# the GLM estimators' families (their penalty follows the l1_ratio, see _glm_penalty)
FAMILY = {
    "LogisticRegression": "binomial",
    "LogisticRegressionCV": "binomial",
    "PoissonRegressor": "poisson",
    "PoissonRegressorCV": "poisson",
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


def _features(est: Any) -> list[str]:
    return [str(f) for f in getattr(est, "feature_names_in_", [f"x{i}" for i in range(est.n_features_in_)])]


def estimator_to_dict(est: Any) -> dict[str, Any]:
    """The fitted state of a dreg estimator as JSON-ready data (with ``encoding``: the
    categorical levels and imputation values, when the model has them)."""
    out = _state_to_dict(est)
    encoding = getattr(est, "encoding_", None)
    if encoding is not None:
        out["encoding"] = jsonable(encoding.to_json())
    return out


def _state_to_dict(est: Any) -> dict[str, Any]:
    name = type(est).__name__
    if name in FAMILY:
        return _glm_to_dict(est, name)
    out: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "estimator": name,
        "family": "gaussian",
        "penalty": PENALTY.get(name),
        "params": jsonable(est.get_params()),
        "features": _features(est),
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
        if getattr(est, "engine_", "gram") == "wide":
            # no Gram behind the model (no exact refit between grid points); its passes over the data
            out.update(engine="wide", n_passes=int(est.n_passes_), working_set=int(est.working_set_))
    else:
        out.update(alpha=float(est.alpha), l1_ratio=float(est._l1()))
    return out


# --------------------------------------------------------------------------- GLMs
def _glm_penalty(l1_ratio: float) -> str:
    return "ridge" if l1_ratio == 0.0 else ("lasso" if l1_ratio == 1.0 else "elasticnet")


def _labels(classes: Any) -> list[Any]:
    """The class labels as JSON values; numbers, strings and booleans only."""
    labels = jsonable(np.asarray(classes).tolist())
    bad = [c for c in labels if not isinstance(c, bool | int | float | str)]
    if bad:
        raise ValueError(f"class labels must be numbers, strings or booleans to be saved as JSON, got {bad!r}")
    return labels


def _glm_selection(est: Any) -> tuple[int, int, int]:
    """``(best_l1_index, best_alpha_index, alpha_1se_index)`` as ``_CVGLM._set_cv`` selects them.

    The curve is the held-out deviance (``scoring='deviance'``) or minus the
    held-out AUC or accuracy; the indices are checked against the estimator's
    ``l1_ratio_``, ``alpha_`` and ``alpha_1se_`` and, should they disagree,
    located from those values (the estimator's own choice wins).
    """
    res = est.path_result_
    K = res.fold_labels.size
    if est.scoring == "deviance":
        mean, se = np.asarray(est.deviance_mean_), np.asarray(est.deviance_se_)
    else:
        path = np.asarray(est.auc_path_ if est.scoring == "auc" else est.accuracy_path_)
        mean = -path.mean(axis=-1)
        se = path.std(axis=-1, ddof=1) / np.sqrt(K)
    li, ai, a1 = select_alpha(mean, se)
    alphas = res.alphas
    if (
        res.l1_ratios[li] == est.l1_ratio_
        and alphas[li, ai] == est.alpha_
        and alphas[li, a1] == est.alpha_1se_
        and est.chosen_alpha_index_ == (ai if est.selection == "min" else a1)
    ):
        return li, ai, a1
    li = int(np.flatnonzero(res.l1_ratios == est.l1_ratio_)[0])
    ai = int(np.flatnonzero(alphas[li] == est.alpha_)[0])
    a1 = int(np.flatnonzero(alphas[li] == est.alpha_1se_)[0])
    return li, ai, a1


def _glm_to_dict(est: Any, name: str) -> dict[str, Any]:
    family = FAMILY[name]
    cv = hasattr(est, "path_result_")
    l1_ratio = float(est.l1_ratio_) if cv else float(est.l1_ratio)
    out: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "estimator": name,
        "family": family,
        "penalty": _glm_penalty(l1_ratio),
        "params": jsonable(est.get_params()),
        "features": _features(est),
        "coef": jsonable(np.asarray(est.coef_, dtype=np.float64).reshape(-1)),
        "intercept": float(np.asarray(est.intercept_, dtype=np.float64).reshape(-1)[0]),
        "n_iter": int(est.n_iter_),
    }
    if family == "binomial":
        out["classes"] = _labels(est.classes_)
    if not cv:
        out.update(alpha=float(est.alpha), l1_ratio=l1_ratio, n_passes=int(est.n_passes_))
        return out
    res = est.path_result_
    li, ai, a1 = _glm_selection(est)
    chosen = int(est.chosen_alpha_index_)
    path: dict[str, Any] = {
        "measure": "deviance",
        "l1_ratios": jsonable(res.l1_ratios),
        "alphas": jsonable(res.alphas),
        "deviance_mean": jsonable(est.deviance_mean_),
        "deviance_se": jsonable(est.deviance_se_),
        "deviance_path": jsonable(est.deviance_path_),
        "train_deviance": jsonable(res.train_deviance),
        "dev_ratio": jsonable(res.dev_ratio),
    }
    if family == "binomial":
        for key in ("auc_path", "accuracy_path", "auc_error"):
            value = getattr(res, key)
            if value is not None:
                path[key] = jsonable(value)
    path.update(
        best_l1_index=li,
        best_alpha_index=ai,
        alpha_1se_index=a1,
        fold_labels=jsonable(res.fold_labels),
        coef_path=jsonable(est.coef_path_),
        intercept_path=jsonable(est.intercept_path_),
    )
    out.update(
        alpha=float(est.chosen_alpha_),
        alpha_min=float(est.alpha_),
        alpha_1se=float(est.alpha_1se_),
        chosen_alpha_index=chosen,
        l1_ratio=l1_ratio,
        selection=est.selection,
        n_folds=int(est.n_folds_),
        n_passes=int(est.n_passes_),
        path=path,
        fold_coef=jsonable(est.fold_coef_),
        fold_intercept=jsonable(res.fold_intercept[li, chosen]),
    )
    return out


def _glm_from_dict(est: Any, d: dict[str, Any]) -> Any:
    """Set the fitted state of a GLM estimator (``est`` built from ``d["params"]``)."""
    from dreg.core.glm import GLMPathResult

    def floats(v: Any) -> np.ndarray:
        return np.asarray(v, dtype=np.float64)

    coef = floats(d["coef"]).reshape(-1)
    est._set_coef(coef, float(d["intercept"]))
    if FAMILY[d["estimator"]] == "binomial":
        classes = d.get("classes")
        if not isinstance(classes, list) or len(classes) != 2:
            raise ValueError(f"a binomial model needs 'classes', a list of its 2 labels, got {classes!r}")
        est._set_classes(np.asarray(classes))
    est.n_features_in_ = int(coef.shape[0])
    est.feature_names_in_ = np.asarray(d["features"], dtype=object)
    est.n_passes_ = int(d.get("n_passes", d.get("n_iter", 0)))
    est.n_iter_ = int(d.get("n_iter", est.n_passes_))
    if "path" not in d:
        return est
    path = d["path"]
    li = int(path["best_l1_index"])
    chosen = int(d["chosen_alpha_index"])
    alphas = floats(path["alphas"])
    deviance_path = floats(path["deviance_path"])
    binomial = "auc_path" in path
    coef_path = floats(path["coef_path"])
    intercept_path = floats(path["intercept_path"])
    fold_coef = floats(d["fold_coef"])
    R, A = alphas.shape
    K, p = fold_coef.shape
    # the curves of every l1_ratio are stored, the coefficients only along the chosen l1_ratio
    # (all folds: at the chosen alpha): the path result's tables are NaN elsewhere
    full_coef, full_intercept = np.full((R, A, p), np.nan), np.full((R, A), np.nan)
    full_coef[li], full_intercept[li] = coef_path, intercept_path
    full_fold_coef, full_fold_intercept = np.full((R, A, K, p), np.nan), np.full((R, A, K), np.nan)
    full_fold_coef[li, chosen] = fold_coef
    full_fold_intercept[li, chosen] = floats(d["fold_intercept"])
    empty = np.zeros((0,))
    est.path_result_ = GLMPathResult(
        l1_ratios=floats(path["l1_ratios"]),
        alphas=alphas,
        fold_labels=np.asarray(path["fold_labels"], dtype=np.int64),
        coef=full_coef,
        intercept=full_intercept,
        fold_coef=full_fold_coef,
        fold_intercept=full_fold_intercept,
        deviance_path=deviance_path,
        train_deviance=floats(path["train_deviance"]),
        dev_ratio=floats(path["dev_ratio"]),
        accuracy_path=(
            floats(path["accuracy_path"]) if "accuracy_path" in path else np.full(deviance_path.shape, np.nan)
        ),
        auc_path=floats(path["auc_path"]) if binomial else None,
        auc_error=floats(path["auc_error"]) if "auc_error" in path else None,
        converged=np.zeros((0,), dtype=bool),  # not stored
        kkt=empty,
        stopped=np.zeros((0,), dtype=bool),
        n_passes=est.n_passes_ - 1,
    )
    est.deviance_path_ = deviance_path
    est.deviance_mean_ = floats(path["deviance_mean"])
    est.deviance_se_ = floats(path["deviance_se"])
    est.alphas_ = alphas[li] if alphas.shape[0] == 1 else alphas
    est.alpha_ = float(d["alpha_min"])
    est.alpha_1se_ = float(d["alpha_1se"])
    est.chosen_alpha_ = float(d["alpha"])
    est.chosen_alpha_index_ = chosen
    est.l1_ratio_ = float(d["l1_ratio"])
    est.coef_path_ = coef_path
    est.intercept_path_ = intercept_path
    est.fold_coef_ = fold_coef
    est.n_folds_ = int(d["n_folds"])
    est.dev_ratio_ = est.path_result_.dev_ratio[li]
    if binomial:
        est.auc_path_ = est.path_result_.auc_path
        est.auc_error_ = est.path_result_.auc_error
        est.accuracy_path_ = est.path_result_.accuracy_path
    return est


def estimator_from_dict(d: dict[str, Any]) -> Any:
    """Rebuild a fitted estimator from :func:`estimator_to_dict` output (any format version)."""
    est = _state_from_dict(d)
    if d.get("encoding") is not None:
        from dreg.core.design import Encoding

        est.encoding_ = Encoding.from_json(d["encoding"])
    return est


def _state_from_dict(d: dict[str, Any]) -> Any:
    from dreg import estimators

    if d.get("format") != FORMAT:
        raise ValueError(f"not a dreg model (format={d.get('format')!r})")
    version = int(d.get("format_version", 0))
    if version > FORMAT_VERSION:
        raise ValueError(
            f"model format version {d['format_version']} is newer than this dreg understands ({FORMAT_VERSION})"
        )
    name = d["estimator"]
    cls = getattr(estimators, name, None)
    if cls is None or (name not in PENALTY and name not in FAMILY):
        raise ValueError(f"unknown estimator {name!r}")
    family = d.get("family") or "gaussian"
    if family != FAMILY.get(name, "gaussian") or (name in FAMILY and version < 3):
        raise ValueError(f"estimator {name!r} does not fit the {family!r} family (format version {version})")
    est = cls(**d["params"])
    if name in FAMILY:
        return _glm_from_dict(est, d)
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
        est.engine_ = d.get("engine", "gram")
        if est.engine_ == "wide":
            est._refit_ = None
            est.n_passes_ = int(d["n_passes"])
            est.working_set_ = int(d["working_set"])
    return est
