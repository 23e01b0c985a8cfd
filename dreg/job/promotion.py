"""The champion/challenger errors from statistics: both sides out of sample, on the same rows.

The rule itself (which error is compared with which, and when) is
:func:`dreg.job.pipeline._promotion`; this module computes its numbers from
per-fold :class:`~dreg.core.stats.SufficientStats` alone (no data read):

* :func:`fixed_model_mse`: a fixed model (the champion's coefficients) on the
  held-out labels of some rows;
* :func:`out_of_fold_mse`: the challenger's cross-validation models on the same
  rows, each row scored by the model of its fold, which was trained without
  that fold;
* :func:`feature_subset`: statistics of some of the features (to refit the
  champion's configuration on its own features).

Both errors pool the folds with their weights: ``sum_k W_k mse_k / sum_k W_k``,
the weighted MSE over all the rows.  Pure numpy: no Dask import.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from dreg.core.problem import mse_from_stats
from dreg.core.stats import SufficientStats, leave_one_out

__all__ = ["feature_subset", "fixed_model_mse", "held_out_rows", "out_of_fold_mse"]

FloatArray = NDArray[np.float64]


def _folds_with_rows(rows: SufficientStats, folds: NDArray[np.int64]) -> list[int]:
    """The labels of ``folds`` (in order) under which ``rows`` have positive weight."""
    present = set(rows.labels[rows.weight_sum > 0].tolist())
    return [int(k) for k in folds if int(k) in present]


def held_out_rows(rows: SufficientStats, folds: NDArray[np.int64]) -> int:
    """Rows of ``rows`` (with positive weight) in the held-out labels ``folds``.

    Rows labelled ``-1`` (never held out) have no out-of-fold model, so no
    rule scores them.
    """
    keep = np.isin(rows.labels, folds) & (rows.weight_sum > 0)
    return int(rows.count[keep].sum())


def _pooled(rows: SufficientStats, folds: list[int], mse_of_fold) -> float:
    weights = np.array([float(rows.select(k).weight_sum[0]) for k in folds])
    errors = np.array([mse_of_fold(k, rows.select(k)) for k in folds])
    return float(weights @ errors / weights.sum())


def fixed_model_mse(rows: SufficientStats, folds: NDArray[np.int64], coef: FloatArray, intercept: float) -> float:
    """Weighted MSE of one fixed model on the rows of ``rows`` in the held-out labels ``folds``.

    Parameters
    ----------
    rows : SufficientStats
        Statistics of the rows to score, one label per fold.
    folds : ndarray of shape (n_folds,)
        The cross-validation's fold labels.
    coef : ndarray of shape (n_features,)
        Coefficients on the original scale, in the columns of ``rows``.
    intercept : float

    Returns
    -------
    float
        ``sum_i w_i (y_i - b - x_i^T beta)^2 / sum_i w_i`` over those rows.
    """
    kept = _folds_with_rows(rows, folds)
    if not kept:
        raise ValueError("no rows with positive weight in the held-out folds")
    coef2 = np.asarray(coef, dtype=np.float64)[None, :]
    b = np.array([intercept], dtype=np.float64)
    return _pooled(rows, kept, lambda _k, fold: float(mse_from_stats(fold, coef2, b)[0]))


def out_of_fold_mse(
    stats: SufficientStats,
    rows: SufficientStats,
    folds: NDArray[np.int64],
    fold_coef: FloatArray,
    fit_intercept: bool,
) -> float:
    """Weighted MSE on ``rows`` of the cross-validation models: fold ``k``'s rows by fold ``k``'s model.

    Fold ``k``'s model has the coefficients ``fold_coef[k]`` (trained on every
    label of ``stats`` but ``k``; e.g. ``estimator.fold_coef_``) and the
    intercept of its training rows, ``ybar_k - fold_coef[k] @ xbar_k`` (zero
    without intercept), exactly as the cross-validation scored it: the
    training statistics are :func:`~dreg.core.stats.leave_one_out`'s, as in
    :func:`dreg.core.cv.cross_validate`.

    Parameters
    ----------
    stats : SufficientStats
        The statistics the cross-validation ran on (all rows, one label per fold).
    rows : SufficientStats
        The rows to score (a subset of those of ``stats``), one label per fold.
    folds : ndarray of shape (n_folds,)
        The cross-validation's fold labels (``cv_result_.fold_labels``).
    fold_coef : ndarray of shape (n_folds, n_features)
        Each fold's coefficients at the chosen alpha, original scale.
    fit_intercept : bool

    Returns
    -------
    float
        The weighted MSE over the rows of ``rows`` in the held-out labels.
    """
    kept = _folds_with_rows(rows, folds)
    if not kept:
        raise ValueError("no rows with positive weight in the held-out folds")
    position = {int(k): i for i, k in enumerate(folds)}
    train = leave_one_out(stats, folds)
    coef = np.asarray(fold_coef, dtype=np.float64)

    def mse_of_fold(label: int, fold: SufficientStats) -> float:
        k = position[label]
        t = train[k]
        b = float(t.y_mean[0]) - coef[k] @ t.x_mean[0] if fit_intercept else 0.0
        return float(mse_from_stats(fold, coef[k][None, :], np.array([b]))[0])

    return _pooled(rows, kept, mse_of_fold)


def feature_subset(stats: SufficientStats, index: Sequence[int]) -> SufficientStats:
    """Statistics of the features ``index`` (in that order): centered moments select exactly."""
    idx = np.asarray(index, dtype=np.int64)
    return SufficientStats(
        labels=stats.labels.copy(),
        count=stats.count.copy(),
        weight_sum=stats.weight_sum.copy(),
        x_mean=stats.x_mean[:, idx],
        y_mean=stats.y_mean.copy(),
        xx=stats.xx[:, idx][:, :, idx],
        xy=stats.xy[:, idx],
        yy=stats.yy.copy(),
        nonfinite_x=np.asarray(stats.nonfinite_x)[idx],
        nonfinite_y=stats.nonfinite_y,
        nonfinite_w=stats.nonfinite_w,
        negative_w=stats.negative_w,
        n_blocks=stats.n_blocks,
    )
